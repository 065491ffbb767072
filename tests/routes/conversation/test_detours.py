"""Rough edges of the conversation, the rest of issue 14 item 5: nothing is dropped or switched
without asking, a greeting mid-order is understood, a cart line can be removed or changed."""

from __future__ import annotations

import pytest

from fsm.session import Session
from fsm.states import States
from storage.base import SessionKey, SessionStore
from storage.codec import decode_snapshot
from tests.conftest import Customer

KEY = SessionKey("luigis", "447700900123")


async def stored(store: SessionStore) -> Session:
    blob = await store.load_snapshot(KEY)
    assert blob is not None
    return Session.from_snapshot(decode_snapshot(blob))


def cart_of(session: Session) -> dict[str, int]:
    return {line.key: line.quantity for line in session.cart}


async def at_pepperoni_with_cheese(customer: Customer) -> None:
    for typed in ("hi", "delivery", "pizza", "pepperoni", "extra cheese"):
        await customer.type(typed)
    assert "So far: Extra cheese" in customer.text


@pytest.mark.parametrize("elsewhere", ["margherita", "2 margherita", "cart", "menu", "drinks"])
async def test_an_item_waiting_for_its_addons_is_asked_about_not_dropped(
        amira: Customer, store: SessionStore, elsewhere: str) -> None:
    await at_pepperoni_with_cheese(amira)
    await amira.type(elsewhere)
    assert "You haven't finished adding Pepperoni with Extra cheese" in amira.text
    assert amira.option_titles == ["Add it", "Leave it out", "Keep choosing"]
    waiting = await stored(store)
    assert waiting.pending is not None and waiting.pending.addon_ids == ["extra_cheese"]
    assert waiting.cart.is_empty

    await amira.type("add it")
    assert "Added Pepperoni with Extra cheese" in amira.text
    cart = cart_of(await stored(store))
    assert cart["pepperoni+extra_cheese"] == 1
    if "margherita" in elsewhere:  # what was asked for meanwhile is done too
        assert "Added" in amira.text and "Margherita" in amira.text
        assert cart["margherita"] == (2 if elsewhere.startswith("2") else 1)


async def test_the_waiting_item_can_be_left_out_or_finished(
        amira: Customer, store: SessionStore) -> None:
    await at_pepperoni_with_cheese(amira)
    await amira.type("checkout")
    await amira.type("keep choosing")
    assert "Any extras? So far: Extra cheese" in amira.text
    await amira.type("margherita")
    await amira.type("leave it out")
    assert "left out Pepperoni" in amira.text and "Added Margherita" in amira.text
    session = await stored(store)
    assert cart_of(session) == {"margherita": 1} and session.pending is None


async def pickup_with_cola(customer: Customer) -> None:
    for typed in ("hi", "pickup", "soho", "drinks", "cola"):
        await customer.type(typed)
    assert "Added Coca-Cola" in customer.text


async def test_an_old_delivery_tap_during_pickup_asks_before_switching(
        amira: Customer, store: SessionStore) -> None:
    await pickup_with_cola(amira)
    await amira.tap("order_type:delivery")
    assert "Switch to delivery?" in amira.text and "£2.50" in amira.text
    assert (await stored(store)).order_type == "pickup"
    await amira.type("keep pickup")
    assert "still pickup" in amira.text
    await amira.type("cart")
    assert "Delivery:" not in amira.text and "Total: £2.50" in amira.text

    await amira.tap("order_type:delivery")
    await amira.type("yes")
    assert "Switched to delivery" in amira.text and "£2.50" in amira.text
    session = await stored(store)
    assert session.order_type == "delivery" and cart_of(session) == {"cola": 1}
    await amira.type("cart")
    assert "Delivery: £2.50" in amira.text and "Total: £5.00" in amira.text


async def test_a_switch_button_from_an_earlier_question_changes_nothing(
        amira: Customer, store: SessionStore) -> None:
    await pickup_with_cola(amira)
    await amira.tap("switch:delivery")
    assert "from an earlier step" in amira.text
    assert (await stored(store)).order_type == "pickup"


@pytest.mark.parametrize("greeting", ["hi", "Hello!", "good morning", "Hola"])
async def test_a_greeting_mid_order_offers_to_carry_on_or_start_over(
        amira: Customer, store: SessionStore, greeting: str) -> None:
    await pickup_with_cola(amira)
    await amira.type(greeting)
    assert "didn't understand" not in amira.text
    assert "1 item in your cart" in amira.text
    assert amira.option_titles == ["Carry on", "Start over"]
    await amira.type("carry on")
    assert "carry on" in amira.text and cart_of(await stored(store)) == {"cola": 1}

    await amira.type(greeting)
    await amira.type("start over")
    assert "start a new order" in amira.text
    session = await stored(store)
    assert session.cart.is_empty and session.state == States.CHOOSING_ORDER_TYPE
    assert [draft.reason for draft in await store.list_drafts(KEY)] == ["restarted"]


async def test_a_greeting_before_any_order_is_not_asked_about(amira: Customer) -> None:
    await amira.type("hi")
    await amira.type("hello")
    assert "Carry on" not in amira.text and "How would you like" in amira.text


async def two_lines(customer: Customer) -> None:
    for typed in ("hi", "delivery", "drinks", "cola", "add more items", "pizza",
                  "2 margherita"):
        await customer.type(typed)
    assert "Added 2 × Margherita" in customer.text


async def test_a_typed_quantity_changes_a_cart_line(amira: Customer, store: SessionStore) -> None:
    await two_lines(amira)
    assert "Change Margherita" in amira.option_titles
    await amira.tap("line:margherita")
    assert "Type how many you'd like" in amira.text
    await amira.type("3")  # a quantity here, not the third option
    assert "Now 3 × Margherita" in amira.text
    assert cart_of(await stored(store)) == {"cola": 1, "margherita": 3}
    await amira.tap("line:margherita")
    await amira.type("0")
    assert "Removed Margherita" in amira.text
    assert cart_of(await stored(store)) == {"cola": 1}


async def test_a_whole_line_is_removed_at_once(amira: Customer, store: SessionStore) -> None:
    await two_lines(amira)
    await amira.type("change margherita")
    await amira.type("remove it")
    assert "Removed Margherita" in amira.text and "2 × Margherita" not in amira.text
    assert cart_of(await stored(store)) == {"cola": 1}
    await amira.tap("line:cola")
    await amira.tap("line_remove:cola")
    assert "Your cart is now empty" in amira.text
    assert (await stored(store)).cart.is_empty
