"""Checkout: delivery address, payment method, confirmation and the order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from fsm.session import Address
from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import ChoiceId, is_location, is_text
from routes.conversation.gate import branch_closed
from routes.conversation.i18n import _
from routes.conversation.matching import names_menu_entry
from routes.conversation.messages import text
from routes.conversation.questions import order_total
from routes.conversation.router import Router
from routes.conversation.side_questions import SWITCH
from routes.conversation.summary import money
from storage.base import ORDER_NOTE_FIELD, OrderRecord, order_lines

router = Router("checkout")

ADDRESS_MIN_LENGTH: Final = 8
ADDRESS_MAX_LENGTH: Final = 300
CONFIRMED: Final = "CONFIRMED"


def order_lines_with_note(lines: Sequence[Mapping[str, Any]],
                          note: str | None) -> tuple[Mapping[str, Any], ...]:
    """The order's lines as stored: each line's ``note``, and the order's note (if any) as
    :data:`ORDER_NOTE_FIELD` of the first line."""
    stored = [dict(line) for line in lines]
    if note and stored:
        stored[0][ORDER_NOTE_FIELD] = note
    return order_lines(stored)


def refuse_below_minimum(ctx: Context) -> bool:
    """Whether the cart is below the restaurant's minimum order for its order type; if so,
    the customer is told the minimum and how much is missing, and is shown the cart."""
    session = ctx.session
    missing = ctx.restaurant.missing_for_minimum(session.order_type, session.cart.subtotal)
    if not missing:
        return False
    amounts = {"minimum": money(ctx.local, ctx.restaurant.minimum_order.for_order_type(
        session.order_type)), "missing": money(ctx.local, missing)}
    ctx.say(_("Sorry, the minimum order for delivery is {minimum}. Please add {missing} more "
              "to check out.", **amounts) if session.is_delivery else
            _("Sorry, the minimum order for pickup is {minimum}. Please add {missing} more "
              "to check out.", **amounts))
    return True


@router.message(is_location, state=States.CHECKOUT_ADDRESS)
async def address_from_pin(ctx: Context) -> None:
    pin = ctx.inbound.location
    assert pin is not None
    if not ctx.restaurant.delivers_to(pin.latitude, pin.longitude):
        ctx.say(_("Sorry, that location is outside our delivery area."))
        if "pickup" in ctx.restaurant.order_types:
            # Offer pickup (the cart stays); "keep delivery" asks for another address.
            ctx.session.asking = f"{SWITCH}pickup"
        ctx.ask()
        return
    label = pin.address or pin.name
    await _set_address(ctx, Address(label, pin.latitude, pin.longitude))


@router.message(is_text, state=States.CHECKOUT_ADDRESS)
async def address_from_text(ctx: Context) -> None:
    if not ctx.restaurant.typed_addresses:
        ctx.say(_("Sorry, we can only deliver to a location pin: please share your location "
                  "instead of typing it."))
        ctx.ask()
        return
    typed = " ".join(ctx.inbound.text.split())
    if names_menu_entry(typed, ctx.restaurant):
        # "2 margherita" while asked for an address: the customer means the order.
        ctx.say(_("That looks like something from our menu, not an address. To change your "
                  "order, type \"cart\"; to carry on, type your delivery address (street, "
                  "number and postcode) or share your location pin."))
        ctx.ask()
        return
    if len(typed) < ADDRESS_MIN_LENGTH:
        ctx.say(_("That looks too short for an address. Please type the street, number and "
                  "postcode, or share your location pin."))
        ctx.ask()
        return
    await _set_address(ctx, Address(typed[:ADDRESS_MAX_LENGTH]))


async def _set_address(ctx: Context, address: Address) -> None:
    ctx.session.address = address
    await ctx.fire("give_address")
    ctx.say(_("Delivering to: {address}", address=address.describe()))
    ctx.ask()


@router.message(ChoiceId("payment:"),
                state=(States.CHECKOUT_PAYMENT, States.CHECKOUT_CONFIRMATION))
async def choose_payment(ctx: Context) -> None:
    method = ctx.arg("payment:")
    if method not in ctx.restaurant.payment_methods:
        ctx.say(_("Sorry, we don't accept that payment method."))
    else:
        ctx.session.payment_method = method
        await ctx.fire("choose_payment")
    ctx.ask()


@router.message(ChoiceId("action:confirm"), state=States.CHECKOUT_CONFIRMATION)
async def confirm_order(ctx: Context) -> None:
    session, restaurant = ctx.session, ctx.restaurant
    if session.order_type is None or session.payment_method is None:
        ctx.ask()
        return
    if ctx.cart_changed:
        # The menu changed the cart this message: what is left, as priced now, must be
        # seen and confirmed again (reconcile already left an emptied cart's checkout).
        if not session.cart.is_empty:
            ctx.say(_("Please check your order again before confirming."))
        ctx.ask()
        return
    if refuse_below_minimum(ctx):
        # The menu or the minimum changed since checkout: back to the cart, to add more.
        await ctx.fire("view_cart")
        ctx.ask()
        return
    if session.is_pickup and not restaurant.branch_open(session.branch_id, ctx.now):
        ctx.say(branch_closed(ctx, session.branch_id or ""))  # confirmed once it opens
        ctx.ask()
        return
    total, fee = order_total(session, restaurant)
    reference = await ctx.new_reference(restaurant.id)
    order = OrderRecord(
        reference=reference,
        restaurant_id=restaurant.id,
        customer_id=ctx.key.customer_id,
        status=CONFIRMED,
        order_type=session.order_type,
        branch_id=session.branch_id,
        address=session.address.describe() if session.address else None,
        payment_method=session.payment_method,
        currency=restaurant.currency,
        total_minor=total,
        delivery_fee_minor=fee,
        lines=order_lines_with_note(session.cart.describe()["lines"], session.order_note),
        created_at=ctx.now,
    )
    if not await ctx.fire("confirm"):
        ctx.ask()
        return
    ctx.effects.orders.append(order)
    if session.is_pickup:
        branch = ctx.local.branch(session.branch_id or "")
        when = _("We'll let you know when it's ready for pickup at {branch}.",
                 branch=branch.name if branch else "")
    else:
        when = _("We'll let you know when it's on its way.")
    session.clear_order()
    ctx.send(text(_("Thank you! Your order {reference} is confirmed. Total: {amount}.",
                    reference=reference, amount=money(ctx.local, total))
                  + f"\n{when}\n\n" + _("Send any message when you'd like to order again.")))
