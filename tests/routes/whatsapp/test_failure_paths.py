"""Failure paths through the real app: a raising handler, a late message, a store refusing."""

from __future__ import annotations

from typing import Any

import pytest

from fsm.cart import Cart, CartLine
from fsm.config import Addon, Item
from fsm.states import States
from routes.app import INBOX, STORE
from routes.conversation.dispatcher import FAILURE_REPLY
from storage.base import InboxRecord
from storage.errors import StorageError
from tests.fake_graph import FakeGraph
from tests.whatsapp_support import (
    AMIRA,
    Client,
    FixtureDayClock,
    bodies_to,
    fixture,
    notification,
    post,
    session_of,
    settle,
    text_message,
)

TEXT_ID = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0EwMDAwMDAwMDAwMDAwMDAwMDEA"
TTL = 30 * 60  # config.yaml: session.ttl_minutes


def list_reply(customer: str, message_id: str, choice_id: str, sent_at: int) -> dict[str, Any]:
    """A tap on a row of a list message, as Meta delivers it."""
    return {"from": customer, "id": message_id, "timestamp": str(sent_at), "type": "interactive",
            "interactive": {"type": "list_reply",
                            "list_reply": {"id": choice_id, "title": choice_id}}}


async def choosing_a_category(client: Client, clock: FixtureDayClock) -> int:
    """Amira says hi and picks delivery, just now; returns now."""
    now = int(clock())
    fresh = [text_message(AMIRA.customer_id, "wamid.NEW1", "hi", sent_at=now - 5),
             text_message(AMIRA.customer_id, "wamid.NEW2", "delivery", sent_at=now - 4)]
    assert await post(client, notification(fresh)) == 200
    await settle(client)
    assert (await session_of(client, AMIRA)).state == States.CHOOSING_CATEGORY
    return now


async def test_a_handler_that_raises_is_answered_marked_and_leaves_the_stored_conversation(
        client: Client, graph: FakeGraph, fixture_clock: FixtureDayClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = await choosing_a_category(client, fixture_clock)
    real_add = Cart.add
    failed: list[str] = []

    def add_then_fail(self: Cart, item: Item, addons: tuple[Addon, ...] = (),
                      quantity: int = 1) -> CartLine:
        line = real_add(self, item, addons, quantity)
        if not failed:
            failed.append(item.id)
            raise RuntimeError("bug after the cart was changed")
        return line

    monkeypatch.setattr(Cart, "add", add_then_fail)
    tap = list_reply(AMIRA.customer_id, "wamid.TAP1", "item:margherita", now - 3)
    assert await post(client, notification([tap])) == 200
    await settle(client)

    assert failed == ["margherita"]
    assert bodies_to(graph, "+447700900123")[-1] == FAILURE_REPLY
    assert await client.app[STORE].inbox_state("wamid.TAP1") == "processed"  # not retried
    stored = await session_of(client, AMIRA)
    assert (stored.state, stored.cart.is_empty) == (States.CHOOSING_CATEGORY, True)

    again = list_reply(AMIRA.customer_id, "wamid.TAP2", "item:margherita", now - 2)
    assert await post(client, notification([again])) == 200
    await settle(client)
    reply = bodies_to(graph, "+447700900123")[-1]
    assert "Added Margherita" in reply and "Subtotal: £9.50" in reply
    [line] = (await session_of(client, AMIRA)).cart.lines
    assert line.quantity == 1


@pytest.mark.parametrize("choice_id", ["category:pizza", "item:margherita"])
async def test_a_late_tap_that_would_apply_now_is_answered_not_applied(
        client: Client, graph: FakeGraph, fixture_clock: FixtureDayClock,
        choice_id: str) -> None:
    now = await choosing_a_category(client, fixture_clock)
    before = await session_of(client, AMIRA)

    # Sent 31 minutes ago (Meta held it through an outage): older than the session TTL.
    late = list_reply(AMIRA.customer_id, "wamid.LATE", choice_id, now - TTL - 60)
    assert await post(client, notification([late])) == 200
    await settle(client)

    reply = bodies_to(graph, "+447700900123")[-1]
    assert "only reached us now, so we haven't acted on it" in reply
    assert "started a fresh order" not in reply  # the conversation itself is recent
    assert "Added" not in reply
    after = await session_of(client, AMIRA)
    assert (after.state, after.category_id, after.cart) == (
        before.state, before.category_id, before.cart)
    assert after.state == States.CHOOSING_CATEGORY and after.cart.is_empty
    assert await client.app[STORE].inbox_state("wamid.LATE") == "processed"

    # The same tap sent now is applied: the message was refused for being late, nothing else.
    fresh = list_reply(AMIRA.customer_id, "wamid.FRESH", choice_id, now - 1)
    assert await post(client, notification([fresh])) == 200
    await settle(client)
    assert (await session_of(client, AMIRA)).state != States.CHOOSING_CATEGORY


async def test_a_tap_just_inside_the_ttl_is_applied(
        client: Client, fixture_clock: FixtureDayClock) -> None:
    now = await choosing_a_category(client, fixture_clock)
    tap = list_reply(AMIRA.customer_id, "wamid.OLDISH", "category:pizza", now - TTL + 60)
    assert await post(client, notification([tap])) == 200
    await settle(client)
    after = await session_of(client, AMIRA)
    assert (after.state, after.category_id) == (States.BROWSING_ITEMS, "pizza")


async def test_a_store_failing_at_accept_answers_503_and_processes_nothing(
        client: Client, graph: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app[STORE]
    tried: list[list[str]] = []

    async def refusing(records: list[InboxRecord], *args: object) -> list[str]:
        tried.append([record.message_id for record in records])
        raise StorageError("database or disk is full")

    monkeypatch.setattr(store, "accept_inbound", refusing)
    assert await post(client, fixture("text.json")) == 503
    await settle(client)

    assert tried == [[TEXT_ID]]
    assert len(client.app[INBOX]) == 0 and client.app[INBOX].processed == 0
    assert await store.inbox_state(TEXT_ID) is None
    assert await store.load_snapshot(AMIRA) is None
    assert graph.sends == [] and graph.reads == []

    # Meta retries once we answer 503; when the store is back, the message is served.
    monkeypatch.undo()
    assert await post(client, fixture("text.json")) == 200
    await settle(client)
    assert "Welcome to Luigi's Pizzeria!" in bodies_to(graph, "+447700900123")[0]
