"""Detours from the flow that ask before changing anything (issue 14 item 5).

- an item waiting for its add-ons is never silently dropped: asking for
  something else first asks whether it goes in the cart (:data:`guard`, a
  router put before the commands), then does what was asked;
- an old Delivery/Pickup tap asks before switching (and before adding the fee);
- a greeting in the middle of an order offers to carry on or start over.
"""

from __future__ import annotations

from typing import Final

from fsm.machine import ORDER_FLOW
from fsm.session import DELIVERY, PICKUP
from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import ChoiceId
from routes.conversation.handlers.ordering import add_pending_to_cart, apply_order_type
from routes.conversation.i18n import _
from routes.conversation.matching import normalize
from routes.conversation.router import Router
from routes.conversation.side_questions import FINISH, GREETING, KEEP, SWITCH, order_type_name
from routes.conversation.summary import money
from storage.base import DraftRecord

guard = Router("waiting item")  # before the commands: "cart" must not lose the item
router = Router("detours")

GREETINGS: Final = frozenset((
    "hi", "hello", "hey", "hiya", "heya", "yo", "hola", "ciao", "salut", "bonjour", "hallo",
    "servus", "moin", "ola", "oi", "salaam", "salam", "marhaba", "merhaba", "namaste",
    "good morning", "good afternoon", "good evening", "morning", "evening", "howdy",
    "hi there", "hello there", "hey there", "hi again", "hello again", "greetings", "sup",
    "مرحبا", "مرحبًا", "أهلا", "أهلًا", "اهلا وسهلا", "السلام عليكم", "سلام", "هلا",
    "صباح الخير", "مساء الخير", "coucou", "bonsoir", "salut salut",
))
_GREETING_FORMS: Final = frozenset(normalize(greeting) for greeting in GREETINGS)
# What leaves the add-ons step: another item or category, the menu, the cart, checkout,
# an order type or branch.
LEAVING: Final = ("item:", "category:", "order_type:", "branch:", "action:add_more",
                  "action:view_cart", "action:checkout")
LEAVING_WORDS: Final = {normalize(word): ORDER_FLOW.command(command).choice_ids[0]
                        for command in ("menu", "cart", "checkout")
                        for word in ORDER_FLOW.command(command).all_words}


def in_the_middle(ctx: Context) -> bool:
    """An order has begun: a step past the first, or something in the cart."""
    session = ctx.session
    return session.state != ORDER_FLOW.initial or not session.cart.is_empty


def leaves_waiting_item(ctx: Context) -> bool:
    session = ctx.session
    if session.state != States.CHOOSING_ADDONS or session.pending is None:
        return False
    choice = ctx.choice
    if choice is not None:
        return choice.startswith(LEAVING)
    return ctx.inbound.kind == "text" and ctx.normalized_text in LEAVING_WORDS


@guard.message(leaves_waiting_item)
async def ask_about_waiting_item(ctx: Context) -> None:
    pending = ctx.session.pending
    assert pending is not None
    pending.then = ctx.choice or LEAVING_WORDS[ctx.normalized_text]
    pending.then_quantity = ctx.quantity if ctx.choice else 1
    ctx.session.asking = FINISH
    ctx.ask()


@router.message(ChoiceId("action:finish_"), state=States.CHOOSING_ADDONS)
async def answer_about_waiting_item(ctx: Context) -> None:
    session, pending = ctx.session, ctx.session.pending
    if pending is None or ctx.asked != FINISH:
        ctx.say(_("That option is from an earlier step."))
        ctx.ask()
        return
    then, quantity = pending.then, pending.then_quantity
    pending.then = None
    if ctx.choice == "action:finish_keep":
        ctx.ask()
        return
    if ctx.choice == "action:finish_add":
        await add_pending_to_cart(ctx, ask=False)
    else:
        item = ctx.local.item(pending.item_id)
        ctx.say(_("OK, I've left out {item}.", item=item.name) if item
                else _("OK, I've left out that item."))
        session.pending = None
        await ctx.fire("show_menu")
    if then is None:
        ctx.ask()
    else:
        await ctx.replay(then, quantity)


def is_greeting(ctx: Context) -> bool:
    return ctx.inbound.kind == "text" and ctx.normalized_text in _GREETING_FORMS


@router.message(is_greeting, in_the_middle)
async def greeting_in_the_middle(ctx: Context) -> None:
    ctx.session.asking = GREETING
    ctx.ask()


@router.message(ChoiceId("action:carry_on"))
async def carry_on(ctx: Context) -> None:
    ctx.say(_("Great, let's carry on."))
    ctx.ask()


@router.message(ChoiceId("action:start_over"))
async def start_over(ctx: Context) -> None:
    session = ctx.session
    if ctx.asked != GREETING:
        ctx.say(_("That option is from an earlier step."))
        ctx.ask()
        return
    if not session.cart.is_empty:
        ctx.effects.drafts.append(
            DraftRecord(ctx.key, "restarted", session.cart.describe(), ctx.now))
    await ctx.fire("cancel")
    session.clear_order()
    ctx.say(_("OK, let's start a new order."))
    ctx.ask()


@router.message(ChoiceId(SWITCH))
async def switch_order_type(ctx: Context) -> None:
    kind = ctx.arg(SWITCH)
    if ctx.asked != f"{SWITCH}{kind}" or kind not in (DELIVERY, PICKUP):
        ctx.say(_("That option is from an earlier step."))
        ctx.ask()
        return
    if kind == DELIVERY and ctx.restaurant.delivery_fee and not ctx.session.cart.is_empty:
        ctx.say(_("Switched to delivery: a delivery fee of {amount} is added.",
                  amount=money(ctx.local, ctx.restaurant.delivery_fee)))
    else:
        ctx.say(_("Switched to {order_type}.", order_type=order_type_name(kind)))
    await apply_order_type(ctx, kind)


@router.message(ChoiceId(KEEP))
async def keep_as_is(ctx: Context) -> None:
    asked = ctx.asked or ""
    if asked.startswith(SWITCH) and ctx.session.order_type:
        ctx.say(_("OK, still {order_type}.", order_type=order_type_name(ctx.session.order_type)))
    else:
        ctx.say(_("OK."))
    ctx.ask()

