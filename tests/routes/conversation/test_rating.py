"""A rating after the order is COMPLETED, understood only then (issue 14 item 10)."""

from __future__ import annotations

from fsm.order_lifecycle import OrderStatus
from routes.conversation.order_news import order_news
from storage.base import SessionKey, SessionStore
from tests.conftest import Customer, FakeClock
from tests.routes.conversation.orders_support import check_out, complete, confirm

KEY = SessionKey("luigis", "447700900123")


async def ordered(customer: Customer, store: SessionStore) -> str:
    for typed in ("hi", "delivery", "drinks", "cola"):
        await customer.type(typed)
    await check_out(customer)
    return (await confirm(customer, store)).reference


async def ratings(store: SessionStore, reference: str) -> list[str | None]:
    return [event.reason for event in await store.order_history("luigis", reference)
            if event.from_status == event.to_status]


async def test_the_completed_notification_asks_for_a_rating(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    reference = await ordered(amira, store)
    order = await store.order("luigis", reference)
    assert order is not None
    assert "1 (poor) to 5 (great)" not in amira.text  # not at confirmation
    await complete(store, order, clock.now + 60)
    completed = await store.order("luigis", reference)
    assert completed is not None and completed.status == OrderStatus.COMPLETED
    news = order_news(completed, amira.restaurant)
    assert "is complete" in news and "1 (poor) to 5 (great)" in news
    assert "1 (poor)" not in order_news(completed, amira.restaurant, ask_rating=False)


async def test_a_rating_is_understood_only_after_the_completed_notification(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    reference = await ordered(amira, store)
    for typed in ("hi", "delivery", "pizza"):
        await amira.type(typed)
    await amira.type("3")  # before completion: the third pizza
    assert "Pepperoni" in amira.text and "Thank you for rating" not in amira.text

    order = await store.order("luigis", reference)
    assert order is not None
    clock.advance(60)
    await complete(store, order, clock.now)
    clock.advance(60)
    await amira.type("4 lovely, but a bit cold")
    assert f"Thank you for rating your order {reference}: ★★★★☆" in amira.text
    assert "Pepperoni" in amira.text  # and the step the customer was at, again
    assert await ratings(store, reference) == ["rated 4/5: lovely, but a bit cold"]

    await amira.type("5")  # now an option again, not a second rating
    assert "Thank you for rating" not in amira.text
    assert await ratings(store, reference) == ["rated 4/5: lovely, but a bit cold"]


async def test_a_number_is_not_a_rating_once_the_customer_wrote_something_else(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    reference = await ordered(amira, store)
    order = await store.order("luigis", reference)
    assert order is not None
    clock.advance(60)
    await complete(store, order, clock.now)
    clock.advance(60)
    for typed in ("hi", "delivery", "pizza", "margherita", "cart"):
        await amira.type(typed)
    await amira.type("change margherita")
    await amira.type("3")  # a quantity, while changing a line
    assert "Now 3 × Margherita" in amira.text and "rating" not in amira.text
    assert await ratings(store, reference) == []
