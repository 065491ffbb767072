"""Staff API test support: the real app with an admin token, orders placed by webhook, SSE."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import ClientResponse

from routes.app import STORE
from routes.staff.auth import hash_token
from storage.staff import StaffMember
from tests.fake_graph import FakeGraph
from tests.whatsapp_support import (
    FIXTURE_TIME,
    Client,
    bodies_to,
    notification,
    post,
    settle,
    text_message,
)

ADMIN_TOKEN: Final = "admin-token-3b9f0c"
ADMIN: Final = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LUIGIS_NUMBER: Final = "109876543210001"
SAKURA_NUMBER: Final = "109876543210002"
DELIVERY_ORDER: Final = ("hi", "delivery", "margherita", "checkout",
                         "1 Example Road, London E1 6AN", "cash", "confirm")

_ids = itertools.count(1)


async def say(client: Client, customer: str, body: str, number: str = LUIGIS_NUMBER,
              sent_at: int = FIXTURE_TIME) -> None:
    """The customer sends ``body`` through the signed webhook (not waited for)."""
    message = text_message(customer, f"wamid.STAFF{next(_ids)}", body, sent_at=sent_at)
    assert await post(client, notification([message], number)) == 200


async def chat(client: Client, customer: str, *bodies: str,
               number: str = LUIGIS_NUMBER) -> None:
    """Each message answered (and its replies sent) before the next."""
    for body in bodies:
        await say(client, customer, body, number)
        await settle(client)


async def place_order(client: Client, customer: str, restaurant_id: str = "luigis") -> str:
    """A delivery order placed by ``customer`` through the webhook; its reference."""
    await chat(client, customer, *DELIVERY_ORDER)
    orders = await client.app[STORE].orders(restaurant_id, limit=1)
    assert orders and orders[0].customer_id == customer
    return orders[0].reference


async def staff_token(client: Client, restaurant_id: str, name: str) -> dict[str, str]:
    """Headers carrying a new staff token of ``restaurant_id`` (stored hashed, as the CLI does)."""
    token = f"staff-{restaurant_id}-{name}"
    await client.app[STORE].add_staff(StaffMember(restaurant_id, name, hash_token(token), 0.0))
    return {"Authorization": f"Bearer {token}"}


async def api(client: Client, method: str, path: str, body: Any = None,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """Call ``/api/v1{path}`` as the admin (or with ``headers``); ``(status, JSON)``."""
    async with client.request(method, f"/api/v1{path}", json=body,
                              headers=ADMIN if headers is None else headers) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


def texts_to(graph: FakeGraph, customer: str) -> list[str]:
    return bodies_to(graph, f"+{customer}")


@dataclass(frozen=True, slots=True)
class Sse:
    id: str | None
    event: str | None
    data: Any


async def next_event(response: ClientResponse, timeout: float = 5.0) -> Sse:  # noqa: ASYNC109
    """Read one Server-Sent Event (skipping pings) from a streaming response."""
    fields: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        while True:
            line = (await response.content.readline()).decode().rstrip("\r\n")
            if not line:
                if "data" in fields:
                    return Sse(fields.get("id"), fields.get("event"), json.loads(fields["data"]))
                fields.clear()
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def event_of_kind(response: ClientResponse, kind: str) -> Sse:
    while True:
        event = await next_event(response)
        if event.event == kind:
            return event
