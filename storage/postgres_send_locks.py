"""Per-customer send locks shared by every process on one PostgreSQL database.

A sender posts a customer's replies only while it holds that customer's
session-level advisory lock (``pg_try_advisory_lock``), taken on a
connection of its own that never has a transaction open
(:class:`SendLocks`).  That connection is pinged every few seconds and, on
PostgreSQL 14 or newer, set to ``idle_session_timeout``: a stopped process
loses its send locks after :data:`LOCK_IDLE_SESSION_MS`, and on waking sees
it was not heard from for too long (:meth:`SendLocks.holds`) before it
posts again.  The locks taken (released) at about the same moment share
one statement, and so do the reads of those customers' pending replies
(:mod:`storage.postgres_coalesce`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

import asyncpg

from storage.postgres_coalesce import Coalescer
from storage.postgres_connect import Database, explain
from storage.postgres_records import OUTBOX_COLUMNS, outbox_from_row
from storage.records import OutboxRecord, SessionKey

logger = logging.getLogger(__name__)

# Key class of the two-integer advisory locks (a space apart from the bigint ones the
# commits take on a conversation's hash): (class, hash of the conversation).
SEND_LOCK_CLASS: Final = 0x6F726473  # "ords"
LOCK_IDLE_SESSION_MS: Final = 20_000
LOCK_PING_SECONDS: Final = 5.0
PENDING_REPLIES: Final = 200  # a customer's pending replies read at once by a sender
BATCH_LOCKS: Final = 256  # send locks taken (released, read) in one statement at most

REPLIES_OF: Final = f"""
SELECT o.* FROM unnest($1::text[], $2::text[]) AS k(restaurant_id, customer_id)
CROSS JOIN LATERAL (SELECT {OUTBOX_COLUMNS} FROM outbox
                    WHERE restaurant_id = k.restaurant_id AND customer_id = k.customer_id
                      AND state = 'pending'
                    ORDER BY id LIMIT $3) AS o"""
# Send locks of several customers at once, each a try (never a wait): one value per key.
LOCK_KEY: Final = "hashtext(k.restaurant_id || chr(31) || k.customer_id)"
TRY_LOCKS: Final = f"""
SELECT pg_try_advisory_lock($1, {LOCK_KEY})
FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(restaurant_id, customer_id, n)
ORDER BY k.n"""
UNLOCKS: Final = f"""
SELECT pg_advisory_unlock($1, {LOCK_KEY})
FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(restaurant_id, customer_id, n)
ORDER BY k.n"""


class SendLocks:
    """Per-customer send locks on one connection of their own; see the module docstring.

    :meth:`acquire` and :meth:`release` are for one holder per customer in
    this process (the sender runs one task per customer); the lock is
    PostgreSQL's, so no other process holds it meanwhile.  The locks asked
    for (released, read) at about the same moment take one statement
    (:mod:`storage.postgres_coalesce`).
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._connection: asyncpg.Connection[asyncpg.Record] | None = None
        self._use = asyncio.Lock()
        self._held: set[SessionKey] = set()  # on the current connection
        self._pinger: asyncio.Task[None] | None = None
        self._heard_at = 0.0  # time.monotonic() of the last statement that worked
        self._closed = False
        self._tries: Coalescer[SessionKey, bool] = Coalescer(self._try_locks, BATCH_LOCKS)
        self._unlocks: Coalescer[SessionKey, bool] = Coalescer(self._unlock, BATCH_LOCKS)
        self._pending: Coalescer[SessionKey, list[OutboxRecord]] = Coalescer(
            self._read_pending, BATCH_LOCKS)

    async def acquire(self, key: SessionKey) -> bool:
        """Whether ``key``'s lock is now held here (``False``: another process holds it)."""
        if key in self._held:
            raise RuntimeError(f"send lock of {key} taken twice in one process")
        return await self._tries.submit(key)

    async def pending(self, key: SessionKey) -> list[OutboxRecord]:
        """``key``'s pending outbox rows, in id order, read now (under its lock)."""
        return await self._pending.submit(key)

    async def _read_pending(self, keys: list[SessionKey]) -> list[list[OutboxRecord]]:
        rows = await self._database.fetch(
            "listing customers' pending replies", REPLIES_OF,
            [key.restaurant_id for key in keys], [key.customer_id for key in keys],
            PENDING_REPLIES)
        pending: dict[SessionKey, list[OutboxRecord]] = {key: [] for key in keys}
        for row in rows:
            record = outbox_from_row(row)
            pending[record.key].append(record)
        return [pending[key] for key in keys]

    async def _try_locks(self, keys: list[SessionKey]) -> list[bool]:
        # A key asked for twice in one statement would be locked twice (held once after
        # one unlock): the sender never does that, the RuntimeError above says so.
        got = [bool(value) for value in await self._run(TRY_LOCKS, keys)]
        for key, held in zip(keys, got, strict=True):
            if held:
                self._held.add(key)
        return got

    async def _unlock(self, keys: list[SessionKey]) -> list[bool]:
        return [bool(value) for value in await self._run(UNLOCKS, keys)]

    def holds(self, key: SessionKey) -> bool:
        """Whether ``key``'s lock is still held for sure.

        Not once the connection was lost (its locks with it), nor when it was
        last heard from over half :data:`LOCK_IDLE_SESSION_MS` ago: this
        process was stopped or its loop blocked, and the server may have
        ended the session meanwhile.  The connection is then dropped at its
        next use, with every lock it held.
        """
        return key in self._held and not self._stale()

    def _stale(self) -> bool:
        return time.monotonic() - self._heard_at > LOCK_IDLE_SESSION_MS / 2000

    async def release(self, key: SessionKey) -> None:
        if key not in self._held:
            return
        self._held.discard(key)
        try:
            await self._unlocks.submit(key)
        except Exception as exc:
            logger.warning("releasing the send lock of %s: %s", key, exc)

    async def close(self) -> None:
        for coalescer in (self._tries, self._unlocks, self._pending):
            await coalescer.drain()
        self._closed = True
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(BaseException):
                await self._pinger
        async with self._use:
            await self._drop()

    async def _run(self, sql: str, keys: list[SessionKey]) -> list[object]:
        """One value per key, in order, of ``sql`` on the lock connection."""
        async with self._use:
            if self._connection is not None and self._stale():
                await self._drop()
            connection = await self._connected()
            try:
                rows = await connection.fetch(sql, SEND_LOCK_CLASS,
                                              [key.restaurant_id for key in keys],
                                              [key.customer_id for key in keys])
                self._heard_at = time.monotonic()
                return [row[0] for row in rows]
            except Exception as exc:
                if connection.is_closed():
                    await self._drop()
                raise explain(f"send locks of {len(keys)} customers", exc) from exc

    async def _connected(self) -> asyncpg.Connection[asyncpg.Record]:
        connection = self._connection
        if connection is not None and not connection.is_closed():
            return connection
        await self._drop()
        try:
            connection = await self._database.connect_one()
            if connection.get_server_version().major >= 14:
                await connection.execute(
                    f"SET idle_session_timeout = {LOCK_IDLE_SESSION_MS}")
        except Exception as exc:
            raise explain("opening the send-lock connection", exc) from exc
        self._connection = connection
        self._heard_at = time.monotonic()
        if self._pinger is None and not self._closed:
            self._pinger = asyncio.create_task(self._ping(), name="send-lock ping")
        return connection

    async def _drop(self) -> None:
        """Forget the connection and every lock it held (the server released them)."""
        if self._held:
            logger.warning("send-lock connection lost: %d customers' locks released",
                           len(self._held))
        self._held.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.terminate()

    async def _ping(self) -> None:
        """Keep the connection from idling out while this process runs; notice its loss."""
        while not self._closed:
            await asyncio.sleep(LOCK_PING_SECONDS)
            async with self._use:
                connection = self._connection
                if connection is None:
                    continue
                if self._stale():
                    await self._drop()
                    continue
                try:
                    await connection.fetchval("SELECT 1", timeout=LOCK_PING_SECONDS)
                    self._heard_at = time.monotonic()
                except Exception as exc:
                    logger.warning("send-lock connection: %r", exc)
                    await self._drop()
