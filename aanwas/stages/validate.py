"""Stage wiring of ``aanwas validate``: read a delivery, check it, print a summary; write nothing.

The summary holds counts and date bounds per table only (rows, distinct persons, first and
last date, orphan rows dropped) and the delivery's observation end; never a row value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from aanwas.config import AppConfig
from features.contract import Delivery, summarise_delivery
from features.sources.readers import load_mapping, read_delivery


def render_summary(delivery: Delivery, data_dir: Path) -> Table:
    """A rich table of :func:`features.contract.summarise_delivery` (counts and dates only)."""
    summary = summarise_delivery(delivery)
    table = Table(
        title=f"Delivery {data_dir}: valid; observation end {delivery.observation_end.isoformat()}",
        title_justify="left",
    )
    table.add_column("table", no_wrap=True)
    for col in ("rows", "persons", "orphans"):
        table.add_column(col, justify="right")
    table.add_column("first date")
    table.add_column("last date")
    for row in summary.itertuples(index=False):  # one row per table (about ten)
        table.add_row(
            str(row.table),
            f"{row.rows:,}",
            "" if pd.isna(row.persons) else f"{int(row.persons):,}",
            f"{row.orphans_dropped:,}",
            "" if pd.isna(row.first_date) else str(row.first_date),
            "" if pd.isna(row.last_date) else str(row.last_date),
        )
    return table


def summary_document(delivery: Delivery, data_dir: Path) -> dict[str, Any]:
    """The validation summary as a JSON-ready document (``aanwas validate --json``): the
    delivery, its observation end, per table the counts and date bounds of
    :func:`features.contract.summarise_delivery`, and the rows dropped within the tolerances."""
    summary = summarise_delivery(delivery).rename(columns={"orphans_dropped": "orphans"})
    tables = [
        {k: (None if pd.isna(v) else int(v) if k in ("rows", "persons", "orphans") else v) for k, v in row.items()}
        for row in summary.to_dict("records")
    ]
    return {
        "data": str(data_dir),
        "valid": True,
        "observation_end": delivery.observation_end.isoformat(),
        "tables": tables,
        "orphans_dropped": int(sum(delivery.orphans_dropped.values())),
        "unmatched_dropped": {name: int(n) for name, n in delivery.unmatched_dropped.items()},
    }


def run_validate(
    cfg: AppConfig, data_dir: Path, mapping_path: Path | None, console: Console, log: Console | None = None
) -> Delivery:
    """Read and validate the delivery in ``data_dir``, print its summary to ``console`` and
    the rows dropped within the tolerances to ``log``.

    Parameters
    ----------
    cfg : AppConfig
        Only ``cfg.contract`` is used.
    data_dir : Path
        Delivery directory.
    mapping_path : Path or None
        Column-mapping TOML (``None``: contract names).
    console : Console
        Where the summary goes (the command's result: stdout).
    log : Console, optional
        Where the notes on dropped rows go (diagnostics: stderr; default: ``console``).

    Returns
    -------
    Delivery
        The validated delivery (nothing is written anywhere).

    Raises
    ------
    InputError, ConfigError
        On the first problem with the delivery or the mapping (the CLI exits with code 2).
    """
    mapping = load_mapping(mapping_path)
    delivery = read_delivery(Path(data_dir), mapping, cfg.contract)
    console.print(render_summary(delivery, Path(data_dir)))
    log = console if log is None else log
    dropped = sum(delivery.orphans_dropped.values())
    if dropped:
        log.print(
            f"{dropped:,} rows whose pseudonym is not in persons were dropped "
            f"(tolerated: contract.max_orphan_share = {cfg.contract.max_orphan_share})"
        )
    for name, n in delivery.unmatched_dropped.items():
        log.print(f"{n:,} rows of {name} found no lookup row and were dropped (tolerated: max_unmatched_share)")
    return delivery
