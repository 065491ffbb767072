"""Placing and completing orders in conversation tests (notes, same again, rating)."""

from __future__ import annotations

from fsm.order_lifecycle import OrderStatus
from storage.base import Changes, OrderRecord, SessionKey, SessionStore
from storage.records import OrderMove
from tests.conftest import Customer

ADDRESS = "221B Baker Street, London NW1 6XE"


async def check_out(customer: Customer) -> None:
    """From a filled delivery cart to the order summary, paying by card."""
    for typed in ("checkout", ADDRESS, "card"):
        await customer.type(typed)
    assert "Please check your order" in customer.text


async def confirm(customer: Customer, store: SessionStore) -> OrderRecord:
    await customer.type("confirm")
    assert "is confirmed" in customer.text, customer.text
    order = await store.latest_order(SessionKey(customer.restaurant.id, customer.customer_id))
    assert order is not None
    return order


async def complete(store: SessionStore, order: OrderRecord, at: float) -> None:
    """Staff move the order to COMPLETED (the store's move, as the staff API commits it)."""
    key = SessionKey(order.restaurant_id, order.customer_id)
    await store.commit(Changes(key, at, order_moves=[OrderMove(
        order.reference, order.status, OrderStatus.COMPLETED, "staff", at)]))
