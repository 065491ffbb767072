"""Words that work in every state: menu, cart, checkout, cancel, language, help.

The words, their aliases, the buttons that mean the same and the help text
all come from the commands declared in :data:`fsm.machine.ORDER_FLOW`; a
command's words in every language are understood in every conversation.

``language`` asks which language (one button per language the restaurant
speaks); a language's own name typed (``English``, ``عربي``, ``Français``)
switches to it at once. The choice is the session's (``session.language``):
stored with it, so it outlives the order, a restart and the session's expiry.
Nothing else changes: the step, the cart and any side question stay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fsm.languages import LANGUAGE_NAMES, own_name
from fsm.machine import ORDER_FLOW, MachineSpec
from fsm.states import States
from routes.conversation import i18n
from routes.conversation.context import Context
from routes.conversation.filters import ChoiceId, Command
from routes.conversation.handlers.cart_lines import ask_order_note
from routes.conversation.handlers.checkout import refuse_below_minimum
from routes.conversation.handlers.reorder import offer_same_again
from routes.conversation.i18n import N_, _
from routes.conversation.matching import normalize
from routes.conversation.order_news import order_news
from routes.conversation.questions import render_cart
from routes.conversation.router import Handler, Router
from routes.conversation.side_questions import CHOOSE_LANGUAGE, LANGUAGE
from storage.base import DraftRecord

router = Router("commands")


def help_text(spec: MachineSpec = ORDER_FLOW) -> str:
    """The answer to ``help`` in the current language: how to pick options, then one line
    per declared command, its word in that language."""
    language = i18n.current()
    lines = [f"• {command.words_in(language)[0]} — {_(command.description)}"
             for command in spec.commands]
    return (_("Tap a button or a list option, or type its number or name; put a number "
              "before an item's name to add several.") + "\n"
            + _("You can type these at any time:") + "\n" + "\n".join(lines))


def on_command(word: str) -> Callable[[Handler], Handler]:
    """Register a handler for the declared command ``word``: typed, or its buttons."""
    command = ORDER_FLOW.command(word)

    def register(callback: Handler) -> Handler:
        for choice_id in command.choice_ids:
            router.message(ChoiceId(choice_id))(callback)
        return router.message(Command(*command.all_words))(callback)

    return register


HELP_TEXT: Final = help_text()  # in English
ORDER_TYPE_FIRST: Final = N_("First, tell me how you'd like to get your order.")
PRE_ORDER: Final = (States.CHOOSING_ORDER_TYPE, States.CHOOSING_BRANCH)


@on_command("help")
async def show_help(ctx: Context) -> None:
    ctx.say(help_text())
    ctx.ask()


def named_language(ctx: Context) -> str | None:
    """The restaurant's language whose name the customer typed, if they typed one alone."""
    if ctx.inbound.kind != "text" or not ctx.normalized_text:
        return None
    for language in ctx.restaurant.languages:
        if ctx.normalized_text in (normalize(name) for name in LANGUAGE_NAMES[language]):
            return language
    return None


@on_command("language")
async def ask_language(ctx: Context) -> None:
    if len(ctx.restaurant.languages) == 1:
        ctx.say(_("Sorry, we only speak {language} here.",
                  language=own_name(ctx.restaurant.languages[0])))
        ctx.session.asking = ctx.asked
    else:
        ctx.session.asking = LANGUAGE
    ctx.ask()


@router.message(lambda ctx: named_language(ctx) is not None)
async def language_by_name(ctx: Context) -> None:
    language = named_language(ctx)
    assert language is not None
    await switch_language(ctx, language)


@router.message(ChoiceId(CHOOSE_LANGUAGE))
async def language_chosen(ctx: Context) -> None:
    language = ctx.arg(CHOOSE_LANGUAGE)
    if language not in ctx.restaurant.languages:
        ctx.say(_("That option is from an earlier step."))
        ctx.ask()
        return
    await switch_language(ctx, language)


async def switch_language(ctx: Context, language: str) -> None:
    """Speak ``language`` from this reply on; the step, cart and open side question stay."""
    ctx.session.language = language
    i18n.switch_to(language)
    if ctx.asked != LANGUAGE:
        ctx.session.asking = ctx.asked  # the question that was open is asked again
    ctx.say(_("OK, let's carry on in English."))
    ctx.ask()


@on_command("status")
async def show_order_status(ctx: Context) -> None:
    order = await ctx.latest_order()
    ctx.say(_("You haven't ordered from us yet.") if order is None
            else order_news(order, ctx.restaurant, ask_rating=False, language=ctx.language))
    ctx.ask()


on_command("same again")(offer_same_again)
on_command("note")(ask_order_note)


@on_command("staff")
async def ask_for_a_person(ctx: Context) -> None:
    # From here the bot stays quiet in this conversation until staff hand it back.
    ctx.effects.handoff_requested = True
    ctx.say(_("Thanks — someone from {restaurant} will answer you here shortly.",
              restaurant=ctx.local.name))


@on_command("cancel")
async def cancel_order(ctx: Context) -> None:
    session = ctx.session
    if session.cart.is_empty:
        ctx.say(_("There's nothing to cancel."))
    else:
        ctx.effects.drafts.append(
            DraftRecord(ctx.key, "cancelled", session.cart.describe(), ctx.now))
        ctx.say(_("Your order has been cancelled."))
    await ctx.fire("cancel")
    session.clear_order()
    ctx.ask()


@on_command("menu")
async def show_menu(ctx: Context) -> None:
    if ctx.session.state in PRE_ORDER:
        ctx.say(_(ORDER_TYPE_FIRST) if ctx.session.state == States.CHOOSING_ORDER_TYPE
                else _("First, pick the branch you'll collect from."))
    else:
        await ctx.fire("show_menu")
    ctx.ask()


@on_command("cart")
async def show_cart(ctx: Context) -> None:
    session = ctx.session
    if session.cart.is_empty:
        ctx.say(_("Your cart is empty."))
    elif not await ctx.fire("view_cart"):
        ctx.say(_("Your cart:") + "\n" + render_cart(session, ctx.local))
    ctx.ask()


@on_command("checkout")
async def start_checkout(ctx: Context) -> None:
    session = ctx.session
    if session.state in States.CHECKOUT:
        ctx.say(_("You're already at checkout."))
    elif session.cart.is_empty:
        ctx.say(_("Your cart is empty. Add something first."))
    elif refuse_below_minimum(ctx):
        pass  # the customer stays where they are, in the cart or the menu
    elif not await ctx.fire("checkout"):
        ctx.say(_(ORDER_TYPE_FIRST))
    ctx.ask()
