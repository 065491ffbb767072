"""A stored cart meets the menu as it is now: issue 14, item 1.

A cart holds Margherita and a Pepperoni with Extra cheese; the menu changes
(Margherita removed, Pepperoni repriced, the add-on removed) and the bot
restarts. Before the fix checkout confirmed the old cart at the old prices and
told the customer nothing.
"""

from __future__ import annotations

import pytest

from fsm.config import AppConfig, Restaurant, parse_config
from fsm.session import Session
from fsm.states import States
from routes.conversation.dispatcher import Dispatcher
from storage.base import OrderRecord, SessionKey, SessionStore
from storage.codec import decode_snapshot
from tests.conftest import REPO, Customer, FakeClock, make_dispatcher

CUSTOMER = "447700900123"
MARGHERITA = '          - {id: margherita, name: Margherita, price: "9.50", description: ' \
    '"Tomato, mozzarella, basil"}\n'
PEPPERONI_PRICE = 'name: Pepperoni\n            price: "11.50"'
EXTRA_CHEESE_ON_PEPPERONI = (
    '            addons:\n'
    '              - {id: extra_cheese, name: Extra cheese, price: "1.50"}\n'
    '              - {id: jalapenos, name: Jalapeños, price: "1.00"}')


def changed_config(*, remove_margherita: bool = True, reprice_pepperoni: bool = True,
                   remove_extra_cheese: bool = True) -> AppConfig:
    """The demo config after the menu change of the failing case."""
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    for wanted, old, new in (
            (remove_margherita, MARGHERITA, ""),
            (reprice_pepperoni, PEPPERONI_PRICE, 'name: Pepperoni\n            price: "13.00"'),
            (remove_extra_cheese, EXTRA_CHEESE_ON_PEPPERONI,
             '            addons:\n'
             '              - {id: jalapenos, name: Jalapeños, price: "1.00"}')):
        if wanted:
            assert old in yaml
            yaml = yaml.replace(old, new, 1)
    return parse_config(yaml)


def restaurant_of(config: AppConfig) -> Restaurant:
    restaurant = config.restaurant("luigis")
    assert restaurant is not None
    return restaurant


async def stored(store: SessionStore) -> Session:
    blob = await store.load_snapshot(SessionKey("luigis", CUSTOMER))
    assert blob is not None
    return Session.from_snapshot(decode_snapshot(blob))


async def fill_cart(customer: Customer) -> None:
    """Part 1 of the failing case: Margherita, then Pepperoni with Extra cheese."""
    for typed in ("hi", "1", "margherita", "pepperoni", "extra cheese", "add to cart"):
        await customer.type(typed)
    assert "Added Pepperoni with Extra cheese" in customer.text


def after_restart(store: SessionStore, clock: FakeClock, config: AppConfig) -> Customer:
    return Customer(make_dispatcher(config, store, clock), restaurant_of(config), CUSTOMER)


def assert_on_menu(order: OrderRecord, restaurant: Restaurant) -> None:
    """Every line of ``order`` is an item, add-ons and price the menu has."""
    for line in order.lines:
        item = restaurant.item(line["item_id"])
        assert item is not None, line
        addons = [item.addon(addon_id) for addon_id in line["addons"]]
        assert None not in addons, line
        assert line["unit_price"] == item.price + sum(a.price for a in addons if a), line


async def test_the_stale_cart_is_reconciled_and_told_before_checkout(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    await fill_cart(amira)
    config = changed_config()
    customer = after_restart(store, clock, config)

    await customer.type("cart")
    assert "Margherita is no longer on our menu" in customer.text
    assert "Extra cheese is no longer offered with Pepperoni" in customer.text
    assert "£13.00" in customer.text
    [line] = (await stored(store)).cart.lines
    assert (line.item_id, line.addon_ids, line.unit_price) == ("pepperoni", (), 1300)

    for typed in ("checkout", "12 Test Street, London T1 1TT", "cash"):
        await customer.type(typed)
    assert "1 × Pepperoni — £13.00" in customer.text
    await customer.type("confirm")
    assert "is confirmed. Total: £15.50" in customer.text
    [order] = await store.list_orders(SessionKey("luigis", CUSTOMER))
    assert [(line["item_id"], line["addons"], line["unit_price"]) for line in order.lines] \
        == [("pepperoni", [], 1300)]
    assert order.total_minor == 1300 + 250
    assert_on_menu(order, restaurant_of(config))


async def test_a_price_change_at_the_confirm_step_is_shown_and_confirmed_again(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    await amira.type("hi")
    await amira.type("1")
    await amira.type("pepperoni")
    await amira.type("jalapenos")
    await amira.type("add to cart")
    for typed in ("checkout", "12 Test Street, London T1 1TT", "cash"):
        await amira.type(typed)
    assert "Please check your order" in amira.text
    config = changed_config(remove_margherita=False, remove_extra_cheese=False)
    customer = after_restart(store, clock, config)

    await customer.tap("action:confirm")  # the old button, under the new prices
    assert "The price of Pepperoni + Jalapeños has changed: £14.00 each now (was £12.50)" \
        in customer.text
    assert "Please check your order again" in customer.text
    assert "Total: £16.50" in customer.text
    assert (await stored(store)).state == States.CHECKOUT_CONFIRMATION
    assert await store.list_orders(SessionKey("luigis", CUSTOMER)) == []

    await customer.tap("action:confirm")
    [order] = await store.list_orders(SessionKey("luigis", CUSTOMER))
    assert order.total_minor == 1400 + 250
    assert_on_menu(order, restaurant_of(config))


async def test_a_cart_emptied_by_the_menu_at_the_confirm_step_confirms_nothing(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    await amira.type("hi")
    await amira.type("1")
    await amira.type("margherita")
    for typed in ("checkout", "12 Test Street, London T1 1TT", "cash"):
        await amira.type(typed)
    customer = after_restart(store, clock, changed_config())
    await customer.tap("action:confirm")
    assert "Margherita is no longer on our menu" in customer.text
    assert "Your cart is now empty" in customer.text
    assert (await stored(store)).state == States.CHOOSING_CATEGORY
    assert await store.list_orders(SessionKey("luigis", CUSTOMER)) == []


async def test_the_item_waiting_for_its_addons_is_dropped_when_it_leaves_the_menu(
        amira: Customer, store: SessionStore, clock: FakeClock, config: AppConfig) -> None:
    await amira.type("hi")
    await amira.type("1")
    await amira.type("pepperoni")
    await amira.type("extra cheese")
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    start = yaml.index("          - id: pepperoni")
    end = yaml.index("          - id: diavola")
    customer = after_restart(store, clock, parse_config(yaml[:start] + yaml[end:]))
    await customer.type("jalapenos")
    assert "no longer on the menu" in customer.text
    session = await stored(store)
    assert session.pending is None and session.cart.is_empty
    assert session.state == States.CHOOSING_CATEGORY


async def test_a_removed_addon_leaves_the_item_being_chosen(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    await amira.type("hi")
    await amira.type("1")
    await amira.type("pepperoni")
    await amira.type("extra cheese")
    customer = after_restart(store, clock, changed_config(remove_margherita=False,
                                                          reprice_pepperoni=False))
    await customer.type("add to cart")
    assert "Added Pepperoni (£11.50)" in customer.text
    [line] = (await stored(store)).cart.lines
    assert line.addon_ids == ()


async def test_an_unchanged_menu_changes_nothing_and_says_nothing(
        amira: Customer, dispatcher: Dispatcher, store: SessionStore) -> None:
    await fill_cart(amira)
    await amira.type("cart")
    assert "no longer" not in amira.text and "has changed" not in amira.text
    assert [line.unit_price for line in (await stored(store)).cart.lines] == [950, 1300]


@pytest.mark.parametrize("typed", ["cart", "menu", "checkout", "help"])
async def test_every_message_reconciles_not_only_checkout(
        amira: Customer, store: SessionStore, clock: FakeClock, typed: str) -> None:
    await fill_cart(amira)
    customer = after_restart(store, clock, changed_config())
    await customer.type(typed)
    assert "Margherita is no longer on our menu" in customer.text
    assert [line.item_id for line in (await stored(store)).cart.lines] == ["pepperoni"]
