"""Real components on loopback for the scale-out tests: a free port, a server process started in
its own process group and waited for, and stopped (the whole group) afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def server(cmd: Sequence[str], ready_url: str, log: Path, timeout: float = 120.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``cmd`` (its own process group, output to ``log``), wait until ``ready_url``
    answers 200, yield the process; terminate the group on exit (kill if it lingers)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(ready_url):
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} ended with {proc.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{cmd[0]} did not answer at {ready_url} in {timeout} s: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield proc
    finally:
        _stop(proc)


@contextlib.contextmanager
def dask_cluster(directory: Path, n_workers: int = 2, timeout: float = 60.0) -> Iterator[str]:
    """``dask scheduler`` and ``n_workers`` ``dask worker`` processes (one thread each) on
    127.0.0.1, as a user starts them; yields the scheduler address once every worker is in."""
    from distributed import Client

    bin_dir = Path(os.environ.get("VIRTUAL_ENV", "")) / "bin"
    dask = str(bin_dir / "dask") if (bin_dir / "dask").exists() else str(Path(sys.executable).parent / "dask")
    port, dash = free_port(), free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler_cmd = [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--dashboard-address", f"127.0.0.1:{dash}"]  # fmt: skip
    with contextlib.ExitStack() as stack:
        stack.enter_context(server(scheduler_cmd, f"http://127.0.0.1:{dash}/health", directory / "scheduler.log"))
        for i in range(n_workers):
            worker_cmd = [dask, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                          "--local-directory", str(directory / f"worker-{i}"), "--name", f"w{i}"]  # fmt: skip
            log = directory / f"worker-{i}.log"
            out = stack.enter_context(open(log, "wb"))
            proc = subprocess.Popen(worker_cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            stack.callback(_stop, proc)
        with Client(address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=timeout)
        yield address


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
