"""Console writes: the origin check, the CSRF token, and each write doing what the API does."""

from __future__ import annotations

import pytest

from routes.app import STORE
from storage.base import SessionKey
from tests.fake_graph import FakeGraph
from tests.routes.console.support import admin_at, origin, page, sign_in, write
from tests.routes.staff.support import chat, place_order, texts_to
from tests.whatsapp_support import Client, FixtureDayClock, settle

ALICE = "447700900301"
BEN = "447700900302"
BEN_KEY = SessionKey("luigis", BEN)


async def status_of(client: Client, reference: str) -> str:
    order = await client.app[STORE].order("luigis", reference)
    assert order is not None
    return order.status


@pytest.mark.parametrize("source", ["http://evil.example", "null", None])
async def test_a_write_from_another_origin_or_none_is_403_and_changes_nothing(
        client: Client, graph: FakeGraph, source: str | None) -> None:
    reference = await place_order(client, ALICE)
    csrf = await admin_at(client)
    sent = len(graph.sends)
    status, body = await write(client, f"/console/orders/{reference}/status",
                               {"status": "PREPARING"}, csrf, source=source)
    assert status == 403 and "cross-origin" in body
    assert await status_of(client, reference) == "CONFIRMED"
    await settle(client)
    assert len(graph.sends) == sent


async def test_a_same_host_referer_stands_in_for_a_missing_origin(client: Client) -> None:
    reference = await place_order(client, ALICE)
    csrf = await admin_at(client)
    async with client.post(f"/console/orders/{reference}/status",
                           data={"status": "PREPARING", "csrf": csrf}, allow_redirects=False,
                           headers={"Referer": f"{origin(client)}/console"}) as response:
        assert response.status == 303
    assert await status_of(client, reference) == "PREPARING"


async def test_sign_in_from_another_origin_is_403(client: Client) -> None:
    async with client.post("/console/login", data={"token": "admin-token-3b9f0c"},
                           headers={"Origin": "http://evil.example"},
                           allow_redirects=False) as response:
        assert response.status == 403
        assert "Set-Cookie" not in response.headers


async def test_a_write_without_the_sessions_csrf_token_is_403(client: Client) -> None:
    reference = await place_order(client, ALICE)
    csrf = await admin_at(client)
    path = f"/console/orders/{reference}/status"
    assert (await write(client, path, {"status": "PREPARING"}, None))[0] == 403
    other = ("y" if csrf[0] == "x" else "x") + csrf[1:]  # one character off, whatever it was
    assert (await write(client, path, {"status": "PREPARING"}, other))[0] == 403
    assert await status_of(client, reference) == "CONFIRMED"
    assert (await write(client, path, {"status": "PREPARING"}, csrf))[0] == 303
    assert await status_of(client, reference) == "PREPARING"


async def test_a_csrf_token_is_bound_to_its_session(client: Client) -> None:
    old = await admin_at(client)
    client.session.cookie_jar.clear()
    assert (await sign_in(client)).status == 303  # a second session, its own token
    status, _ = await write(client, "/console/restaurants", {"restaurant": "luigis"}, old)
    assert status == 403


async def test_a_move_tells_the_customer_once_and_cancel_needs_a_reason(
        client: Client, graph: FakeGraph) -> None:
    reference = await place_order(client, ALICE)
    csrf = await admin_at(client)
    before = len(texts_to(graph, ALICE))
    path = f"/console/orders/{reference}/status"
    status, body = await write(client, path, {"status": "PREPARING"}, csrf, json=True)
    assert status == 200 and '"status": "PREPARING"' in body
    status, body = await write(client, path, {"status": "COMPLETED"}, csrf, json=True)
    assert status == 409 and "cannot become COMPLETED" in body
    status, body = await write(client, path, {"status": "CANCELLED"}, csrf, json=True)
    assert status == 400 and '"field": "reason"' in body
    await settle(client)
    told = texts_to(graph, ALICE)[before:]
    assert told == [f"Your order {reference} is being prepared."]
    history = await client.app[STORE].order_history("luigis", reference)
    assert history[-1].actor == "admin"


async def test_takeover_reply_handback_and_the_24_hour_window(
        client: Client, graph: FakeGraph, fixture_clock: FixtureDayClock) -> None:
    await chat(client, BEN, "hi")
    csrf = await admin_at(client)
    base = f"/console/conversations/{BEN}"
    assert (await write(client, f"{base}/takeover", {}, csrf))[0] == 303
    record = await client.app[STORE].conversation(BEN_KEY)
    assert record is not None and record.bot_paused
    status, _ = await write(client, f"{base}/messages", {"text": "Ana here, hello!"}, csrf,
                            json=True)
    assert status == 200
    await settle(client)
    assert texts_to(graph, BEN).count("Ana here, hello!") == 1
    assert (await write(client, f"{base}/handback", {}, csrf))[0] == 303
    record = await client.app[STORE].conversation(BEN_KEY)
    assert record is not None and not record.bot_paused

    # A day later, the console used all along (an idle session would have ended).
    for hours in (10, 10, 4):
        fixture_clock.advance(hours * 3600)
        assert (await page(client, base))[0] == 200
    fixture_clock.advance(60)
    status, body = await write(client, f"{base}/messages", {"text": "still there?"}, csrf,
                               json=True)
    assert status == 409 and "24 h" in body
    async with client.get(base) as response:
        html = await response.text()
    assert '<p class="window-note" id="window-note">' in html  # shown, not hidden
    assert '<textarea id="reply-text" name="text" rows="3" maxlength="4096" required disabled>' \
        in html


async def test_the_bot_switch_and_sold_out_items(client: Client) -> None:
    csrf = await admin_at(client)
    assert (await write(client, "/console/controls/bot", {"enabled": "false"}, csrf))[0] == 303
    assert (await write(client, "/console/controls/items/margherita", {"available": "false"},
                        csrf))[0] == 303
    controls = await client.app[STORE].controls("luigis")
    assert not controls.bot_enabled and controls.sold_out == frozenset({"margherita"})
    async with client.get("/console/controls") as response:
        html = await response.text()
    assert 'data-enabled="false"' in html
    assert '<li class="item sold-out" data-item="margherita">' in html
    status, _ = await write(client, "/console/controls/items/sushi", {"available": "false"},
                            csrf, json=True)
    assert status == 404  # not on Luigi's menu
