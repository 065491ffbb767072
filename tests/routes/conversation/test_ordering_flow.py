"""Complete orders for both demo restaurants, delivery and pickup, tapping and typing."""

from __future__ import annotations

import random
import re
from typing import Any, Literal

import pytest

from fsm.config import AppConfig, Restaurant
from fsm.session import Session
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.flow import conversation
from storage.base import SessionKey, SessionStore
from storage.codec import decode_snapshot
from storage.sessions import SessionRepository
from tests.conftest import Customer, FakeClock, make_dispatcher

Mode = Literal["tap", "number", "title"]


async def choose(customer: Customer, option_id: str, mode: Mode) -> None:
    """Select ``option_id`` from the last reply by tapping it, or typing its number or title."""
    ids = customer.option_ids
    assert option_id in ids, f"{option_id} not offered; bot said:\n{customer.text}"
    index = ids.index(option_id)
    if mode == "tap":
        await customer.tap(option_id)
    elif mode == "number":
        await customer.type(str(index + 1))
    else:
        await customer.type(customer.option_titles[index].upper())


async def walk_order(customer: Customer, restaurant: Restaurant, order_type: str,
                     mode: Mode) -> int:
    """Order one item with an add-on and one plain item; return the expected total."""
    await customer.type("Hi, I'd like to order")
    assert f"Welcome to {restaurant.name}" in customer.text
    await choose(customer, f"order_type:{order_type}", mode)
    if order_type == "pickup":
        await choose(customer, f"branch:{restaurant.branches[-1].id}", mode)
    with_addons = next(c for c in restaurant.menu if any(i.addons for i in c.items[:9]))
    await choose(customer, f"category:{with_addons.id}", mode)
    fancy = next(i for i in with_addons.items[:9] if i.addons)
    await choose(customer, f"item:{fancy.id}", mode)
    await choose(customer, f"addon:{fancy.addons[0].id}", mode)
    if len(fancy.addons) > 1:
        await choose(customer, "action:no_addons", mode)
    assert f"Added {fancy.name} with {fancy.addons[0].name}" in customer.text
    await choose(customer, "action:add_more", mode)
    plain_category = restaurant.menu[-1]
    plain = next(i for i in plain_category.items if not i.addons)
    await choose(customer, f"category:{plain_category.id}", mode)
    await choose(customer, f"item:{plain.id}", mode)
    assert f"Added {plain.name}" in customer.text
    await choose(customer, "action:checkout", mode)
    fee = 0
    if order_type == "delivery":
        fee = restaurant.delivery_fee
        if mode == "tap":
            await customer.pin(51.507351, -0.127758, "Trafalgar Sq, London WC2N 5DN")
        else:
            await customer.type("221B Baker Street, London NW1 6XE")
        assert "Delivering to" in customer.text
    await choose(customer, f"payment:{restaurant.payment_methods[-1]}", mode)
    assert "Please check your order" in customer.text
    await choose(customer, "action:confirm", mode)
    return fancy.price + fancy.addons[0].price + plain.price + fee


@pytest.mark.parametrize("restaurant_id", ["luigis", "sakura"])
@pytest.mark.parametrize("order_type", ["delivery", "pickup"])
@pytest.mark.parametrize("mode", ["tap", "number", "title"])
async def test_complete_order(dispatcher: Dispatcher, store: SessionStore, restaurant_id: str,
                              order_type: str, mode: Mode) -> None:
    restaurant = dispatcher.config.restaurant(restaurant_id)
    assert restaurant is not None
    customer = Customer(dispatcher, restaurant, "447700900123")

    expected_total = await walk_order(customer, restaurant, order_type, mode)

    prefix = restaurant.id[:2].upper()
    match = re.search(rf"order ({prefix}-[A-Z0-9]{{4}}) is confirmed", customer.text)
    assert match, customer.text
    assert restaurant.format_money(expected_total) in customer.text
    [order] = await store.list_orders(SessionKey(restaurant.id, "447700900123"))
    assert order.reference == match.group(1)
    assert order.status == "CONFIRMED"
    assert order.total_minor == expected_total
    assert order.order_type == order_type
    assert order.payment_method == restaurant.payment_methods[-1]
    assert len(order.lines) == 2
    if order_type == "pickup":
        assert order.branch_id == restaurant.branches[-1].id
        assert order.address is None
    else:
        assert order.address and ("Baker Street" in order.address or "Trafalgar" in order.address)

    # The cart is emptied and the conversation is back at the start.
    await customer.type("cart")
    assert "Your cart is empty" in customer.text
    assert customer.option_ids == [f"order_type:{t}" for t in restaurant.order_types]


async def test_long_category_pages_with_more_row(amira: Customer, luigis: Restaurant) -> None:
    pizza = luigis.category("pizza")
    assert pizza is not None and len(pizza.items) > 10
    await amira.tap("order_type:delivery")
    await amira.tap("category:pizza")
    first_page = amira.option_ids
    assert len(first_page) == 10
    assert first_page[-1] == "category:pizza:2"
    assert first_page[:9] == [f"item:{item.id}" for item in pizza.items[:9]]

    await amira.type("more")
    second_page = amira.option_ids
    assert second_page[:-1] == [f"item:{item.id}" for item in pizza.items[9:18]]
    assert second_page[-1] == "action:add_more"
    assert "page 2 of 2" in amira.text

    # An item on page 2 can be typed by its number on that page.
    await amira.type("1")
    assert f"Added {pizza.items[9].name}" in amira.text or pizza.items[9].addons


async def test_item_typed_by_name_from_the_categories_step(amira: Customer) -> None:
    await amira.type("delivery")
    await amira.type("Margherita")
    assert "Added Margherita (£9.50)" in amira.text


async def test_several_addons_and_remove_from_cart(amira: Customer) -> None:
    await amira.tap("order_type:pickup")
    await amira.tap("branch:soho")
    await amira.tap("item:calzone")
    await amira.tap("addon:burrata")
    assert "So far: Burrata" in amira.text
    await amira.tap("addon:chilli")  # the last add-on: added straight away
    assert "Added Calzone with Chilli oil, Burrata (£14.00)" in amira.text
    await amira.tap("item:margherita")
    await amira.tap("item:margherita")
    assert "2 × Margherita — £19.00" in amira.text
    assert "Total: £33.00" in amira.text  # pickup: no delivery fee

    await amira.tap("remove:margherita")
    assert "Removed one Margherita" in amira.text
    assert "1 × Margherita — £9.50" in amira.text
    await amira.tap("remove:margherita")
    await amira.tap("remove:calzone+burrata+chilli")
    assert "Your cart is now empty" in amira.text
    assert "category:pizza" in amira.option_ids


async def test_checkout_with_empty_cart_is_refused(amira: Customer) -> None:
    await amira.type("delivery")
    await amira.type("checkout")
    assert "Your cart is empty" in amira.text
    assert "category:pizza" in amira.option_ids


async def test_checkout_before_choosing_order_type_asks_for_it(amira: Customer) -> None:
    await amira.type("checkout")
    assert "Your cart is empty" in amira.text
    assert amira.option_ids == ["order_type:delivery", "order_type:pickup"]


async def test_short_typed_address_is_refused_politely(amira: Customer) -> None:
    await amira.tap("order_type:delivery")
    await amira.tap("item:margherita")
    await amira.tap("action:checkout")
    await amira.type("home")
    assert "too short for an address" in amira.text
    await amira.tap("payment:cash")
    assert "earlier step" in amira.text or "Where should we deliver" in amira.text


async def test_a_menu_item_typed_for_the_address_is_not_taken_as_one(amira: Customer) -> None:
    await amira.tap("order_type:delivery")
    await amira.tap("item:margherita")
    await amira.tap("action:checkout")
    for typed in ("2 margherita", "Margherita", "margherita x3", "Drinks"):
        await amira.type(typed)
        assert "looks like something from our menu, not an address" in amira.text, typed
        assert "Delivering to" not in amira.text
    # A street that merely contains an item's name is an address.
    await amira.type("12 Margherita Road, London E1 6AN")
    assert "Delivering to: 12 Margherita Road, London E1 6AN" in amira.text


async def test_old_buttons_are_applied_when_they_still_make_sense(amira: Customer) -> None:
    await amira.tap("order_type:delivery")
    await amira.tap("item:margherita")
    # A category button from an earlier list still opens that category.
    await amira.tap("category:drinks")
    assert "item:" in "".join(amira.option_ids)
    # Changing payment on the confirmation step is applied.
    await amira.tap("action:checkout")
    await amira.type("10 Downing Street, London")
    await amira.tap("payment:cash")
    await amira.tap("payment:card")
    assert "Payment: Card" in amira.text
    await amira.tap("action:confirm")
    assert "is confirmed" in amira.text
    # Confirming again (an old button) does not place a second order.
    await amira.tap("action:confirm")
    assert "earlier step" in amira.text
    assert amira.option_ids == ["order_type:delivery", "order_type:pickup"]


async def test_cancel_keeps_the_cart_as_a_draft(amira: Customer, store: SessionStore) -> None:
    await amira.tap("order_type:delivery")
    await amira.tap("item:margherita")
    await amira.type("cancel")
    assert "Your order has been cancelled" in amira.text
    [draft] = await store.list_drafts(SessionKey("luigis", "447700900123"))
    assert draft.reason == "cancelled"
    assert draft.cart["lines"][0]["item_id"] == "margherita"
    await amira.type("cart")
    assert "Your cart is empty" in amira.text


async def test_welcome_once_per_customer(amira: Customer, dispatcher: Dispatcher,
                                         luigis: Restaurant) -> None:
    await amira.type("hello")
    assert "Welcome to Luigi's Pizzeria!" in amira.text
    await amira.type("hello again")
    assert "Welcome" not in amira.text
    other = Customer(dispatcher, luigis, "14155550142")
    await other.type("hi")
    assert "Welcome to Luigi's Pizzeria!" in other.text


class ScriptedCodes(random.Random):
    """Draws the characters of ``codes`` in turn: reference clashes on demand."""

    def __init__(self, *codes: str) -> None:
        super().__init__(0)
        self._chars = iter("".join(codes))

    def choice(self, seq: Any) -> Any:
        char = next(self._chars)
        assert char in seq
        return char


async def test_a_reference_clash_is_retried_with_a_new_reference(
        config: AppConfig, store: SessionStore, clock: FakeClock, luigis: Restaurant,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher = Dispatcher(config, SessionRepository(store), conversation, clock=clock,
                            rng=ScriptedCodes("AAAA", "AAAA", "BBBB"))

    # Both confirmations checked the reference before either committed.
    async def unseen(restaurant_id: str, reference: str) -> bool:
        return False

    monkeypatch.setattr(store, "reference_exists", unseen)
    for customer_id in ("447700900001", "447700900002"):
        customer = Customer(dispatcher, luigis, customer_id)
        await walk_order(customer, luigis, "pickup", "tap")
        assert "is confirmed" in customer.text, customer.text

    first = await store.list_orders(SessionKey("luigis", "447700900001"))
    second = await store.list_orders(SessionKey("luigis", "447700900002"))
    assert [order.reference for order in first] == ["LU-AAAA"]
    assert [order.reference for order in second] == ["LU-BBBB"]


@pytest.mark.parametrize("typed", ["2 margherita", "2x Margherita", "margherita x2",
                                   "Margherita ×2", "margherita 2"])
async def test_a_typed_quantity_adds_that_many(amira: Customer, store: SessionStore,
                                               typed: str) -> None:
    await browse_pizza(amira)
    await amira.type(typed)
    assert "Added 2 × Margherita (£9.50 each)" in amira.text
    await amira.type("cart")
    assert "2 × Margherita" in amira.text


async def test_a_typed_quantity_survives_the_addon_question_and_a_restart(
        config: AppConfig, store: SessionStore, clock: FakeClock, luigis: Restaurant) -> None:
    customer = Customer(make_dispatcher(config, store, clock), luigis, "447700900123")
    await customer.tap("order_type:pickup")
    await customer.tap("branch:soho")
    await customer.tap("category:pizza")
    await customer.type("3 x calzone")
    assert "addon:burrata" in customer.option_ids
    restarted = Customer(make_dispatcher(config, store, clock), luigis, "447700900123")
    await restarted.tap("addon:burrata")
    await restarted.tap("action:no_addons")
    assert "Added 3 × Calzone with Burrata" in restarted.text
    [line] = (await session_of(store)).cart.lines
    assert (line.item_id, line.addon_ids, line.quantity) == ("calzone", ("burrata",), 3)


@pytest.mark.parametrize("typed", ["2", "2 3", "0 margherita", "100 margherita",
                                   "2 tiramisu please"])
async def test_numbers_that_are_not_quantities_are_not_taken_as_such(
        amira: Customer, store: SessionStore, typed: str) -> None:
    await browse_pizza(amira)
    await amira.type(typed)
    lines = (await session_of(store)).cart.lines
    assert all(line.quantity == 1 for line in lines), amira.text


async def browse_pizza(customer: Customer) -> None:
    await customer.tap("order_type:delivery")
    await customer.tap("category:pizza")


async def session_of(store: SessionStore) -> Session:
    blob = await store.load_snapshot(SessionKey("luigis", "447700900123"))
    assert blob is not None
    return Session.from_snapshot(decode_snapshot(blob))
