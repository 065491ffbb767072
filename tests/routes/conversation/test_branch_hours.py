"""Opening hours per pickup branch (issue 14 item 6): a closed branch cannot be chosen or
confirmed for pickup, another branch can; the restaurant's own hours apply as well."""

from __future__ import annotations

from fsm.config import AppConfig, parse_config
from storage.base import SessionStore
from tests.conftest import REPO, Customer, FakeClock, make_dispatcher
from tests.routes.conversation.test_opening_hours import at, restaurant

# Soho hands out orders 17:00-22:00 only; Camden keeps the restaurant's (always) hours.
SOHO_EVENINGS = '{' + ", ".join(f'{day}: ["17:00-22:00"]' for day in
                                ("mon", "tue", "wed", "thu", "fri", "sat", "sun")) + '}'


def branch_hours_config() -> AppConfig:
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    yaml = yaml.replace("    currency: GBP\n", "    currency: GBP\n    timezone: Europe/London\n",
                        1)
    yaml = yaml.replace("      - {id: soho, ", f"      - {{hours: {SOHO_EVENINGS}, id: soho, ", 1)
    return parse_config(yaml)


def amira_at(store: SessionStore, clock: FakeClock) -> Customer:
    config = branch_hours_config()
    return Customer(make_dispatcher(config, store, clock), restaurant(config, "luigis"),
                    "447700900123")


async def test_a_closed_branch_says_when_it_opens_and_another_can_be_chosen(
        store: SessionStore, clock: FakeClock) -> None:
    at(clock, "2025-11-24 12:00")  # a Monday noon in London: Soho opens at 17:00
    amira = amira_at(store, clock)
    await amira.type("hi")
    await amira.tap("order_type:pickup")
    await amira.tap("branch:soho")
    assert ("Sorry, Luigi's Pizzeria — Soho is closed right now, so we can't take your "
            "order. We open again on Monday 17:00.") in amira.text
    assert "branch:camden" in amira.option_ids  # asked again

    await amira.tap("branch:camden")
    assert "Pickup from Camden." in amira.text


async def pickup_from_soho_to_confirmation(amira: Customer) -> None:
    await amira.type("hi")
    for tap in ("order_type:pickup", "branch:soho", "category:pizza", "item:margherita",
                "action:checkout"):
        await amira.tap(tap)
    method = amira.restaurant.payment_methods[0]
    await amira.tap(f"payment:{method}")


async def test_a_pickup_is_not_confirmed_while_its_branch_is_closed(
        store: SessionStore, clock: FakeClock) -> None:
    at(clock, "2025-11-24 21:50")
    amira = amira_at(store, clock)
    await pickup_from_soho_to_confirmation(amira)
    at(clock, "2025-11-24 22:01")  # Soho closed while the customer was deciding
    await amira.tap("action:confirm")
    assert "Luigi's Pizzeria — Soho is closed right now" in amira.text
    assert "We open again on Tuesday 17:00" in amira.text
    assert await store.list_orders() == []


async def test_a_pickup_is_confirmed_while_its_branch_is_open(
        store: SessionStore, clock: FakeClock) -> None:
    at(clock, "2025-11-24 21:40")
    amira = amira_at(store, clock)
    await pickup_from_soho_to_confirmation(amira)
    await amira.tap("action:confirm")
    assert "is confirmed" in amira.text
    assert len(await store.list_orders()) == 1
