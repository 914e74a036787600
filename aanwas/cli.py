"""The ``aanwas`` command line: the composition root's edge (files, printing, exit codes).

Every command reads config through :func:`aanwas.config.load_config`, calls stage entry points
and turns :class:`features.errors.AanwasError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from aanwas.config import AppConfig, load_config
from features.errors import AanwasError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0] if __doc__ else None)
console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file (defaults are embedded).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a setting: section.key=value (repeatable).")]
DataOpt = Annotated[Path, typer.Option("--data", help="Delivery directory (one file per contract table).")]
MappingOpt = Annotated[Path | None, typer.Option("--mapping", help="Column-mapping TOML for a real delivery.")]


def _fail(message: str) -> None:
    # One line, no traceback; no row values ever reach these messages.
    print(f"aanwas: error: {message}", file=sys.stderr)
    raise typer.Exit(code=2)


def handles_errors(fn: F) -> F:
    """Turn AanwasError into one clear line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AanwasError as err:
            _fail(str(err))

    return wrapper  # type: ignore[return-value]


def config_from(config: Path | None, overrides: list[str] | None) -> AppConfig:
    return load_config(config, overrides or ())


@app.command()
@handles_errors
def synth(
    scale: Annotated[float, typer.Option(help="1.0 = national size (~3.4M aged 8-23 plus parents).")] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same population.")] = 1,
    out: Annotated[Path, typer.Option(help="Writes OUT/raw (inputs) and OUT/truth (for tests only).")] = Path("aanwas-synth"),
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Generate a synthetic population with known truth."""
    from aanwas.stages.synth import run_synth

    cfg = config_from(config, [*(set_ or []), f"synth.scale={scale}", f"synth.seed={seed}"])
    run_synth(cfg, out, console=console)


@app.command()
@handles_errors
def validate(data: DataOpt, mapping: MappingOpt = None, config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """Check a delivery against the input contract and print a summary."""
    from aanwas.stages.validate import run_validate

    run_validate(config_from(config, set_), data, mapping, console=console)


# --- stage commands are registered below this line, one block per stage ---------------------


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
