"""Opening hours per restaurant, in its time zone (issue 14 item 6), with the injectable
clock: closed, the bot says when it opens next and takes no order (orders for later are
not accepted); the message is still logged for staff. The demo config has no ``hours``
(always open); here Luigi's opens 11:00-22:00 London time every day, and Sakura
11:00-22:00 Tokyo time on weekdays."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fsm.config import AppConfig, Restaurant, parse_config
from fsm.session import Session
from fsm.states import States
from storage.base import SessionKey, SessionStore
from storage.codec import decode_snapshot
from tests.conftest import REPO, Customer, FakeClock, make_dispatcher
from tests.routes.conversation.orders_support import check_out, confirm

LONDON, TOKYO = ZoneInfo("Europe/London"), ZoneInfo("Asia/Tokyo")
EVERY_DAY = "{" + ", ".join(f'{day}: ["11:00-22:00"]'
                            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")) + "}"
WEEKDAYS = '{mon: ["11:00-22:00"], tue: ["11:00-22:00"], wed: ["11:00-22:00"], ' \
    'thu: ["11:00-22:00"], fri: ["11:00-22:00"]}'


def config_with_hours(*, sakura_languages: str = "") -> AppConfig:
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    yaml = yaml.replace("    currency: GBP\n", "    currency: GBP\n    timezone: Europe/London\n"
                        f"    hours: {EVERY_DAY}\n", 1)
    yaml = yaml.replace("    currency: EUR\n", f"    currency: EUR\n{sakura_languages}"
                        f"    timezone: Asia/Tokyo\n    hours: {WEEKDAYS}\n", 1)
    return parse_config(yaml)


def restaurant(config: AppConfig, restaurant_id: str) -> Restaurant:
    found = config.restaurant(restaurant_id)
    assert found is not None
    return found


def at(clock: FakeClock, when: str, zone: ZoneInfo = LONDON) -> None:
    clock.now = datetime.fromisoformat(when).replace(tzinfo=zone).timestamp()


@pytest.fixture
def hours_config() -> AppConfig:
    return config_with_hours()


def customer_of(config: AppConfig, store: SessionStore, clock: FakeClock,
                restaurant_id: str = "luigis", customer_id: str = "447700900123") -> Customer:
    return Customer(make_dispatcher(config, store, clock), restaurant(config, restaurant_id),
                    customer_id)


async def stored(store: SessionStore, key: SessionKey) -> Session | None:
    blob = await store.load_snapshot(key)
    return None if blob is None else Session.from_snapshot(decode_snapshot(blob))


async def test_closed_at_3am_says_when_it_opens_and_still_logs_the_message(
        hours_config: AppConfig, store: SessionStore, clock: FakeClock) -> None:
    at(clock, "2025-11-24 03:00")  # a Monday, GMT
    amira = customer_of(hours_config, store, clock)
    await amira.type("hi")
    assert amira.text == ("Sorry, Luigi's Pizzeria is closed right now, so we can't take "
                          "your order. We open again on Monday 11:00.")
    await amira.tap("order_type:delivery")
    assert "We open again on Monday 11:00" in amira.text
    key = SessionKey("luigis", amira.customer_id)
    session = await stored(store, key)
    assert session is None or session.order_type is None  # nothing was applied
    log = await store.messages(key)
    assert [(m.direction, m.text) for m in log if m.direction == "in"] == [
        ("in", "hi"), ("in", "order_type:delivery")]
    assert "closed right now" in log[-1].text


async def test_open_at_noon_takes_the_order_as_usual(
        hours_config: AppConfig, store: SessionStore, clock: FakeClock) -> None:
    at(clock, "2025-11-24 12:00")
    amira = customer_of(hours_config, store, clock)
    await amira.type("hi")
    assert "Welcome to Luigi's Pizzeria" in amira.text
    for typed in ("delivery", "pizza", "margherita"):
        await amira.type(typed)
    await check_out(amira)
    order = await confirm(amira, store)
    assert order.total_minor == 950 + 250


async def test_closing_mid_order_keeps_the_cart_and_takes_no_order(
        hours_config: AppConfig, store: SessionStore, clock: FakeClock) -> None:
    at(clock, "2025-11-24 21:50")
    amira = customer_of(hours_config, store, clock)
    for typed in ("hi", "delivery", "pizza", "margherita", "checkout",
                  "221B Baker Street, London NW1 6XE", "card"):
        await amira.type(typed)
    assert "Please check your order" in amira.text
    clock.advance(15 * 60)  # 22:05: closed
    await amira.type("confirm")
    assert "closed right now" in amira.text and "We open again on Tuesday 11:00" in amira.text
    assert await store.latest_order(SessionKey("luigis", amira.customer_id)) is None
    session = await stored(store, SessionKey("luigis", amira.customer_id))
    assert session is not None and session.state == States.CHECKOUT_CONFIRMATION
    assert [line.item_id for line in session.cart] == ["margherita"]


async def test_a_restaurant_in_another_time_zone_opens_by_its_own_clock(
        hours_config: AppConfig, store: SessionStore, clock: FakeClock) -> None:
    at(clock, "2025-11-24 12:00")  # London noon: 21:00 Monday in Tokyo, open
    kenji = customer_of(hours_config, store, clock, "sakura", "819012345678")
    await kenji.type("hi")
    assert "Welcome to Sakura Ramen" in kenji.text

    at(clock, "2025-11-24 14:00")  # London is open, but it is 23:00 in Tokyo
    await kenji.type("delivery")
    assert "We open again on Tuesday 11:00" in kenji.text  # Tokyo's 11:00

    at(clock, "2025-11-29 12:00", TOKYO)  # a Saturday in Tokyo: closed until Monday
    await kenji.type("delivery")
    assert "We open again on Monday 11:00" in kenji.text


@pytest.mark.parametrize(("languages", "typed", "expected"), [
    ("    languages: [fr, en]\n", "bonjour",
     "Désolé, Sakura Ramen est fermé en ce moment : nous ne pouvons pas prendre votre "
     "commande. Réouverture : lundi 11:00."),
    ("    languages: [ar, en]\n", "مرحبا", "نفتح من جديد يوم الاثنين 11:00."),
])
async def test_the_next_opening_is_written_in_the_customers_language(
        store: SessionStore, clock: FakeClock, languages: str, typed: str,
        expected: str) -> None:
    config = config_with_hours(sakura_languages=languages)
    at(clock, "2025-11-29 12:00", TOKYO)
    kenji = customer_of(config, store, clock, "sakura", "819012345678")
    await kenji.type(typed)
    assert expected in kenji.text
