"""Handing out work among several processes on one PostgreSQL database (issue 16).

Any number of ``serve`` processes may share a database; what keeps each
customer's messages processed once, in order, and their replies sent in
order, by one process at a time:

* **Claims** (:meth:`Coordination.claim`).  Every conversation that ever had
  an inbox message has a row in ``claims`` (written by
  :meth:`~storage.postgres.PostgresStore.accept_inbound`, in the transaction
  that stores the message).  A worker opens a transaction and locks up to
  ``limit`` rows of customers with pending messages, oldest first, with
  ``SELECT … FOR UPDATE SKIP LOCKED``: rows another worker (of any process)
  holds are skipped, never waited for.  Then, in a second statement (a
  snapshot taken once the locks are held, so it sees what the previous
  holder committed), it reads the oldest pending message of each.  The
  transaction stays open, writing nothing, while those messages are
  processed — their commits on the pool, together in one transaction where
  they can be (:mod:`storage.postgres_group`), a unit refused (already
  processed, an order reference taken) never sinking the others — and ends
  when the batch is done, releasing the rows.  A process killed mid-batch
  loses its connection and with it the locks at once; one stopped
  (``SIGSTOP``) loses them after ``idle_in_transaction_session_timeout``.
  Whatever a late process still commits is refused by the inbox mark
  (``UPDATE … WHERE processed_at IS NULL``): a message is applied once, and
  only the oldest pending message of a customer is ever picked, so never
  out of order.
* **Wake-ups** (:meth:`Coordination.listen`).  Accepting messages sends
  ``NOTIFY orderbot_inbox`` (delivered at commit); idle workers of every
  process ``LISTEN`` and claim at once.  Polling every second is the
  fallback for a lost notification or connection.
* **Send locks** (:class:`SendLocks`).  A sender posts a customer's replies
  only while it holds that customer's session-level advisory lock
  (``pg_try_advisory_lock``), taken on a connection of its own that never
  has a transaction open; the locks taken (released) at about the same
  moment share one statement, and so do the reads of the customers'
  pending replies.  That connection is pinged every few seconds
  and, on PostgreSQL 14 or newer, set to ``idle_session_timeout``: a
  stopped process loses its send locks after :data:`LOCK_IDLE_SESSION_MS`,
  and on waking sees it was not heard from for too long
  (:meth:`SendLocks.holds`) before it posts again.
* **Sweeps** (:func:`exclusive`).  Retention pruning runs in one process
  at a time, under ``pg_try_advisory_lock`` on the connection doing it;
  the others skip their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Final

import asyncpg

from storage.postgres_coalesce import Coalescer
from storage.postgres_connect import Connection, Database, explain
from storage.postgres_records import INBOX_COLUMNS, OUTBOX_COLUMNS, inbox_from_row, outbox_from_row
from storage.records import InboxRecord, OutboxRecord, SessionKey

logger = logging.getLogger(__name__)

CHANNEL: Final = "orderbot_inbox"
# Keys of the two-integer advisory locks (a space apart from the bigint ones the
# commits take on a conversation's hash): (class, hash of the conversation).
SEND_LOCK_CLASS: Final = 0x6F726473  # "ords"
SWEEP_LOCK_CLASS: Final = 0x6F727377  # "orsw"
LOCK_IDLE_SESSION_MS: Final = 20_000
LOCK_PING_SECONDS: Final = 5.0
CANDIDATES: Final = 4096  # customers with pending messages a claim looks at, oldest first
PENDING_REPLIES: Final = 200  # a customer's pending replies read at once by a sender
BATCH_LOCKS: Final = 256  # send locks taken (released, read) in one statement at most

CLAIM: Final = f"""
SELECT c.restaurant_id, c.customer_id
FROM claims AS c
JOIN (SELECT restaurant_id, customer_id, min(seq) AS first FROM inbox
      WHERE processed_at IS NULL GROUP BY restaurant_id, customer_id
      ORDER BY first LIMIT {CANDIDATES}) AS p
  ON p.restaurant_id = c.restaurant_id AND p.customer_id = c.customer_id
WHERE NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS x(restaurant_id, customer_id)
                  WHERE x.restaurant_id = c.restaurant_id AND x.customer_id = c.customer_id)
ORDER BY p.first
LIMIT $1
FOR UPDATE OF c SKIP LOCKED"""
OLDEST_PENDING: Final = f"""
SELECT DISTINCT ON (restaurant_id, customer_id) {INBOX_COLUMNS} FROM inbox
WHERE processed_at IS NULL
  AND (restaurant_id, customer_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY restaurant_id, customer_id, seq"""
# The pending replies of several customers (each under its send lock), at most $3 each.
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


class Coordination:
    """Claims and wake-ups on the store's :class:`~storage.postgres_connect.Database`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @contextlib.asynccontextmanager
    async def claim(self, limit: int, exclude: Iterable[SessionKey] = ()
                    ) -> AsyncIterator[list[InboxRecord]]:
        """Claim up to ``limit`` customers; yields the oldest pending message of each.

        The customers stay claimed (their ``claims`` rows locked by this
        open transaction) until the block ends.  ``exclude`` are customers
        not to claim (held back for a retry by the caller).  Raises
        :class:`~storage.errors.StorageError` when the claim cannot be
        made; ending it never raises (a lost connection has released it).
        """
        skipped = list(exclude)
        pool = self._database.pool()
        try:
            connection = await pool.acquire()
        except Exception as exc:
            raise explain("claiming customers", exc) from exc
        transaction = connection.transaction()
        try:
            try:
                await transaction.start()
                keys = await connection.fetch(CLAIM, limit, [k.restaurant_id for k in skipped],
                                              [k.customer_id for k in skipped])
                records: list[InboxRecord] = []
                if keys:
                    rows = await connection.fetch(OLDEST_PENDING, [k[0] for k in keys],
                                                  [k[1] for k in keys])
                    records = sorted((inbox_from_row(row) for row in rows),
                                     key=lambda record: record.received_at)
            except Exception as exc:
                raise explain("claiming customers", exc) from exc
            yield records
        finally:
            try:
                # Nothing was written: a rollback releases the rows just as well.
                await asyncio.shield(transaction.rollback())
            except Exception as exc:  # the connection died: the server released them
                logger.debug("ending a claim: %r", exc)
            with contextlib.suppress(Exception):
                await asyncio.shield(pool.release(connection))

    async def listen(self, wake: Callable[[], None], retry: float = 1.0) -> None:
        """Call ``wake`` on every notification of new inbox messages; runs until cancelled.

        A lost connection is opened again after ``retry`` seconds (the
        workers poll meanwhile).
        """
        while True:
            lost = asyncio.Event()
            connection: asyncpg.Connection[asyncpg.Record] | None = None
            try:
                connection = await self._database.connect_one()
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, lambda *_: wake())
                wake()  # what arrived while not listening
                await lost.wait()
                logger.warning("lost the connection listening for new messages; polling")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError,
                    TimeoutError) as exc:
                logger.warning("cannot listen for new messages (%s); polling", exc)
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(connection.close(timeout=2))
            await asyncio.sleep(retry)

    def send_locks(self) -> SendLocks:
        return SendLocks(self._database)


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


@contextlib.asynccontextmanager
async def exclusive(database: Database, name: int) -> AsyncIterator[Connection | None]:
    """A pooled connection holding the sweep lock ``name``, or ``None`` if another has it."""
    pool = database.pool()
    try:
        connection = await pool.acquire()
    except Exception as exc:
        raise explain("taking a sweep lock", exc) from exc
    try:
        try:
            got = await connection.fetchval("SELECT pg_try_advisory_lock($1, $2)",
                                            SWEEP_LOCK_CLASS, name)
        except Exception as exc:
            raise explain("taking a sweep lock", exc) from exc
        try:
            yield connection if got else None
        finally:
            if got:
                try:
                    await connection.fetchval("SELECT pg_advisory_unlock($1, $2)",
                                              SWEEP_LOCK_CLASS, name)
                except Exception:
                    # The pool does not reset its connections: one that may still
                    # hold the lock is closed, which releases it.
                    connection.terminate()
    finally:
        with contextlib.suppress(Exception):
            await pool.release(connection)
