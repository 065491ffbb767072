"""The read side of :class:`storage.sqlite.SQLiteStore`: every query, on its own connection.

Reads use a second, read-only connection (``query_only``) of the WAL file
and never wait for the writer: each sees the last transaction committed
when it starts.  :class:`SQLiteReads` holds that connection and the read
methods of the role interfaces; :class:`~storage.sqlite.SQLiteStore` adds
the write side (the group commit) and opens both.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import aiosqlite

from storage.base import (
    DraftRecord,
    InboxRecord,
    OrderRecord,
    OutboxRecord,
    QuarantineRecord,
    SessionKey,
    SessionRow,
)
from storage.errors import StorageError, StoreClosed
from storage.sqlite_schema import (
    INBOX_COLUMNS,
    ORDER_COLUMNS,
    OUTBOX_COLUMNS,
    PENDING_OUTBOUND,
    Params,
    inbox_from_row,
    key_params,
    order_from_row,
    outbox_from_row,
)

# Every connection, the writer's included.
PRAGMAS: Final = ("synchronous = FULL", "busy_timeout = 5000", "foreign_keys = ON")


async def connect_reader(path: Path) -> aiosqlite.Connection:
    """A read-only connection; the writer has already set the file up."""
    connection = await aiosqlite.connect(path, isolation_level=None)
    try:
        for pragma in (*PRAGMAS, "query_only = ON"):
            await connection.execute(f"PRAGMA {pragma}")
    except BaseException:
        await connection.close()
        raise
    return connection


class SQLiteReads:
    """The queries of :class:`~storage.sqlite.SQLiteStore`, on ``_reader`` (``None`` when closed).

    Each raises :class:`~storage.errors.StoreClosed` while there is no
    connection and :class:`~storage.errors.StorageError` when SQLite fails.
    """

    path: Path
    _reader: aiosqlite.Connection | None

    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        rows = await self._read(
            "SELECT snapshot FROM sessions WHERE restaurant_id = ? AND customer_id = ?",
            key_params(key),
        )
        return bytes(rows[0][0]) if rows else None

    async def load_snapshots(self, restaurant_id: str,
                             customer_ids: Sequence[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(customer_ids))
        found: dict[str, bytes] = {}
        for start in range(0, len(wanted), 500):  # far below SQLite's variable limit
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await self._read(
                "SELECT customer_id, snapshot FROM sessions"
                f" WHERE restaurant_id = ? AND customer_id IN ({marks})",
                (restaurant_id, *chunk))
            found.update((row[0], bytes(row[1])) for row in rows)
        return found

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
