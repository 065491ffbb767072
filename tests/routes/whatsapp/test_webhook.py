"""The WhatsApp webhook served by the real app on loopback, replies to a fake Graph API."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from routes.app import STORE
from routes.whatsapp.signature import sign
from storage.base import SessionKey
from tests.fake_graph import FakeGraph, compare_with_outbox
from tests.whatsapp_support import (
    AMIRA,
    FIXTURE_TIME,
    SECRET,
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


async def test_verification_handshake(client: Client) -> None:
    ok = await client.get("/webhook", params={"hub.mode": "subscribe",
                                              "hub.verify_token": "verify-me",
                                              "hub.challenge": "1158201444"})
    assert ok.status == 200
    assert await ok.text() == "1158201444"
    wrong = await client.get("/webhook", params={"hub.mode": "subscribe",
                                                 "hub.verify_token": "nope",
                                                 "hub.challenge": "1158201444"})
    assert wrong.status == 403
    assert "1158201444" not in await wrong.text()


async def test_healthz(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200


@pytest.mark.parametrize(("signature", "status"), [
    (None, 401),
    ("sha256=" + "0" * 64, 403),
    ("sha256=é" + "0" * 63, 403),
    ("sha1=abc", 403),
])
async def test_bad_signatures_are_refused_without_effect(client: Client, graph: FakeGraph,
                                                         signature: str | None,
                                                         status: int) -> None:
    assert await post(client, fixture("text.json"), signature) == status
    await settle(client)
    assert await client.app[STORE].load_snapshot(AMIRA) is None
    assert graph.sends == []


async def test_invalid_json_and_oversize(client: Client) -> None:
    assert await post(client, b"{not json") == 400
    huge = b'{"object":"whatsapp_business_account","entry":[],"pad":"' + b"x" * (5 << 20) + b'"}'
    assert await post(client, huge) == 413


async def test_unicode_escaped_signature_over_exact_bytes(client: Client,
                                                          graph: FakeGraph) -> None:
    raw = fixture("unicode_escaped.json")
    reserialized = json.dumps(json.loads(raw)).encode()
    assert await post(client, reserialized, sign(SECRET, raw)) == 403
    assert await post(client, raw) == 200
    await settle(client)
    assert bodies_to(graph, "+447700900123")


async def test_text_message_is_answered_through_graph(client: Client, graph: FakeGraph) -> None:
    assert await post(client, fixture("text.json")) == 200
    await settle(client)
    [reply] = graph.sends
    assert reply.authorization == "Bearer token-1"
    assert reply.phone_number_id == "109876543210001"
    assert reply.body["to"] == "+447700900123"
    assert reply.body["interactive"]["type"] == "button"
    assert "Welcome to Luigi's Pizzeria!" in reply.body["interactive"]["body"]["text"]
    [read] = graph.reads
    assert read.body["message_id"].startswith("wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0Ew")
    assert await client.app[STORE].inbox_state(read.body["message_id"]) == "processed"


async def test_redelivery_and_batch_have_no_second_effect(client: Client,
                                                          graph: FakeGraph) -> None:
    assert await post(client, fixture("text.json")) == 200
    assert await post(client, fixture("button_reply.json")) == 200
    await settle(client)
    assert (await session_of(client, AMIRA)).state == "choosing_category"
    sent_before = len(graph.sends)

    # The batch re-delivers text.json's message id among two new messages.
    assert await post(client, fixture("batch_two_restaurants.json")) == 200
    assert await post(client, fixture("text.json")) == 200
    await settle(client)
    assert (await session_of(client, AMIRA)).state == "choosing_category"
    assert len(graph.sends) == sent_before + 2
    tom_luigis = await session_of(client, SessionKey("luigis", "14155550142"))
    tom_sakura = await session_of(client, SessionKey("sakura", "14155550142"))
    assert tom_luigis.welcomed and tom_sakura.welcomed
    assert any("Sakura Ramen" in body for body in bodies_to(graph, "+14155550142"))


async def test_a_message_retried_after_an_outage_does_not_resume_the_stale_cart(
        client: Client, graph: FakeGraph, fixture_clock: FixtureDayClock) -> None:
    assert await post(client, fixture("text.json")) == 200
    assert await post(client, fixture("button_reply.json")) == 200
    await settle(client)
    assert (await session_of(client, AMIRA)).state == "choosing_category"

    # Sent a minute later, but acknowledged only after two days of downtime.
    fixture_clock.advance(2 * 24 * 3600)
    late = text_message(AMIRA.customer_id, "wamid.LATE1", "pizza", sent_at=FIXTURE_TIME + 60)
    assert await post(client, notification([late])) == 200
    await settle(client)
    reply = bodies_to(graph, "+447700900123")[-1]
    assert "started a fresh order" in reply
    assert "only reached us now, so we haven't acted on it" in reply
    assert reply.endswith("How would you like to get your order?")
    session = await session_of(client, AMIRA)
    assert session.state == "choosing_order_type"
    assert session.cart.is_empty


async def test_a_late_message_is_not_applied_to_a_newer_conversation(
        client: Client, graph: FakeGraph, fixture_clock: FixtureDayClock) -> None:
    fixture_clock.advance(3 * 3600)
    now = int(fixture_clock())
    fresh = [text_message(AMIRA.customer_id, "wamid.NEW1", "hi", sent_at=now - 5),
             text_message(AMIRA.customer_id, "wamid.NEW2", "pickup", sent_at=now - 4)]
    assert await post(client, notification(fresh)) == 200
    await settle(client)
    assert (await session_of(client, AMIRA)).state == "choosing_branch"

    # A tap from three hours ago, re-delivered now, must not pick a category.
    assert await post(client, fixture("list_reply.json")) == 200
    await settle(client)
    reply = bodies_to(graph, "+447700900123")[-1]
    assert "only reached us now" in reply
    assert "started a fresh order" not in reply
    assert (await session_of(client, AMIRA)).state == "choosing_branch"


async def test_user_id_only_continues_the_same_conversation(client: Client,
                                                            graph: FakeGraph) -> None:
    assert await post(client, fixture("text.json")) == 200
    assert await post(client, fixture("button_reply.json")) == 200
    await settle(client)
    assert await post(client, fixture("user_id_only.json")) == 200  # types "cart"
    await settle(client)
    last = graph.sends[-1].body
    assert last["to"] == "+447700900123"
    assert "Your cart is empty" in last["interactive"]["body"]["text"]
    assert (await session_of(client, AMIRA)).state == "choosing_category"


async def test_user_id_only_without_known_phone_replies_by_recipient(
        client: Client, graph: FakeGraph) -> None:
    assert await post(client, fixture("user_id_only.json")) == 200
    await settle(client)
    [reply] = graph.sends
    assert reply.body["recipient"] == "GB.80412297731100456"
    assert "to" not in reply.body


@pytest.mark.parametrize("name", ["image.json", "quick_reply_button.json", "unsupported.json",
                                  "location.json", "list_reply.json"])
async def test_every_usable_or_unusable_message_gets_a_polite_answer(
        client: Client, graph: FakeGraph, name: str) -> None:
    assert await post(client, fixture(name)) == 200
    await settle(client)
    assert len(graph.sends) == 1
    assert "Welcome to Luigi's Pizzeria!" in bodies_to(graph, "+447700900123")[0]


@pytest.mark.parametrize("name", ["status_delivered.json", "status_failed.json",
                                  "value_errors.json", "unknown_field.json"])
async def test_statuses_errors_and_unknown_fields_are_acknowledged(
        client: Client, graph: FakeGraph, name: str) -> None:
    assert await post(client, fixture(name)) == 200
    await settle(client)
    assert graph.sends == []


async def test_status_never_moves_backwards(client: Client) -> None:
    assert await post(client, fixture("status_read_before_delivered.json")) == 200
    assert await post(client, fixture("status_delivered.json")) == 200
    assert await client.app[STORE].message_status("wamid.OUTBOUND0000000000000001") == "read"


async def test_one_post_with_1000_messages_from_100_customers(client: Client,
                                                              graph: FakeGraph) -> None:
    messages = []
    for n in range(1000):
        step = n // 100
        text = "hi" if step == 0 else ("delivery" if step == 1 else "margherita")
        messages.append(text_message(f"4477009{n % 100:05d}", f"wamid.BULK{n:06d}", text))
    assert await post(client, notification(messages)) == 200
    await settle(client)
    outbox = await client.app[STORE].list_outbox()
    assert len([row for row in outbox if row.kind == "read"]) == 1000  # processed once each
    assert {row.state for row in outbox} == {"sent"}
    missing, extras = compare_with_outbox(graph, [
        (row.phone_number_id, row.key.customer_id, row.kind, row.body.encode())
        for row in outbox])
    assert (missing, extras) == ([], Counter())
    for n in (0, 42, 99):
        session = await session_of(client, SessionKey("luigis", f"4477009{n:05d}"))
        [line] = session.cart.lines
        assert (line.item_id, line.quantity) == ("margherita", 8)


async def test_transient_graph_errors_are_retried(client: Client, graph: FakeGraph) -> None:
    graph.fail_next(1, 131000, 500)
    assert await post(client, fixture("text.json")) == 200
    await graph.wait_for_sends(1, timeout=10)
    assert len(graph.failures) == 1
    assert graph.sends[0].body == graph.failures[0].body


async def test_later_replies_wait_behind_one_being_retried(client: Client,
                                                           graph: FakeGraph) -> None:
    graph.fail_next(1, 130429, 429)
    assert await post(client, fixture("text.json")) == 200
    for _ in range(500):  # until the first reply has failed once
        if graph.failures:
            break
        await asyncio.sleep(0.01)
    assert await post(client, fixture("button_reply.json")) == 200  # answered meanwhile
    await graph.wait_for_sends(2, timeout=15)
    first, second = bodies_to(graph, "+447700900123")
    assert "Welcome to Luigi's Pizzeria!" in first
    assert "Welcome" not in second


async def test_window_closed_is_not_retried(client: Client, graph: FakeGraph) -> None:
    graph.fail_next(1, 131047)
    assert await post(client, fixture("text.json")) == 200
    await settle(client)
    await asyncio.sleep(0.3)
    assert len(graph.failures) == 1
    assert graph.sends == []
    [row] = [row for row in await client.app[STORE].list_outbox(AMIRA) if row.kind == "message"]
    assert row.state == "failed"
    assert "131047" in (row.error or "")


async def test_a_failed_read_receipt_neither_holds_up_the_reply_nor_is_retried(
        client: Client, graph: FakeGraph) -> None:
    graph.fail_next_read(1, 130429, 429)
    assert await post(client, fixture("text.json")) == 200
    await settle(client)
    await asyncio.sleep(0.3)
    assert len(graph.failures) == 1 and graph.reads == []
    assert "Welcome to Luigi's Pizzeria!" in bodies_to(graph, "+447700900123")[0]
    [receipt] = [row for row in await client.app[STORE].list_outbox(AMIRA) if row.kind == "read"]
    assert (receipt.state, receipt.attempts) == ("failed", 1)
