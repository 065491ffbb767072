"""Changing the cart line by line, and notes (issue 14 items 5 and 8).

The cart lists its lines ("Change Margherita"); a line offers "Remove it",
"One less", a note, and takes a typed quantity (``3``; ``0`` removes it).
Notes are free text up to :data:`~fsm.cart.NOTE_MAX` characters: one per line
(from the line's options) and one for the whole order (``note``, or
``note no onions please`` in one message). Both are shown in the order summary
before confirming and stored on the order.
"""

from __future__ import annotations

from fsm.cart import NOTE_MAX
from fsm.machine import ORDER_FLOW
from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import ChoiceId
from routes.conversation.i18n import N_, _
from routes.conversation.matching import normalize
from routes.conversation.router import Router
from routes.conversation.side_questions import LINE, NOTE, ORDER_NOTE
from routes.conversation.summary import line_title

router = Router("cart lines")

NOTE_WORDS = frozenset(normalize(word) for word in ORDER_FLOW.command("note").all_words)
GONE = N_("That's no longer in your cart.")


async def _back_to_cart(ctx: Context) -> None:
    if ctx.session.cart.is_empty:
        ctx.say(_("Your cart is now empty."))
        await ctx.fire("show_menu")
    else:
        await ctx.fire("view_cart")
    ctx.ask()


@router.message(ChoiceId(LINE))
async def open_line(ctx: Context) -> None:
    key = ctx.arg(LINE)
    if ctx.session.cart.line(key) is None:
        ctx.say(_(GONE))
        await _back_to_cart(ctx)
        return
    ctx.session.asking = f"{LINE}{key}"
    ctx.ask()


@router.message(ChoiceId("quantity:"))
async def set_line_quantity(ctx: Context) -> None:
    asked = ctx.asked or ""
    line = ctx.session.cart.line(asked[len(LINE):]) if asked.startswith(LINE) else None
    if line is None:
        ctx.say(_(GONE))
        await _back_to_cart(ctx)
        return
    quantity = int(ctx.arg("quantity:"))
    ctx.session.cart.set_quantity(line.key, quantity)
    title = line_title(line, ctx.local)
    ctx.say(_("Removed {item}.", item=title) if quantity == 0
            else _("Now {quantity} × {item}.", quantity=quantity, item=title))
    await _back_to_cart(ctx)


@router.message(ChoiceId("line_remove:"))
async def remove_line(ctx: Context) -> None:
    line = ctx.session.cart.line(ctx.arg("line_remove:"))
    if line is None:
        ctx.say(_(GONE))
    else:
        ctx.session.cart.remove(line.key)
        ctx.say(_("Removed {item}.", item=line_title(line, ctx.local)))
    await _back_to_cart(ctx)


@router.message(ChoiceId("line_note:"))
async def ask_line_note(ctx: Context) -> None:
    key = ctx.arg("line_note:")
    if ctx.session.cart.line(key) is None:
        ctx.say(_(GONE))
        await _back_to_cart(ctx)
        return
    ctx.session.asking = f"{NOTE}{key}"
    ctx.ask()


def typing_a_note(ctx: Context) -> bool:
    asking = ctx.asked or ctx.session.asking or ""
    return (asking.startswith(NOTE) and ctx.inbound.kind == "text" and ctx.choice is None
            and bool(ctx.inbound.text.strip()))


def note_in_one_message(ctx: Context) -> bool:
    """``note no onions please``: the order's note typed with the command word."""
    if ctx.inbound.kind != "text" or ctx.choice is not None:
        return False
    first = ctx.inbound.text.split(maxsplit=1)
    return len(first) == 2 and normalize(first[0]) in NOTE_WORDS


@router.message(note_in_one_message)
async def order_note_at_once(ctx: Context) -> None:
    await _set_note(ctx, ORDER_NOTE, ctx.inbound.text.split(maxsplit=1)[1])


@router.message(typing_a_note)
async def note_typed(ctx: Context) -> None:
    await _set_note(ctx, ctx.asked or "", ctx.inbound.text)


async def _set_note(ctx: Context, asked: str, typed: str | None) -> None:
    """Put ``typed`` (``None``: no note) on what ``asked`` names, then go back."""
    session = ctx.session
    note = " ".join(typed.split()) if typed is not None else None
    if note is not None and len(note) > NOTE_MAX:
        ctx.say(_("That note is {length} characters long: please keep it to {limit}.",
                  length=len(note), limit=NOTE_MAX))
        session.asking = asked
        ctx.ask()
        return
    if asked == ORDER_NOTE:
        session.order_note = note or None
        ctx.say(_("Note for your order: {note}", note=note) if note
                else _("The order's note is removed."))
        ctx.ask()
        return
    line = session.cart.set_note(asked[len(NOTE):], note or None)
    if line is None:
        ctx.say(_(GONE))
    else:
        title = line_title(line, ctx.local)
        ctx.say(_("Note for {item}: {note}", item=title, note=note) if note
                else _("Removed the note for {item}.", item=title))
    await _back_to_cart(ctx)


@router.message(ChoiceId("action:skip_note"))
async def skip_note(ctx: Context) -> None:
    asked = ctx.asked or ""
    if asked.startswith(NOTE) and asked != ORDER_NOTE:
        await _back_to_cart(ctx)
        return
    ctx.ask()


@router.message(ChoiceId("action:clear_note"))
async def clear_note(ctx: Context) -> None:
    asked = ctx.asked or ""
    if not asked.startswith(NOTE):
        ctx.say(_("That option is from an earlier step."))
        ctx.ask()
        return
    await _set_note(ctx, asked, None)


async def ask_order_note(ctx: Context) -> None:
    """The ``note`` command alone: ask for the order's note (the line's, if one is open)."""
    asked = ctx.asked or ""
    if asked.startswith(LINE) and ctx.session.cart.line(asked[len(LINE):]) is not None:
        ctx.session.asking = f"{NOTE}{asked[len(LINE):]}"
        ctx.ask()
        return
    if ctx.session.cart.is_empty and ctx.session.state not in States.CHECKOUT:
        ctx.say(_("Add something to your cart first, then type \"note\" to add a note."))
        ctx.ask()
        return
    ctx.session.asking = ORDER_NOTE
    ctx.ask()
