"""Console test support: sign in through the form, the CSRF token of a page, writes, the rows."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import sqlite3
from typing import Any, Final

from aiohttp import ClientResponse

from routes.app import STORE
from storage.sqlite import SQLiteStore
from tests.routes.staff.support import ADMIN_TOKEN, LUIGIS_NUMBER
from tests.whatsapp_support import Client, post, settle, text_message

_ids = itertools.count(1)

_CSRF: Final = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def origin(client: Client) -> str:
    return f"http://{client.host}:{client.port}"


async def sign_in(client: Client, token: str = ADMIN_TOKEN) -> ClientResponse:
    """POST the sign-in form from this host; the response (not followed)."""
    async with client.post("/console/login", data={"token": token}, allow_redirects=False,
                           headers={"Origin": origin(client)}) as response:
        await response.read()
        return response


def stored_sessions(client: Client) -> list[tuple[Any, ...]]:
    """Every row of ``console_sessions`` in the app's SQLite file, as SQLite returns them."""
    store = client.app[STORE]
    assert isinstance(store, SQLiteStore)
    with contextlib.closing(sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT * FROM console_sessions").fetchall()


async def page(client: Client, path: str = "/console") -> tuple[int, str]:
    async with client.get(path, allow_redirects=False) as response:
        return response.status, await response.text()


async def csrf_token(client: Client, path: str = "/console") -> str:
    status, html = await page(client, path)
    assert status == 200, (status, html[:200])
    match = _CSRF.search(html)
    assert match is not None
    return match[1]


async def admin_at(client: Client, restaurant_id: str = "luigis") -> str:
    """Signed in as the admin looking at ``restaurant_id``; the session's CSRF token."""
    assert (await sign_in(client)).status == 303
    csrf = await csrf_token(client, "/console/restaurants")
    status, _ = await write(client, "/console/restaurants", {"restaurant": restaurant_id}, csrf)
    assert status == 303
    return csrf


async def write(client: Client, path: str, data: dict[str, str], csrf: str | None,
                source: str | None = "same", json: bool = False) -> tuple[int, str]:
    """POST a console form; ``source`` is the Origin header ("same": this host, None: none)."""
    headers = {}
    if source is not None:
        headers["Origin"] = origin(client) if source == "same" else source
    if json:
        headers["Accept"] = "application/json"
    body = dict(data) if csrf is None else {**data, "csrf": csrf}
    async with client.post(path, data=body, headers=headers, allow_redirects=False) as response:
        return response.status, await response.text()


HOSTILE_NAME: Final = "<script>alert(1)</script>"


async def say_as(client: Client, customer: str, name: str, body: str,
                 number: str = LUIGIS_NUMBER) -> None:
    """``customer`` (with WhatsApp profile ``name``) sends ``body``; processed and answered."""
    message = text_message(customer, f"wamid.CONSOLE{next(_ids)}", body)
    payload = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": number},
            "contacts": [{"profile": {"name": name}, "wa_id": customer}],
            "messages": [message]}}]}]}).encode()
    assert await post(client, payload) == 200
    await settle(client)
