"""The cart and the order as the customer reads them: lines, notes, fee, total."""

from __future__ import annotations

from fsm.config import Restaurant
from fsm.session import Session


def money(restaurant: Restaurant, minor: int) -> str:
    return restaurant.format_money(minor)


def render_cart(session: Session, restaurant: Restaurant) -> str:
    """The cart as text lines (each with its note), with subtotal, delivery fee and total."""
    if session.cart.is_empty:
        return "Your cart is empty."
    lines: list[str] = []
    for line in session.cart:
        lines.append(f"{line.quantity} × {line.title} — {money(restaurant, line.total)}")
        if line.note:
            lines.append(f"    Note: {line.note}")
    fee = restaurant.delivery_fee if session.is_delivery else 0
    lines.append(f"Subtotal: {money(restaurant, session.cart.subtotal)}")
    if fee:
        lines.append(f"Delivery: {money(restaurant, fee)}")
    lines.append(f"Total: {money(restaurant, session.cart.total(fee))}")
    return "\n".join(lines)


def order_total(session: Session, restaurant: Restaurant) -> tuple[int, int]:
    """``(total, delivery_fee)`` in minor units."""
    fee = restaurant.delivery_fee if session.is_delivery and not session.cart.is_empty else 0
    return session.cart.total(fee), fee


def render_order_summary(session: Session, restaurant: Restaurant) -> str:
    parts = [render_cart(session, restaurant)]
    if session.order_note:
        parts.append(f"Note for the order: {session.order_note}")
    if session.is_delivery and session.address is not None:
        parts.append(f"Deliver to: {session.address.describe()}")
    if session.is_pickup:
        branch = restaurant.branch(session.branch_id or "")
        parts.append(f"Pickup at: {branch.name if branch else session.branch_id}")
    if session.payment_method:
        parts.append(f"Payment: {restaurant.payment_title(session.payment_method)}")
    return "\n".join(parts)
