"""The restaurant's side of :class:`~storage.postgres.PostgresStore`: :mod:`storage.staff`'s roles.

Reads are single queries.  What a conversation changes for staff (moves,
the log, the conversation record) is written by the commit
(:mod:`storage.postgres_commit`); the controls and the staff directory are
small transactions here, durable on return.  A restaurant's control writes
run in call order within a process (:mod:`storage.postgres_order`), and
each returns the controls its own transaction left, read in it.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Hashable
from typing import Final, TypeVar

import asyncpg

from storage.errors import StorageError
from storage.postgres_connect import Connection, explain
from storage.postgres_read import PostgresReads
from storage.postgres_records import (
    CONVERSATION_COLUMNS,
    ORDER_COLUMNS,
    STAFF_COLUMNS,
    conversation_from_row,
    order_from_row,
)
from storage.records import OrderRecord, SessionKey
from storage.staff import Controls, ConversationRecord, MessageRecord, OrderEvent, StaffMember

T = TypeVar("T")

LAST_ID: Final = 2**63 - 1  # the largest bigint: "before" no message

# An outgoing message follows its outbox row, then Meta's statuses of what it sent.
MESSAGES: Final = """
SELECT m.id, m.restaurant_id, m.customer_id, m.direction, m.kind, m.text, m.author, m.at,
       CASE WHEN m.direction = 'in' THEN NULL
            WHEN o.state IN ('pending', 'failed') THEN o.state
            ELSE coalesce(s.status, 'sent') END
FROM messages AS m LEFT JOIN outbox AS o ON o.id = m.outbox_id
                   LEFT JOIN message_status AS s ON s.wamid = o.wamid
WHERE m.restaurant_id = $1 AND m.customer_id = $2 AND m.id < $3
ORDER BY m.id DESC LIMIT $4"""
ORDERS: Final = (f"SELECT {ORDER_COLUMNS} FROM orders WHERE restaurant_id = $1"
                 " AND ($2::text IS NULL OR status = $2) AND created_at < $3"
                 " ORDER BY created_at DESC, id DESC LIMIT $4")
CONVERSATIONS: Final = (f"SELECT {CONVERSATION_COLUMNS} FROM conversations"
                        " WHERE restaurant_id = $1 AND last_message_at < $2"
                        " ORDER BY last_message_at DESC, customer_id LIMIT $3")
HISTORY: Final = ("SELECT from_status, to_status, actor, at, reason FROM order_events"
                  " WHERE restaurant_id = $1 AND reference = $2 ORDER BY id")
# Switching off from on starts a new epoch; a first switch-off is epoch 1.
SET_BOT_ENABLED: Final = """
INSERT INTO restaurant_controls AS c (restaurant_id, bot_enabled, off_epoch, updated_at)
VALUES ($1, $2, CASE WHEN $2 THEN 0 ELSE 1 END, $3)
ON CONFLICT (restaurant_id) DO UPDATE
SET off_epoch = c.off_epoch + CASE WHEN c.bot_enabled AND NOT excluded.bot_enabled
                                   THEN 1 ELSE 0 END,
    bot_enabled = excluded.bot_enabled, updated_at = excluded.updated_at"""
TOUCH_CONTROLS: Final = """
INSERT INTO restaurant_controls (restaurant_id, bot_enabled, off_epoch, updated_at)
VALUES ($1, true, 0, $2)
ON CONFLICT (restaurant_id) DO UPDATE SET updated_at = excluded.updated_at"""
MARK_SOLD_OUT: Final = (
    "INSERT INTO sold_out (restaurant_id, item_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
MARK_AVAILABLE: Final = "DELETE FROM sold_out WHERE restaurant_id = $1 AND item_id = $2"


class PostgresRestaurantSide(PostgresReads):
    """OrderBoard, ConversationLog, RestaurantControls and StaffDirectory on PostgreSQL."""

    async def _write(self, claims: frozenset[Hashable], what: str,
                     work: Callable[[Connection], Awaitable[T]]) -> T:
        raise NotImplementedError  # the store's: one transaction, in call order per claim

    async def orders(self, restaurant_id: str, *, status: str | None = None, limit: int = 50,
                     before: float | None = None) -> list[OrderRecord]:
        rows = await self._fetch("listing the order board", ORDERS, restaurant_id, status,
                                 math.inf if before is None else before, max(limit, 0))
        return [order_from_row(row) for row in rows]

    async def order(self, restaurant_id: str, reference: str) -> OrderRecord | None:
        rows = await self._fetch(
            "reading an order",
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE restaurant_id = $1 AND reference = $2",
            restaurant_id, reference)
        return order_from_row(rows[0]) if rows else None

    async def order_history(self, restaurant_id: str, reference: str) -> list[OrderEvent]:
        rows = await self._fetch("reading an order's history", HISTORY, restaurant_id,
                                 reference)
        return [OrderEvent(*row) for row in rows]

    async def latest_order(self, key: SessionKey) -> OrderRecord | None:
        rows = await self._fetch(
            "reading the latest order",
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE restaurant_id = $1 AND customer_id = $2"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            key.restaurant_id, key.customer_id)
        return order_from_row(rows[0]) if rows else None

    async def conversation(self, key: SessionKey) -> ConversationRecord | None:
        rows = await self._fetch(
            "reading a conversation",
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations"
            " WHERE restaurant_id = $1 AND customer_id = $2",
            key.restaurant_id, key.customer_id)
        return conversation_from_row(rows[0]) if rows else None

    async def conversations(self, restaurant_id: str, *, limit: int = 50,
                            before: float | None = None) -> list[ConversationRecord]:
        rows = await self._fetch("listing conversations", CONVERSATIONS, restaurant_id,
                                 math.inf if before is None else before, max(limit, 0))
        return [conversation_from_row(row) for row in rows]

    async def messages(self, key: SessionKey, *, limit: int = 50,
                       before: int | None = None) -> list[MessageRecord]:
        rows = await self._fetch("reading the message log", MESSAGES, key.restaurant_id,
                                 key.customer_id, LAST_ID if before is None else before,
                                 max(limit, 0))
        return [MessageRecord(row[0], SessionKey(row[1], row[2]), *row[3:])
                for row in reversed(rows)]

    async def controls(self, restaurant_id: str) -> Controls:
        return await self._read_controls(self._database.pool(), restaurant_id)

    async def set_bot_enabled(self, restaurant_id: str, enabled: bool, at: float) -> Controls:
        async def switch(connection: Connection) -> Controls:
            await connection.execute(SET_BOT_ENABLED, restaurant_id, enabled, at)
            return await self._read_controls(connection, restaurant_id)

        return await self._write(frozenset({("controls", restaurant_id)}),
                                 f"switching the bot {'on' if enabled else 'off'} at "
                                 f"{restaurant_id!r}", switch)

    async def set_item_available(self, restaurant_id: str, item_id: str, available: bool,
                                 at: float) -> Controls:
        async def mark(connection: Connection) -> Controls:
            await connection.execute(TOUCH_CONTROLS, restaurant_id, at)
            await connection.execute(MARK_AVAILABLE if available else MARK_SOLD_OUT,
                                     restaurant_id, item_id)
            return await self._read_controls(connection, restaurant_id)

        return await self._write(frozenset({("controls", restaurant_id)}),
                                 f"marking {item_id!r} available={available} at "
                                 f"{restaurant_id!r}", mark)

    async def add_staff(self, member: StaffMember) -> None:
        try:
            await self._fetch(
                f"adding staff {member.name!r} of {member.restaurant_id!r}",
                "INSERT INTO staff (restaurant_id, name, token_hash, created_at)"
                " VALUES ($1, $2, $3, $4)",
                member.restaurant_id, member.name, member.token_hash, member.created_at)
        except StorageError as exc:
            cause = exc.__cause__
            if not isinstance(cause, asyncpg.UniqueViolationError):
                raise
            if cause.constraint_name == "staff_token_unique":
                raise StorageError(f"the token of staff {member.name!r} is already in use"
                                   ) from exc
            raise StorageError(f"staff name {member.name!r} is already taken at "
                               f"{member.restaurant_id!r}") from exc

    async def staff(self, restaurant_id: str | None = None) -> list[StaffMember]:
        rows = await self._fetch(
            "listing staff",
            f"SELECT {STAFF_COLUMNS} FROM staff WHERE $1::text IS NULL OR restaurant_id = $1"
            " ORDER BY restaurant_id, name",
            restaurant_id)
        return [StaffMember(*row) for row in rows]

    async def revoke_staff(self, restaurant_id: str, name: str) -> bool:
        rows = await self._fetch(
            f"revoking staff {name!r} of {restaurant_id!r}",
            "DELETE FROM staff WHERE restaurant_id = $1 AND name = $2 RETURNING 1",
            restaurant_id, name)
        return bool(rows)

    async def staff_by_token_hash(self, token_hash: str) -> StaffMember | None:
        rows = await self._fetch("finding a staff token",
                                 f"SELECT {STAFF_COLUMNS} FROM staff WHERE token_hash = $1",
                                 token_hash)
        return StaffMember(*rows[0]) if rows else None

    async def _read_controls(self, connection: Connection | asyncpg.Pool,
                             restaurant_id: str) -> Controls:
        try:
            row = await connection.fetchrow(
                "SELECT c.bot_enabled, c.off_epoch,"
                " ARRAY(SELECT item_id FROM sold_out WHERE restaurant_id = $1)"
                " FROM (SELECT $1::text AS restaurant_id) AS r"
                " LEFT JOIN restaurant_controls AS c USING (restaurant_id)",
                restaurant_id)
        except Exception as exc:
            raise explain(f"reading the controls of {restaurant_id!r}", exc) from exc
        assert row is not None
        enabled = True if row[0] is None else bool(row[0])
        return Controls(restaurant_id, enabled, row[1] or 0, frozenset(row[2]))
