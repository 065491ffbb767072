"""Who may call the API: 401 without a valid token, 404 for another restaurant's data."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from routes.app import STORE
from routes.staff.auth import Authenticator, hash_token
from tests.routes.staff.support import ADMIN_TOKEN, api, place_order, staff_token
from tests.whatsapp_support import Client

ALICE = "447700900202"


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ADMIN_TOKEN}"},
    {"Authorization": "Bearer "}, {"Authorization": f"Bearer {ADMIN_TOKEN}x"}])
async def test_missing_or_wrong_token_is_401(client: Client, headers: dict[str, str]) -> None:
    for path in ("/restaurants", "/restaurants/luigis/orders", "/restaurants/nowhere/orders"):
        status, body = await api(client, "GET", path, headers=headers)
        assert status == 401, path
        assert "token" in body["error"]
    status, _ = await api(client, "PUT", "/restaurants/luigis/bot", {"enabled": False},
                          headers=headers)
    assert status == 401


async def test_a_staff_token_sees_only_its_restaurant(client: Client) -> None:
    reference = await place_order(client, ALICE)
    sakura = await staff_token(client, "sakura", "Kenji")
    luigis = await staff_token(client, "luigis", "Ana")

    status, body = await api(client, "GET", "/restaurants/luigis/orders", headers=luigis)
    assert status == 200 and [o["reference"] for o in body["orders"]] == [reference]
    status, body = await api(client, "GET", "/restaurants", headers=luigis)
    assert body == {"restaurants": [{"id": "luigis", "name": "Luigi's Pizzeria"}]}

    # Luigi's data with Sakura's token: the same 404 as for what does not exist.
    for method, path, payload in [
            ("GET", "/restaurants/luigis/orders", None),
            ("GET", f"/restaurants/luigis/orders/{reference}", None),
            ("POST", f"/restaurants/luigis/orders/{reference}/status", {"status": "PREPARING"}),
            ("GET", "/restaurants/luigis/conversations", None),
            ("GET", f"/restaurants/luigis/conversations/{ALICE}/messages", None),
            ("POST", f"/restaurants/luigis/conversations/{ALICE}/takeover", None),
            ("POST", f"/restaurants/luigis/conversations/{ALICE}/messages", {"text": "hi"}),
            ("PUT", "/restaurants/luigis/bot", {"enabled": False}),
            ("PUT", "/restaurants/luigis/items/margherita/availability", {"available": False}),
            ("GET", "/restaurants/luigis/events", None),
            ("GET", "/restaurants/nowhere/orders", None)]:
        status, body = await api(client, method, path, payload, headers=sakura)
        assert (status, body) == (404, {"error": "not found"}), path
    status, _ = await api(client, "GET", "/restaurants/nowhere/orders")
    assert status == 404  # the admin too: no such restaurant
    order = await client.app[STORE].order("luigis", reference)
    assert order is not None and order.status == "CONFIRMED"
    controls = await client.app[STORE].controls("luigis")
    assert controls.bot_enabled and not controls.sold_out


async def test_a_revoked_token_is_401_at_once(client: Client) -> None:
    headers = await staff_token(client, "luigis", "Ana")
    assert (await api(client, "GET", "/restaurants/luigis/orders", headers=headers))[0] == 200
    assert await client.app[STORE].revoke_staff("luigis", "Ana")
    assert (await api(client, "GET", "/restaurants/luigis/orders", headers=headers))[0] == 401


async def test_tokens_are_stored_hashed_and_never_shown(client: Client,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    headers = await staff_token(client, "luigis", "Ana")
    token = headers["Authorization"].removeprefix("Bearer ")
    [member] = await client.app[STORE].staff("luigis")
    assert member.token_hash == hash_token(token) and token not in repr(member)
    await api(client, "GET", "/restaurants/luigis/orders", headers=headers)
    await api(client, "GET", "/restaurants/luigis/orders", headers={"Authorization": "Bearer x"})
    authenticator = Authenticator(SecretStr(ADMIN_TOKEN), client.app[STORE])
    assert ADMIN_TOKEN not in repr(authenticator)
    for secret in (token, ADMIN_TOKEN):
        assert secret not in caplog.text
