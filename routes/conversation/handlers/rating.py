"""Rating an order after it is COMPLETED: 1 to 5 and an optional comment (issue 14 item 10).

The COMPLETED notification (:func:`routes.conversation.order_news.order_news`)
asks for it. The answer is understood only in the customer's *first message
after that notification*: the latest order is COMPLETED, was moved there after
the conversation last handled a message (``order.updated_at`` is later than
``session.last_activity``), and was not rated yet. So a ``3`` typed while
choosing a quantity, or at any other time, means what the step makes of it.
That condition is the ``awaiting_rating`` flag, read from what the store and
the session already hold instead of kept as one more field.

A rating is stored as an event on the order (:class:`~storage.records.OrderMove`
from COMPLETED to COMPLETED, actor ``customer``, reason ``rated 4/5: comment``),
committed with the message like every other change: durable, atomic with the
reply, on the order's history where staff read it, with no schema change in
any backend. Whether an order was rated is read back from that history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fsm.order_lifecycle import OrderStatus
from routes.conversation.context import Context
from routes.conversation.i18n import _
from routes.conversation.matching import read_number
from routes.conversation.router import Router
from storage.records import OrderMove

router = Router("rating")

RATED: Final = "rated "
COMMENT_MAX: Final = 500
STARS: Final = "⭐"


@dataclass(frozen=True, slots=True)
class Rating:
    score: int
    comment: str | None = None


def read_rating(typed: str) -> Rating | None:
    """``4``, ``4/5``, ``4 lovely but cold``, ``⭐⭐⭐⭐``; ``None`` unless 1 to 5 comes first."""
    raw = " ".join(typed.split())
    stars = len(raw) - len(raw.lstrip(STARS))
    if stars:
        score, rest = stars, raw.lstrip(STARS)
    else:
        head, _, rest = raw.partition(" ")
        head = head.rstrip("!.,:;-").removesuffix("/5")
        score = read_number(head).value or 0 if head else 0
    if not 1 <= score <= 5:
        return None
    comment = rest.strip(" -–,:;.!") or None
    return Rating(score, None if comment is None else comment[:COMMENT_MAX])


async def look_for_rating(ctx: Context) -> None:
    """Set ``ctx.rating_for`` when this message rates the order that was just completed."""
    if ctx.inbound.kind != "text":
        return
    rating = read_rating(ctx.inbound.text)
    if rating is None:
        return
    if rating.comment is not None and ctx.choice is not None:
        return  # "2 margherita": an item with a quantity, not a rating with a comment
    order = await ctx.latest_order()
    if (order is None or order.status != OrderStatus.COMPLETED or order.updated_at is None
            or order.updated_at <= ctx.session.last_activity):
        return
    history = await ctx.order_history(order.reference)
    if any(event.reason and event.reason.startswith(RATED) for event in history):
        return
    ctx.rating_for = order


@router.message(lambda ctx: ctx.rating_for is not None)
async def rate_order(ctx: Context) -> None:
    order = ctx.rating_for
    rating = read_rating(ctx.inbound.text)
    assert order is not None and rating is not None
    reason = f"{RATED}{rating.score}/5" + (f": {rating.comment}" if rating.comment else "")
    ctx.effects.order_moves.append(OrderMove(
        order.reference, OrderStatus.COMPLETED, OrderStatus.COMPLETED, "customer", ctx.now,
        reason))
    stars = "★" * rating.score + "☆" * (5 - rating.score)
    thanks = _("Thank you for rating your order {reference}: {stars}",
               reference=order.reference, stars=stars)
    if rating.comment:
        thanks += " " + _("Thank you for your comment, too.")
    ctx.say(thanks)
    ctx.ask()
