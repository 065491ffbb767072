"""What a customer is told about an order after confirming it: one sentence per status.

Used for the notification staff moves send and for the answer to ``status``
(``track``), so the two always say the same thing.
"""

from __future__ import annotations

from fsm.config import Restaurant
from fsm.order_lifecycle import OrderStatus
from routes.conversation import i18n
from routes.conversation.i18n import N_, _
from storage.records import OrderRecord

RATING_QUESTION = N_("How was it? Reply with a number from 1 (poor) to 5 (great), and a "
                     "comment after it if you like.")


def order_news(order: OrderRecord, restaurant: Restaurant, reason: str | None = None, *,
               ask_rating: bool = True, language: str | None = None) -> str:
    """The sentence for ``order``'s status; ``reason`` is given for a cancellation.

    Written in ``language`` (the customer's; the restaurant's default if ``None``).
    The COMPLETED notification asks for a rating (``ask_rating``), understood
    in the customer's next message only (:mod:`routes.conversation.handlers.rating`);
    ``status`` leaves the question out.
    """
    if language not in restaurant.languages:
        language = restaurant.languages[0]
    with i18n.speaking(language):
        return _news(order, restaurant.in_language(language), reason, ask_rating)


def _news(order: OrderRecord, restaurant: Restaurant, reason: str | None,
          ask_rating: bool) -> str:
    reference = order.reference
    status = order.status
    if status == OrderStatus.PREPARING:
        return _("Your order {reference} is being prepared.", reference=reference)
    if status == OrderStatus.READY:
        branch = restaurant.branch(order.branch_id) if order.branch_id else None
        if branch is not None:
            return _("Your order {reference} is ready to collect at {branch}.",
                     reference=reference, branch=branch.name)
        return _("Your order {reference} is ready to collect.", reference=reference)
    if status == OrderStatus.OUT_FOR_DELIVERY:
        return _("Your order {reference} is on its way.", reference=reference)
    if status == OrderStatus.COMPLETED:
        done = _("Your order {reference} is complete. Thank you for ordering from "
                 "{restaurant}!", reference=reference, restaurant=restaurant.name)
        return f"{done}\n{_(RATING_QUESTION)}" if ask_rating else done
    if status == OrderStatus.CANCELLED:
        if reason:
            return _("Sorry, your order {reference} was cancelled: {reason}",
                     reference=reference, reason=reason)
        return _("Sorry, your order {reference} was cancelled.", reference=reference)
    return _("Your order {reference} is confirmed and waiting for the kitchen.",
             reference=reference)
