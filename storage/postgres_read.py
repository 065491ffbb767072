"""The read side of :class:`storage.postgres.PostgresStore` for conversations and their mail.

Each read is one autocommitted query on a pooled connection: it sees every
transaction committed when it starts, whichever process committed it.  The
restaurant's reads are in :mod:`storage.postgres_staff`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import asyncpg

from storage.postgres_connect import Database
from storage.postgres_records import (
    INBOX_COLUMNS,
    ORDER_COLUMNS,
    OUTBOX_COLUMNS,
    inbox_from_row,
    order_from_row,
    outbox_from_row,
)
from storage.records import (
    DraftRecord,
    InboxRecord,
    OrderRecord,
    OutboxRecord,
    QuarantineRecord,
    SessionKey,
    SessionRow,
)

# Pending and due, minus everything queued behind a row of its conversation
# that waits for a retry: per-customer order outranks throughput.
PENDING_OUTBOUND: Final = f"""
SELECT {OUTBOX_COLUMNS} FROM outbox AS queued
WHERE queued.state = 'pending' AND queued.not_before <= $1
  AND NOT EXISTS (SELECT 1 FROM outbox AS waiting
                  WHERE waiting.state = 'pending' AND waiting.restaurant_id = queued.restaurant_id
                    AND waiting.customer_id = queued.customer_id AND waiting.id < queued.id
                    AND waiting.not_before > $1)
ORDER BY queued.id LIMIT $2"""


class PostgresReads:
    """The queries of the conversations' roles; ``_database`` is the store's."""

    _database: Database

    async def _fetch(self, what: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._database.fetch(what, sql, *args)

    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        rows = await self._fetch(
            "loading a snapshot",
            "SELECT snapshot FROM sessions WHERE restaurant_id = $1 AND customer_id = $2",
            key.restaurant_id, key.customer_id)
        return bytes(rows[0][0]) if rows else None

    async def load_snapshots(self, restaurant_id: str,
                             customer_ids: Sequence[str]) -> dict[str, bytes]:
        rows = await self._fetch(
            "loading snapshots",
            "SELECT customer_id, snapshot FROM sessions"
            " WHERE restaurant_id = $1 AND customer_id = ANY($2::text[])",
            restaurant_id, list(dict.fromkeys(customer_ids)))
        return {row[0]: bytes(row[1]) for row in rows}

    async def list_sessions(self, restaurant_id: str | None = None,
                            limit: int = 100) -> list[SessionRow]:
        rows = await self._fetch(
            "listing sessions",
            "SELECT restaurant_id, customer_id, snapshot, updated_at FROM sessions"
            " WHERE $1::text IS NULL OR restaurant_id = $1"
            " ORDER BY updated_at DESC, restaurant_id, customer_id LIMIT $2",
            restaurant_id, max(limit, 0))
        return [SessionRow(SessionKey(row[0], row[1]), bytes(row[2]), row[3]) for row in rows]

    async def list_orders(self, key: SessionKey | None = None) -> list[OrderRecord]:
        rows = await self._fetch(
            "listing orders",
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE $1::text IS NULL"
            " OR (restaurant_id = $1 AND customer_id = $2) ORDER BY created_at, id",
            *_key_or_none(key))
        return [order_from_row(row) for row in rows]

    async def reference_exists(self, restaurant_id: str, reference: str) -> bool:
        rows = await self._fetch(
            "looking up an order reference",
            "SELECT 1 FROM orders WHERE restaurant_id = $1 AND reference = $2",
            restaurant_id, reference)
        return bool(rows)

    async def list_drafts(self, key: SessionKey) -> list[DraftRecord]:
        rows = await self._fetch(
            "listing drafts",
            "SELECT reason, cart, created_at FROM drafts WHERE restaurant_id = $1"
            " AND customer_id = $2 ORDER BY created_at, id",
            key.restaurant_id, key.customer_id)
        return [DraftRecord(key, row[0], json.loads(row[1]), row[2]) for row in rows]

    async def list_quarantine(self, key: SessionKey | None = None) -> list[QuarantineRecord]:
        rows = await self._fetch(
            "listing quarantine",
            "SELECT restaurant_id, customer_id, snapshot, reason, created_at FROM quarantine"
            " WHERE $1::text IS NULL OR (restaurant_id = $1 AND customer_id = $2)"
            " ORDER BY created_at, id",
            *_key_or_none(key))
        return [QuarantineRecord(SessionKey(row[0], row[1]), bytes(row[2]), row[3], row[4])
                for row in rows]

    async def pending_inbound(self, limit: int = 1000) -> list[InboxRecord]:
        rows = await self._fetch(
            "listing pending inbound messages",
            f"SELECT {INBOX_COLUMNS} FROM inbox WHERE processed_at IS NULL ORDER BY seq LIMIT $1",
            max(limit, 0))
        return [inbox_from_row(row) for row in rows]

    async def inbox_state(self, message_id: str) -> str | None:
        rows = await self._fetch(
            "reading an inbox message's state",
            "SELECT processed_at IS NOT NULL FROM inbox WHERE message_id = $1", message_id)
        if not rows:
            return None
        return "processed" if rows[0][0] else "pending"

    async def resolve_customer(self, user_id: str) -> str | None:
        rows = await self._fetch("resolving a user id",
                                 "SELECT wa_id FROM identities WHERE user_id = $1", user_id)
        return str(rows[0][0]) if rows else None

    async def pending_outbound(self, now: float, limit: int = 1000) -> list[OutboxRecord]:
        rows = await self._fetch("listing pending outbound messages", PENDING_OUTBOUND,
                                 now, max(limit, 0))
        return [outbox_from_row(row) for row in rows]

    async def pending_keys(self) -> set[SessionKey]:
        rows = await self._fetch(
            "listing conversations with pending replies",
            "SELECT DISTINCT restaurant_id, customer_id FROM outbox WHERE state = 'pending'")
        return {SessionKey(row[0], row[1]) for row in rows}

    async def list_outbox(self, key: SessionKey | None = None) -> list[OutboxRecord]:
        rows = await self._fetch(
            "listing the outbox",
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE $1::text IS NULL"
            " OR (restaurant_id = $1 AND customer_id = $2) ORDER BY id",
            *_key_or_none(key))
        return [outbox_from_row(row) for row in rows]

    async def message_status(self, wamid: str) -> str | None:
        rows = await self._fetch("reading a delivery status",
                                 "SELECT status FROM message_status WHERE wamid = $1", wamid)
        return str(rows[0][0]) if rows else None


def _key_or_none(key: SessionKey | None) -> tuple[str | None, str | None]:
    return (None, None) if key is None else (key.restaurant_id, key.customer_id)
