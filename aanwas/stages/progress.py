"""The one progress bar of the long stages (synth, the disclosure audit of the export).

Stage functions in the packages take ``progress(stage, fraction_done)`` callables and never
print; the bar lives here, at the edge. It is transient and only drawn on a terminal, so logs
and CI output stay quiet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(console: Console | None, name: str) -> Iterator[Callable[[str, float], None]]:
    """A ``progress(stage, fraction_done)`` callable drawing one bar labelled ``name``."""
    with Progress(
        TextColumn(f"{name} {{task.fields[stage]:<12}}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=console is None or not console.is_terminal,
    ) as bar:
        task = bar.add_task(name, total=1.0, stage="")
        yield lambda stage, frac: bar.update(task, completed=frac, stage=stage)
