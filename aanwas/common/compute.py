"""Where the heavy independent work runs: local processes (the default, nothing to start) or a
Dask distributed scheduler (``compute.scheduler = "tcp://HOST:PORT"``).

One small API for every stage: :func:`executor` opens a context whose object has
``map(fn, items)``, returning the results in the order of ``items``. Each task must be a
deterministic function of its item (seeds travel inside the item), so where it runs never
changes the result: a run on a cluster is byte-identical to a local one.

The cluster must run inside the same secure environment as the work directory: tasks carry
confidential tables (person-level rows for training and scoring) to the workers, which may
spill them to their local directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

import joblib

from aanwas.common.config import require
from aanwas.common.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")

#: ``protocol://host:port`` of a Dask scheduler (tcp, tls, ws, wss, ucx, inproc).
_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx|inproc)://[^\s/]+$")


@dataclasses.dataclass(frozen=True)
class ComputeConfig:
    """Where the heavy independent work runs.

    Attributes
    ----------
    scheduler : str
        Empty: local processes, as many as each stage's own setting allows (nothing to start).
        ``"tcp://HOST:PORT"``: the address of a running Dask distributed scheduler; disclosure
        control per period, training per age band, the evaluation gate's bootstrap replicates
        (in chunks) and scoring per period run as tasks on its workers, which need the same
        version of aanwas installed.
    connect_timeout_seconds : float
        How long to wait for the scheduler to answer before the command ends with an error.
    """

    scheduler: str = ""
    connect_timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        require(
            self.scheduler == "" or bool(_ADDRESS.match(self.scheduler)),
            "compute.scheduler",
            f"must be empty (local) or a Dask scheduler address like tcp://HOST:PORT, got {self.scheduler!r}",
        )
        require(0 < self.connect_timeout_seconds <= 3_600, "compute.connect_timeout_seconds", "must be in (0, 3600]")


class Executor(Protocol):
    """Runs ``fn`` on each item; results come back in the order of the items."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...


class LocalExecutor:
    """Local processes (joblib/loky): ``workers`` 0 = one per CPU core, 1 = in this process
    (no worker processes); never more processes than items.

    Examples
    --------
    >>> list(LocalExecutor(1).map(abs, [-2, 3]))
    [2, 3]
    """

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        todo = list(items)
        n = max(1, min(self.workers or joblib.cpu_count(), len(todo)))
        if n == 1:
            return map(fn, todo)
        pool = joblib.Parallel(n_jobs=n, backend="loky", return_as="generator")
        return iter(pool(joblib.delayed(fn)(item) for item in todo))


class DaskExecutor:
    """Tasks on a Dask distributed cluster through ``client``. The items are scattered to the
    workers first (large tables go straight to a worker, not through the scheduler, when the
    client was made with ``direct_to_workers=True``, as :func:`executor` does), all tasks
    are submitted at once, and results are gathered in item order (so progress reports stay
    in order)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        todo = list(items)
        if not todo:
            return iter(())
        inputs = self.client.scatter(todo, hash=False)
        return self._gather(inputs, self.client.map(fn, inputs, pure=False))

    def _gather(self, inputs: list[Any], futures: list[Any]) -> Iterator[Any]:
        try:
            for future in futures:
                yield future.result()
        finally:
            self.client.cancel([*futures, *inputs])


@contextlib.contextmanager
def executor(cfg: ComputeConfig, *, local_workers: int = 1) -> Iterator[Executor]:
    """An :class:`Executor` for ``cfg``: :class:`LocalExecutor` (``local_workers``) when
    ``cfg.scheduler`` is empty, else a :class:`DaskExecutor` connected to it (closed on exit).

    Raises
    ------
    ConfigError
        ``compute.scheduler`` is set but dask.distributed is not installed (the ``scale``
        extra) or no scheduler answers at the address.

    Examples
    --------
    >>> with executor(ComputeConfig()) as ex:
    ...     list(ex.map(str, [1, 2]))
    ['1', '2']
    """
    if not cfg.scheduler:
        yield LocalExecutor(local_workers)
        return
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(
            "compute.scheduler", "needs dask.distributed: install the 'scale' extra (pip install 'aanwas[scale]')"
        ) from None
    try:
        # direct: items and results travel between this process and the workers; through the
        # scheduler (Dask's default for a client outside the cluster) the national training
        # bands' rows took the scheduler to 2.5 GB (docs/dev/performance.md)
        client = Client(
            cfg.scheduler, timeout=cfg.connect_timeout_seconds, set_as_default=False, direct_to_workers=True
        )
    except (OSError, TimeoutError) as err:
        raise ConfigError("compute.scheduler", f"no Dask scheduler answers at {cfg.scheduler}: {err}") from None
    with client:
        yield DaskExecutor(client)
