"""Failure paths of one conversation: a handler that raises, a full cart."""

from __future__ import annotations

from itertools import combinations

import pytest

from fsm.cart import MAX_LINES, Cart, CartLine
from fsm.config import Addon, Item, Restaurant
from fsm.session import DELIVERY, Session
from fsm.states import States
from routes.conversation.dispatcher import FAILURE_REPLY
from routes.conversation.messages import Outgoing
from routes.conversation.questions import question_messages
from storage.base import Changes, SessionKey, SessionStore
from storage.codec import encode_snapshot
from tests.conftest import Customer, FakeClock
from tests.routes.test_guarantees import stored_session

KEY = SessionKey("luigis", "447700900123")


async def test_a_handler_that_raises_leaves_no_half_added_cart_line(
        amira: Customer, monkeypatch: pytest.MonkeyPatch) -> None:
    await amira.tap("order_type:delivery")
    real_add = Cart.add
    raised: list[str] = []

    def add_then_fail(self: Cart, item: Item, addons: tuple[Addon, ...] = (),
                      quantity: int = 1) -> CartLine:
        line = real_add(self, item, addons, quantity)  # the cart is changed...
        if not raised:
            raised.append(item.id)
            raise RuntimeError("bug after the cart was changed")  # ...and then it fails
        return line

    monkeypatch.setattr(Cart, "add", add_then_fail)
    await amira.tap("item:margherita")

    assert raised == ["margherita"]
    assert amira.text == FAILURE_REPLY
    stored = await stored_session(amira)
    assert (stored.state, stored.cart.is_empty) == (States.CHOOSING_CATEGORY, True)

    # The next message starts from the stored conversation, not the cached half-changed one.
    await amira.type("cart")
    assert "Your cart is empty" in amira.text
    await amira.tap("item:margherita")
    assert "Added Margherita" in amira.text
    assert "Subtotal: £9.50" in amira.text
    [line] = (await stored_session(amira)).cart.lines
    assert (line.item_id, line.quantity) == ("margherita", 1)


async def test_a_handler_that_raises_after_a_transition_leaves_the_stored_state(
        amira: Customer, monkeypatch: pytest.MonkeyPatch) -> None:
    await amira.tap("order_type:delivery")
    def failing_in_browsing(session: Session, restaurant: Restaurant) -> tuple[Outgoing, ...]:
        if session.state == States.BROWSING_ITEMS:
            raise RuntimeError("cannot build the item list")
        return question_messages(session, restaurant)

    monkeypatch.setattr("routes.conversation.context.question_messages", failing_in_browsing)
    await amira.tap("category:pizza")  # moves to browsing_items, then fails to ask
    assert amira.text == FAILURE_REPLY
    stored = await stored_session(amira)
    assert (stored.state, stored.category_id) == (States.CHOOSING_CATEGORY, None)

    # Anything not understood is answered with the current step's question: the
    # categories again, from the stored state, which is saved unchanged.
    await amira.tap("action:bogus")
    assert "category:pizza" in amira.option_ids
    assert not any(option.startswith("item:") for option in amira.option_ids)
    stored = await stored_session(amira)
    assert (stored.state, stored.category_id) == (States.CHOOSING_CATEGORY, None)


def full_cart(restaurant: Restaurant, leave_out: str) -> Cart:
    """MAX_LINES different lines from the menu (items with every mix of add-ons)."""
    cart = Cart()
    for category in restaurant.menu:
        for item in category.items:
            if item.id == leave_out:
                continue
            for size in range(len(item.addons) + 1):
                for addons in combinations(item.addons, size):
                    if len(cart) < MAX_LINES:
                        cart.add(item, addons)
    assert len(cart) == MAX_LINES
    return cart


async def store_full_cart(store: SessionStore, restaurant: Restaurant, clock: FakeClock,
                          leave_out: str = "margherita") -> Cart:
    cart = full_cart(restaurant, leave_out)
    session = Session(state=States.REVIEWING_CART, cart=cart, order_type=DELIVERY,
                      welcomed=True, last_activity=clock.now)
    await store.commit(Changes(KEY, clock.now, snapshot=encode_snapshot(session.to_snapshot())))
    return cart


@pytest.mark.parametrize(("leave_out", "steps"), [
    ("margherita", ["item:margherita"]),
    ("calzone", ["item:calzone", "action:no_addons"]),  # asked for extras first
    ("margherita", ["text:2 margherita"]),
], ids=["tap", "after-addons", "typed-quantity"])
async def test_a_full_cart_gets_a_clear_answer_and_stays_as_it_was(
        amira: Customer, store: SessionStore, luigis: Restaurant, clock: FakeClock,
        leave_out: str, steps: list[str]) -> None:
    cart = await store_full_cart(store, luigis, clock, leave_out)

    for step in steps:
        if step.startswith("text:"):
            await amira.type(step.removeprefix("text:"))
        else:
            await amira.tap(step)

    assert f"Your cart is full ({MAX_LINES} different items)" in amira.text
    assert FAILURE_REPLY not in amira.text
    after = await stored_session(amira)
    assert after.cart == cart
    assert after.state == States.REVIEWING_CART
    assert after.pending is None


async def test_a_full_cart_still_takes_more_of_what_it_holds(
        amira: Customer, store: SessionStore, luigis: Restaurant, clock: FakeClock) -> None:
    cart = await store_full_cart(store, luigis, clock)
    first = cart.lines[0]
    assert not first.addon_ids

    await amira.tap(f"item:{first.item_id}")

    assert "Your cart is full" not in amira.text
    assert f"Added {first.name}" in amira.text
    after = (await stored_session(amira)).cart
    assert len(after) == MAX_LINES
    assert after.lines[0].quantity == 2
