"""Crash safety of the export writer against a real kill (SIGKILL) in another process.

The child process writes an export through :func:`monitoring.publishing.export.write_export`. To make the
kill land mid-write deterministically, the child (and only the child: the patch lives in the
script below, not in the product) wraps the writer's file or rename step so that it signals the
parent and sleeps at the chosen point; the parent then sends SIGKILL. No ``finally`` or
``except`` of the writer runs after SIGKILL, so this is what a power cut or the OOM killer does.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aanwas.common.io import atomic_dir, recover_stale

ROOT = Path(__file__).resolve().parents[2]
HELPERS = Path(__file__).with_name("test_monitoring_export.py")
PERIOD = "2024-01-01"

# The child: load the export test helpers by path, pause at the chosen point, write seed 2.
CHILD = textwrap.dedent(
    """
    import importlib.util, os, sys, time
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("export_helpers", sys.argv[1])
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    from monitoring.publishing import export as export_mod
    import aanwas.common.io as io_mod

    root, ready, where, after = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    calls = {"n": 0}

    def pause():
        ready.write_text(str(os.getpid()))
        time.sleep(600)  # the parent kills us here

    if where == "file":
        real_write = export_mod._write_file

        def write_file(path, data):
            real_write(path, data)
            calls["n"] += 1
            if calls["n"] == after:
                pause()

        export_mod._write_file = write_file
    else:  # "rename": after the previous export was moved aside, before the new one moves in
        real_replace = os.replace

        class _Os:
            def __getattr__(self, name):
                return getattr(os, name)

            @staticmethod
            def replace(src, dst):
                real_replace(src, dst)
                calls["n"] += 1
                if calls["n"] == after:
                    pause()

        io_mod.os = _Os()
    table = helpers.checked(2)
    helpers.write(root, table=table)
    print("finished without being killed")
    """
)


def _hashes(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def _helpers():  # the export test module's builders (checked tables, write)
    import importlib.util

    spec = importlib.util.spec_from_file_location("export_helpers", HELPERS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _kill_child_at(tmp_path: Path, root: Path, where: str, after: int) -> int:
    """Run the child until it pauses at ``where`` (after ``after`` calls), SIGKILL it; its pid."""
    ready = tmp_path / f"ready-{where}-{after}"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(HELPERS), str(root), str(ready), where, str(after)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"child ended before the pause: {out.decode()} {err.decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError("child did not reach the pause in 120 s")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return proc.pid


@pytest.fixture(scope="module")
def helpers():  # noqa: ANN201
    return _helpers()


@pytest.mark.parametrize("after", [1, 3])
def test_sigkill_mid_write_keeps_the_previous_export(helpers, tmp_path: Path, after: int) -> None:  # noqa: ANN001
    root = tmp_path / "exports"
    previous = helpers.write(root, table=helpers.checked(1))
    before = _hashes(previous)
    new_hashes = _hashes(helpers.write(tmp_path / "reference", table=helpers.checked(2)))
    assert new_hashes != before  # the interrupted export would have changed the files

    pid = _kill_child_at(tmp_path, root, "file", after)

    # the previous export is intact under its name, byte for byte
    assert _hashes(root / PERIOD) == before
    # the kill landed mid-write: a partial directory exists, but only under a hidden temporary name
    leftovers = [p for p in root.iterdir() if p.name != PERIOD]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(f".{PERIOD}.tmp-{pid}-")
    assert len(list(leftovers[0].iterdir())) == after
    assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == [PERIOD]

    # a re-run is not confused: it removes the dead writer's directory and writes the new export
    again = helpers.write(root, table=helpers.checked(2))
    assert _hashes(again) == new_hashes
    assert sorted(p.name for p in root.iterdir()) == [PERIOD]


def test_sigkill_between_the_renames_restores_the_previous_export(
    helpers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    root = tmp_path / "exports"
    before = _hashes(helpers.write(root, table=helpers.checked(1)))

    pid = _kill_child_at(tmp_path, root, "rename", 1)  # previous export moved aside, new not yet in

    names = sorted(p.name for p in root.iterdir())
    assert PERIOD not in names
    assert f".{PERIOD}.old-{pid}" in names
    assert _hashes(root / f".{PERIOD}.old-{pid}") == before  # nothing lost, only set aside

    # the next write restores it before it starts: even a failing write leaves it in place
    from monitoring.publishing import export as export_mod

    def fail(path: Path, data: bytes) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(export_mod, "_write_file", fail)
    with pytest.raises(OSError, match="simulated"):
        helpers.write(root, table=helpers.checked(2))
    assert sorted(p.name for p in root.iterdir()) == [PERIOD]
    assert _hashes(root / PERIOD) == before


def test_directories_of_running_writers_are_left_alone(tmp_path: Path) -> None:
    final = tmp_path / "2024"
    with atomic_dir(final) as tmp:
        (tmp / "a.csv").write_text("1")
    mine = tmp_path / f".2024.tmp-{os.getpid()}-abc"  # this process is alive
    mine.mkdir()
    dead = tmp_path / ".2024.tmp-999999999-abc"  # no such process (above pid_max)
    dead.mkdir()
    other = tmp_path / ".2025.tmp-999999999-abc"  # another name: not ours to touch
    other.mkdir()
    assert recover_stale(final) == [dead]
    assert mine.exists() and other.exists() and not dead.exists()
