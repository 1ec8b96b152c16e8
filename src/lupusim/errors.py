"""Exceptions shared across lupusim.

``LupusimError`` is the base of every error the command line turns into a one-line
message and a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


def one_line(message: str) -> str:
    """``message`` on one line: every run of whitespace, line and paragraph separators
    included (U+0085, U+2028, ...), becomes one space, so that an error naming a key or
    value a user wrote cannot break the one-line contract of the command line."""
    return " ".join(message.split())


class LupusimError(Exception):
    """An expected failure with a message a user can act on."""


class InputError(LupusimError):
    """Bad user input: names the file, row and column where known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SimulationError(LupusimError):
    """A simulation could not produce results (never a silent NaN)."""
