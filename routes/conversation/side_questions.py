"""Side questions: asked before the step's own question while one is open.

``session.asking`` names the open one. It is asked instead of the step's
question (:func:`routes.conversation.questions.question_messages`), so a typed
answer is matched against its options like any other; it is closed when the
next message is handled (the dispatcher hands it to the handler as
``ctx.asked``), and reopened only by a handler that asks it again.

- ``"greeting"``: a greeting in the middle of an order — carry on or start over?
- ``"finish"``: the customer asked for something else while an item waited for
  its add-ons — add it first, leave it out, or keep choosing?
- ``"switch:<order type>"``: an old Delivery/Pickup tap — switch, or keep?
- ``"line:<key>"``: one cart line — a typed quantity, remove it, a note.
- ``"note:<key>"`` / ``"note:order"``: type a note for the line or the order.
- ``"reorder:<reference>"``: add a past order's lines to the cart?
- ``"language"``: which language? (one button per language the restaurant speaks)
"""

from __future__ import annotations

from typing import Final

from fsm.cart import NOTE_MAX
from fsm.config import Restaurant
from fsm.languages import own_name
from fsm.session import DELIVERY, Session
from routes.conversation import i18n
from routes.conversation.i18n import N_, _, _k, _n
from routes.conversation.messages import (
    Option,
    Outgoing,
    Section,
    buttons,
    choice,
    list_message,
)
from routes.conversation.summary import line_name, line_title, money

GREETING: Final = "greeting"
FINISH: Final = "finish"
SWITCH: Final = "switch:"
LINE: Final = "line:"
NOTE: Final = "note:"
ORDER_NOTE: Final = "note:order"
REORDER: Final = "reorder:"
KEEP: Final = "action:keep"
LANGUAGE: Final = "language"
CHOOSE_LANGUAGE: Final = "language:"
ORDER_TYPE_NAMES: Final = {"delivery": N_("delivery"), "pickup": N_("pickup")}


def order_type_name(kind: str) -> str:
    """``delivery`` or ``pickup`` as a word inside a sentence."""
    name = ORDER_TYPE_NAMES.get(kind)
    return _(name) if name else kind


def side_question(session: Session, restaurant: Restaurant) -> Outgoing | None:
    """The open side question, or ``None`` (none open, or what it was about is gone)."""
    asking = session.asking
    if asking is None:
        return None
    if asking == GREETING:
        return ask_carry_on(session, restaurant)
    if asking == FINISH:
        return ask_finish(session, restaurant)
    if asking.startswith(SWITCH):
        return ask_switch(session, restaurant, asking[len(SWITCH):])
    if asking.startswith(LINE):
        return ask_line(session, restaurant, asking[len(LINE):])
    if asking.startswith(NOTE):
        return ask_note(session, restaurant, asking[len(NOTE):])
    if asking.startswith(REORDER):
        return buttons(_("Would you like these in your cart?"), [
            Option(asking, _("Add to cart"), keywords=_k("yes|same again|add")),
            Option(KEEP, _("No thanks"), keywords=_k("no"))])
    if asking == LANGUAGE:
        return ask_language(restaurant)
    return None


def ask_language(restaurant: Restaurant) -> Outgoing:
    """One option per language the restaurant speaks, each titled in its own language."""
    options = [Option(f"{CHOOSE_LANGUAGE}{language}", own_name(language))
               for language in restaurant.languages]
    return choice(_("Which language would you like?"), options, button=_("Languages"))


def ask_carry_on(session: Session, restaurant: Restaurant) -> Outgoing:
    cart = session.cart
    where = (_n("You have {count} item in your cart ({amount}).",
                "You have {count} items in your cart ({amount}).", cart.item_count,
                amount=money(restaurant, cart.subtotal)) if not cart.is_empty
             else _("You're in the middle of an order."))
    return buttons(_("Hello again! {where} Carry on where you left off, or start over?",
                     where=where), [
        Option("action:carry_on", _("Carry on"), keywords=_k("continue|yes|go on")),
        Option("action:start_over", _("Start over"), keywords=_k("restart|new order"))])


def ask_finish(session: Session, restaurant: Restaurant) -> Outgoing | None:
    pending = session.pending
    item = restaurant.item(pending.item_id) if pending else None
    if pending is None or item is None:
        return None
    chosen = [addon.name for addon in item.addons if addon.id in pending.addon_ids]
    what = (_("{quantity} × {item}", quantity=i18n.number(pending.quantity), item=item.name)
            if pending.quantity > 1 else item.name)
    if chosen:
        what = _("{item} with {extras}", item=what, extras=", ".join(chosen))
    return buttons(_("You haven't finished adding {item}: it's not in your cart yet. "
                     "Add it to your cart before we go on?", item=what), [
                       Option("action:finish_add", _("Add it"), keywords=_k("yes|add")),
                       Option("action:finish_drop", _("Leave it out"), keywords=_k("no|drop")),
                       Option("action:finish_keep", _("Keep choosing"),
                              keywords=_k("extras|back"))])


def ask_switch(session: Session, restaurant: Restaurant, kind: str) -> Outgoing | None:
    current = session.order_type
    if current is None or current == kind or kind not in restaurant.order_types:
        return None
    if kind == DELIVERY:
        branch = restaurant.branch(session.branch_id or "")
        body = (_("You're ordering for pickup from {branch}. Switch to delivery?",
                  branch=branch.name) if branch
                else _("You're ordering for pickup. Switch to delivery?"))
        if restaurant.delivery_fee:
            body += " " + _("A delivery fee of {amount} will be added.",
                            amount=money(restaurant, restaurant.delivery_fee))
    else:
        body = _("You're ordering for delivery. Switch to pickup? There's no delivery fee then.")
    return buttons(body, [
        Option(f"{SWITCH}{kind}", _("Switch to {order_type}", order_type=order_type_name(kind)),
               keywords=_k("yes|switch")),
        Option(KEEP, _("Keep {order_type}", order_type=order_type_name(current)),
               keywords=_k("no|keep"))])


def ask_line(session: Session, restaurant: Restaurant, key: str) -> Outgoing | None:
    line = session.cart.line(key)
    if line is None:
        return None
    name = line_name(line, restaurant)
    note = "\n" + _("Note: {note}", note=line.note) if line.note else ""
    rows = [Option(f"line_remove:{key}", _("Remove it"),
                   _("Take {item} out of your cart", item=name),
                   keywords=_k("remove|delete"))]
    if line.quantity > 1:
        rows.append(Option(f"remove:{key}", _("One less"),
                           _("Make it {quantity}", quantity=i18n.number(line.quantity - 1))))
    rows += [Option(f"line_note:{key}", _("Change the note") if line.note else _("Add a note"),
                    _("Allergies, \"no onions\"…"), keywords=_k("note")),
             Option("action:view_cart", _("Back to cart"), keywords=_k("back|keep"))]
    return list_message(
        _("{quantity} × {item} — {price} each.", quantity=i18n.number(line.quantity),
          item=line_title(line, restaurant), price=money(restaurant, line.unit_price))
        + note + "\n" + _("Type how many you'd like (0 removes it), or pick an option."),
        _("Options"), [Section(name, tuple(rows))])


def ask_note(session: Session, restaurant: Restaurant, target: str) -> Outgoing | None:
    if target == "order":
        current = session.order_note
        asked = _("Type your note for your order (allergies, \"no onions\"…), up to {limit} "
                  "characters.", limit=i18n.number(NOTE_MAX))
    else:
        line = session.cart.line(target)
        if line is None:
            return None
        current = line.note
        asked = _("Type your note for {item} (allergies, \"no onions\"…), up to {limit} "
                  "characters.", item=line_title(line, restaurant), limit=i18n.number(NOTE_MAX))
    now = "\n" + _("The note now: {note}", note=current) if current else ""
    options = [Option("action:skip_note", _("Skip"), keywords=_k("cancel|back"))]
    if current:
        options.append(Option("action:clear_note", _("Remove the note")))
    return buttons(asked + now, options)
