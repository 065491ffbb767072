"""The restaurant's side of the SQLite file: its statements and what a commit decides for it.

A commit (:meth:`storage.sqlite.SQLiteStore.commit`) writes, besides the
conversation's rows (:mod:`storage.sqlite_schema`): each new order's
creation event, its order moves, its message-log rows and the change to the
conversation's staff-facing record.  They are operations of the commit's
unit, so they share its transaction, its batch and its refusal.

Order moves are checked inside the transaction: the unit looks up each
moved order's status (:data:`LOOKUP_ORDER`, by the indexed composite key of
:func:`order_key`) and :func:`decide_orders` refuses the unit when one is no
longer what the move expects.  Each outcome records the statuses its unit
leaves in ``found``, so the orders created or moved by units earlier in the
batch are seen as they will be: moves of one order decide in batch order.
``MOVE_ORDER`` runs once per move (no row part), in batch order, since a
multi-row ``UPDATE … FROM`` with two moves of one order would apply either.

The controls and staff statements are direct writes of
:mod:`storage.sqlite_staff_read`, outside any commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from storage.errors import OrderStatusChanged, StorageError
from storage.records import Changes, ConversationChange, OutboxRecord
from storage.sqlite_statement import Operation, Statement, key_params

# (restaurant, reference) as one text value: lookups take single values.
# The schema indexes the same expression (orders_by_key).
ORDER_KEY_SQL: Final = "restaurant_id || char(31) || reference"
LOOKUP_ORDER: Final = (
    f"SELECT {ORDER_KEY_SQL}, status FROM orders WHERE {ORDER_KEY_SQL} IN ({{marks}})"
)

INSERT_ORDER_EVENT: Final = Statement("""
INSERT INTO order_events (restaurant_id, reference, from_status, to_status, actor, at, reason)
VALUES """, "(?, ?, ?, ?, ?, ?, ?)")
MOVE_ORDER: Final = Statement(
    "UPDATE orders SET status = ?3, updated_at = ?4 WHERE restaurant_id = ?1 AND reference = ?2")
INSERT_MESSAGE: Final = Statement("""
INSERT INTO messages (restaurant_id, customer_id, direction, kind, text, author, at, wamid,
                      outbox_id)
VALUES """, "(?, ?, ?, ?, ?, ?, ?, ?, ?)")
# A conversation's first change creates its record; every change then updates it.
ADD_CONVERSATION: Final = Statement(
    "INSERT INTO conversations (restaurant_id, customer_id, last_message_at) VALUES ",
    "(?, ?, ?)", " ON CONFLICT (restaurant_id, customer_id) DO NOTHING")
# A NULL leaves its column alone; times only move forward; ``read`` clears
# unread after this change's own inbound message is counted.
CHANGE_CONVERSATION: Final = Statement("""
WITH changed (restaurant_id, customer_id, new_name, inbound_at, outbound_at, new_handoff,
              new_paused, read, contact, new_number, new_wa_id, new_user_id, new_epoch)
AS (VALUES """, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", """)
UPDATE conversations SET
  name = coalesce(changed.new_name, conversations.name),
  last_message_at = max(conversations.last_message_at,
                        coalesce(changed.inbound_at, conversations.last_message_at),
                        coalesce(changed.outbound_at, conversations.last_message_at)),
  last_inbound_at = CASE WHEN changed.inbound_at IS NULL THEN conversations.last_inbound_at
                         ELSE max(changed.inbound_at,
                                  coalesce(conversations.last_inbound_at, changed.inbound_at))
                    END,
  unread = CASE WHEN changed.read THEN 0
                ELSE conversations.unread + (changed.inbound_at IS NOT NULL) END,
  handoff_requested = coalesce(changed.new_handoff, conversations.handoff_requested),
  bot_paused = coalesce(changed.new_paused, conversations.bot_paused),
  phone_number_id = CASE WHEN changed.contact THEN changed.new_number
                         ELSE conversations.phone_number_id END,
  wa_id = CASE WHEN changed.contact THEN changed.new_wa_id ELSE conversations.wa_id END,
  user_id = CASE WHEN changed.contact THEN changed.new_user_id ELSE conversations.user_id END,
  away_epoch = coalesce(changed.new_epoch, conversations.away_epoch)
FROM changed WHERE conversations.restaurant_id = changed.restaurant_id
               AND conversations.customer_id = changed.customer_id""")

# Direct writes (storage.sqlite_staff_read), one row each, run in batch order.
# Switching off from on starts a new epoch; a first switch-off is epoch 1.
SET_BOT_ENABLED: Final = Statement("""
INSERT INTO restaurant_controls (restaurant_id, bot_enabled, off_epoch, updated_at)
VALUES (?1, ?2, NOT ?2, ?3)
ON CONFLICT (restaurant_id) DO UPDATE
SET off_epoch = off_epoch + (bot_enabled AND NOT excluded.bot_enabled),
    bot_enabled = excluded.bot_enabled, updated_at = excluded.updated_at""")
TOUCH_CONTROLS: Final = Statement("""
INSERT INTO restaurant_controls (restaurant_id, bot_enabled, off_epoch, updated_at)
VALUES (?1, 1, 0, ?2)
ON CONFLICT (restaurant_id) DO UPDATE SET updated_at = excluded.updated_at""")
MARK_SOLD_OUT: Final = Statement(
    "INSERT INTO sold_out (restaurant_id, item_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
MARK_AVAILABLE: Final = Statement("DELETE FROM sold_out WHERE restaurant_id = ? AND item_id = ?")
ADD_STAFF: Final = (
    "INSERT INTO staff (restaurant_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)")
REVOKE_STAFF: Final = "DELETE FROM staff WHERE restaurant_id = ? AND name = ?"

# Their place in storage.sqlite_schema.STATEMENT_ORDER: the order moves after
# INSERT_ORDER (an order created earlier in the batch must exist), the events
# after both; the rest after the outbox, whose ids the log rows name.
ORDER_STATEMENTS: Final = (MOVE_ORDER, INSERT_ORDER_EVENT)
LOG_STATEMENTS: Final = (INSERT_MESSAGE, ADD_CONVERSATION, CHANGE_CONVERSATION)
CONTROL_STATEMENTS: Final = (SET_BOT_ENABLED, TOUCH_CONTROLS, MARK_SOLD_OUT, MARK_AVAILABLE)


def order_key(restaurant_id: str, reference: str) -> str:
    """The value :data:`LOOKUP_ORDER` finds an order by (the SQL of :data:`ORDER_KEY_SQL`)."""
    return f"{restaurant_id}\x1f{reference}"


def order_operations(changes: Changes) -> list[Operation]:
    """The creation event of each new order, then each move and its event."""
    restaurant_id = changes.key.restaurant_id
    operations: list[Operation] = [
        (INSERT_ORDER_EVENT, (order.restaurant_id, order.reference, None, order.status,
                              "customer", order.created_at, None))
        for order in changes.orders
    ]
    for move in changes.order_moves:
        operations.append((MOVE_ORDER, (restaurant_id, move.reference, move.to_status, move.at)))
        operations.append((INSERT_ORDER_EVENT, (restaurant_id, move.reference, move.from_status,
                                                move.to_status, move.actor, move.at,
                                                move.reason)))
    return operations


def log_operations(changes: Changes, outbox: Sequence[OutboxRecord]) -> list[Operation]:
    """The message-log rows and the conversation change; ``outbox`` is the commit's rows."""
    key = key_params(changes.key)
    operations: list[Operation] = []
    for message in changes.log:
        outbox_id = None
        if message.outbox_index is not None:
            if not 0 <= message.outbox_index < len(outbox):
                raise ValueError(f"log entry names outbox row {message.outbox_index} of a "
                                 f"commit queueing {len(outbox)}")
            outbox_id = outbox[message.outbox_index].id
        operations.append((INSERT_MESSAGE, (*key, message.direction, message.kind, message.text,
                                            message.author, message.at, message.wamid,
                                            outbox_id)))
    change = changes.conversation
    if change is not None:
        operations.append((ADD_CONVERSATION, (*key, first_message_at(change, changes.updated_at))))
        contact = change.contact or (None, None, None)
        operations.append((CHANGE_CONVERSATION, (
            *key, change.name, change.inbound_at, change.outbound_at, change.handoff_requested,
            change.bot_paused, change.read, change.contact is not None, *contact,
            change.away_epoch)))
    return operations


def first_message_at(change: ConversationChange, updated_at: float) -> float:
    """``last_message_at`` of a record ``change`` creates: its message, else the commit's time."""
    times = [at for at in (change.inbound_at, change.outbound_at) if at is not None]
    return max(times, default=updated_at)


def order_lookups(changes: Changes) -> tuple[tuple[str, Any], ...]:
    restaurant_id = changes.key.restaurant_id
    return tuple((LOOKUP_ORDER, order_key(restaurant_id, move.reference))
                 for move in changes.order_moves)


def decide_orders(changes: Changes, found: dict[str, dict[Any, Any]]) -> dict[str, str]:
    """The status each order the commit creates or moves ends in; raises to refuse the commit.

    ``found`` is not changed: the caller records the result there once
    nothing else refuses the unit.
    """
    statuses = found.get(LOOKUP_ORDER, {})
    mine = {order_key(order.restaurant_id, order.reference): order.status
            for order in changes.orders}
    for move in changes.order_moves:
        key = order_key(changes.key.restaurant_id, move.reference)
        current = mine[key] if key in mine else statuses.get(key)
        if current is None:
            raise StorageError(f"no order {move.reference!r} of {changes.key.restaurant_id!r}"
                               " to move")
        if current != move.from_status:
            raise OrderStatusChanged(move.reference, move.from_status, current)
        mine[key] = move.to_status
    return mine
