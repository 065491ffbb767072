"""Moving a conversation to another customer id (a number change), the same on every engine.

:meth:`~storage.roles.SessionStorage.move_conversation` runs :data:`MOVE_STATEMENTS`
in one transaction, each with the parameters restaurant, old customer id, new
customer id (``{r}``, ``{old}``, ``{new}`` are each engine's placeholders). The
snapshot and the staff-facing record move unless the new id has its own (then
the old ones are deleted); the message log, the orders and the abandoned carts
always move. Quarantine, inbox and outbox rows stay: they record what was
received from and sent to the old number.
"""

from __future__ import annotations

from typing import Final

# Orders move with the conversation: latest_order(new) finds them, and staff
# notifications of their moves go to the new number's conversation.
MOVE_STATEMENTS: Final = tuple(
    statement
    for table in ("sessions", "conversations")
    for statement in (
        f"""DELETE FROM {table} WHERE restaurant_id = {{r}} AND customer_id = {{old}}
            AND EXISTS (SELECT 1 FROM {table} WHERE restaurant_id = {{r}}
                        AND customer_id = {{new}})""",
        f"""UPDATE {table} SET customer_id = {{new}}
            WHERE restaurant_id = {{r}} AND customer_id = {{old}}""")
) + tuple(
    f"UPDATE {table} SET customer_id = {{new}} WHERE restaurant_id = {{r}} "
    f"AND customer_id = {{old}}"
    for table in ("messages", "orders", "drafts"))


def check_keys(old_restaurant: str, new_restaurant: str) -> None:
    if old_restaurant != new_restaurant:
        raise ValueError("a conversation moves within its restaurant only")
