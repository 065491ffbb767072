"""Console sessions kept in the store: a restart signs nobody out, idleness ends them, and the
database holds neither the cookie's id nor the CSRF token.

The real app on loopback (SQLite), as a browser would use it; the clock is
the app's injected one (:class:`~tests.whatsapp_support.FixtureDayClock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
from dataclasses import replace
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from pydantic import SecretStr

from routes.app import STORE, create_app
from routes.console.sessions import COOKIE, IDLE_SECONDS, TOUCH_SECONDS
from routes.settings import Settings
from storage.sqlite import SQLiteStore
from tests.routes.console.support import (
    admin_at,
    csrf_token,
    page,
    sign_in,
    stored_sessions,
    write,
)
from tests.routes.staff.support import ADMIN_TOKEN, staff_token
from tests.routes.whatsapp.test_inbox_upkeep import maintaining
from tests.whatsapp_support import Client, ClientFactory, FixtureDayClock


def session_id_of(client: Client) -> str:
    [cookie] = [c for c in client.session.cookie_jar if c.key == COOKIE]
    return cookie.value


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def seen_at(client: Client) -> float:
    record = await client.app[STORE].console_session(id_hash(session_id_of(client)))
    assert record is not None
    return record.seen_at


async def test_a_restart_signs_nobody_out(
        aiohttp_client: ClientFactory, settings: Settings, tmp_path: Path) -> None:
    database = tmp_path / "orderbot.db"
    before = await aiohttp_client(create_app(settings, lambda: SQLiteStore(database)))
    csrf = await admin_at(before, "luigis")
    session_id = session_id_of(before)
    await before.close()  # serve stopped: its store closed, nothing of it in memory

    after = await aiohttp_client(create_app(settings, lambda: SQLiteStore(database)))
    cookie = {"Cookie": f"{COOKIE}={session_id}"}
    async with after.get("/console", headers=cookie, allow_redirects=False) as response:
        assert response.status == 200  # the board of the restaurant picked before
        assert "Luigi" in await response.text()
    # A page drawn before the restart still posts: its CSRF token is the session's.
    async with after.post("/console/controls/bot", data={"enabled": "false", "csrf": csrf},
                          headers={**cookie, "Origin": f"http://{after.host}:{after.port}"},
                          allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (303, "/console/controls")
    assert not (await after.app[STORE].controls("luigis")).bot_enabled


@pytest.mark.parametrize("new_token", [None, "rotated-admin-token-71c2"])
async def test_a_changed_or_unset_admin_token_ends_the_admin_sessions(
        aiohttp_client: ClientFactory, settings: Settings, tmp_path: Path,
        new_token: str | None) -> None:
    database = tmp_path / "orderbot.db"
    before = await aiohttp_client(create_app(settings, lambda: SQLiteStore(database)))
    await admin_at(before, "luigis")
    session_id = session_id_of(before)
    await before.close()
    # Started again with ORDERBOT_ADMIN_TOKEN changed (a leaked one rotated) or unset.
    admin_token = None if new_token is None else SecretStr(new_token)
    after = await aiohttp_client(create_app(replace(settings, admin_token=admin_token),
                                            lambda: SQLiteStore(database)))
    async with after.get("/console", headers={"Cookie": f"{COOKIE}={session_id}"},
                         allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (303, "/console/login")
    assert stored_sessions(after) == []


async def test_an_idle_session_ends_after_12_hours_and_seen_at_is_written_once_a_minute(
        client: Client, fixture_clock: FixtureDayClock) -> None:
    await admin_at(client)
    signed_in_at = await seen_at(client)
    fixture_clock.advance(TOUCH_SECONDS / 2)
    assert (await page(client))[0] == 200
    assert await seen_at(client) == signed_in_at  # not written on every request
    fixture_clock.advance(TOUCH_SECONDS / 2 + 1)
    assert (await page(client))[0] == 200
    touched = await seen_at(client)
    assert touched >= signed_in_at + TOUCH_SECONDS + 1

    # Used now and then: alive however long ago it was opened.
    fixture_clock.advance(IDLE_SECONDS - 60)
    assert (await page(client))[0] == 200
    # Then idle for longer than 12 hours: ended, and its row deleted when met.
    fixture_clock.advance(IDLE_SECONDS + 1)
    status, _ = await page(client)
    assert status == 303
    async with client.get("/console", allow_redirects=False) as response:
        assert response.headers["Location"] == "/console/login"
    assert stored_sessions(client) == []


async def test_idle_sessions_are_pruned_without_being_met(
        client: Client, fixture_clock: FixtureDayClock) -> None:
    await admin_at(client)
    idle = session_id_of(client)
    fixture_clock.advance(IDLE_SECONDS - 60)
    client.session.cookie_jar.clear()
    await admin_at(client)  # a second browser, signed in later
    active = session_id_of(client)
    assert len(stored_sessions(client)) == 2
    fixture_clock.advance(120)  # the first is now idle for longer than 12 hours
    async with maintaining(client, interval=0.05):
        for _ in range(100):
            if len(stored_sessions(client)) == 1:
                break
            await asyncio.sleep(0.02)
    [row] = stored_sessions(client)
    assert row[0] == id_hash(active) != id_hash(idle)
    assert (await page(client))[0] == 200


async def test_the_stored_row_holds_neither_the_cookie_id_nor_the_csrf_token(
        client: Client) -> None:
    headers = await staff_token(client, "luigis", "Ana")
    token = headers["Authorization"].removeprefix("Bearer ")
    response = await sign_in(client, token)
    session_id = SimpleCookie(response.headers["Set-Cookie"])[COOKIE].value
    csrf = await csrf_token(client)
    _, board = await page(client)
    assert session_id not in board and id_hash(session_id) not in board  # only the token
    # A form post that fails leaves a message for the next page in the row too.
    status, _ = await write(client, "/console/conversations/447700900999/takeover", {}, csrf)
    assert status == 303
    [row] = stored_sessions(client)
    assert row[0] == id_hash(session_id)
    assert row[1:5] == ("Ana", "luigis", hashlib.sha256(token.encode()).hexdigest(), "luigis")
    assert row[5] == "not found"
    stored = repr(row)
    for secret in (session_id, csrf, token):
        assert secret not in stored
    # Nor anywhere in the database's files.
    store = client.app[STORE]
    assert isinstance(store, SQLiteStore)
    files = [store.path, store.path.with_name(store.path.name + "-wal")]
    data = b"".join(path.read_bytes() for path in files if path.exists())
    assert id_hash(session_id).encode() in data  # what is stored, found where it is
    for secret in (session_id, csrf, token):
        assert secret.encode() not in data


async def test_an_admin_session_stores_nothing_to_guess_the_admin_token_from(
        client: Client) -> None:
    # A made-up admin token may be weak: its plain hash in the row would let
    # anyone with a backup test guesses offline. The row binds it to the
    # session's id instead, which the database does not hold.
    await admin_at(client)
    [row] = stored_sessions(client)
    store = client.app[STORE]
    assert isinstance(store, SQLiteStore)
    files = [store.path, store.path.with_name(store.path.name + "-wal")]
    data = b"".join(path.read_bytes() for path in files if path.exists())
    for leak in (ADMIN_TOKEN, hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()):
        assert leak not in repr(row) and leak.encode() not in data
    assert row[3] is not None and len(row[3]) == 64  # something is kept, to check it against


async def test_a_session_row_pointed_at_another_restaurant_is_no_session(
        client: Client) -> None:
    # Defence in depth: a staff session whose stored restaurant its principal may
    # not act for (a tampered row) opens nothing there, and is ended.
    headers = await staff_token(client, "luigis", "Ana")
    assert (await sign_in(client, headers["Authorization"].removeprefix("Bearer "))
            ).status == 303
    assert (await page(client))[0] == 200
    store = client.app[STORE]
    assert isinstance(store, SQLiteStore)
    with contextlib.closing(sqlite3.connect(store.path)) as db, db:
        db.execute("UPDATE console_sessions SET restaurant_id = 'sakura'")
    status, _ = await page(client)
    assert status == 303 and stored_sessions(client) == []
