"""Errors that end a command with one clear line and exit code 2.

Every stage raises :class:`InputError` for bad input (a delivery that breaks the contract) and
:class:`ConfigError` for a configuration that is out of range. The CLI turns both into one line
on stderr, exit code 2, and nothing written. Messages never contain row values (they could be
pseudonyms): only table, column, check and the number of offending rows.
"""

from __future__ import annotations


class AanwasError(Exception):
    """Base class for errors that end a command with one line and ``exit_code`` (2: bad input or
    a bad setting; a subclass for another failure sets 1)."""

    exit_code = 2


class InputError(AanwasError):
    """A delivery, mapping or scored table that breaks the input contract.

    Parameters
    ----------
    table : str
        Table (or file) where the problem is.
    column : str or None
        Column concerned, if any.
    n_rows : int or None
        Number of offending rows, if the problem is about rows.
    problem : str
        What is wrong, in a few words.
    """

    def __init__(self, table: str, column: str | None, n_rows: int | None, problem: str):
        self.table = table
        self.column = column
        self.n_rows = n_rows
        self.problem = problem
        where = f"table '{table}'"
        if column:
            where += f", column '{column}'"
        rows = f" ({n_rows} row{'s' if n_rows != 1 else ''})" if n_rows is not None else ""
        super().__init__(f"invalid input: {where}: {problem}{rows}")


class ConfigError(AanwasError):
    """A configuration or mapping value that is missing, of the wrong type or out of range."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"invalid config: '{key}': {problem}")
