"""The progress bar of long runs: one look for every command that counts work done."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def counted_progress() -> Progress:
    """A rich progress bar showing description, bar, done/total, elapsed and remaining
    time; kept on screen when it ends. Enter it as a context manager."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )
