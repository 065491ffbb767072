"""What a :class:`~storage.records.Changes` may be refused for, checked and written in PostgreSQL.

:meth:`storage.postgres.PostgresStore.commit` writes every commit as a unit
of a group commit (:mod:`storage.postgres_group`, which orders the whole
transaction: the conversations' advisory locks, the processed marks, the
outbox ids, the rows).  Here:

* :func:`check_changes` — what is wrong whatever the database holds (a
  quarantine for another key, a log row naming no outbox row, an oversize
  snapshot), raised before anything is written;
* :func:`write_refusable` — what the database may refuse, run in the
  unit's savepoint:

  1. the processed mark, ``UPDATE inbox … WHERE processed_at IS NULL``: no
     row means the message was processed (:class:`~storage.errors.AlreadyProcessed`)
     or never accepted.  A commit racing it from another connection waits
     on the row and then finds it processed, so exactly one commits; the
     schema's trigger refuses any other second mark;
  2. quarantine, new orders (the unique key refuses a duplicate reference:
     :class:`~storage.errors.DuplicateOrderReference`);
  3. order moves: the moved orders are read ``FOR UPDATE`` (in reference
     order, so two commits lock them alike) and each move checked against
     the status the previous one left (:class:`~storage.errors.OrderStatusChanged`);

* :data:`LOCK_CONVERSATION` — a conversation's advisory lock
  (``pg_advisory_xact_lock`` on a hash of the key), held to the end of the
  transaction: the commits of one conversation, from any process, run one
  at a time (a number move, :mod:`storage.postgres_move`, takes it too).
"""

from __future__ import annotations

from typing import Final

from storage.codec import check_snapshot_size
from storage.errors import AlreadyProcessed, OrderStatusChanged, StorageError
from storage.postgres_connect import Connection
from storage.postgres_records import to_json
from storage.records import Changes

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


async def write_refusable(connection: Connection, changes: Changes) -> None:
    """Steps 2 to 4 of ``changes``: what the database may refuse (the module docstring).

    The processed mark, the quarantine, new orders, order moves.  Raises
    :class:`~storage.errors.AlreadyProcessed`, :class:`~storage.errors.StorageError`
    (a message never accepted, a move of no order),
    :class:`~storage.errors.OrderStatusChanged`, or asyncpg's
    ``UniqueViolationError`` for a reference taken (the caller explains it).
    """
    key = (changes.key.restaurant_id, changes.key.customer_id)
    if changes.inbox_processed is not None:
        await _mark_processed(connection, changes.inbox_processed, changes.updated_at)
    if changes.quarantine is not None:
        quarantine = changes.quarantine
        await connection.execute(QUARANTINE, *key, quarantine.snapshot, quarantine.reason,
                                 quarantine.created_at)
        await connection.execute(DELETE_SESSION, *key)
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
