"""Sessions on top of a store: lazy rehydration, a bounded cache, quarantine.

Nothing is loaded at start-up: a conversation is read from the store the
first time its customer writes, decoded, migrated, and kept in an LRU cache
of at most ``cache_size`` sessions.  A snapshot that cannot be restored is
not an error for the caller: :meth:`SessionRepository.load` hands back a
fresh session plus the record that moves the bad snapshot to quarantine in
the same commit as the fresh one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from fsm.errors import SnapshotError
from fsm.session import Session
from storage.base import Changes, OutboxRecord, QuarantineRecord, SessionKey, SessionStore
from storage.codec import decode_snapshot, encode_snapshot
from storage.errors import CorruptSnapshot, SnapshotTooLarge

logger = logging.getLogger(__name__)


class SessionRepository:
    def __init__(self, store: SessionStore, cache_size: int = 10_000) -> None:
        self.store = store
        self.cache_size = cache_size
        self._cache: OrderedDict[SessionKey, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._cache)

    async def load(self, key: SessionKey, now: float) -> tuple[Session, QuarantineRecord | None]:
        """The session of ``key``: cached, stored, or new.

        Returns ``(session, quarantine)``; ``quarantine`` is set when the
        stored snapshot was unreadable and ``session`` is a fresh start.
        """
        session = self._cache.get(key)
        if session is not None:
            self._cache.move_to_end(key)
            return session, None
        blob = await self.store.load_snapshot(key)
        if blob is None:
            return Session(), None
        try:
            return Session.from_snapshot(decode_snapshot(blob)), None
        except (CorruptSnapshot, SnapshotTooLarge, SnapshotError) as exc:
            logger.warning("quarantining snapshot restaurant=%s customer=%s: %s",
                           key.restaurant_id, key.customer_id, exc)
            fresh = Session(welcomed=True)
            return fresh, QuarantineRecord(key, blob, str(exc), now)

    async def save(self, session: Session, changes: Changes) -> list[OutboxRecord]:
        """Write ``session`` with the rest of ``changes`` in one durable commit.

        Returns the outbox rows the commit queued.
        """
        changes.snapshot = encode_snapshot(session.to_snapshot())
        try:
            queued = await self.store.commit(changes)
        except BaseException:
            # The cached object may be ahead of what is stored now.
            self.forget(changes.key)
            raise
        self._remember(changes.key, session)
        return queued

    def forget(self, key: SessionKey) -> None:
        self._cache.pop(key, None)

    def clear(self) -> None:
        self._cache.clear()

    def _remember(self, key: SessionKey, session: Session) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = session
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
