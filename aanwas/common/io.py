"""Crash-safe writing: build a directory or file under a temporary name, then rename.

A reader never sees a half-written result under the final name: either the previous content
or the complete new one. On any error the temporary directory is removed. A writer that was
killed (SIGKILL, power loss) cannot clean up: its temporary directory carries its process id,
and the next write of the same name removes it once that process is gone. If the kill fell
between the two renames of the swap, the previous directory is restored first.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``final``; on success it replaces ``final``.

    The old ``final`` (if any) is moved aside and removed only after the new one is in place,
    so a crash leaves either the old or the new directory under the final name; only a kill
    between the two renames leaves the old one under ``.<name>.old-<pid>``, from where the
    next write of ``final`` restores it (:func:`recover_stale`) before it starts.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    recover_stale(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{os.getpid()}-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; give the usual directory mode
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


_STALE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>[0-9]+)(?:-[^/]*)?$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def recover_stale(final: Path) -> list[Path]:
    """Clean up after a writer of ``final`` that died mid-write; return what was removed.

    Temporary (``.<name>.tmp-<pid>-*``) and set-aside (``.<name>.old-<pid>``) directories of
    processes that no longer run are removed; when ``final`` itself is missing, a dead
    writer's set-aside directory (the previous content) is renamed back to ``final`` first.
    Directories of running writers are left alone.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return []
    stale = []
    for p in final.parent.iterdir():
        m = _STALE.match(p.name)
        if m and m["name"] == final.name and not _alive(int(m["pid"])):
            stale.append((m["kind"], p))
    removed = []
    for kind, p in sorted(stale):
        if kind == "old" and not final.exists():
            os.replace(p, final)  # the kill fell between the two renames: the previous content
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class FileStore(MutableMapping[str, bytes]):
    """A directory as a mapping of hex keys to bytes, one file per key, written atomically.

    For results a stage keeps between runs (e.g. disclosure certificates per period in the
    work directory). A key must be a lowercase hex digest; a missing or unreadable file is a
    missing key.
    """

    _KEY = re.compile(r"^[0-9a-f]{16,128}$")

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        if not self._KEY.match(key):
            raise KeyError(key)
        return self.directory / f"{key}.bin"

    def __getitem__(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as err:
            raise KeyError(key) from err

    def __setitem__(self, key: str, value: bytes) -> None:
        atomic_write_bytes(self._path(key), bytes(value))

    def __delitem__(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError as err:
            raise KeyError(key) from err

    def __iter__(self) -> Iterator[str]:
        if not self.directory.is_dir():
            return iter(())
        return iter(sorted(p.stem for p in self.directory.glob("*.bin") if self._KEY.match(p.stem)))

    def __len__(self) -> int:
        return sum(1 for _ in self)
