"""Call order within one process: writes that share a claim run one after another.

PostgreSQL serialises transactions that touch the same rows, but in the
order they *reach* the rows, and concurrent callers of one process take
pool connections in no particular order.  The store's contract asks more
within a process: a conversation's commits apply in the order they were
called, moves of one order decide in call order, a restaurant's switches
end as the last call left them.  :class:`CallOrder` gives that: each write
names its *claims* (a conversation, an inbox message, an order, a
restaurant's controls) and starts only once every earlier write sharing
one of them has finished; writes sharing none run at once, on as many
connections as the pool has.  Across processes the database's locks decide
(:mod:`storage.postgres_commit`).

:class:`Turn` is the other half: a commit holds the store's *turnstile*
from before it takes a connection until its first statement has taken its
outbox ids (:mod:`storage.postgres_commit`), so the process's commits take
ids in the order they started, whichever conversation they are for.  It is
taken before the transaction holds anything in the database and never
waited for by a transaction that does, so it cannot close a cycle of waits.

Each write runs as its own task: a caller cancelled while waiting does not
withdraw it (the contract of :meth:`~storage.roles.UnitOfWork.commit`), and
:meth:`CallOrder.drain` waits for every write still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


class CallOrder:
    """Runs writes in call order per claim; see the module docstring."""

    def __init__(self) -> None:
        self._last: dict[Hashable, asyncio.Task[Any]] = {}
        self._running: set[asyncio.Task[Any]] = set()

    async def run(self, claims: Iterable[Hashable], write: Callable[[], Awaitable[T]]) -> T:
        """Start ``write()`` once the earlier writes of ``claims`` are done; its result."""
        claimed = frozenset(claims)
        earlier = {id(task): task for claim in claimed
                   if (task := self._last.get(claim)) is not None}
        task = asyncio.create_task(_after(list(earlier.values()), write))
        for claim in claimed:
            self._last[claim] = task
        self._running.add(task)
        task.add_done_callback(lambda done: self._finished(claimed, done))
        return await asyncio.shield(task)

    async def drain(self) -> None:
        """Return once every write started so far has finished."""
        while self._running:
            await asyncio.wait(list(self._running))

    def _finished(self, claims: frozenset[Hashable], task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        for claim in claims:
            if self._last.get(claim) is task:
                del self._last[claim]
        if not task.cancelled():
            task.exception()  # retrieved: a caller that left early is not owed a warning


async def _after(earlier: list[asyncio.Task[Any]], write: Callable[[], Awaitable[T]]) -> T:
    if earlier:
        await asyncio.wait(earlier)  # whatever their outcome
    return await write()


class Turn:
    """One hold of the turnstile ``lock``: from ``async with`` until :meth:`done` (or the exit)."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock
        self._held = False

    async def __aenter__(self) -> Turn:
        await self._lock.acquire()
        self._held = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.done()

    def done(self) -> None:
        """Let the next commit in; harmless when already done."""
        if self._held:
            self._held = False
            self._lock.release()
