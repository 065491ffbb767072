"""What a customer is told about an order after confirming it: one sentence per status.

Used for the notification staff moves send and for the answer to ``status``
(``track``), so the two always say the same thing.
"""

from __future__ import annotations

from fsm.config import Restaurant
from fsm.order_lifecycle import OrderStatus
from storage.records import OrderRecord

RATING_QUESTION = ("How was it? Reply with a number from 1 (poor) to 5 (great), and a "
                   "comment after it if you like.")


def order_news(order: OrderRecord, restaurant: Restaurant, reason: str | None = None, *,
               ask_rating: bool = True) -> str:
    """The sentence for ``order``'s status; ``reason`` is given for a cancellation.

    The COMPLETED notification asks for a rating (``ask_rating``), understood
    in the customer's next message only (:mod:`routes.conversation.handlers.rating`);
    ``status`` leaves the question out.
    """
    reference = order.reference
    status = order.status
    if status == OrderStatus.PREPARING:
        return f"Your order {reference} is being prepared."
    if status == OrderStatus.READY:
        branch = restaurant.branch(order.branch_id) if order.branch_id else None
        where = f" at {branch.name}" if branch is not None else ""
        return f"Your order {reference} is ready to collect{where}."
    if status == OrderStatus.OUT_FOR_DELIVERY:
        return f"Your order {reference} is on its way."
    if status == OrderStatus.COMPLETED:
        done = (f"Your order {reference} is complete. "
                f"Thank you for ordering from {restaurant.name}!")
        return f"{done}\n{RATING_QUESTION}" if ask_rating else done
    if status == OrderStatus.CANCELLED:
        why = f": {reason}" if reason else "."
        return f"Sorry, your order {reference} was cancelled{why}"
    return f"Your order {reference} is confirmed and waiting for the kitchen."
