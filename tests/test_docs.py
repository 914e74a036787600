"""User documentation stays user documentation, and every relative link in the docs resolves.

User docs (README, docs/*.md, docs/guide/) say how to use the product; development records
(measurements, design reasoning) live in docs/dev/ and benchmarks/. User docs must not read
like a log of who did what in which round of work, nor point at scratch directories.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Phrases of a development log: work sessions, helpers, the lead, scratch paths.
LOG_PHRASES = {
    "work session": re.compile(r"\bsessions?\s+\d|\b(?:this|that|in|each|every|next|last)\s+session\b", re.I),
    "helper (a person)": re.compile(
        r"\b(?:a|an|another|other|each|every|one|two|three|four|five|six|seven|eight|\d+)\s+helpers?\b", re.I
    ),
    "the lead": re.compile(r"\bthe\s+lead\b|\blead's\b", re.I),
    "engineer (a person)": re.compile(
        r"\b(?:another|other|each|every|one|two|three|four|five|six|seven|eight|\d+)\s+engineers?\b", re.I
    ),
    "narrative": re.compile(r"\bwe\s+then\b", re.I),
    "scratch path": re.compile(r"/work/scratch|\bscratch\s+(?:script|dir|directory|path)s?\b", re.I),
}
#: A Markdown link or image: [text](target) (target without spaces; an optional "title" after).
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def user_docs() -> list[Path]:
    """README and every Markdown file under docs/ except the development records in docs/dev/."""
    docs = [p for p in (ROOT / "docs").rglob("*.md") if "dev" not in p.relative_to(ROOT / "docs").parts[:-1]]
    return [ROOT / "README.md", *sorted(docs)]


def all_docs() -> list[Path]:
    """Every Markdown document of the repository (user docs, records, benchmarks)."""
    return sorted({*user_docs(), *(ROOT / "docs").rglob("*.md"), *(ROOT / "benchmarks").rglob("*.md")})


def log_phrases(text: str) -> list[str]:
    """The development-log phrases in ``text``, as 'kind: "phrase"' (empty when clean).

    >>> log_phrases("Measured during session 3 by another helper, see /work/scratch/x")
    ['work session: "session 3"', 'helper (a person): "another helper"', 'scratch path: "/work/scratch"']
    >>> log_phrases("truth helpers live in features/sources/truth.py; a lead time of 24 months")
    []
    """
    return [f'{kind}: "{m.group(0)}"' for kind, rx in LOG_PHRASES.items() for m in rx.finditer(text)]


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown links in ``text`` that point into the repository (no URL, no anchor only).

    >>> relative_links("[a](docs/x.md#top) [b](https://cbs.nl) [c](#here) ![d](img/p.png) `[e](f)`")
    ['docs/x.md#top', 'img/p.png']
    """
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code
    targets = [m.group(1) for m in LINK.finditer(text)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I) and not t.startswith("#")]


def test_user_docs_exist():
    names = {p.relative_to(ROOT).as_posix() for p in user_docs()}
    assert {"README.md", "docs/guide/modeller.md", "docs/guide/policy.md", "docs/guide/reviewer.md"} <= names


@pytest.mark.parametrize("path", user_docs(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_user_docs_contain_no_development_log(path):
    found = log_phrases(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)}: development-log language {found}; records belong in docs/dev/"


def dev_records() -> list[Path]:
    """The development records (docs/dev/ and benchmarks/): written as records (what, command,
    figure), not as a log of who did what in which round of work."""
    return sorted({*(ROOT / "docs" / "dev").rglob("*.md"), *(ROOT / "benchmarks").rglob("*.md")})


@pytest.mark.parametrize("path", dev_records(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_dev_records_are_records_not_a_log(path):
    found = log_phrases(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)}: development-log language {found}; write what, command, figure"


@pytest.mark.parametrize("path", all_docs(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path):
    broken = []
    for target in relative_links(path.read_text(encoding="utf-8")):
        file = target.split("#", 1)[0]
        if file and not (path.parent / file).resolve().exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: links to missing files {broken}"


def test_the_checks_can_fail(tmp_path):
    """The phrase list and the link check catch what they are meant to catch."""
    assert log_phrases("as the lead measured in sessions 3-5")
    assert log_phrases("not re-checked in this\nsession")  # a phrase broken over two lines
    assert log_phrases("shared with four other engineers; we then re-ran it")
    doc = tmp_path / "x.md"
    doc.write_text("[gone](nope.md) [here](x.md)", encoding="utf-8")
    assert [t for t in relative_links(doc.read_text()) if not (tmp_path / t).exists()] == ["nope.md"]


@pytest.mark.parametrize(
    "text",
    ["truth helpers: features/sources/truth.py", "the leading digits", "a session of the kernel per login"],
)
def test_ordinary_words_are_not_log_phrases(text):
    assert log_phrases(text) == []


def documented_commands(text: str) -> list[list[str]]:
    """Every ``aanwas`` command line in ``text`` (fenced code and inline code), as tokens.

    Continuation lines are joined; optional parts written ``[--by NAME]`` count as options.

    >>> doc = "Run `aanwas train --work WORK` or\\n```bash\\naanwas promote --band 8-12 \\\\\\n    [--by NAME]\\n```"
    >>> documented_commands(doc)
    [['aanwas', 'promote', '--band', '8-12', '--by', 'NAME'], ['aanwas', 'train', '--work', 'WORK']]
    """
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        lines += block.replace("\\\n", " ").splitlines()
    lines += re.findall(r"(?<!`)`([^`\n]+)`(?!`)", re.sub(r"```.*?```", "", text, flags=re.S))
    commands = []
    for line in lines:
        m = re.search(r"(?:^\s*|/)(aanwas(?:\.exe)? [a-z].*)", line.split("#", 1)[0])
        if m:
            commands.append(m.group(1).replace("[", " ").replace("]", " ").split())
    return commands


def unknown_commands(commands: list[list[str]]) -> list[str]:
    """The subcommands and options in ``commands`` that the ``aanwas`` CLI does not have."""
    import typer

    from aanwas.cli import app

    cli = typer.main.get_command(app)
    wrong = []
    for tokens in commands:
        sub = cli.commands.get(tokens[1])  # type: ignore[attr-defined]
        if sub is None:
            wrong.append(" ".join(tokens[:2]))
            continue
        known = {opt for param in sub.params for opt in param.opts}
        wrong += [f"{tokens[1]} {t}" for t in tokens[2:] if t.startswith("--") and t.split("=")[0] not in known]
    return wrong


@pytest.mark.parametrize("path", sorted((ROOT / "docs" / "guide").glob("*.md")), ids=lambda p: p.name)
def test_guide_commands_exist(path):
    """Every command and option the guides tell a user to type exists in the CLI."""
    wrong = unknown_commands(documented_commands(path.read_text(encoding="utf-8")))
    assert not wrong, f"{path.relative_to(ROOT)}: commands or options the CLI does not have: {wrong}"


def test_unknown_commands_are_found():
    doc = "`aanwas train --work W --nope`, then\n```bash\naanwas frobnicate --x\naanwas export \\\n  [--alias A]\n```"
    assert unknown_commands(documented_commands(doc)) == ["aanwas frobnicate", "train --nope"]
