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
"""

from __future__ import annotations

from typing import Final

from fsm.cart import NOTE_MAX
from fsm.config import Restaurant
from fsm.session import DELIVERY, Session
from routes.conversation.messages import Option, Outgoing, Section, buttons, list_message
from routes.conversation.summary import money

GREETING: Final = "greeting"
FINISH: Final = "finish"
SWITCH: Final = "switch:"
LINE: Final = "line:"
NOTE: Final = "note:"
ORDER_NOTE: Final = "note:order"
REORDER: Final = "reorder:"
KEEP: Final = "action:keep"
ORDER_TYPE_NAMES: Final = {"delivery": "delivery", "pickup": "pickup"}


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
        return ask_note(session, asking[len(NOTE):])
    if asking.startswith(REORDER):
        return buttons("Would you like these in your cart?", [
            Option(asking, "Add to cart", keywords=("yes", "same again", "add")),
            Option(KEEP, "No thanks", keywords=("no",))])
    return None


def ask_carry_on(session: Session, restaurant: Restaurant) -> Outgoing:
    cart = session.cart
    where = (f"You have {cart.item_count} item{'s' if cart.item_count != 1 else ''} in your "
             f"cart ({money(restaurant, cart.subtotal)})." if not cart.is_empty
             else "You're in the middle of an order.")
    return buttons(f"Hello again! {where} Carry on where you left off, or start over?", [
        Option("action:carry_on", "Carry on", keywords=("continue", "yes", "go on")),
        Option("action:start_over", "Start over", keywords=("restart", "new order"))])


def ask_finish(session: Session, restaurant: Restaurant) -> Outgoing | None:
    pending = session.pending
    item = restaurant.item(pending.item_id) if pending else None
    if pending is None or item is None:
        return None
    chosen = [addon.name for addon in item.addons if addon.id in pending.addon_ids]
    what = f"{pending.quantity} × {item.name}" if pending.quantity > 1 else item.name
    if chosen:
        what += f" with {', '.join(chosen)}"
    return buttons(f"You haven't finished adding {what}: it's not in your cart yet. "
                   "Add it to your cart before we go on?", [
                       Option("action:finish_add", "Add it", keywords=("yes", "add")),
                       Option("action:finish_drop", "Leave it out", keywords=("no", "drop")),
                       Option("action:finish_keep", "Keep choosing",
                              keywords=("extras", "back"))])


def ask_switch(session: Session, restaurant: Restaurant, kind: str) -> Outgoing | None:
    current = session.order_type
    if current is None or current == kind or kind not in restaurant.order_types:
        return None
    if kind == DELIVERY:
        branch = restaurant.branch(session.branch_id or "")
        where = f" from {branch.name}" if branch else ""
        fee = (f" A delivery fee of {money(restaurant, restaurant.delivery_fee)} will be "
               "added." if restaurant.delivery_fee else "")
        body = f"You're ordering for pickup{where}. Switch to delivery?{fee}"
    else:
        body = "You're ordering for delivery. Switch to pickup? There's no delivery fee then."
    return buttons(body, [
        Option(f"{SWITCH}{kind}", f"Switch to {kind}", keywords=("yes", "switch")),
        Option(KEEP, f"Keep {ORDER_TYPE_NAMES.get(current, current)}", keywords=("no", "keep"))])


def ask_line(session: Session, restaurant: Restaurant, key: str) -> Outgoing | None:
    line = session.cart.line(key)
    if line is None:
        return None
    note = f"\nNote: {line.note}" if line.note else ""
    rows = [Option(f"line_remove:{key}", "Remove it", f"Take {line.name} out of your cart",
                   keywords=("remove", "delete"))]
    if line.quantity > 1:
        rows.append(Option(f"remove:{key}", "One less", f"Make it {line.quantity - 1}"))
    rows += [Option(f"line_note:{key}", "Change the note" if line.note else "Add a note",
                    "Allergies, \"no onions\"…", keywords=("note",)),
             Option("action:view_cart", "Back to cart", keywords=("back", "keep"))]
    return list_message(
        f"{line.quantity} × {line.title} — {money(restaurant, line.unit_price)} each.{note}\n"
        "Type how many you'd like (0 removes it), or pick an option.",
        "Options", [Section(line.name, tuple(rows))])


def ask_note(session: Session, target: str) -> Outgoing | None:
    if target == "order":
        what, current = "your order", session.order_note
    else:
        line = session.cart.line(target)
        if line is None:
            return None
        what, current = line.title, line.note
    now = f"\nThe note now: {current}" if current else ""
    options = [Option("action:skip_note", "Skip", keywords=("cancel", "back"))]
    if current:
        options.append(Option("action:clear_note", "Remove the note"))
    return buttons(f"Type your note for {what} (allergies, \"no onions\"…), up to {NOTE_MAX} "
                   f"characters.{now}", options)
