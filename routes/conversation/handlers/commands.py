"""Words that work in every state: menu, cart, checkout, cancel, help."""

from __future__ import annotations

from typing import Final

from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import ChoiceId, Command
from routes.conversation.questions import render_cart
from routes.conversation.router import Router
from storage.base import DraftRecord

router = Router("commands")

HELP_TEXT: Final = (
    "Tap a button or a list option, or type its number or name; put a number "
    "before an item's name to add several.\n"
    "You can type these at any time:\n"
    "• menu — show the menu\n"
    "• cart — show your cart\n"
    "• checkout — finish your order\n"
    "• cancel — cancel your order and start again\n"
    "• help — show this message"
)
ORDER_TYPE_FIRST: Final = "First, tell me how you'd like to get your order."
PRE_ORDER: Final = (States.CHOOSING_ORDER_TYPE, States.CHOOSING_BRANCH)


@router.message(Command("help", "?"))
async def show_help(ctx: Context) -> None:
    ctx.say(HELP_TEXT)
    ctx.ask()


@router.message(Command("cancel", "cancel order"))
@router.message(ChoiceId("action:cancel"))
async def cancel_order(ctx: Context) -> None:
    session = ctx.session
    if session.cart.is_empty:
        ctx.say("There's nothing to cancel.")
    else:
        ctx.effects.drafts.append(
            DraftRecord(ctx.key, "cancelled", session.cart.describe(), ctx.now))
        ctx.say("Your order has been cancelled.")
    await ctx.fire("cancel")
    session.clear_order()
    ctx.ask()


@router.message(Command("menu"))
@router.message(ChoiceId("action:add_more"))
async def show_menu(ctx: Context) -> None:
    if ctx.session.state in PRE_ORDER:
        ctx.say(ORDER_TYPE_FIRST if ctx.session.state == States.CHOOSING_ORDER_TYPE
                else "First, pick the branch you'll collect from.")
    else:
        await ctx.fire("show_menu")
    ctx.ask()


@router.message(Command("cart", "view cart", "basket"))
@router.message(ChoiceId("action:view_cart"))
async def show_cart(ctx: Context) -> None:
    session = ctx.session
    if session.cart.is_empty:
        ctx.say("Your cart is empty.")
    elif not await ctx.fire("view_cart"):
        ctx.say(f"Your cart:\n{render_cart(session, ctx.restaurant)}")
    ctx.ask()


@router.message(Command("checkout", "check out", "pay"))
@router.message(ChoiceId("action:checkout"))
async def start_checkout(ctx: Context) -> None:
    session = ctx.session
    if session.state in States.CHECKOUT:
        ctx.say("You're already at checkout.")
    elif session.cart.is_empty:
        ctx.say("Your cart is empty. Add something first.")
    elif not await ctx.fire("checkout"):
        ctx.say(ORDER_TYPE_FIRST)
    ctx.ask()
