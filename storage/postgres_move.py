"""Moving a conversation to another customer id (a number change) on PostgreSQL.

One transaction holding both conversations' advisory locks (taken in key
order, so two moves never wait on each other in a cycle): the snapshot and
the staff-facing record move unless the new id has its own (then the old
ones are deleted); the message log, the orders and the abandoned carts
always move; quarantine, inbox and outbox rows stay with the old id.  The
same outcome as the memory and SQLite stores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from storage.postgres_commit import LOCK_CONVERSATION
from storage.postgres_connect import Connection
from storage.records import SessionKey

# $1 restaurant, $2 old customer id, $3 new customer id.
MOVES: Final = tuple(
    statement
    for table in ("sessions", "conversations")
    for statement in (
        f"""DELETE FROM {table} WHERE restaurant_id = $1 AND customer_id = $2
            AND EXISTS (SELECT 1 FROM {table} WHERE restaurant_id = $1 AND customer_id = $3)""",
        f"UPDATE {table} SET customer_id = $3 WHERE restaurant_id = $1 AND customer_id = $2")
) + tuple(f"UPDATE {table} SET customer_id = $3 WHERE restaurant_id = $1 AND customer_id = $2"
          for table in ("messages", "orders", "drafts"))


def move_work(old: SessionKey, new: SessionKey) -> Callable[[Connection], Awaitable[bool]]:
    """The transaction's work moving ``old``'s conversation to ``new``; whether anything moved."""
    async def move(connection: Connection) -> bool:
        for key in sorted({(old.restaurant_id, old.customer_id),
                           (new.restaurant_id, new.customer_id)}):
            await connection.execute(LOCK_CONVERSATION, *key)
        moved = False
        for statement in MOVES:
            status = await connection.execute(statement, old.restaurant_id, old.customer_id,
                                              new.customer_id)
            moved = moved or not status.endswith(" 0")
        return moved

    return move
