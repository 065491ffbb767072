"""Middlewares around every inbound message, outermost first.

Each is called as ``await middleware(call_next, update)``, like aiogram's
outer middlewares: it may do work before and after ``call_next``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fsm.config import Restaurant
from fsm.session import Session
from routes.context import Effects
from routes.messages import Inbound
from storage.base import Changes, DraftRecord, QuarantineRecord, SessionKey
from storage.sessions import SessionRepository

logger = logging.getLogger(__name__)

EXPIRED_NOTICE = "It's been a while since your last message, so we've started a fresh order."
QUARANTINE_NOTICE = ("Sorry, we couldn't restore your previous conversation after an update, "
                     "so we've started a new order.")


@dataclass(slots=True)
class Update:
    """One inbound message on its way through the middlewares to a handler."""

    key: SessionKey
    restaurant: Restaurant
    inbound: Inbound
    now: float
    session: Session | None = None
    notes: list[str] = field(default_factory=list)
    drafts: list[DraftRecord] = field(default_factory=list)
    quarantine: QuarantineRecord | None = None
    effects: Effects | None = None
    failed: bool = False


NextStep = Callable[[Update], Awaitable[None]]
Middleware = Callable[[NextStep, Update], Awaitable[None]]


@dataclass(slots=True)
class _LockEntry:
    lock: asyncio.Lock
    users: int = 0


class CustomerLocks:
    """One message at a time per customer, in arrival order; others in parallel.

    ``asyncio.Lock`` wakes waiters first-in first-out, which keeps a customer's
    burst in order.  A lock exists only while someone holds or awaits it.
    """

    def __init__(self) -> None:
        self._locks: dict[SessionKey, _LockEntry] = {}

    def __len__(self) -> int:
        return len(self._locks)

    async def __call__(self, call_next: NextStep, update: Update) -> None:
        entry = self._locks.get(update.key)
        if entry is None:
            entry = self._locks[update.key] = _LockEntry(asyncio.Lock())
        entry.users += 1
        try:
            async with entry.lock:
                await call_next(update)
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[update.key]


class SessionLifecycle:
    """Load the session before the handler; commit everything after it, once."""

    def __init__(self, repository: SessionRepository) -> None:
        self.repository = repository

    async def __call__(self, call_next: NextStep, update: Update) -> None:
        session, quarantine = await self.repository.load(update.key, update.now)
        update.session = session
        if quarantine is not None:
            update.quarantine = quarantine
            update.notes.append(QUARANTINE_NOTICE)
        await call_next(update)
        if update.failed or update.effects is None:
            self.repository.forget(update.key)
            return
        session.last_activity = update.now
        changes = Changes(key=update.key, updated_at=update.now,
                          orders=list(update.effects.orders),
                          drafts=list(update.effects.drafts),
                          quarantine=update.quarantine)
        await self.repository.save(session, changes)


class SessionExpiry:
    """After ``ttl_seconds`` of silence the conversation starts over and says so.

    The stale cart is kept as an abandoned draft for the restaurant's records.
    """

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds

    async def __call__(self, call_next: NextStep, update: Update) -> None:
        session = update.session
        assert session is not None
        idle = update.now - session.last_activity
        if session.last_activity and idle > self.ttl_seconds:
            if not session.cart.is_empty:
                update.drafts.append(DraftRecord(update.key, "expired",
                                                 session.cart.describe(), update.now))
            logger.info("session expired restaurant=%s customer=%s idle=%.0fs",
                        update.key.restaurant_id, update.key.customer_id, idle)
            session.start_over()
            update.notes.append(EXPIRED_NOTICE)
        await call_next(update)



