"""Signing in and out of the console: the token checked, the session cookie, revocation."""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie

import pytest

import routes.staff.events as events_module
from routes.app import STORE
from routes.console.sessions import COOKIE, IDLE_SECONDS
from tests.routes.console.support import (
    admin_at,
    csrf_token,
    origin,
    page,
    sign_in,
    stored_sessions,
    write,
)
from tests.routes.staff.support import ADMIN_TOKEN, staff_token
from tests.whatsapp_support import Client


def cookie_of(set_cookie: str) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    jar.load(set_cookie)
    return jar


async def test_a_wrong_token_is_refused_with_the_form_again_and_no_session(client: Client) -> None:
    response = await sign_in(client, "not-a-token")
    assert response.status == 401
    assert "Set-Cookie" not in response.headers
    assert stored_sessions(client) == []
    status, html = await page(client, "/console")
    assert (status, html) == (303, "")
    async with client.post("/console/login", data={"token": "not-a-token"},
                           headers={"Origin": origin(client)}) as again:
        assert 'id="signin-error"' in await again.text()
        assert "not-a-token" not in await again.text()


async def test_the_admin_gets_an_httponly_strict_cookie_never_the_token(client: Client) -> None:
    response = await sign_in(client)
    assert response.status == 303
    assert response.headers["Location"] == "/console/restaurants"  # the admin picks one
    morsel = cookie_of(response.headers["Set-Cookie"])[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/console"
    assert not morsel["secure"]  # plain http on loopback
    assert ADMIN_TOKEN not in morsel.value and len(morsel.value) >= 40
    status, html = await page(client, "/console/restaurants")
    assert status == 200 and ADMIN_TOKEN not in html
    assert "Luigi" in html and "Sakura" in html


async def test_behind_a_tls_proxy_the_cookie_is_secure(client: Client) -> None:
    async with client.post("/console/login", data={"token": ADMIN_TOKEN}, allow_redirects=False,
                           headers={"Origin": origin(client),
                                    "X-Forwarded-Proto": "https"}) as response:
        assert response.status == 303
        assert cookie_of(response.headers["Set-Cookie"])[COOKIE]["secure"] is True


async def test_a_staff_token_goes_straight_to_its_restaurant_and_only_there(
        client: Client) -> None:
    headers = await staff_token(client, "sakura", "Kenji")
    token = headers["Authorization"].removeprefix("Bearer ")
    response = await sign_in(client, token)
    assert (response.status, response.headers["Location"]) == (303, "/console")
    status, html = await page(client, "/console")
    assert status == 200 and "Sakura" in html
    csrf = await csrf_token(client)
    status, _ = await write(client, "/console/restaurants", {"restaurant": "luigis"}, csrf,
                            json=True)
    assert status == 404


async def test_signing_out_drops_the_session_and_clears_the_cookie(client: Client) -> None:
    response = await sign_in(client)
    session_id = cookie_of(response.headers["Set-Cookie"])[COOKIE].value
    csrf = await csrf_token(client, "/console/restaurants")
    status, _ = await write(client, "/console/logout", {}, csrf)
    assert status == 303
    assert stored_sessions(client) == []
    cleared = [c for c in client.session.cookie_jar if c.key == COOKIE]
    assert not cleared or not cleared[0].value
    assert (await page(client, "/console/restaurants"))[0] == 303
    # The old cookie, replayed, is no longer a session.
    async with client.get("/console/restaurants", cookies={COOKIE: session_id},
                          allow_redirects=False) as replayed:
        assert (replayed.status, replayed.headers["Location"]) == (303, "/console/login")


async def test_a_revoked_staff_token_ends_its_session_at_once(client: Client) -> None:
    headers = await staff_token(client, "luigis", "Ana")
    assert (await sign_in(client, headers["Authorization"][7:])).status == 303
    assert (await page(client, "/console"))[0] == 200
    assert await client.app[STORE].revoke_staff("luigis", "Ana")
    assert (await page(client, "/console"))[0] == 303
    assert stored_sessions(client) == []  # deleted when met
    async with client.get("/console/data/conversations") as data:
        assert data.status == 401


async def test_signing_out_ends_the_sessions_open_event_stream(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "RECHECK_SECONDS", 0.2)
    csrf = await admin_at(client)
    async with client.get("/console/events") as stream:
        assert stream.status == 200
        status, _ = await write(client, "/console/logout", {}, csrf)
        assert status == 303
        async with asyncio.timeout(3):
            while await stream.content.readline():
                pass


async def test_a_session_in_use_renews_its_cookie_and_sign_out_still_clears_it(
        client: Client) -> None:
    # The browser drops the cookie 12 h after it was last set: set again on
    # every page of a live session, a console in use all day stays signed in.
    csrf = await admin_at(client)
    async with client.get("/console", allow_redirects=False) as response:
        assert response.status == 200
        renewed = response.cookies[COOKIE]
        assert renewed["max-age"] == str(IDLE_SECONDS) and renewed["httponly"]
        assert renewed.value == client.session.cookie_jar.filter_cookies(
            client.make_url("/console"))[COOKIE].value
    status, _ = await write(client, "/console/logout", {}, csrf)
    assert status == 303
    async with client.get("/console", allow_redirects=False) as response:
        assert response.status == 303 and COOKIE not in response.cookies  # no session: none


async def raw_status(client: Client, head: bytes, body: bytes = b"") -> int:
    """The status of a request written byte for byte (what no well-behaved client sends)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head + b"Host: test\r\nConnection: close\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()


async def test_undecodable_cookies_and_csrf_headers_are_refused_not_500(
        client: Client) -> None:
    # Bytes that are not UTF-8 (aiohttp hands them on as surrogates), oversized
    # values: no session, or a wrong token, never a traceback.
    cookie = f"Cookie: {COOKIE}=".encode()
    for value in (b"\xff\xfe", b"a" * 5_000, "\u00ff\u00fe".encode()):
        assert await raw_status(client, b"GET /console HTTP/1.1\r\n" + cookie + value
                                + b"\r\n") == 303
    await admin_at(client)
    session_id = client.session.cookie_jar.filter_cookies(
        client.make_url("/console"))[COOKIE].value
    head = (b"POST /console/controls/bot HTTP/1.1\r\n" + cookie + session_id.encode()
            + f"\r\nOrigin: http://{client.host}:{client.port}\r\n".encode()
            + b"Content-Type: application/x-www-form-urlencoded\r\nX-CSRF-Token: \xff\xfe\r\n")
    assert await raw_status(client, head, b"enabled=false") == 403
    assert (await client.app[STORE].controls("luigis")).bot_enabled
