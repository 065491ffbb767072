"""One :class:`~storage.records.Changes` written in one PostgreSQL transaction.

:func:`write_changes` runs inside the transaction :meth:`storage.postgres.PostgresStore.commit`
opened, in this order:

1. the conversation's advisory lock (``pg_advisory_xact_lock`` on a hash of
   the key), held to the end of the transaction: the commits of one
   conversation — from any process — run one at a time; then, in the same
   statement, the outbox rows, whose ids the shared sequence hands out once
   the lock is held, so they ascend in the conversation's commit order.
   Within one process the caller holds the store's turnstile
   (:class:`~storage.postgres_order.Turn`) until this statement is done, so
   the process's commits take their ids in the order they started,
   whatever their conversations;
2. the processed mark, ``UPDATE inbox … WHERE processed_at IS NULL``: no
   row means the message was processed (:class:`~storage.errors.AlreadyProcessed`)
   or never accepted.  A commit racing it from another connection waits
   on the row and then finds it processed, so exactly one commits; the
   schema's trigger refuses any other second mark;
3. quarantine, snapshot, new orders (the unique key refuses a duplicate
   reference: :class:`~storage.errors.DuplicateOrderReference`), drafts;
4. order moves: the moved orders are read ``FOR UPDATE`` (in reference
   order, so two commits lock them alike) and each move checked against
   the status the previous one left (:class:`~storage.errors.OrderStatusChanged`);
5. the log rows (naming the outbox rows of step 1) and the conversation's record.

Anything raised rolls the whole transaction back.  What can be checked
without the database (a quarantine for another key, a log row naming no
outbox row, an oversize snapshot) is checked by :func:`check_changes` first.
"""

from __future__ import annotations

from typing import Final

from storage.codec import check_snapshot_size
from storage.errors import AlreadyProcessed, OrderStatusChanged, StorageError
from storage.postgres_connect import Connection
from storage.postgres_order import Turn
from storage.postgres_records import to_json
from storage.records import Changes, OutboxRecord

LOCK_CONVERSATION: Final = (
    "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))")
MARK_PROCESSED: Final = """
UPDATE inbox SET processed_at = $1 WHERE message_id = $2 AND processed_at IS NULL
RETURNING 1"""
INBOX_PROCESSED: Final = "SELECT processed_at IS NOT NULL FROM inbox WHERE message_id = $1"
# The stored snapshot is moved aside, or the caller's copy when none is stored.
QUARANTINE: Final = """
INSERT INTO quarantine (restaurant_id, customer_id, snapshot, reason, created_at)
SELECT $1, $2, coalesce((SELECT snapshot FROM sessions
                         WHERE restaurant_id = $1 AND customer_id = $2), $3::bytea), $4, $5"""
DELETE_SESSION: Final = "DELETE FROM sessions WHERE restaurant_id = $1 AND customer_id = $2"
UPSERT_SESSION: Final = """
INSERT INTO sessions (restaurant_id, customer_id, snapshot, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (restaurant_id, customer_id)
DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at"""
INSERT_ORDER: Final = """
INSERT INTO orders (reference, restaurant_id, customer_id, status, order_type, branch_id,
                    address, payment_method, currency, total_minor, delivery_fee_minor,
                    lines, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"""
INSERT_EVENTS: Final = """
INSERT INTO order_events (restaurant_id, reference, from_status, to_status, actor, at, reason)
SELECT e.restaurant_id, e.reference, e.from_status, e.to_status, e.actor, e.at, e.reason
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[],
            $7::text[])
     WITH ORDINALITY AS e(restaurant_id, reference, from_status, to_status, actor, at, reason,
                          n)
ORDER BY e.n"""
LOCK_ORDERS: Final = """
SELECT reference, status FROM orders WHERE restaurant_id = $1 AND reference = ANY($2::text[])
ORDER BY reference FOR UPDATE"""
MOVE_ORDERS: Final = """
UPDATE orders AS o SET status = m.status, updated_at = m.at
FROM unnest($2::text[], $3::text[], $4::float8[]) AS m(reference, status, at)
WHERE o.restaurant_id = $1 AND o.reference = m.reference"""
INSERT_DRAFTS: Final = """
INSERT INTO drafts (restaurant_id, customer_id, reason, cart, created_at)
SELECT d.restaurant_id, d.customer_id, d.reason, d.cart, d.created_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[])
     WITH ORDINALITY AS d(restaurant_id, customer_id, reason, cart, created_at, n)
ORDER BY d.n"""
# The lock is taken (the sort needs every joined row) before any row is
# inserted, so before any id is; ids go in row order: the caller sorts them.
LOCK_AND_QUEUE: Final = """
WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0)))
INSERT INTO outbox (restaurant_id, customer_id, phone_number_id, body, kind, state, attempts,
                    not_before, created_at)
SELECT m.restaurant_id, m.customer_id, m.phone_number_id, m.body, m.kind, 'pending', 0, $8, $8
FROM locked, unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
     WITH ORDINALITY AS m(restaurant_id, customer_id, phone_number_id, body, kind, n)
ORDER BY m.n
RETURNING id"""
INSERT_MESSAGES: Final = """
INSERT INTO messages (restaurant_id, customer_id, direction, kind, text, author, at, wamid,
                      outbox_id)
SELECT $1, $2, m.direction, m.kind, m.text, m.author, m.at, m.wamid, m.outbox_id
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::text[],
            $9::bigint[]) WITH ORDINALITY
     AS m(direction, kind, text, author, at, wamid, outbox_id, n)
ORDER BY m.n"""
# A NULL leaves its column alone; times only move forward; ``read`` clears
# unread after this change's own inbound message is counted.  The inserted
# row is the change applied to a new record (storage.memory_staff.changed_conversation).
CHANGE_CONVERSATION: Final = """
INSERT INTO conversations AS c (restaurant_id, customer_id, name, bot_paused,
    handoff_requested, last_message_at, last_inbound_at, unread, phone_number_id, wa_id,
    user_id, away_epoch)
VALUES ($1, $2, $3::text, coalesce($7::boolean, false), coalesce($6::boolean, false),
        coalesce(greatest($4::float8, $5::float8), $14::float8), $4::float8,
        CASE WHEN $8::boolean OR $4::float8 IS NULL THEN 0 ELSE 1 END,
        $10::text, $11::text, $12::text, coalesce($13::integer, 0))
ON CONFLICT (restaurant_id, customer_id) DO UPDATE SET
  name = coalesce($3::text, c.name),
  last_message_at = greatest(c.last_message_at, $4::float8, $5::float8),
  last_inbound_at = greatest(c.last_inbound_at, $4::float8),
  unread = CASE WHEN $8::boolean THEN 0
                ELSE c.unread + CASE WHEN $4::float8 IS NULL THEN 0 ELSE 1 END END,
  handoff_requested = coalesce($6::boolean, c.handoff_requested),
  bot_paused = coalesce($7::boolean, c.bot_paused),
  phone_number_id = CASE WHEN $9::boolean THEN $10::text ELSE c.phone_number_id END,
  wa_id = CASE WHEN $9::boolean THEN $11::text ELSE c.wa_id END,
  user_id = CASE WHEN $9::boolean THEN $12::text ELSE c.user_id END,
  away_epoch = coalesce($13::integer, c.away_epoch)"""


def check_changes(changes: Changes) -> None:
    """Refuse what is wrong whatever the database holds; raises before anything is written."""
    if changes.snapshot is not None:
        check_snapshot_size(changes.snapshot)
    quarantine = changes.quarantine
    if quarantine is not None and quarantine.key != changes.key:
        raise ValueError(f"quarantine of {quarantine.key} in a commit for {changes.key}")
    for message in changes.log:
        index = message.outbox_index
        if index is not None and not 0 <= index < len(changes.outbox):
            raise ValueError(f"log entry names outbox row {index} of a commit queueing "
                             f"{len(changes.outbox)}")


async def write_changes(connection: Connection, changes: Changes,
                        turn: Turn) -> list[OutboxRecord]:
    """Write ``changes`` in the caller's transaction (see the module docstring).

    ``turn`` is the caller's hold of the turnstile, let go after step 1.
    """
    key = (changes.key.restaurant_id, changes.key.customer_id)
    try:
        if changes.outbox:
            queued = await _lock_and_queue(connection, changes)
        else:
            await connection.execute(LOCK_CONVERSATION, *key)
            queued = []
    finally:
        turn.done()
    if changes.inbox_processed is not None:
        await _mark_processed(connection, changes.inbox_processed, changes.updated_at)
    if changes.quarantine is not None:
        quarantine = changes.quarantine
        await connection.execute(QUARANTINE, *key, quarantine.snapshot, quarantine.reason,
                                 quarantine.created_at)
        await connection.execute(DELETE_SESSION, *key)
    if changes.snapshot is not None:
        await connection.execute(UPSERT_SESSION, *key, changes.snapshot, changes.updated_at)
    if changes.orders:
        await connection.executemany(INSERT_ORDER, [
            (order.reference, order.restaurant_id, order.customer_id, order.status,
             order.order_type, order.branch_id, order.address, order.payment_method,
             order.currency, order.total_minor, order.delivery_fee_minor,
             to_json(list(order.lines)), order.created_at, order.updated_at)
            for order in changes.orders])
        await _insert_events(connection, [
            (order.restaurant_id, order.reference, None, order.status, "customer",
             order.created_at, None) for order in changes.orders])
    if changes.order_moves:
        await _move_orders(connection, changes)
    if changes.drafts:
        drafts = changes.drafts
        await connection.execute(
            INSERT_DRAFTS, [d.key.restaurant_id for d in drafts],
            [d.key.customer_id for d in drafts], [d.reason for d in drafts],
            [to_json(d.cart) for d in drafts], [d.created_at for d in drafts])
    if changes.log:
        log = changes.log
        outbox_ids = [None if m.outbox_index is None else queued[m.outbox_index].id
                      for m in log]
        await connection.execute(
            INSERT_MESSAGES, *key, [m.direction for m in log], [m.kind for m in log],
            [m.text for m in log], [m.author for m in log], [m.at for m in log],
            [m.wamid for m in log], outbox_ids)
    change = changes.conversation
    if change is not None:
        contact = change.contact or (None, None, None)
        await connection.execute(
            CHANGE_CONVERSATION, *key, change.name, change.inbound_at, change.outbound_at,
            change.handoff_requested, change.bot_paused, change.read,
            change.contact is not None, *contact, change.away_epoch, changes.updated_at)
    return queued


async def _mark_processed(connection: Connection, message_id: str, at: float) -> None:
    if await connection.fetchval(MARK_PROCESSED, at, message_id) is not None:
        return
    processed = await connection.fetchval(INBOX_PROCESSED, message_id)
    if processed is None:
        raise StorageError(f"inbox message {message_id!r} was never accepted")
    raise AlreadyProcessed(f"inbox message {message_id!r} is already processed")


async def _move_orders(connection: Connection, changes: Changes) -> None:
    restaurant_id = changes.key.restaurant_id
    references = sorted({move.reference for move in changes.order_moves})
    rows = await connection.fetch(LOCK_ORDERS, restaurant_id, references)
    statuses: dict[str, str] = {row[0]: row[1] for row in rows}
    last_at: dict[str, float] = {}
    for move in changes.order_moves:
        current = statuses.get(move.reference)
        if current is None:
            raise StorageError(f"no order {move.reference!r} of {restaurant_id!r} to move")
        if current != move.from_status:
            raise OrderStatusChanged(move.reference, move.from_status, current)
        statuses[move.reference] = move.to_status
        last_at[move.reference] = move.at
    moved = sorted(last_at)
    await connection.execute(MOVE_ORDERS, restaurant_id, moved,
                             [statuses[ref] for ref in moved], [last_at[ref] for ref in moved])
    await _insert_events(connection, [
        (restaurant_id, move.reference, move.from_status, move.to_status, move.actor, move.at,
         move.reason)
        for move in changes.order_moves])


Event = tuple[str, str, str | None, str, str, float, str | None]


async def _insert_events(connection: Connection, events: list[Event]) -> None:
    """Order events: (restaurant, reference, from, to, actor, at, reason) each, in order."""
    columns = list(zip(*events, strict=True))
    await connection.execute(INSERT_EVENTS, *(list(column) for column in columns))


async def _lock_and_queue(connection: Connection,
                          changes: Changes) -> list[OutboxRecord]:
    messages = changes.outbox
    rows = await connection.fetch(
        LOCK_AND_QUEUE, changes.key.restaurant_id, changes.key.customer_id,
        [m.key.restaurant_id for m in messages],
        [m.key.customer_id for m in messages], [m.phone_number_id for m in messages],
        [m.body for m in messages], [m.kind for m in messages], changes.updated_at)
    ids = sorted(row[0] for row in rows)
    return [OutboxRecord(id=outbox_id, key=message.key, phone_number_id=message.phone_number_id,
                         body=message.body, kind=message.kind, state="pending", attempts=0,
                         not_before=changes.updated_at, wamid=None, error=None,
                         created_at=changes.updated_at)
            for outbox_id, message in zip(ids, messages, strict=True)]
