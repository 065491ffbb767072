"""A minimum order value per order type (issue 14 item 7): Sakura delivers from €12.00
(``minimum_order`` in the demo config), and takes pickup orders of any size."""

from __future__ import annotations

import pytest

from fsm.config import AppConfig, Restaurant, parse_config
from fsm.errors import ConfigError
from fsm.session import Session
from fsm.states import States
from storage.base import SessionKey, SessionStore
from storage.codec import decode_snapshot
from tests.conftest import REPO, Customer, FakeClock, make_dispatcher
from tests.routes.conversation.orders_support import ADDRESS

CUSTOMER = "4915112345678"
KEY = SessionKey("sakura", CUSTOMER)


def sakura_of(config: AppConfig) -> Restaurant:
    restaurant = config.restaurant("sakura")
    assert restaurant is not None
    return restaurant


async def stored(store: SessionStore) -> Session:
    blob = await store.load_snapshot(KEY)
    assert blob is not None
    return Session.from_snapshot(decode_snapshot(blob))


def customer(config: AppConfig, store: SessionStore, clock: FakeClock) -> Customer:
    return Customer(make_dispatcher(config, store, clock), sakura_of(config), CUSTOMER)


async def test_delivery_below_the_minimum_is_refused_with_what_is_missing(
        config: AppConfig, store: SessionStore, clock: FakeClock) -> None:
    assert sakura_of(config).minimum_order.delivery == 1200
    kenji = customer(config, store, clock)
    for typed in ("hi", "delivery", "drinks", "green tea"):
        await kenji.type(typed)
    await kenji.type("checkout")
    assert "the minimum order for delivery is €12.00. Please add €9.00 more" in kenji.text
    session = await stored(store)
    assert session.state == States.REVIEWING_CART  # still in the cart, nothing lost
    assert [line.item_id for line in session.cart] == ["green_tea"]

    await kenji.tap("action:checkout")  # the cart's button, too
    assert "Please add €9.00 more" in kenji.text

    for typed in ("menu", "drinks", "asahi", "drinks", "calpico"):  # 3.00 + 4.50 + 3.50 + 1
        await kenji.type(typed)
    await kenji.type("checkout")
    assert "Please add €1.00 more" in kenji.text  # 11.00: the fee does not count
    for typed in ("menu", "drinks", "green tea", "checkout"):  # exactly 12.00
        await kenji.type(typed)
    assert "minimum" not in kenji.text and "Where should we deliver" in kenji.text


async def test_pickup_has_no_minimum_here(config: AppConfig, store: SessionStore,
                                          clock: FakeClock) -> None:
    kenji = customer(config, store, clock)
    for typed in ("hi", "pickup", "mitte", "drinks", "green tea", "checkout"):
        await kenji.type(typed)
    assert "minimum" not in kenji.text
    assert (await stored(store)).state == States.CHECKOUT_PAYMENT


async def test_confirming_below_a_minimum_raised_since_checkout_goes_back_to_the_cart(
        config: AppConfig, store: SessionStore, clock: FakeClock) -> None:
    kenji = customer(config, store, clock)
    for typed in ("hi", "delivery", "ramen", "shio", "checkout", ADDRESS, "card"):
        await kenji.type(typed)
    assert "Please check your order" in kenji.text

    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    raised = yaml.replace('minimum_order: {delivery: "12.00"', 'minimum_order: {delivery: "20.00"')
    assert raised != yaml
    kenji = customer(parse_config(raised), store, clock)  # a restart with the new config
    await kenji.type("confirm")
    assert "the minimum order for delivery is €20.00. Please add €7.00 more" in kenji.text
    assert "is confirmed" not in kenji.text
    assert (await store.latest_order(KEY)) is None
    session = await stored(store)
    assert session.state == States.REVIEWING_CART and not session.cart.is_empty


async def test_the_refusal_is_in_the_customers_language(store: SessionStore,
                                                        clock: FakeClock) -> None:
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    french = parse_config(
        yaml.replace("    currency: EUR\n", "    currency: EUR\n    languages: [fr, en]\n", 1))
    marie = customer(french, store, clock)
    for typed in ("bonjour", "livraison", "drinks", "green tea", "commander"):
        await marie.type(typed)
    assert ("la commande minimum en livraison est de 12,00\u00a0€. "
            "Ajoutez encore 9,00\u00a0€") in marie.text


def test_the_minimum_is_checked_in_the_config_with_its_path() -> None:
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    bad = yaml.replace('minimum_order: {delivery: "12.00", pickup: "0"}',
                       'minimum_order: {delivery: "12.001", collect: "1.00"}')
    assert bad != yaml
    with pytest.raises(ConfigError) as raised:
        parse_config(bad)
    paths = [path for path, _ in raised.value.problems]
    assert "restaurants[1].minimum_order.delivery" in paths
    assert "restaurants[1].minimum_order.collect" in paths
