"""The restaurant's side of :class:`storage.sqlite.SQLiteStore`: the roles of :mod:`storage.staff`.

Reads go through the read connection (:class:`~storage.sqlite_read.SQLiteReads`).
What a conversation changes for staff (moves, the log, the conversation
record) is written by the commit (:mod:`storage.sqlite_staff`); the
controls and the staff directory are small direct writes here, through the
writer so they are ordered after every commit already returned and durable
on return.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any, Final

from storage.errors import StorageError
from storage.records import OrderRecord, SessionKey
from storage.sqlite_read import SQLiteReads
from storage.sqlite_schema import ORDER_COLUMNS, order_from_row
from storage.sqlite_staff import (
    ADD_STAFF,
    MARK_AVAILABLE,
    MARK_SOLD_OUT,
    REVOKE_STAFF,
    SET_BOT_ENABLED,
    TOUCH_CONTROLS,
)
from storage.sqlite_statement import Operation, key_params
from storage.sqlite_writer import GroupCommitWriter, Unit, no_result
from storage.staff import (
    Controls,
    ConversationRecord,
    MessageRecord,
    OrderEvent,
    StaffMember,
)

LAST_ID: Final = 2**63 - 1  # the largest rowid: "before" no message

CONVERSATION_COLUMNS: Final = """restaurant_id, customer_id, name, bot_paused,
    handoff_requested, last_message_at, last_inbound_at, unread, phone_number_id, wa_id,
    user_id, away_epoch"""
# An outgoing message follows its outbox row, then Meta's statuses of what it sent.
MESSAGES: Final = """
SELECT m.id, m.restaurant_id, m.customer_id, m.direction, m.kind, m.text, m.author, m.at,
       CASE WHEN m.direction = 'in' THEN NULL
            WHEN o.state IN ('pending', 'failed') THEN o.state
            ELSE coalesce(s.status, 'sent') END
FROM messages AS m LEFT JOIN outbox AS o ON o.id = m.outbox_id
                   LEFT JOIN message_status AS s ON s.wamid = o.wamid
WHERE m.restaurant_id = ? AND m.customer_id = ? AND m.id < ?
ORDER BY m.id DESC LIMIT ?"""
STAFF_COLUMNS: Final = "restaurant_id, name, token_hash, created_at"
# The board's pages, newest first (indexes orders_by_time, orders_by_status).
ORDERS: Final = (f"SELECT {ORDER_COLUMNS} FROM orders WHERE restaurant_id = ?"
                 " AND created_at < ? ORDER BY created_at DESC, id DESC LIMIT ?")
ORDERS_IN_STATUS: Final = (f"SELECT {ORDER_COLUMNS} FROM orders WHERE restaurant_id = ?"
                           " AND status = ? AND created_at < ?"
                           " ORDER BY created_at DESC, id DESC LIMIT ?")
CONVERSATIONS: Final = (f"SELECT {CONVERSATION_COLUMNS} FROM conversations"
                        " WHERE restaurant_id = ? AND last_message_at < ?"
                        " ORDER BY last_message_at DESC, customer_id LIMIT ?")
HISTORY: Final = ("SELECT from_status, to_status, actor, at, reason FROM order_events"
                  " WHERE restaurant_id = ? AND reference = ? ORDER BY id")


class SQLiteRestaurantSide(SQLiteReads):
    """OrderBoard, ConversationLog, RestaurantControls and StaffDirectory on SQLite."""

    def _open_writer(self) -> GroupCommitWriter:
        raise NotImplementedError  # the store's

    async def orders(self, restaurant_id: str, *, status: str | None = None, limit: int = 50,
                     before: float | None = None) -> list[OrderRecord]:
        since = math.inf if before is None else before
        if status is None:
            rows = await self._read(ORDERS, (restaurant_id, since, max(limit, 0)))
        else:
            rows = await self._read(ORDERS_IN_STATUS,
                                    (restaurant_id, status, since, max(limit, 0)))
        return [order_from_row(row) for row in rows]

    async def order(self, restaurant_id: str, reference: str) -> OrderRecord | None:
        rows = await self._read(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE restaurant_id = ? AND reference = ?",
            (restaurant_id, reference))
        return order_from_row(rows[0]) if rows else None

    async def order_history(self, restaurant_id: str, reference: str) -> list[OrderEvent]:
        rows = await self._read(HISTORY, (restaurant_id, reference))
        return [OrderEvent(*row) for row in rows]

    async def latest_order(self, key: SessionKey) -> OrderRecord | None:
        rows = await self._read(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE restaurant_id = ? AND customer_id = ?"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            key_params(key))
        return order_from_row(rows[0]) if rows else None

    async def conversation(self, key: SessionKey) -> ConversationRecord | None:
        rows = await self._read(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations"
            " WHERE restaurant_id = ? AND customer_id = ?",
            key_params(key))
        return _conversation(rows[0]) if rows else None

    async def conversations(self, restaurant_id: str, *, limit: int = 50,
                            before: float | None = None) -> list[ConversationRecord]:
        rows = await self._read(CONVERSATIONS, (restaurant_id,
                                                math.inf if before is None else before,
                                                max(limit, 0)))
        return [_conversation(row) for row in rows]

    async def messages(self, key: SessionKey, *, limit: int = 50,
                       before: int | None = None) -> list[MessageRecord]:
        rows = await self._read(MESSAGES, (*key_params(key),
                                           LAST_ID if before is None else before,
                                           max(limit, 0)))
        return [MessageRecord(row[0], SessionKey(row[1], row[2]), *row[3:]) for row in rows[::-1]]

    async def controls(self, restaurant_id: str) -> Controls:
        rows = await self._read(
            "SELECT bot_enabled, off_epoch FROM restaurant_controls WHERE restaurant_id = ?",
            (restaurant_id,))
        sold_out = await self._read("SELECT item_id FROM sold_out WHERE restaurant_id = ?",
                                    (restaurant_id,))
        enabled, epoch = rows[0] if rows else (True, 0)
        return Controls(restaurant_id, bool(enabled), epoch,
                        frozenset(row[0] for row in sold_out))

    async def set_bot_enabled(self, restaurant_id: str, enabled: bool, at: float) -> Controls:
        await self._control(restaurant_id, f"switching the bot {'on' if enabled else 'off'}",
                            [(SET_BOT_ENABLED, (restaurant_id, enabled, at))])
        return await self.controls(restaurant_id)

    async def set_item_available(self, restaurant_id: str, item_id: str, available: bool,
                                 at: float) -> Controls:
        mark = MARK_AVAILABLE if available else MARK_SOLD_OUT
        await self._control(restaurant_id, f"marking {item_id!r} available={available}",
                            [(TOUCH_CONTROLS, (restaurant_id, at)),
                             (mark, (restaurant_id, item_id))])
        return await self.controls(restaurant_id)

    async def add_staff(self, member: StaffMember) -> None:
        try:
            await self._open_writer().execute(
                f"adding staff {member.name!r} of {member.restaurant_id!r}", ADD_STAFF,
                (member.restaurant_id, member.name, member.token_hash, member.created_at))
        except StorageError as exc:
            if not isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise
            if "token_hash" in str(exc.__cause__):
                raise StorageError(f"the token of staff {member.name!r} is already in use"
                                   ) from exc
            raise StorageError(f"staff name {member.name!r} is already taken at "
                               f"{member.restaurant_id!r}") from exc

    async def staff(self, restaurant_id: str | None = None) -> list[StaffMember]:
        rows = await self._read(
            f"SELECT {STAFF_COLUMNS} FROM staff WHERE ?1 IS NULL OR restaurant_id = ?1"
            " ORDER BY restaurant_id, name",
            (restaurant_id,))
        return [StaffMember(*row) for row in rows]

    async def revoke_staff(self, restaurant_id: str, name: str) -> bool:
        revoked = await self._open_writer().execute(
            f"revoking staff {name!r} of {restaurant_id!r}", REVOKE_STAFF, (restaurant_id, name))
        return revoked > 0

    async def staff_by_token_hash(self, token_hash: str) -> StaffMember | None:
        rows = await self._read(f"SELECT {STAFF_COLUMNS} FROM staff WHERE token_hash = ?",
                                (token_hash,))
        return StaffMember(*rows[0]) if rows else None

    async def _control(self, restaurant_id: str, what: str, operations: list[Operation]) -> None:
        # One restaurant's control writes never share a batch: their statements
        # would otherwise run in statement order rather than call order.
        await self._open_writer().submit(Unit(
            f"{what} at {restaurant_id!r}", operations, no_result,
            frozenset({("controls", restaurant_id)})))


def _conversation(row: Any) -> ConversationRecord:
    return ConversationRecord(
        key=SessionKey(row[0], row[1]), name=row[2], bot_paused=bool(row[3]),
        handoff_requested=bool(row[4]), last_message_at=row[5], last_inbound_at=row[6],
        unread=row[7], phone_number_id=row[8], wa_id=row[9], user_id=row[10],
        away_epoch=row[11])
