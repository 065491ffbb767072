"""The "sent" marks of replies Graph accepted, written together, off the send path.

Once Graph accepts a row, the customer has the message: what is left is to
record it, so that no scan and no restart sends it again.  The sender hands
the mark over (:meth:`SentMarks.add`) and posts the customer's next reply at
once; the marks are written in the background, every mark made while the
previous write was in flight going in the next one — one write (one unit of
a group commit) for many marks, instead of one per row that each reply
waited for.

Until its mark is durable a row stays in the sender's in-flight set, so no
scan reads it as pending; a write that fails is retried with backoff until
it lands (through a full disk, say), as Graph must not be asked twice.
Only when stopping does it give up, after a few tries: the next start then
sends those rows again, as after a crash at this instant.  A process that
dies with marks unwritten sends those replies again at its next start: the
one duplicate the outbox allows (:mod:`routes.whatsapp.sender`), now for
the replies of the last write rather than of the last post.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Final

from routes.retry import Backoff
from storage.base import SessionStore
from storage.errors import StorageError
from storage.mail import SentMark

logger = logging.getLogger(__name__)

MARK_BACKOFF: Final = Backoff(first=0.1, cap=5.0, jitter=0.25)
MARK_ATTEMPTS_WHEN_STOPPING: Final = 3  # then the next start sends them again (once)


class SentMarks:
    """Writes "sent" marks in the background; see the module docstring.

    ``in_flight`` is the sender's set of outbox ids not to be read as
    pending: an id is added by :meth:`add` and leaves once its mark is
    durable (or given up on while stopping).
    """

    def __init__(self, store: SessionStore, in_flight: set[int],
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.in_flight = in_flight
        self.rng = rng or random.Random()
        self._waiting: list[SentMark] = []
        self._writer: asyncio.Task[None] | None = None
        self._stopping = False

    def add(self, outbox_id: int, wamid: str | None, at: float) -> None:
        """Record (soon) that Graph accepted row ``outbox_id`` as ``wamid`` at ``at``."""
        self.in_flight.add(outbox_id)
        self._waiting.append(SentMark(outbox_id, wamid, at))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="sent marks")

    async def write(self, marks: list[SentMark]) -> None:
        """Write ``marks`` now, retried until they land; raises
        :class:`~storage.errors.StorageError` only if given up on while stopping."""
        if not await self._land(marks):
            raise StorageError(f"{len(marks)} 'sent' marks not written before stopping")

    async def close(self) -> None:
        """Write what is waiting (a few tries at most), then return."""
        self._stopping = True
        if self._writer is not None:
            await self._writer

    async def _write(self) -> None:
        try:
            while self._waiting:
                marks, self._waiting = self._waiting, []
                await self._land(marks)
                # Durable, or given up on while stopping (sent again at the next start).
                self.in_flight.difference_update(mark.outbox_id for mark in marks)
        finally:
            self._writer = None

    async def _land(self, marks: list[SentMark]) -> bool:
        """Write ``marks`` until it lands; ``False`` if given up on while stopping."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.store.outbox_sent_many(marks)
                return True
            except Exception as exc:
                if not isinstance(exc, StorageError):
                    logger.exception("marking %d outbox rows sent failed", len(marks))
                if self._stopping and attempt >= MARK_ATTEMPTS_WHEN_STOPPING:
                    logger.error("could not mark %d outbox rows sent (%s) before stopping; "
                                 "the next start sends them again", len(marks), exc)
                    return False
                delay = MARK_BACKOFF.delay(attempt, self.rng)
                log = logger.warning if attempt == 1 or attempt % 10 == 0 else logger.debug
                log("could not mark %d outbox rows sent (%s, try %d); trying again in %.1fs; "
                    "Graph accepted them, so they are not sent again", len(marks), exc,
                    attempt, delay)
                await asyncio.sleep(delay)
