"""Live events: per restaurant, after the commit, and replayed after a reconnect."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientResponse

import routes.staff.events as events_module
from routes.app import STORE
from routes.staff.api import AUTHENTICATOR, EVENTS
from routes.staff.auth import Principal
from routes.staff.events import EventHub
from storage.errors import StorageError
from tests.routes.staff.support import (
    ADMIN,
    api,
    chat,
    event_of_kind,
    next_event,
    place_order,
    staff_token,
)
from tests.whatsapp_support import Client

CARA = "447700900204"


async def test_a_move_reaches_its_restaurants_clients_only(client: Client) -> None:
    reference = await place_order(client, CARA)
    sakura = await staff_token(client, "sakura", "Kenji")
    async with client.get("/api/v1/restaurants/luigis/events", headers=ADMIN) as luigis_stream, \
            client.get("/api/v1/restaurants/sakura/events", headers=sakura) as sakura_stream:
        assert luigis_stream.status == sakura_stream.status == 200
        assert luigis_stream.headers["Content-Type"] == "text/event-stream"
        status, _ = await api(client, "POST", f"/restaurants/luigis/orders/{reference}/status",
                              {"status": "PREPARING"})
        assert status == 200
        event = await event_of_kind(luigis_stream, "order.updated")
        assert event.data["reference"] == reference and event.data["status"] == "PREPARING"
        # Sakura's stream: its own change arrives, Luigi's move never did.
        await api(client, "PUT", "/restaurants/sakura/bot", {"enabled": False})
        first = await next_event(sakura_stream)
        assert (first.event, first.data["bot_enabled"]) == ("controls.updated", False)


async def test_the_conversations_commits_are_announced(client: Client) -> None:
    async with client.get("/api/v1/restaurants/luigis/events", headers=ADMIN) as stream:
        await chat(client, CARA, "hi")
        message = await event_of_kind(stream, "message.created")
        assert message.data == {"customer": CARA}
        assert (await event_of_kind(stream, "conversation.updated")).data["customer"] == CARA
        await chat(client, CARA, "delivery", "margherita", "checkout",
                   "1 Example Road, London E1 6AN", "cash", "confirm")
        order = await event_of_kind(stream, "order.updated")
        assert (order.data["status"], order.data["customer"]) == ("CONFIRMED", CARA)


async def test_a_reconnecting_client_gets_what_it_missed_or_a_reset(client: Client) -> None:
    reference = await place_order(client, CARA)
    path = f"/restaurants/luigis/orders/{reference}/status"
    async with client.get("/api/v1/restaurants/luigis/events", headers=ADMIN) as stream:
        await api(client, "POST", path, {"status": "PREPARING"})
        seen = await event_of_kind(stream, "order.updated")
    assert seen.id is not None
    await api(client, "POST", path, {"status": "OUT_FOR_DELIVERY"})
    await api(client, "POST", path, {"status": "COMPLETED"})

    headers = {**ADMIN, "Last-Event-ID": seen.id}
    async with client.get("/api/v1/restaurants/luigis/events", headers=headers) as stream:
        missed = [await event_of_kind(stream, "order.updated") for _ in range(2)]
    assert [e.data["status"] for e in missed] == ["OUT_FOR_DELIVERY", "COMPLETED"]
    boot, _, first = seen.id.rpartition("-")
    assert all(e.id and e.id.startswith(f"{boot}-") and int(e.id.rpartition("-")[2])
               > int(first) for e in missed)

    # An id of another process life: the client must re-read everything.
    headers = {**ADMIN, "Last-Event-ID": "0000dead-3"}
    async with client.get("/api/v1/restaurants/luigis/events", headers=headers) as stream:
        reset = await next_event(stream)
    assert reset.event == "reset" and reset.id is not None


async def test_evicted_events_mean_reset() -> None:
    hub = EventHub(capacity=2)
    hub.publish("luigis", "order.updated", {"n": 1})
    first = hub.last_id
    hub.publish("sakura", "order.updated", {"n": 2})
    assert [e.data for e in hub.subscribe("luigis", first).replay] == []
    for n in range(3, 6):
        hub.publish("luigis", "order.updated", {"n": n})
    late = hub.subscribe("luigis", first)
    assert late.reset and late.replay == []
    # Sakura's ring was untouched by Luigi's traffic.
    assert not hub.subscribe("sakura", first).reset


async def test_streams_end_when_the_server_stops(client: Client) -> None:
    async with client.get("/api/v1/restaurants/luigis/events", headers=ADMIN) as stream:
        client.app[EVENTS].close()
        async with asyncio.timeout(5):
            assert await stream.content.read() == b""


async def ends_within(response: ClientResponse, seconds: float) -> None:
    """The stream is closed by the server within ``seconds`` (events before that are read)."""
    async with asyncio.timeout(seconds):
        while await response.content.readline():
            pass


async def test_a_revoked_token_ends_its_open_stream(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "RECHECK_SECONDS", 0.2)
    ana = await staff_token(client, "luigis", "Ana")
    admin_stream = client.get("/api/v1/restaurants/luigis/events", headers=ADMIN)
    async with client.get("/api/v1/restaurants/luigis/events", headers=ana) as stream, \
            admin_stream as watching:
        assert stream.status == 200
        assert await client.app[STORE].revoke_staff("luigis", "Ana")
        await chat(client, CARA, "hi")
        await ends_within(stream, 3)  # checked again within RECHECK_SECONDS
        # The admin's stream goes on.
        assert (await event_of_kind(watching, "message.created")).data == {"customer": CARA}


async def test_odd_last_event_ids_get_a_reset(client: Client) -> None:
    boot = client.app[EVENTS].boot
    for odd in (f"{boot}-\u00b2", f"{boot}-{'9' * 5000}", f"{boot}--1", "-"):
        headers = {**ADMIN, "Last-Event-ID": odd}
        async with client.get("/api/v1/restaurants/luigis/events", headers=headers) as stream:
            assert stream.status == 200
            assert (await next_event(stream)).event == "reset", odd


async def test_a_store_blip_neither_ends_open_streams_nor_answers_500(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # A browser's EventSource gives up for good on a refused reconnection: a
    # moment without the database must not cut an authorised stream, and what
    # cannot be answered meanwhile is a 503 to retry, never a 500.
    monkeypatch.setattr(events_module, "RECHECK_SECONDS", 0.05)
    ana = await staff_token(client, "luigis", "Ana")
    authenticator = client.app[AUTHENTICATOR]
    real = authenticator.principal
    away = {"on": False}

    async def principal(authorization: str | None) -> Principal | None:
        if away["on"]:
            raise StorageError("database unreachable")
        return await real(authorization)

    monkeypatch.setattr(authenticator, "principal", principal)
    async with client.get("/api/v1/restaurants/luigis/events", headers=ana) as stream:
        away["on"] = True
        await asyncio.sleep(0.3)  # several checks fail meanwhile
        status, body = await api(client, "GET", "/restaurants/luigis/orders", headers=ana)
        assert status == 503 and "unavailable" in body["error"]
        away["on"] = False
        await chat(client, CARA, "hi")
        assert (await event_of_kind(stream, "message.created")).data == {"customer": CARA}


async def test_an_authorization_header_that_is_not_utf8_is_a_401(client: Client) -> None:
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(b"GET /api/v1/restaurants/luigis/orders HTTP/1.1\r\nHost: test\r\n"
                     b"Authorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n")
        await writer.drain()
        assert (await reader.readline()).split()[1] == b"401"
    finally:
        writer.close()
