"""storage/postgres_coalesce.Coalescer: requests of one moment share a run; outcomes per request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from storage.postgres_coalesce import Coalescer


class Recorder:
    """A run that records its batches; a request ``< 0`` fails alone, ``0`` fails the run."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def run(self, requests: list[int]) -> Sequence[int | BaseException]:
        self.batches.append(list(requests))
        await self.release.wait()
        if 0 in requests:
            raise RuntimeError("the whole run failed")
        return [ValueError(f"refused {r}") if r < 0 else r * 10 for r in requests]


async def test_requests_of_one_moment_share_a_run_and_get_their_own_outcome() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.run)
    outcomes = await asyncio.gather(*(coalescer.submit(r) for r in (1, -2, 3)),
                                    return_exceptions=True)
    assert recorder.batches == [[1, -2, 3]]
    assert outcomes[0] == 10 and outcomes[2] == 30
    assert isinstance(outcomes[1], ValueError)


async def test_requests_made_while_a_run_is_in_flight_go_together_in_the_next() -> None:
    recorder = Recorder()
    recorder.release.clear()
    coalescer: Coalescer[int, int] = Coalescer(recorder.run, limit=2)
    first = asyncio.ensure_future(coalescer.submit(1))
    await asyncio.sleep(0.01)
    later = [asyncio.ensure_future(coalescer.submit(r)) for r in (2, 3, 4)]
    await asyncio.sleep(0.01)
    recorder.release.set()
    assert await asyncio.gather(first, *later) == [10, 20, 30, 40]
    assert recorder.batches == [[1], [2, 3], [4]]  # at most ``limit`` at a time


async def test_a_failed_run_fails_each_request_and_a_cancelled_caller_withdraws_nothing() -> None:
    recorder = Recorder()
    recorder.release.clear()
    coalescer: Coalescer[int, int] = Coalescer(recorder.run)
    leaving = asyncio.ensure_future(coalescer.submit(5))
    staying = asyncio.ensure_future(coalescer.submit(6))
    await asyncio.sleep(0.01)
    leaving.cancel()
    recorder.release.set()
    assert await staying == 60
    assert recorder.batches == [[5, 6]]  # the cancelled caller's request still ran
    with pytest.raises(RuntimeError, match="whole run"):
        await asyncio.gather(coalescer.submit(0), coalescer.submit(7))
    await coalescer.drain()
