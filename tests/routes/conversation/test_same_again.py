""""Same again": the last completed order, reconciled with today's menu (issue 14 item 9)."""

from __future__ import annotations

from fsm.config import Restaurant
from storage.base import SessionKey, SessionStore
from tests.conftest import Customer, FakeClock
from tests.routes.conversation.orders_support import check_out, complete, confirm
from tests.routes.conversation.test_menu_changes import (
    after_restart,
    changed_config,
    fill_cart,
    stored,
)

KEY = SessionKey("luigis", "447700900123")


async def test_same_again_offers_the_last_completed_order_at_todays_menu(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    await fill_cart(amira)  # Margherita, Pepperoni with Extra cheese
    await check_out(amira)
    first = await confirm(amira, store)
    await complete(store, first, clock.now + 60)
    for typed in ("hi", "delivery", "drinks", "cola"):  # a later order, never completed
        await amira.type(typed)
    await check_out(amira)
    await confirm(amira, store)
    clock.advance(3600)

    # The menu changed overnight: Margherita gone, Pepperoni repriced, Extra cheese gone.
    customer = after_restart(store, clock, changed_config())
    await customer.type("same again")
    said = customer.text
    assert f"Your last order {first.reference}" in said
    assert "Margherita is no longer on our menu" in said
    assert "Extra cheese is no longer offered with Pepperoni" in said
    assert "1 × Pepperoni — £13.00" in said and "Coca-Cola" not in said
    assert (await stored(store)).cart.is_empty  # nothing added before the customer says yes

    await customer.type("yes")
    assert "Added 1 item from your last order" in customer.text
    session = await stored(store)
    assert [(line.item_id, line.addon_ids, line.unit_price) for line in session.cart] == [
        ("pepperoni", (), 1300)]
    await customer.type("delivery")
    await customer.type("checkout")
    assert "Where should we deliver" in customer.text


async def test_same_again_adds_to_the_cart_being_filled(
        amira: Customer, store: SessionStore, clock: FakeClock, luigis: Restaurant) -> None:
    for typed in ("hi", "pickup", "soho", "drinks", "cola"):
        await amira.type(typed)
    await check_out_pickup(amira)
    order = await confirm(amira, store)
    await complete(store, order, clock.now + 60)
    clock.advance(120)
    for typed in ("hi", "delivery", "drinks", "peroni", "reorder", "no thanks"):
        await amira.type(typed)
    assert [line.item_id for line in (await stored(store)).cart] == ["peroni"]
    await amira.type("same again")
    await amira.type("add to cart")
    assert "Your cart:" in amira.text
    assert {line.item_id: line.quantity for line in (await stored(store)).cart} == {
        "peroni": 1, "cola": 1}


async def check_out_pickup(customer: Customer) -> None:
    for typed in ("checkout", "card"):
        await customer.type(typed)
    assert "Please check your order" in customer.text


async def test_same_again_without_an_order_says_so(amira: Customer) -> None:
    await amira.type("same again")
    assert "You haven't ordered from us yet" in amira.text
