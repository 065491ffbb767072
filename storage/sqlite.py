"""A :class:`SessionStore` in one SQLite file (aiosqlite, WAL) with group commit.

Every write that must be durable on return — a :meth:`SQLiteStore.commit`,
accepting inbound messages, outbox progress, delivery statuses — becomes a
unit of operations for the one :class:`~storage.sqlite_writer.GroupCommitWriter`,
which applies the units of many concurrent callers in one transaction (one
fsync).  The file format and the statements live in :mod:`storage.sqlite_schema`.
Reads use a second, read-only connection and never wait for the writer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import aiosqlite

from storage.base import (
    Changes,
    DraftRecord,
    InboxRecord,
    OrderRecord,
    OutboxRecord,
    QuarantineRecord,
    SessionKey,
    SessionRow,
    SessionStore,
)
from storage.errors import AlreadyProcessed, DuplicateOrderReference, StorageError, StoreClosed
from storage.sqlite_prune import INBOX_PRUNER, OUTBOX_PRUNER
from storage.sqlite_schema import (
    DELETE_SESSION,
    INBOX_COLUMNS,
    LOOKUP_INBOX,
    LOOKUP_STATUS,
    MAX_OUTBOX_ID,
    MIGRATIONS,
    ORDER_COLUMNS,
    OUTBOX_COLUMNS,
    OUTBOX_FAILED,
    OUTBOX_RETRY,
    OUTBOX_SENT,
    PENDING_OUTBOUND,
    STATEMENT_ORDER,
    UPSERT_STATUS,
    Params,
    accept_operations,
    commit_operations,
    inbox_from_row,
    key_params,
    order_from_row,
    outbox_from_row,
    queued_rows,
)
from storage.sqlite_thread import DatabaseThread
from storage.sqlite_writer import CommitStats, Found, GroupCommitWriter, Unit, no_result

__all__ = ["MIGRATIONS", "SQLiteStore"]


class SQLiteStore(SessionStore):
    """Conversations in the SQLite file at ``path``; see the module docstring.

    ``commit_batches`` counts the physical transactions the writer committed
    and ``committed_units`` the units (commits and other durable writes)
    they carried, for benchmarks.
    """

    def __init__(self, path: str | Path, *, max_batch: int = 512) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self.path = Path(path)
        self._stats = CommitStats()
        self._max_batch = max_batch
        self._database: DatabaseThread | None = None
        self._last_outbox_id = 0
        self._reader: aiosqlite.Connection | None = None
        self._group: GroupCommitWriter | None = None
        self._closing = False

    @property
    def commit_batches(self) -> int:
        return self._stats.batches

    @property
    def committed_units(self) -> int:
        return self._stats.units

    async def open(self) -> None:
        if self._database is not None:
            raise StorageError(f"{self.path} is already open")
        database = DatabaseThread(self.path)
        try:
            await database.open(_set_up_writer)
        except sqlite3.Error as exc:
            raise StorageError(f"opening {self.path} failed: {exc}") from exc
        try:
            reader = await _connect_reader(self.path)
        except BaseException:
            await database.close()
            raise
        self._database, self._reader = database, reader
        [(self._last_outbox_id,)] = await self._read(MAX_OUTBOX_ID, ())
        self._group = GroupCommitWriter(database, STATEMENT_ORDER, self._stats,
                                        max_batch=self._max_batch)
        self._group.start()

    async def close(self) -> None:
        group = self._group
        if self._database is None or group is None or self._closing:
            return
        self._closing = True
        try:
            await group.stop()
            async with group.lock:
                database, reader = self._database, self._reader
                self._database = self._reader = None
                self._group = None
                try:
                    if reader is not None:
                        await reader.close()
                finally:
                    await database.close()
        finally:
            self._closing = False

    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        """Queue ``changes`` for the next group commit and wait until durable.

        A caller cancelled while waiting does not withdraw its changes.
        """
        group = self._open_writer()
        queued = queued_rows(changes, self._last_outbox_id + 1)
        operations = commit_operations(changes, queued)
        if not operations:
            return []
        # Ids are handed out in submission order; a customer's commits keep
        # theirs (they share a claim), and ids of a refused commit stay unused.
        self._last_outbox_id += len(queued)
        label = f"commit for {changes.key}"
        message_id = changes.inbox_processed
        claims = frozenset({("session", changes.key)})
        if message_id is None:
            unit = Unit(label, operations, no_result, claims)
        else:
            unit = Unit(label, operations, lambda found: _mark_processed(found, message_id),
                        claims, lookups=((LOOKUP_INBOX, message_id),))
        unit.explain = lambda exc: _commit_error(changes, label, exc)
        await group.submit(unit)
        return queued

    async def accept_inbound(self, records: Sequence[InboxRecord],
                             identities: Sequence[tuple[str, str]] = ()) -> list[str]:
        group = self._open_writer()
        first_of_each: dict[str, InboxRecord] = {}
        for record in records:
            first_of_each.setdefault(record.message_id, record)
        message_ids = tuple(first_of_each)
        if not message_ids and not identities:
            return []

        def not_stored_before(found: Found) -> list[str]:
            stored = found.setdefault(LOOKUP_INBOX, {})
            new = [message_id for message_id in message_ids if message_id not in stored]
            stored.update(dict.fromkeys(new, False))  # pending, for the rest of the batch
            return new

        # No claim: concurrent webhooks share a batch even when Meta re-delivers
        # one message in several of them; the first in the queue gets it as new.
        return await group.submit(Unit(
            f"accepting {len(message_ids)} inbound messages",
            accept_operations(list(first_of_each.values()), identities),
            not_stored_before,
            lookups=tuple((LOOKUP_INBOX, message_id) for message_id in message_ids),
        ))

    async def outbox_sent(self, outbox_id: int, wamid: str | None, at: float) -> None:
        await self._open_writer().submit(Unit(
            f"marking outbox {outbox_id} sent", [(OUTBOX_SENT, (outbox_id, wamid, at))],
            no_result, frozenset({("outbox", outbox_id)})))

    async def outbox_retry(self, outbox_id: int, not_before: float, error: str) -> None:
        await self._open_writer().submit(Unit(
            f"delaying outbox {outbox_id}", [(OUTBOX_RETRY, (outbox_id, not_before, error))],
            no_result, frozenset({("outbox", outbox_id)})))

    async def outbox_failed(self, outbox_id: int, error: str, at: float) -> None:
        await self._open_writer().submit(Unit(
            f"marking outbox {outbox_id} failed", [(OUTBOX_FAILED, (outbox_id, error, at))],
            no_result, frozenset({("outbox", outbox_id)})))

    async def record_status(self, wamid: str, status: str, rank: int, at: float) -> bool:
        def moves_forward(found: Found) -> bool:
            ranks = found.setdefault(LOOKUP_STATUS, {})
            if wamid in ranks and rank <= int(ranks[wamid]):
                return False
            ranks[wamid] = rank
            return True

        return await self._open_writer().submit(Unit(
            f"recording status {status} of {wamid}", [(UPSERT_STATUS, (wamid, status, rank, at))],
            moves_forward, lookups=((LOOKUP_STATUS, wamid),)))

    async def delete_session(self, key: SessionKey) -> bool:
        """Forget ``key``; ordered after every commit that has already returned."""
        deleted = await self._open_writer().execute(f"deleting {key}", DELETE_SESSION.sql(),
                                                    key_params(key))
        return deleted > 0

    async def prune_inbox(self, processed_before: float) -> int:
        return await INBOX_PRUNER.run(self._read, self._open_writer().execute, processed_before)

    async def prune_outbox(self, finished_before: float) -> int:
        return await OUTBOX_PRUNER.run(self._read, self._open_writer().execute, finished_before)

    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        rows = await self._read(
            "SELECT snapshot FROM sessions WHERE restaurant_id = ? AND customer_id = ?",
            key_params(key),
        )
        return bytes(rows[0][0]) if rows else None

    async def list_sessions(self, restaurant_id: str | None = None,
                            limit: int = 100) -> list[SessionRow]:
        # No index on updated_at: it would tax every commit to speed up an admin listing.
        rows = await self._read(
            "SELECT restaurant_id, customer_id, snapshot, updated_at FROM sessions"
            " WHERE ?1 IS NULL OR restaurant_id = ?1"
            " ORDER BY updated_at DESC, restaurant_id, customer_id LIMIT ?2",
            (restaurant_id, max(limit, 0)),
        )
        return [SessionRow(SessionKey(row[0], row[1]), bytes(row[2]), row[3]) for row in rows]

    async def list_orders(self, key: SessionKey | None = None) -> list[OrderRecord]:
        if key is None:
            rows = await self._read(
                f"SELECT {ORDER_COLUMNS} FROM orders ORDER BY created_at, id", ()
            )
        else:
            rows = await self._read(
                f"SELECT {ORDER_COLUMNS} FROM orders WHERE restaurant_id = ?"
                " AND customer_id = ? ORDER BY created_at, id",
                key_params(key),
            )
        return [order_from_row(row) for row in rows]

    async def reference_exists(self, restaurant_id: str, reference: str) -> bool:
        rows = await self._read(
            "SELECT 1 FROM orders WHERE restaurant_id = ? AND reference = ?",
            (restaurant_id, reference),
        )
        return bool(rows)

    async def list_drafts(self, key: SessionKey) -> list[DraftRecord]:
        rows = await self._read(
            "SELECT reason, cart, created_at FROM drafts WHERE restaurant_id = ?"
            " AND customer_id = ? ORDER BY created_at, id",
            key_params(key),
        )
        return [DraftRecord(key, row[0], json.loads(row[1]), row[2]) for row in rows]

    async def list_quarantine(self, key: SessionKey | None = None) -> list[QuarantineRecord]:
        rows = await self._read(
            "SELECT restaurant_id, customer_id, snapshot, reason, created_at FROM quarantine"
            " WHERE ?1 IS NULL OR (restaurant_id = ?1 AND customer_id = ?2)"
            " ORDER BY created_at, id",
            (None, None) if key is None else key_params(key),
        )
        return [QuarantineRecord(SessionKey(row[0], row[1]), bytes(row[2]), row[3], row[4])
                for row in rows]

    async def pending_inbound(self, limit: int = 1000) -> list[InboxRecord]:
        rows = await self._read(
            f"SELECT {INBOX_COLUMNS} FROM inbox WHERE processed_at IS NULL"
            " ORDER BY rowid LIMIT ?",
            (max(limit, 0),),
        )
        return [inbox_from_row(row) for row in rows]

    async def inbox_state(self, message_id: str) -> str | None:
        rows = await self._read("SELECT processed_at IS NOT NULL FROM inbox WHERE message_id = ?",
                                (message_id,))
        if not rows:
            return None
        return "processed" if rows[0][0] else "pending"

    async def resolve_customer(self, user_id: str) -> str | None:
        rows = await self._read("SELECT wa_id FROM identities WHERE user_id = ?", (user_id,))
        return str(rows[0][0]) if rows else None

    async def pending_outbound(self, now: float, limit: int = 1000) -> list[OutboxRecord]:
        rows = await self._read(PENDING_OUTBOUND, (now, max(limit, 0)))
        return [outbox_from_row(row) for row in rows]

    async def pending_keys(self) -> set[SessionKey]:
        rows = await self._read("SELECT DISTINCT restaurant_id, customer_id FROM outbox"
                                " WHERE state = 'pending'", ())
        return {SessionKey(row[0], row[1]) for row in rows}

    async def list_outbox(self, key: SessionKey | None = None) -> list[OutboxRecord]:
        if key is None:
            rows = await self._read(f"SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id", ())
        else:
            rows = await self._read(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE restaurant_id = ?"
                " AND customer_id = ? ORDER BY id",
                key_params(key),
            )
        return [outbox_from_row(row) for row in rows]

    async def message_status(self, wamid: str) -> str | None:
        rows = await self._read("SELECT status FROM message_status WHERE wamid = ?", (wamid,))
        return str(rows[0][0]) if rows else None

    async def _read(self, sql: str, params: Params) -> list[Any]:
        reader = self._reader
        if reader is None:
            raise StoreClosed(f"{self.path} is not open")
        try:
            return list(await reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StorageError(f"reading {self.path} failed: {exc}") from exc

    def _open_writer(self) -> GroupCommitWriter:
        if self._group is None or self._closing:
            raise StoreClosed(f"{self.path} is not open")
        return self._group


PRAGMAS = ("synchronous = FULL", "busy_timeout = 5000", "foreign_keys = ON")


# UPDATE ... FROM (storage.sqlite_schema), and 32,766 variables per statement.
MIN_SQLITE: Final = (3, 33, 0)


def _set_up_writer(connection: sqlite3.Connection) -> None:
    """WAL and durable commits, then the schema brought up to date (on the writer's thread)."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StorageError(f"SQLite {'.'.join(map(str, MIN_SQLITE))} or newer is needed; "
                           f"this Python uses {sqlite3.sqlite_version}")
    [(mode,)] = connection.execute("PRAGMA journal_mode = WAL").fetchall()
    if mode != "wal":
        raise StorageError(f"cannot use WAL (journal_mode is {mode})")
    for pragma in PRAGMAS:
        connection.execute(f"PRAGMA {pragma}")
    connection.execute("BEGIN IMMEDIATE")
    try:
        [(version,)] = connection.execute("PRAGMA user_version").fetchall()
        if version > len(MIGRATIONS):
            raise StorageError(f"schema version {version} is newer than this build knows")
        for script in MIGRATIONS[version:]:
            for statement in script:
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


async def _connect_reader(path: Path) -> aiosqlite.Connection:
    """A read-only connection; the writer has already set the file up."""
    connection = await aiosqlite.connect(path, isolation_level=None)
    try:
        for pragma in (*PRAGMAS, "query_only = ON"):
            await connection.execute(f"PRAGMA {pragma}")
    except BaseException:
        await connection.close()
        raise
    return connection


def _mark_processed(found: Found, message_id: str) -> None:
    inbox = found.setdefault(LOOKUP_INBOX, {})
    processed = inbox.get(message_id)
    if processed is None:
        raise StorageError(f"inbox message {message_id!r} was never accepted")
    if processed:
        raise AlreadyProcessed(f"inbox message {message_id!r} is already processed")
    inbox[message_id] = True


def _commit_error(changes: Changes, label: str, exc: sqlite3.Error) -> StorageError:
    if isinstance(exc, sqlite3.IntegrityError) and "orders.reference" in str(exc):
        references = ", ".join(repr(order.reference) for order in changes.orders)
        return DuplicateOrderReference(
            f"order reference already used in its restaurant: {references}"
        )
    if "inbox message already processed" in str(exc):  # the schema's trigger
        return AlreadyProcessed(f"{label} failed: {exc}")
    return StorageError(f"{label} failed: {exc}")
