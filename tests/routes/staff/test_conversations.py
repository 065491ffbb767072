"""Conversations: takeover keeps the bot quiet, staff replies go out once, Meta's 24 h."""

from __future__ import annotations

from routes.app import STORE
from storage.base import SessionKey
from tests.fake_graph import FakeGraph
from tests.routes.staff.support import api, chat, staff_token, texts_to
from tests.whatsapp_support import Client, FixtureDayClock, session_of, settle

BEN = "447700900203"
KEY = SessionKey("luigis", BEN)


async def test_takeover_silences_the_bot_but_logs_and_handback_resumes(
        client: Client, graph: FakeGraph) -> None:
    await chat(client, BEN, "hi", "delivery", "margherita")
    state = (await session_of(client, KEY)).state
    replies = len(texts_to(graph, BEN))
    base = f"/restaurants/luigis/conversations/{BEN}"
    status, view = await api(client, "POST", f"{base}/takeover")
    assert status == 200 and view["bot_paused"] is True and view["state"] == state
    assert (await api(client, "POST", f"{base}/takeover"))[1]["bot_paused"] is True  # idempotent

    await chat(client, BEN, "is anyone there?")
    assert len(texts_to(graph, BEN)) == replies  # no bot reply
    status, page = await api(client, "GET", f"{base}/messages")
    assert page["messages"][-1]["text"] == "is anyone there?"
    assert page["messages"][-1]["direction"] == "in"
    status, listed = await api(client, "GET", "/restaurants/luigis/conversations")
    [row] = [c for c in listed["conversations"] if c["customer"] == BEN]
    assert row["bot_paused"] is True and row["unread"] >= 1

    status, view = await api(client, "POST", f"{base}/handback")
    assert status == 200 and view["bot_paused"] is False and view["handoff_requested"] is False
    await chat(client, BEN, "cart")
    assert len(texts_to(graph, BEN)) == replies + 1
    session = await session_of(client, KEY)
    assert session.state == state and len(session.cart) == 1  # the stored state and cart


async def test_a_staff_reply_goes_out_once_as_the_staff_member(
        client: Client, graph: FakeGraph) -> None:
    await chat(client, BEN, "hi")
    headers = await staff_token(client, "luigis", "Ana")
    base = f"/restaurants/luigis/conversations/{BEN}"
    status, body = await api(client, "POST", f"{base}/messages",
                             {"text": "Hello Ben, Ana here."}, headers=headers)
    assert status == 202 and body["queued"] is True
    await settle(client)
    assert texts_to(graph, BEN).count("Hello Ben, Ana here.") == 1
    status, page = await api(client, "GET", f"{base}/messages")
    last = page["messages"][-1]
    assert (last["direction"], last["author"], last["text"]) == ("out", "Ana",
                                                                 "Hello Ben, Ana here.")
    assert last["status"] in ("sent", "delivered", "read")
    record = await client.app[STORE].conversation(KEY)
    assert record is not None and record.unread == 0
    status, body = await api(client, "POST", f"{base}/messages", {"text": ""}, headers=headers)
    assert (status, body["field"]) == (400, "text")


async def test_a_reply_after_24_hours_is_refused(client: Client, graph: FakeGraph,
                                                fixture_clock: FixtureDayClock) -> None:
    await chat(client, BEN, "hi")
    sent = len(graph.sends)
    fixture_clock.advance(24 * 3600 + 60)
    base = f"/restaurants/luigis/conversations/{BEN}"
    status, body = await api(client, "POST", f"{base}/messages", {"text": "Still hungry?"})
    assert status == 409
    assert "24 h" in body["error"]
    await settle(client)
    assert len(graph.sends) == sent
    status, _ = await api(client, "POST", "/restaurants/luigis/conversations/nobody/messages",
                          {"text": "hello"})
    assert status == 404


async def test_the_switch_and_sold_out_items_are_stored(client: Client) -> None:
    status, body = await api(client, "PUT", "/restaurants/luigis/bot", {"enabled": False})
    assert (status, body["bot_enabled"]) == (200, False)
    status, body = await api(client, "PUT", "/restaurants/luigis/items/margherita/availability",
                             {"available": False})
    assert (status, body["sold_out"]) == (200, ["margherita"])
    controls = await client.app[STORE].controls("luigis")
    assert not controls.bot_enabled and controls.sold_out == frozenset({"margherita"})
    status, body = await api(client, "GET", "/restaurants/luigis")
    assert body["bot_enabled"] is False
    assert {i["id"]: i["available"] for i in body["items"]}["margherita"] is False
    status, _ = await api(client, "PUT", "/restaurants/luigis/items/sushi/availability",
                          {"available": False})
    assert status == 404  # not on Luigi's menu
    status, body = await api(client, "PUT", "/restaurants/luigis/bot", {"enabled": "no"})
    assert (status, body["field"]) == (400, "enabled")
