""""Same again": the customer's last order, as today's menu has it (issue 14 item 9).

The last COMPLETED order (else the last one not cancelled) is rebuilt as a
cart (:meth:`~fsm.cart.Cart.from_order_lines`) and reconciled with today's
menu and sold-out items (:meth:`~fsm.cart.Cart.reconcile`): what left the menu
or sold out is dropped, changed prices are shown, each said. Nothing goes in
the cart until the customer says yes; then the lines join the cart (with their
notes) and the order goes on from where it stands.
"""

from __future__ import annotations

from fsm.cart import Cart
from fsm.errors import CartFull
from fsm.order_lifecycle import OrderStatus
from fsm.states import States
from routes.conversation import i18n
from routes.conversation.context import Context, describe_change
from routes.conversation.filters import ChoiceId
from routes.conversation.i18n import _, _n
from routes.conversation.router import Router
from routes.conversation.side_questions import REORDER
from routes.conversation.summary import line_title, money
from storage.records import OrderRecord

router = Router("reorder")


async def last_order(ctx: Context) -> OrderRecord | None:
    orders = await ctx.past_orders()
    completed = [order for order in orders if order.status == OrderStatus.COMPLETED]
    if completed:
        return completed[-1]
    placed = [order for order in orders if order.status != OrderStatus.CANCELLED]
    return placed[-1] if placed else None


def todays(ctx: Context, order: OrderRecord) -> tuple[Cart, list[str]]:
    """The order's lines as a cart of today's menu, and what changed, as the customer reads it."""
    cart = Cart.from_order_lines(order.lines)
    changes = cart.reconcile(ctx.restaurant, ctx.sold_out)
    return cart, [describe_change(change, ctx.local) for change in changes]


async def offer_same_again(ctx: Context) -> None:
    """The ``same again`` command."""
    order = await last_order(ctx)
    if order is None:
        ctx.say(_("You haven't ordered from us yet, so there's nothing to repeat."))
        ctx.ask()
        return
    cart, changed = todays(ctx, order)
    for note in changed:
        ctx.say(note)
    if cart.is_empty:
        ctx.say(_("Sorry, nothing from your last order {reference} is available today.",
                  reference=order.reference))
        ctx.ask()
        return
    lines = "\n".join(
        _("{quantity} × {item} — {price}", quantity=i18n.number(line.quantity),
          item=line_title(line, ctx.local), price=money(ctx.local, line.total))
        + (" " + _("(note: {note})", note=line.note) if line.note else "") for line in cart)
    ctx.say(_("Your last order {reference}, at today's prices:", reference=order.reference)
            + f"\n{lines}\n"
            + _("Subtotal: {amount}", amount=money(ctx.local, cart.subtotal)))
    ctx.session.asking = f"{REORDER}{order.reference}"
    ctx.ask()


@router.message(ChoiceId(REORDER))
async def accept_same_again(ctx: Context) -> None:
    reference = ctx.arg(REORDER)
    orders = [order for order in await ctx.past_orders() if order.reference == reference]
    if ctx.asked != f"{REORDER}{reference}" or not orders:
        ctx.say(_("That option is from an earlier step."))
        ctx.ask()
        return
    cart, changed = todays(ctx, orders[0])
    for note in changed:  # the menu changed since it was offered
        ctx.say(note)
    session = ctx.session
    added = 0
    for line in cart:
        item = ctx.restaurant.item(line.item_id)
        assert item is not None  # reconciled: on today's menu
        addons = [addon for addon in item.addons if addon.id in line.addon_ids]
        try:
            now = session.cart.add(item, addons, line.quantity)
        except CartFull as exc:
            ctx.say(_("Your cart is full ({count} different items): not everything was added.",
                      count=exc.limit))
            break
        if line.note and not now.note:
            session.cart.set_note(now.key, line.note)
        added += line.quantity
    ctx.say(_n("Added {count} item from your last order to your cart.",
               "Added {count} items from your last order to your cart.", added))
    if session.state in (*States.ORDERING, *States.CHECKOUT) and session.cart_not_empty:
        await ctx.fire("view_cart")
    ctx.ask()
