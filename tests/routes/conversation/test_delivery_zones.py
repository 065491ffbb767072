"""Delivery zones (issue 14 item 7): a pin outside every branch's zone is refused politely
with pickup offered; typed addresses only where the restaurant allows them. Here Luigi's
Soho delivers within 3 km, and Camden inside a polygon around Camden Town."""

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

CUSTOMER = "447700900123"
KEY = SessionKey("luigis", CUSTOMER)
SOHO = "{id: soho, name: {en: Soho, ar: سوهو},"
CAMDEN = "{id: camden, name: {en: Camden, ar: كامدن},"
ZONES = (SOHO + " latitude: 51.5136, longitude: -0.1318, delivery_radius_km: 3,",
         CAMDEN + " delivery_area: [[51.545, -0.150], [51.545, -0.130], [51.560, -0.130],"
         " [51.560, -0.150]],")
TRAFALGAR = (51.5080, -0.1281)  # 0.7 km from Soho
KENTISH_TOWN = (51.5500, -0.1400)  # 4 km from Soho, inside Camden's polygon
HEATHROW = (51.4700, -0.4543)  # far from both


def zoned_config(typed_addresses: bool = True) -> AppConfig:
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    for old, new in zip((SOHO, CAMDEN), ZONES, strict=True):
        assert old in yaml
        yaml = yaml.replace(old, new, 1)
    if not typed_addresses:
        yaml = yaml.replace("    currency: GBP\n",
                            "    currency: GBP\n    typed_addresses: false\n", 1)
    return parse_config(yaml)


def luigis_of(config: AppConfig) -> Restaurant:
    restaurant = config.restaurant("luigis")
    assert restaurant is not None
    return restaurant


async def stored(store: SessionStore) -> Session:
    blob = await store.load_snapshot(KEY)
    assert blob is not None
    return Session.from_snapshot(decode_snapshot(blob))


async def at_the_address(config: AppConfig, store: SessionStore, clock: FakeClock) -> Customer:
    amira = Customer(make_dispatcher(config, store, clock), luigis_of(config), CUSTOMER)
    for typed in ("hi", "delivery", "pizza", "margherita", "checkout"):
        await amira.type(typed)
    assert "Where should we deliver" in amira.text
    return amira


async def test_a_pin_outside_every_zone_is_refused_and_pickup_offered(
        store: SessionStore, clock: FakeClock) -> None:
    amira = await at_the_address(zoned_config(), store, clock)
    await amira.pin(*HEATHROW, address="Heathrow Airport")
    assert "Sorry, that location is outside our delivery area." in amira.text
    assert "Switch to pickup?" in amira.text and "switch:pickup" in amira.option_ids
    session = await stored(store)
    assert session.state == States.CHECKOUT_ADDRESS and session.address is None

    await amira.tap("switch:pickup")
    session = await stored(store)
    assert session.order_type == "pickup" and session.state == States.CHOOSING_BRANCH
    assert [line.item_id for line in session.cart] == ["margherita"]  # the cart stays


async def test_keeping_delivery_after_a_refusal_asks_for_another_address(
        store: SessionStore, clock: FakeClock) -> None:
    amira = await at_the_address(zoned_config(), store, clock)
    await amira.pin(*HEATHROW)
    await amira.tap("action:keep")
    assert "Where should we deliver" in amira.text
    await amira.pin(*KENTISH_TOWN, address="Kentish Town")  # Camden's polygon
    assert "Delivering to: Kentish Town" in amira.text
    assert (await stored(store)).state == States.CHECKOUT_PAYMENT


async def test_a_pin_inside_a_radius_is_delivered_to(store: SessionStore,
                                                     clock: FakeClock) -> None:
    amira = await at_the_address(zoned_config(), store, clock)
    await amira.pin(*TRAFALGAR, address="Trafalgar Square")
    assert "outside our delivery area" not in amira.text
    assert "Delivering to: Trafalgar Square" in amira.text


async def test_typed_addresses_only_where_the_restaurant_allows_them(
        store: SessionStore, clock: FakeClock) -> None:
    amira = await at_the_address(zoned_config(typed_addresses=False), store, clock)
    assert "Share your location pin." in amira.text and "type your address" not in amira.text
    await amira.type(ADDRESS)
    assert "we can only deliver to a location pin" in amira.text
    session = await stored(store)
    assert session.state == States.CHECKOUT_ADDRESS and session.address is None
    await amira.pin(*TRAFALGAR, address="Trafalgar Square")
    assert (await stored(store)).state == States.CHECKOUT_PAYMENT


async def test_without_zones_any_pin_and_typed_address_is_accepted(
        config: AppConfig, store: SessionStore, clock: FakeClock) -> None:
    amira = await at_the_address(config, store, clock)
    await amira.pin(*HEATHROW, address="Heathrow Airport")
    assert "Delivering to: Heathrow Airport" in amira.text


@pytest.mark.parametrize(("zone", "path", "message"), [
    (" delivery_radius_km: 3,", "restaurants[0].branches[0]", "latitude and longitude"),
    (" delivery_area: [[51.5, 200], [51.6, 0], [51.7, 0]],",
     "restaurants[0].branches[0].delivery_area[0][1]", "less than or equal to 180"),
    (" delivery_area: [[51.5, 0], [51.6, 0]],", "restaurants[0].branches[0].delivery_area",
     "at least 3"),
])
def test_zones_are_checked_in_the_config_with_their_paths(zone: str, path: str,
                                                          message: str) -> None:
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        parse_config(yaml.replace(SOHO, SOHO + zone, 1))
    problems = dict(raised.value.problems)
    assert message in problems[path], problems
