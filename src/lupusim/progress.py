"""The progress bar of long runs: one look for every command that counts work done."""

from __future__ import annotations

from typing import Self

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


class OptionalProgress:
    """A :func:`counted_progress` bar while entered, or nothing when ``enabled`` is false;
    subclasses add their tasks through ``self.bar`` (``None`` when disabled)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Progress | None = None

    def __enter__(self) -> Self:
        if self.enabled:
            self.bar = counted_progress()
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
