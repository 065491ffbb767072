"""Many callers' requests of one kind in one round trip: :class:`Coalescer`.

The PostgreSQL store pays a round trip (and for a write, a WAL flush) per
statement, whatever its size.  Requests that many coroutines make at about
the same moment — the session reads of a claimed batch of customers, their
commits, the "sent" marks of their replies — are gathered: every request
made while the loop runs the current batch of ready callbacks, and every
one made while a round trip is in flight, goes into the next one, up to
``limit`` at a time.  One round trip is in flight per coalescer.

A caller cancelled while waiting does not withdraw its request (a commit
stays a commit); the request's outcome is then simply not awaited.  When a
run of several requests raises an error ``alone_if`` accepts (a value the
database refuses, in one of them), each is run again alone, so the error
reaches only the requests it belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")

class Coalescer(Generic[A, R]):
    """Runs ``run(requests)`` for up to ``limit`` requests at a time, one run at a time.

    ``run`` returns one outcome per request, in order: a result, or an
    exception for that request alone.  An exception raised by ``run``
    itself is every request's outcome.
    """

    def __init__(self, run: Callable[[list[A]], Awaitable[Sequence[R | BaseException]]],
                 limit: int = 64,
                 alone_if: Callable[[Exception], bool] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self._run = run
        self._limit = limit
        self._alone_if = alone_if
        self._queue: list[tuple[A, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.round_trips = 0  # runs so far (a request run again alone counts again)
        self.requests = 0  # requests run so far

    async def submit(self, request: A) -> R:
        """``request``'s outcome, once the round trip carrying it is done."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._flusher is None:
            # Started on the loop's next turn: the requests made meanwhile go with it.
            self._flusher = asyncio.create_task(self._flush(), name="coalesced round trip")
        # A caller cancelled here cancels only its future: the request still runs.
        return await future

    async def drain(self) -> None:
        """Return once every request submitted so far has its outcome."""
        while self._flusher is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        batch: list[tuple[A, asyncio.Future[R]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[:self._limit], self._queue[self._limit:]
                requests = [request for request, _ in batch]
                outcomes = await self._outcomes(requests)
                if (len(requests) > 1 and self._alone_if is not None
                        and isinstance(outcomes[0], Exception) and self._alone_if(outcomes[0])
                        and all(outcome is outcomes[0] for outcome in outcomes)):
                    outcomes = [(await self._outcomes([request]))[0] for request in requests]
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    _settle(future, outcome)
                batch = []
        finally:
            # Cancelled (the loop is closing): nobody is left waiting for ever.
            for _, future in [*batch, *self._queue]:
                future.cancel()
            self._queue = []
            self._flusher = None


    async def _outcomes(self, requests: list[A]) -> Sequence[R | BaseException]:
        """One run's outcomes, one per request (the run's own error for each if it raised)."""
        self.round_trips += 1
        self.requests += len(requests)
        try:
            outcomes = await self._run(requests)
            if len(outcomes) != len(requests):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(requests)} requests")
            return outcomes
        except Exception as exc:
            return [exc] * len(requests)


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
        future.exception()  # retrieved: a caller that left early is not owed a warning
    else:
        future.set_result(outcome)
