"""Chunks of subjects on threads (lupusim.engine._threads)."""

from __future__ import annotations

import threading
import time

import pytest

from lupusim.engine._threads import chunk_size, map_chunks


def test_chunk_size_gives_each_thread_several_chunks() -> None:
    assert chunk_size(10_000, 2) == 64  # capped
    assert chunk_size(100, 2) == 13  # ceil(100 / 8)
    assert chunk_size(3, 4) == 1
    assert chunk_size(1000, 1, largest=500) == 250


@pytest.mark.parametrize("threads", [1, 3])
def test_results_in_order_and_every_subject_once(threads: int) -> None:
    sizes: list[int] = []
    out = map_chunks(
        lambda a, b: [i * i for i in range(a, b)], 103, threads, chunk=10, done=sizes.append
    )
    assert out == [i * i for i in range(103)]
    assert sorted(sizes) == [3] + [10] * 10
    assert map_chunks(lambda a, b: [a], 0, threads) == []


def test_threads_run_chunks_concurrently() -> None:
    """Two chunks that each wait for the other can only finish on two threads."""
    barrier = threading.Barrier(2, timeout=10)

    def work(a: int, b: int) -> list[int]:
        barrier.wait()
        return list(range(a, b))

    assert map_chunks(work, 4, 2, chunk=2) == [0, 1, 2, 3]


def test_a_failing_chunk_raises_and_later_chunks_are_cancelled() -> None:
    started: list[int] = []

    def work(a: int, b: int) -> list[int]:
        started.append(a)
        if a == 0:
            raise ValueError("subject 0 is broken")
        time.sleep(0.01)
        return list(range(a, b))

    with pytest.raises(ValueError, match="subject 0 is broken"):
        map_chunks(work, 1000, 2, chunk=1)
    assert len(started) < 1000
