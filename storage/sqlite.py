"""A :class:`SessionStore` in one SQLite file (aiosqlite, WAL) with group commit.

Every write that must be durable on return — a :meth:`SQLiteStore.commit`,
accepting inbound messages, outbox progress, delivery statuses, the
restaurant's controls — becomes a unit of operations for the one
:class:`~storage.sqlite_writer.GroupCommitWriter`, which applies the units
of many concurrent callers in one transaction (one fsync).  The file format
and the statements live in :mod:`storage.sqlite_schema` (the restaurant's
side's in :mod:`storage.sqlite_staff`, its roles in
:mod:`storage.sqlite_staff_read`; the console's sign-in sessions in
:mod:`storage.sqlite_console`).  Reads use a second, read-only
connection and never wait for the writer; they are in :mod:`storage.sqlite_read`.

Only one process commits conversations to a file — ``serve`` and ``chat``
hold its :mod:`storage.lock` — and its writer is the only one inserting, so
outbox ids are numbered here, from the largest id in the file, and a commit
knows its rows' ids before it is written.  A backend shared by several
processes lets the database choose them instead.  Callers see no
difference from ids a database would choose (:class:`~storage.records.OutboxRecord`):
ascending per conversation in commit order, with gaps where a commit was refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import aiosqlite

from storage.base import Changes, InboxRecord, OutboxRecord, SessionKey, SessionStore
from storage.errors import AlreadyProcessed, DuplicateOrderReference, StorageError, StoreClosed
from storage.mail import SentMark
from storage.sqlite_console import SQLiteConsoleSessions
from storage.sqlite_gate import GateFlagsCache
from storage.sqlite_move import move_conversation
from storage.sqlite_prune import INBOX_PRUNER, OUTBOX_PRUNER
from storage.sqlite_read import PRAGMAS, connect_reader
from storage.sqlite_schema import (
    DELETE_SESSION,
    LOOKUP_INBOX,
    LOOKUP_STATUS,
    MAX_OUTBOX_ID,
    MIGRATIONS,
    OUTBOX_FAILED,
    OUTBOX_RETRY,
    OUTBOX_SENT,
    STATEMENT_ORDER,
    UPSERT_STATUS,
    accept_operations,
    commit_operations,
    key_params,
    queued_rows,
)
from storage.sqlite_staff import LOOKUP_ORDER, decide_orders, order_lookups
from storage.sqlite_staff_read import SQLiteRestaurantSide
from storage.sqlite_thread import DatabaseThread
from storage.sqlite_writer import CommitStats, Found, GroupCommitWriter, Unit, no_result
from storage.staff import GateFlags

__all__ = ["MIGRATIONS", "SQLiteStore"]


class SQLiteStore(SQLiteConsoleSessions, SQLiteRestaurantSide, SessionStore):
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
        self._last_outbox_id = 0  # SQLite only: one process commits (module docstring)
        self._reader: aiosqlite.Connection | None = None
        self._group: GroupCommitWriter | None = None
        self._closing = False
        self._gate_flags = GateFlagsCache()

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
            reader = await connect_reader(self.path)
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
        if message_id is None and not changes.orders and not changes.order_moves:
            unit = Unit(label, operations, no_result, claims)
        else:
            lookups = order_lookups(changes)
            if message_id is not None:
                lookups += ((LOOKUP_INBOX, message_id),)
            unit = Unit(label, operations, lambda found: _decide(found, changes), claims,
                        lookups=lookups)
        unit.explain = lambda exc: _commit_error(changes, label, exc)
        try:
            await group.submit(unit)
        except BaseException:
            self._gate_flags.forget(changes.key)  # refused, or its outcome unknown
            raise
        self._gate_flags.landed(changes.key, changes.conversation)
        return queued

    async def gate_flags(self, key: SessionKey) -> GateFlags:
        # Every write of the file passes through this store (one process holds it).
        flags = self._gate_flags.get(key)
        if flags is not None:
            return flags
        self._gate_flags.reading(key)
        read: GateFlags | None = None
        try:
            read = await super().gate_flags(key)
        finally:
            self._gate_flags.read(key, read)
        return read

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

    async def outbox_sent_many(self, marks: Sequence[SentMark]) -> None:
        """All ``marks`` in one unit of the group commit."""
        if not marks:
            return
        await self._open_writer().submit(Unit(
            f"marking {len(marks)} outbox rows sent",
            [(OUTBOX_SENT, (mark.outbox_id, mark.wamid, mark.at)) for mark in marks],
            no_result, frozenset(("outbox", mark.outbox_id) for mark in marks)))

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

    async def move_conversation(self, old: SessionKey, new: SessionKey) -> bool:
        try:
            return await move_conversation(self._open_writer(), old, new)
        finally:
            self._gate_flags.forget(old)
            self._gate_flags.forget(new)

    async def prune_inbox(self, processed_before: float) -> int:
        return await INBOX_PRUNER.run(self._read, self._open_writer().execute, processed_before)

    async def prune_outbox(self, finished_before: float) -> int:
        return await OUTBOX_PRUNER.run(self._read, self._open_writer().execute, finished_before)

    def _open_writer(self) -> GroupCommitWriter:
        if self._group is None or self._closing:
            raise StoreClosed(f"{self.path} is not open")
        return self._group


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


def _decide(found: Found, changes: Changes) -> None:
    """Refuse the commit, or record in ``found`` what it writes (its processed mark, orders)."""
    message_id = changes.inbox_processed
    if message_id is not None:
        processed = found.get(LOOKUP_INBOX, {}).get(message_id)
        if processed is None:
            raise StorageError(f"inbox message {message_id!r} was never accepted")
        if processed:
            raise AlreadyProcessed(f"inbox message {message_id!r} is already processed")
    statuses = decide_orders(changes, found)
    if message_id is not None:
        found.setdefault(LOOKUP_INBOX, {})[message_id] = True
    found.setdefault(LOOKUP_ORDER, {}).update(statuses)


def _commit_error(changes: Changes, label: str, exc: sqlite3.Error) -> StorageError:
    if isinstance(exc, sqlite3.IntegrityError) and "orders.reference" in str(exc):
        references = ", ".join(repr(order.reference) for order in changes.orders)
        return DuplicateOrderReference(
            f"order reference already used in its restaurant: {references}"
        )
    if "inbox message already processed" in str(exc):  # the schema's trigger
        return AlreadyProcessed(f"{label} failed: {exc}")
    return StorageError(f"{label} failed: {exc}")
