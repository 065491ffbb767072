"""The cart and the order as the customer reads them: lines, notes, fee, total.

Every function takes the restaurant as the customer sees it — in their
language (:meth:`~fsm.menu.Restaurant.in_language`) — and writes in the
current language (:mod:`routes.conversation.i18n`). A cart line keeps the
name it was added with (in the restaurant's default language, as orders are
stored for staff); it is shown with the item's name in the customer's language
while the menu still has the item.
"""

from __future__ import annotations

from fsm.cart import CartLine
from fsm.config import Restaurant
from fsm.session import Session
from routes.conversation import i18n
from routes.conversation.i18n import N_, _

# Payment method ids with a translated title; others are shown as written (bank_transfer →
# Bank transfer).
PAYMENT_TITLES = {"cash": N_("Cash"), "card": N_("Card"), "bank_transfer": N_("Bank transfer"),
                  "card_on_delivery": N_("Card on delivery")}


def money(restaurant: Restaurant, minor: int) -> str:
    """Minor units of the restaurant's currency as the customer's language writes them."""
    return i18n.money(minor, restaurant.currency)


def payment_title(restaurant: Restaurant, method: str) -> str:
    title = PAYMENT_TITLES.get(method)
    return _(title) if title else restaurant.payment_title(method)


def line_name(line: CartLine, restaurant: Restaurant) -> str:
    """The line's item as ``restaurant`` (in the customer's language) names it."""
    item = restaurant.item(line.item_id)
    return item.name if item is not None else line.name


def line_title(line: CartLine, restaurant: Restaurant) -> str:
    """The line's item and add-ons (``Pepperoni + Extra cheese``) in the customer's language."""
    item = restaurant.item(line.item_id)
    if item is None:
        return line.title
    addons = [addon.name if (addon := item.addon(addon_id)) else name
              for addon_id, name in zip(line.addon_ids, line.addon_names, strict=False)]
    return f"{item.name} + {', '.join(addons)}" if addons else item.name


def render_lines(lines: list[CartLine], restaurant: Restaurant) -> list[str]:
    """One text line per cart line, with its note under it."""
    rendered: list[str] = []
    for line in lines:
        rendered.append(_("{quantity} × {item} — {price}", quantity=i18n.number(line.quantity),
                          item=line_title(line, restaurant),
                          price=money(restaurant, line.total)))
        if line.note:
            rendered.append("    " + _("Note: {note}", note=line.note))
    return rendered


def render_cart(session: Session, restaurant: Restaurant) -> str:
    """The cart as text lines (each with its note), with subtotal, delivery fee and total."""
    if session.cart.is_empty:
        return _("Your cart is empty.")
    lines = render_lines(list(session.cart), restaurant)
    fee = restaurant.delivery_fee if session.is_delivery else 0
    lines.append(_("Subtotal: {amount}", amount=money(restaurant, session.cart.subtotal)))
    if fee:
        lines.append(_("Delivery: {amount}", amount=money(restaurant, fee)))
    lines.append(_("Total: {amount}", amount=money(restaurant, session.cart.total(fee))))
    return "\n".join(lines)


def order_total(session: Session, restaurant: Restaurant) -> tuple[int, int]:
    """``(total, delivery_fee)`` in minor units."""
    fee = restaurant.delivery_fee if session.is_delivery and not session.cart.is_empty else 0
    return session.cart.total(fee), fee


def render_order_summary(session: Session, restaurant: Restaurant) -> str:
    parts = [render_cart(session, restaurant)]
    if session.order_note:
        parts.append(_("Note for the order: {note}", note=session.order_note))
    if session.is_delivery and session.address is not None:
        parts.append(_("Deliver to: {address}", address=session.address.describe()))
    if session.is_pickup:
        branch = restaurant.branch(session.branch_id or "")
        parts.append(_("Pickup at: {branch}",
                       branch=branch.name if branch else session.branch_id))
    if session.payment_method:
        parts.append(_("Payment: {method}",
                       method=payment_title(restaurant, session.payment_method)))
    return "\n".join(parts)
