"""Self-contained HTML building blocks: inline CSS, escaped tables, inline PNG images.

Pages produced here load nothing from outside: styles are inline, images are ``data:`` URIs,
there are no scripts, and a Content-Security-Policy forbids any other source, so a page opens
offline and cannot leak a request.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence

import pandas as pd

TOO_FEW = "too few"

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#1d2430;line-height:1.45}
h1{font-size:1.6rem;border-bottom:2px solid #154273;padding-bottom:.3rem;color:#154273}
h2{font-size:1.25rem;margin-top:2rem;color:#154273}
h3{font-size:1.05rem;margin-top:1.4rem}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.86rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #c9d1dc;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#eef2f7}
td.txt,th.txt{text-align:left}
td.few{color:#6b7280;font-style:italic}
.v-within{background:#e8f5e9}.v-outside{background:#fde8e8}.v-uncertain{background:#fff7e0}
.note{background:#f4f6fa;border-left:4px solid #154273;padding:.6rem .9rem;margin:1rem 0}
.fail{border-left-color:#b42318}.pass{border-left-color:#2e7d32}
img{max-width:100%;height:auto;border:1px solid #e3e7ee;margin:.4rem 0}
code{background:#f1f3f6;padding:0 .2rem}
footer{margin-top:3rem;font-size:.8rem;color:#6b7280}
"""


def esc(value: object) -> str:
    """HTML-escape ``value`` as text."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def fmt_num(value: object, digits: int = 3) -> str:
    """A number with ``digits`` significant decimals, or the text itself."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "n/a"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def fmt_ci(value: float, lo: float, hi: float, digits: int = 3) -> str:
    """``value (lo-hi)``; "n/a" parts where undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{fmt_num(value, digits)} ({fmt_num(lo, digits)}\u2013{fmt_num(hi, digits)})"


def table(
    rows: Iterable[Sequence[object]],
    header: Sequence[str],
    *,
    caption: str = "",
    text_columns: int = 1,
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table of already formatted cells; the first ``text_columns`` are left-aligned."""
    head = "".join(f'<th class="{"txt" if i < text_columns else ""}">{esc(h)}</th>' for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        cls = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        cells = []
        for i, cell in enumerate(row):
            c = "txt" if i < text_columns else ""
            if cell == TOO_FEW:
                c = (c + " few").strip()
            cells.append(f'<td class="{c}">{esc(cell)}</td>')
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def frame_table(df: pd.DataFrame, *, caption: str = "", text_columns: int = 1, digits: int = 3) -> str:
    """Render a small DataFrame (numbers formatted, "too few" kept as text)."""
    rows = [[fmt_num(v, digits) for v in rec] for rec in df.itertuples(index=False, name=None)]
    return table(rows, [str(c) for c in df.columns], caption=caption, text_columns=text_columns)


def img(png: bytes, alt: str) -> str:
    """An inline PNG image (data URI)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def note(text_html: str, kind: str = "") -> str:
    """A highlighted paragraph block (``text_html`` must already be escaped)."""
    return f'<div class="note {kind}">{text_html}</div>'
