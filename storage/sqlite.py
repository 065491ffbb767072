"""A :class:`SessionStore` in one SQLite file (aiosqlite, WAL) with group commit.

Every :meth:`SQLiteStore.commit` becomes a *unit*: an ordered list of
``(statement, parameters)`` operations.  One writer task takes whatever units
are queued and applies them in a single transaction, one ``executemany`` per
statement kind in :data:`_STATEMENT_ORDER`, so a batch costs the same number
of thread hops and one fsync however many units it holds.  Units queued while
a batch commits form the next batch; nothing waits on a timer.  A new kind of
row joins the same transaction by adding its statement to that order and its
operations to :func:`_operations`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias

import aiosqlite

from storage.base import (
    Changes,
    DraftRecord,
    OrderRecord,
    QuarantineRecord,
    SessionKey,
    SessionRow,
    SessionStore,
)
from storage.codec import check_snapshot_size
from storage.errors import DuplicateOrderReference, StorageError, StoreClosed

logger = logging.getLogger(__name__)

_Params: TypeAlias = tuple[Any, ...]
_Operation: TypeAlias = tuple[str, _Params]

# MIGRATIONS[n] upgrades a file at ``PRAGMA user_version`` n to n + 1.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE sessions (
            restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            snapshot BLOB NOT NULL, updated_at REAL NOT NULL,
            PRIMARY KEY (restaurant_id, customer_id)) WITHOUT ROWID""",
        """CREATE TABLE orders (
            id INTEGER PRIMARY KEY, reference TEXT NOT NULL,
            restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL, status TEXT NOT NULL,
            order_type TEXT NOT NULL, branch_id TEXT, address TEXT,
            payment_method TEXT NOT NULL, currency TEXT NOT NULL,
            total_minor INTEGER NOT NULL, delivery_fee_minor INTEGER NOT NULL,
            lines TEXT NOT NULL, created_at REAL NOT NULL,
            UNIQUE (restaurant_id, reference))""",
        "CREATE INDEX orders_by_customer ON orders (restaurant_id, customer_id)",
        """CREATE TABLE drafts (
            id INTEGER PRIMARY KEY, restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            reason TEXT NOT NULL, cart TEXT NOT NULL, created_at REAL NOT NULL)""",
        "CREATE INDEX drafts_by_customer ON drafts (restaurant_id, customer_id)",
        """CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY, restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            snapshot BLOB NOT NULL, reason TEXT NOT NULL, created_at REAL NOT NULL)""",
        "CREATE INDEX quarantine_by_customer ON quarantine (restaurant_id, customer_id)",
    ),
)

# ?1/?2 are the conversation; the stored snapshot is moved aside, or the
# caller's copy when none is stored, so the record is never silently dropped.
_QUARANTINE_SESSION: Final = """
INSERT INTO quarantine (restaurant_id, customer_id, snapshot, reason, created_at)
SELECT ?1, ?2, coalesce((SELECT snapshot FROM sessions
                         WHERE restaurant_id = ?1 AND customer_id = ?2), ?3), ?4, ?5
"""
_DELETE_SESSION: Final = "DELETE FROM sessions WHERE restaurant_id = ? AND customer_id = ?"
_UPSERT_SESSION: Final = """
INSERT INTO sessions (restaurant_id, customer_id, snapshot, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (restaurant_id, customer_id)
DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at
"""
_INSERT_ORDER: Final = """
INSERT INTO orders (reference, restaurant_id, customer_id, status, order_type, branch_id,
                    address, payment_method, currency, total_minor, delivery_fee_minor,
                    lines, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_INSERT_DRAFT: Final = """
INSERT INTO drafts (restaurant_id, customer_id, reason, cart, created_at) VALUES (?, ?, ?, ?, ?)
"""
# A unit's operations run in this order whether it is batched or alone.
_STATEMENT_ORDER: Final = (
    _QUARANTINE_SESSION, _DELETE_SESSION, _UPSERT_SESSION, _INSERT_ORDER, _INSERT_DRAFT,
)
_ORDER_COLUMNS: Final = """reference, restaurant_id, customer_id, status, order_type,
    branch_id, address, payment_method, currency, total_minor, delivery_fee_minor, lines,
    created_at"""


@dataclass(slots=True)
class _Unit:
    changes: Changes
    operations: list[_Operation]
    done: asyncio.Future[None]


class SQLiteStore(SessionStore):
    """Conversations in the SQLite file at ``path``; see the module docstring.

    ``commit_batches`` counts the physical transactions the writer committed
    and ``committed_units`` the commits they carried, for benchmarks.
    """

    def __init__(self, path: str | Path, *, max_batch: int = 512) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self.path = Path(path)
        self.commit_batches = 0
        self.committed_units = 0
        self._max_batch = max_batch
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._pending: deque[_Unit] = deque()
        self._wakeup = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._writer_task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        if self._writer is not None:
            raise StorageError(f"{self.path} is already open")
        writer = await _connect(self.path)
        try:
            await _migrate(writer)
            reader = await _connect(self.path)
            try:
                await reader.execute("PRAGMA query_only = ON")
            except BaseException:
                await reader.close()
                raise
        except BaseException:
            await writer.close()
            raise
        self._writer, self._reader = writer, reader
        self._writer_task = asyncio.create_task(self._write_forever(), name="sqlite-writer")
        self._tasks.add(self._writer_task)
        self._writer_task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._writer is None or self._closing:
            return
        self._closing = True
        self._wakeup.set()
        try:
            if self._writer_task is not None:
                await self._writer_task
            async with self._write_lock:
                writer, reader = self._writer, self._reader
                self._writer = self._reader = None
                try:
                    if reader is not None:
                        await reader.close()
                finally:
                    await writer.close()
        finally:
            self._closing = False

    async def commit(self, changes: Changes) -> None:
        """Queue ``changes`` for the next group commit and wait until durable.

        A caller cancelled while waiting does not withdraw its changes.
        """
        self._check_open()
        operations = _operations(changes)
        if not operations:
            return
        done = asyncio.get_running_loop().create_future()
        self._pending.append(_Unit(changes, operations, done))
        self._wakeup.set()
        await done

    async def delete_session(self, key: SessionKey) -> bool:
        """Forget ``key``; ordered after every commit that has already returned."""
        self._check_open()
        async with self._write_lock:
            writer = self._require(self._writer)
            try:
                cursor = await writer.execute(_DELETE_SESSION, _key_params(key))
            except sqlite3.Error as exc:
                raise StorageError(f"deleting {key} failed: {exc}") from exc
            return cursor.rowcount > 0

    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        rows = await self._read(
            "SELECT snapshot FROM sessions WHERE restaurant_id = ? AND customer_id = ?",
            _key_params(key),
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
                f"SELECT {_ORDER_COLUMNS} FROM orders ORDER BY created_at, id", ()
            )
        else:
            rows = await self._read(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE restaurant_id = ?"
                " AND customer_id = ? ORDER BY created_at, id",
                _key_params(key),
            )
        return [_order_from_row(row) for row in rows]

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
            _key_params(key),
        )
        return [DraftRecord(key, row[0], json.loads(row[1]), row[2]) for row in rows]

    async def list_quarantine(self, key: SessionKey | None = None) -> list[QuarantineRecord]:
        rows = await self._read(
            "SELECT restaurant_id, customer_id, snapshot, reason, created_at FROM quarantine"
            " WHERE ?1 IS NULL OR (restaurant_id = ?1 AND customer_id = ?2)"
            " ORDER BY created_at, id",
            (None, None) if key is None else _key_params(key),
        )
        return [QuarantineRecord(SessionKey(row[0], row[1]), bytes(row[2]), row[3], row[4])
                for row in rows]

    async def _read(self, sql: str, params: _Params) -> list[Any]:
        reader = self._require(self._reader)
        try:
            return list(await reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StorageError(f"reading {self.path} failed: {exc}") from exc

    async def _write_forever(self) -> None:
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                batch = self._take_batch()
                try:
                    await self._write_batch(batch)
                except Exception as exc:
                    # The writer must outlive any one batch: fail its callers, go on.
                    logger.exception("group commit of %d units failed", len(batch))
                    for unit in batch:
                        _fail(unit, StorageError(f"commit failed: {exc!r}"), exc)
                except BaseException:
                    for unit in batch:
                        _fail(unit, StorageError("writer cancelled; outcome unknown"), None)
                    raise
        finally:
            while self._pending:
                _fail(self._pending.popleft(), StoreClosed("the store stopped writing"), None)

    def _take_batch(self) -> list[_Unit]:
        # One unit per conversation per batch: statements run grouped by kind,
        # so two units of one key could otherwise interleave out of order.
        batch: list[_Unit] = []
        keys: set[SessionKey] = set()
        deferred: deque[_Unit] = deque()
        while self._pending and len(batch) < self._max_batch:
            unit = self._pending.popleft()
            if unit.changes.key in keys:
                deferred.append(unit)
            else:
                keys.add(unit.changes.key)
                batch.append(unit)
        deferred.extend(self._pending)
        self._pending = deferred
        return batch

    async def _write_batch(self, batch: list[_Unit]) -> None:
        async with self._write_lock:
            writer = self._require(self._writer)
            try:
                await self._transaction(writer, [op for unit in batch for op in unit.operations])
            except sqlite3.Error as exc:
                # Redo each unit alone so only the faulty one fails (a lone unit
                # gets a second try, which also rides out a transient error).
                logger.warning("group commit of %d units failed (%s); retrying one by one",
                               len(batch), exc)
                for unit in batch:
                    try:
                        await self._transaction(writer, unit.operations)
                    except sqlite3.Error as unit_exc:
                        _fail(unit, _unit_error(unit, unit_exc), unit_exc)
                    else:
                        self._succeed([unit])
            else:
                self._succeed(batch)

    def _succeed(self, units: list[_Unit]) -> None:
        self.committed_units += len(units)
        for unit in units:
            if not unit.done.done():
                unit.done.set_result(None)

    async def _transaction(self, writer: aiosqlite.Connection,
                           operations: list[_Operation]) -> None:
        by_statement: dict[str, list[_Params]] = {}
        for statement, params in operations:
            by_statement.setdefault(statement, []).append(params)
        await writer.execute("BEGIN IMMEDIATE")
        try:
            for statement in _STATEMENT_ORDER:
                if statement in by_statement:
                    await writer.executemany(statement, by_statement[statement])
            await writer.execute("COMMIT")
        except BaseException:
            if writer.in_transaction:
                await writer.execute("ROLLBACK")
            raise
        self.commit_batches += 1

    def _check_open(self) -> None:
        if self._writer is None or self._closing:
            raise StoreClosed(f"{self.path} is not open")

    def _require(self, connection: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if connection is None:
            raise StoreClosed(f"{self.path} is not open")
        return connection


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: sqlite3 issues no implicit BEGIN/COMMIT; we do.
    connection = await aiosqlite.connect(path, isolation_level=None)
    try:
        rows = list(await connection.execute_fetchall("PRAGMA journal_mode = WAL"))
        if rows[0][0] != "wal":
            raise StorageError(f"{path} cannot use WAL (journal_mode is {rows[0][0]})")
        for pragma in ("synchronous = FULL", "busy_timeout = 5000", "foreign_keys = ON"):
            await connection.execute(f"PRAGMA {pragma}")
    except BaseException:
        await connection.close()
        raise
    return connection


async def _migrate(writer: aiosqlite.Connection) -> None:
    await writer.execute("BEGIN IMMEDIATE")
    try:
        rows = list(await writer.execute_fetchall("PRAGMA user_version"))
        version = int(rows[0][0])
        if version > len(MIGRATIONS):
            raise StorageError(f"schema version {version} is newer than this build knows")
        for script in MIGRATIONS[version:]:
            for statement in script:
                await writer.execute(statement)
        await writer.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        await writer.execute("COMMIT")
    except BaseException:
        if writer.in_transaction:
            await writer.execute("ROLLBACK")
        raise


def _operations(changes: Changes) -> list[_Operation]:
    key = _key_params(changes.key)
    operations: list[_Operation] = []
    if changes.quarantine is not None:
        quarantine = changes.quarantine
        if quarantine.key != changes.key:
            raise ValueError(f"quarantine of {quarantine.key} in a commit for {changes.key}")
        operations.append((_QUARANTINE_SESSION, (*key, quarantine.snapshot, quarantine.reason,
                                                 quarantine.created_at)))
        operations.append((_DELETE_SESSION, key))
    if changes.snapshot is not None:
        check_snapshot_size(changes.snapshot)
        operations.append((_UPSERT_SESSION, (*key, changes.snapshot, changes.updated_at)))
    operations.extend(
        (_INSERT_ORDER, (order.reference, order.restaurant_id, order.customer_id, order.status,
                         order.order_type, order.branch_id, order.address,
                         order.payment_method, order.currency, order.total_minor,
                         order.delivery_fee_minor, _to_json(list(order.lines)),
                         order.created_at))
        for order in changes.orders
    )
    operations.extend(
        (_INSERT_DRAFT, (*_key_params(draft.key), draft.reason, _to_json(draft.cart),
                         draft.created_at))
        for draft in changes.drafts
    )
    return operations


def _order_from_row(row: Any) -> OrderRecord:
    return OrderRecord(
        reference=row[0], restaurant_id=row[1], customer_id=row[2], status=row[3],
        order_type=row[4], branch_id=row[5], address=row[6], payment_method=row[7],
        currency=row[8], total_minor=row[9], delivery_fee_minor=row[10],
        lines=tuple(json.loads(row[11])), created_at=row[12],
    )


def _unit_error(unit: _Unit, exc: sqlite3.Error) -> StorageError:
    if isinstance(exc, sqlite3.IntegrityError) and "orders.reference" in str(exc):
        references = ", ".join(repr(order.reference) for order in unit.changes.orders)
        return DuplicateOrderReference(
            f"order reference already used in its restaurant: {references}"
        )
    return StorageError(f"commit for {unit.changes.key} failed: {exc}")


def _fail(unit: _Unit, error: StorageError, cause: BaseException | None) -> None:
    error.__cause__ = cause
    if not unit.done.done():
        unit.done.set_exception(error)


def _key_params(key: SessionKey) -> tuple[str, str]:
    return (key.restaurant_id, key.customer_id)


def _to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
