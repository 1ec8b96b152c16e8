"""Execution backends: where the chunks of a trial run.

``LocalBackend`` runs chunks one after another in this process (the engine uses
``workers`` processes or threads inside each chunk). ``RayBackend`` sends chunks to a
Ray cluster (``pip install 'lupusim[distributed]'``; a local cluster when no address is
given), one core per chunk. Both yield results in chunk order; because a chunk's random
numbers depend only on the seed and the chunk's subjects, the two give identical results.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lupusim.errors import LupusimError
from lupusim.trial._protocol import Protocol as TrialProtocol
from lupusim.trial._simulate import Chunk, ChunkResult, RunSettings, run_chunk


class ExecutionBackend(Protocol):
    """Runs chunks; yields their results in the order given."""

    @property
    def name(self) -> str: ...

    def run(
        self, protocol: TrialProtocol, chunks: Sequence[Chunk], settings: RunSettings
    ) -> Iterator[ChunkResult]: ...


@dataclass(frozen=True)
class LocalBackend:
    """Chunks in this process; the engine spreads each over ``workers`` cores."""

    workers: int = 1
    name: str = "local"

    def run(
        self, protocol: TrialProtocol, chunks: Sequence[Chunk], settings: RunSettings
    ) -> Iterator[ChunkResult]:
        for chunk in chunks:
            yield run_chunk(protocol, chunk, settings, workers=self.workers)


@dataclass(frozen=True)
class RayBackend:
    """Chunks as Ray tasks (one CPU each), at most ``max_in_flight`` queued at once.

    ``address=None`` starts (or joins) a local cluster with ``num_cpus`` CPUs.
    """

    address: str | None = None
    num_cpus: int | None = None
    max_in_flight: int = 16
    name: str = "ray"

    def run(
        self, protocol: TrialProtocol, chunks: Sequence[Chunk], settings: RunSettings
    ) -> Iterator[ChunkResult]:
        ray = _import_ray()
        started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address is not None:
                kwargs["address"] = self.address
            else:
                kwargs["num_cpus"] = self.num_cpus
            ray.init(**kwargs)
            started = True
        try:
            remote = ray.remote(num_cpus=1)(run_chunk)
            proto_ref = ray.put(protocol)
            pending: list[Any] = []
            for chunk in chunks:
                pending.append(remote.remote(proto_ref, chunk, settings, 1))
                if len(pending) >= self.max_in_flight:
                    yield ray.get(pending.pop(0))
            while pending:
                yield ray.get(pending.pop(0))
        finally:
            if started:
                ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise LupusimError(
            "the Ray backend needs Ray: pip install 'lupusim[distributed]'"
        ) from None
    return ray


def make_backend(name: str, workers: int = 1, address: str | None = None) -> ExecutionBackend:
    """``"local"`` or ``"ray"``."""
    if name == "local":
        return LocalBackend(workers=workers)
    if name == "ray":
        return RayBackend(address=address, num_cpus=workers if workers > 0 else None)
    raise LupusimError(f"unknown backend {name!r}; known: local, ray")
