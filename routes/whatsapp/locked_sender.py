"""The sender for a store several processes send from (PostgreSQL): a lock per customer.

A customer's replies are sent only while this process holds the customer's
send lock (:class:`CustomerLocks`, :mod:`routes.whatsapp.claims`), and are
read afresh from the store once it is held: another process may have sent
some meanwhile. Everything else — order, retries, receipts, the token gate
— is :class:`~routes.whatsapp.sender.OutboxSender`'s.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Protocol

from routes.whatsapp.client import GraphClient
from routes.whatsapp.sender import OutboxSender
from storage.base import OutboxRecord, SessionKey, SessionStore

logger = logging.getLogger(__name__)


class CustomerLocks(Protocol):
    """Per-customer send locks shared with other processes."""

    async def acquire(self, key: SessionKey) -> bool: ...
    def holds(self, key: SessionKey) -> bool: ...
    async def release(self, key: SessionKey) -> None: ...
    async def pending(self, key: SessionKey) -> list[OutboxRecord]: ...
    async def close(self) -> None: ...


class LockedOutboxSender(OutboxSender):
    """:class:`OutboxSender` whose per-customer sending runs under ``locks``."""

    def __init__(self, store: SessionStore, graph: GraphClient, clock: Callable[[], float],
                 locks: CustomerLocks, rng: random.Random | None = None) -> None:
        super().__init__(store, graph, clock, rng)
        self.locks = locks

    async def stop(self) -> None:
        await super().stop()
        await self.locks.close()

    def _start(self, key: SessionKey, rows: list[OutboxRecord] | None) -> None:
        self._busy[key] = asyncio.create_task(self._drain_locked(key), name=f"send {key}")

    def _still_held(self, key: SessionKey) -> bool:
        return self.locks.holds(key)

    async def _drain_locked(self, key: SessionKey) -> None:
        """:meth:`_drain` for a store other processes send from too.

        Under the customer's lock (or not at all: the process holding it
        sends), the customer's pending rows are read from the store until
        none is left, and sent in id order.  A lock lost meanwhile (the lock
        connection died, this process was stopped past the timeout) stops
        the sending before the next post; the holder now sends the rest.
        """
        locked = False
        try:
            locked = await self.locks.acquire(key)
            while locked and not self._stopping and self.locks.holds(key):
                self._queued.pop(key, None)  # a hint only: the store says what is pending
                rows = await self.locks.pending(key)
                now = self.clock()
                due = []
                for row in rows:
                    if row.not_before > now:
                        break  # it waits for a retry, and the rest behind it
                    due.append(row)
                if len(due) < len(rows):
                    self._held.add(key)
                if not due:
                    if key in self._queued:
                        continue  # committed during the read
                    return
                if not await self._send_or_hold(key, due, key):
                    return
        except Exception as exc:
            logger.warning("sending to customer=%s: %s; the scan tries again",
                           key.customer_id, exc)
        finally:
            if locked:
                await self.locks.release(key)
            self._ended(key)
