"""Words that work in every state: menu, cart, checkout, cancel, help.

The words, their aliases, the buttons that mean the same and the help text
all come from the commands declared in :data:`fsm.machine.ORDER_FLOW`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fsm.machine import ORDER_FLOW, MachineSpec
from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import ChoiceId, Command
from routes.conversation.handlers.cart_lines import ask_order_note
from routes.conversation.handlers.reorder import offer_same_again
from routes.conversation.order_news import order_news
from routes.conversation.questions import render_cart
from routes.conversation.router import Handler, Router
from storage.base import DraftRecord

router = Router("commands")


def help_text(spec: MachineSpec = ORDER_FLOW) -> str:
    """The answer to ``help``: how to pick options, then one line per declared command."""
    lines = [f"• {command.word} — {command.description}" for command in spec.commands]
    return ("Tap a button or a list option, or type its number or name; put a number "
            "before an item's name to add several.\n"
            "You can type these at any time:\n" + "\n".join(lines))


def on_command(word: str) -> Callable[[Handler], Handler]:
    """Register a handler for the declared command ``word``: typed, or its buttons."""
    command = ORDER_FLOW.command(word)

    def register(callback: Handler) -> Handler:
        for choice_id in command.choice_ids:
            router.message(ChoiceId(choice_id))(callback)
        return router.message(Command(*command.words))(callback)

    return register


HELP_TEXT: Final = help_text()
ORDER_TYPE_FIRST: Final = "First, tell me how you'd like to get your order."
PRE_ORDER: Final = (States.CHOOSING_ORDER_TYPE, States.CHOOSING_BRANCH)


@on_command("help")
async def show_help(ctx: Context) -> None:
    ctx.say(HELP_TEXT)
    ctx.ask()


@on_command("status")
async def show_order_status(ctx: Context) -> None:
    order = await ctx.latest_order()
    ctx.say("You haven't ordered from us yet." if order is None
            else order_news(order, ctx.restaurant, ask_rating=False))
    ctx.ask()


on_command("same again")(offer_same_again)
on_command("note")(ask_order_note)


@on_command("staff")
async def ask_for_a_person(ctx: Context) -> None:
    # From here the bot stays quiet in this conversation until staff hand it back.
    ctx.effects.handoff_requested = True
    ctx.say(f"Thanks — someone from {ctx.restaurant.name} will answer you here shortly.")


@on_command("cancel")
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


@on_command("menu")
async def show_menu(ctx: Context) -> None:
    if ctx.session.state in PRE_ORDER:
        ctx.say(ORDER_TYPE_FIRST if ctx.session.state == States.CHOOSING_ORDER_TYPE
                else "First, pick the branch you'll collect from.")
    else:
        await ctx.fire("show_menu")
    ctx.ask()


@on_command("cart")
async def show_cart(ctx: Context) -> None:
    session = ctx.session
    if session.cart.is_empty:
        ctx.say("Your cart is empty.")
    elif not await ctx.fire("view_cart"):
        ctx.say(f"Your cart:\n{render_cart(session, ctx.restaurant)}")
    ctx.ask()


@on_command("checkout")
async def start_checkout(ctx: Context) -> None:
    session = ctx.session
    if session.state in States.CHECKOUT:
        ctx.say("You're already at checkout.")
    elif session.cart.is_empty:
        ctx.say("Your cart is empty. Add something first.")
    elif not await ctx.fire("checkout"):
        ctx.say(ORDER_TYPE_FIRST)
    ctx.ask()
