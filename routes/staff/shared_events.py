"""Live events across every ``serve`` process on one PostgreSQL database.

A console connected to one instance must see what the others commit: the
order a customer confirmed through another instance, a move a colleague
made there.  :class:`SharedEvents` puts a process's
:class:`~routes.staff.events.EventHub` on the database's event log
(:mod:`storage.postgres_events`):

* what the process publishes is queued and appended by one task, all that
  is queued in one transaction (so a burst costs one round trip);
* another task reads the log from where it stopped — woken by the
  appends' ``NOTIFY`` (its own appends wake it at once), polling every
  :data:`POLL_SECONDS` as the fallback — and delivers each event, its own
  included, to this process's clients with the log's id;
* so every process numbers an event alike (ids ``db-<n>``), and a client
  reconnecting to another instance gets what it missed from there, or a
  ``reset`` when that instance did not see it (started later, or evicted).

While the database cannot be reached, published events wait (up to
:data:`MAX_PENDING`, the oldest dropped beyond with a warning) and clients
get nothing new; nothing of the committed changes themselves is lost, and
a console's reload shows them.  Events older than :data:`KEEP_SECONDS` are
pruned from the log by one process at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Final

from routes.staff.events import EventHub
from storage.errors import WriteRefused

if TYPE_CHECKING:  # asyncpg (the postgres extra) is imported only with a PostgreSQL store
    from storage.postgres_events import EventLog

logger = logging.getLogger(__name__)

SEQUENCE: Final = "db"  # the ids' prefix: numbered by the database, alike everywhere
POLL_SECONDS: Final = 1.0
RETRY_SECONDS: Final = 1.0
PAGE: Final = 1000  # events appended, or read, per statement
MAX_PENDING: Final = 10_000
KEEP_SECONDS: Final = 600.0
PRUNE_EVERY_SECONDS: Final = 60.0
STOP_FLUSH_SECONDS: Final = 5.0


class SharedEvents:
    """Carries ``hub``'s events through ``log``; :meth:`start`, then :meth:`stop`."""

    def __init__(self, hub: EventHub, log: EventLog, *, poll: float = POLL_SECONDS,
                 retry: float = RETRY_SECONDS) -> None:
        self._hub = hub
        self._log = log
        self._poll = poll
        self._retry = retry
        self._pending: deque[tuple[str, str, str]] = deque()
        self._queued = asyncio.Event()
        self._drained = asyncio.Event()
        self._wake = asyncio.Event()
        self._seen = 0
        self._read_at = time.monotonic()  # the last time the log was read through
        self._dropped = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start from the log's newest event; raises :class:`StorageError` if unreadable."""
        self._seen = await self._log.latest()
        self._hub.share(SEQUENCE, self._seen, self._queue)
        self._tasks = [
            asyncio.create_task(self._append_forever(), name="live events: append"),
            asyncio.create_task(self._read_forever(), name="live events: read"),
            asyncio.create_task(self._log.listen(self._wake.set, self._retry),
                                name="live events: listen"),
        ]

    async def stop(self) -> None:
        """Append what is still queued (for at most a few seconds), then stop."""
        if self._pending and self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_FLUSH_SECONDS):
                    await self._drained.wait()
        if self._pending:
            logger.warning("live events: %d not shared at shutdown (the database is away)",
                           len(self._pending))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def _queue(self, restaurant_id: str, kind: str, data: str) -> None:
        self._pending.append((restaurant_id, kind, data))
        if len(self._pending) > MAX_PENDING:
            self._pending.popleft()
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                logger.warning("live events: %d dropped while the database was unreachable",
                               self._dropped)
        self._queued.set()
        self._drained.clear()

    async def _append_forever(self) -> None:
        while True:
            await self._queued.wait()
            batch = [self._pending[n] for n in range(min(PAGE, len(self._pending)))]
            dropped = self._dropped
            try:
                await self._log.append(batch)
            except WriteRefused:
                # The database refuses these events for good (a value it cannot
                # hold): dropped, or they would hold up every later one.
                logger.error("live events: %d refused by the database, dropped", len(batch))
            except Exception as exc:  # unreachable, or anything else: never end the task
                logger.warning("live events not shared yet (%s); trying again",
                               type(exc).__name__)
                await asyncio.sleep(self._retry)
                continue
            # Only this task and _queue's dropping take from the left: what
            # _queue dropped meanwhile was the batch's oldest.
            for _ in range(max(0, len(batch) - (self._dropped - dropped))):
                self._pending.popleft()
            if not self._pending:
                self._queued.clear()
                self._drained.set()
            self._wake.set()

    async def _read_forever(self) -> None:
        next_prune = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()
            self._wake.clear()
            try:
                while True:
                    events = await self._log.after(self._seen, PAGE)
                    if events and events[0].id > self._seen + 1:
                        await self._check_gap(events[0].id)
                    for event in events:
                        self._hub.deliver(event.id, event.restaurant_id, event.kind, event.data)
                        self._seen = event.id
                    if len(events) < PAGE:
                        self._read_at = time.monotonic()
                        break
                now = time.monotonic()
                if now >= next_prune:
                    next_prune = now + PRUNE_EVERY_SECONDS
                    await self._log.prune(KEEP_SECONDS)
            except Exception as exc:  # unreachable, or anything else: never end the task
                logger.warning("live events: cannot read the log (%r); trying again", exc)
                await asyncio.sleep(self._retry)

    async def _check_gap(self, next_id: int) -> None:
        """Ids between what was seen and ``next_id`` are either never committed (an append
        rolled back, a sequence that skipped ahead after a server restart) or pruned
        before this process read them. Pruned — this process had not read the log for
        half of :data:`KEEP_SECONDS` (only events that old are pruned) and nothing older
        is left — its clients missed events: they are ended, and reconnecting gets a
        reset."""
        if time.monotonic() - self._read_at < KEEP_SECONDS / 2:
            return  # read recently: nothing it had not seen was old enough to prune
        oldest = await self._log.oldest()
        if oldest is not None and oldest < next_id:
            return  # older events are still there: a gap of rolled-back ids
        logger.warning("live events %d to %d were pruned before this process read them; "
                       "its clients start over", self._seen + 1, next_id - 1)
        self._seen = next_id - 1
        self._hub.share(SEQUENCE, self._seen, self._queue)
