"""WhatsApp webhook test support: the fixtures' bytes, message builders, a client."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

from fsm.session import Session
from routes.app import INBOX, SENDER, STORE
from routes.whatsapp.signature import sign
from storage.base import SessionKey
from storage.codec import decode_snapshot
from tests.conftest import WEBHOOK_FIXTURES
from tests.fake_graph import FakeGraph

FIXTURES = WEBHOOK_FIXTURES
SECRET = b"test-app-secret"
FIXTURE_TIME = 1763900000  # the fixtures' message timestamps
AMIRA = SessionKey("luigis", "447700900123")

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class FixtureDayClock:
    """Wall time moved back to a few minutes after the fixtures were sent.

    It still ticks (the sender's retry backoff waits real time); ``advance``
    jumps ahead, as a long outage would.
    """

    def __init__(self) -> None:
        self.skew = time.time() - (FIXTURE_TIME + 300)

    def __call__(self) -> float:
        return time.time() - self.skew

    def advance(self, seconds: float) -> None:
        self.skew -= seconds


async def post(client: Client, body: bytes, signature: str | None = "sign") -> int:
    """POST ``body`` (signed correctly, or with the given header, or none)."""
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Hub-Signature-256"] = sign(SECRET, body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    async with client.post("/webhook", data=io.BytesIO(body), headers=headers) as response:
        return response.status


async def settle(client: Client) -> None:
    """Wait until every accepted message is processed and every due reply sent."""
    app = client.app
    for _ in range(200):
        await app[INBOX].drain()
        if not await app[STORE].pending_outbound(1e12):
            return
        app[SENDER].wake()
        await asyncio.sleep(0.02)
    raise AssertionError("outbox did not drain")


def text_message(customer: str, message_id: str, body: str,
                 sent_at: int = FIXTURE_TIME) -> dict[str, object]:
    return {"from": customer, "id": message_id, "timestamp": str(sent_at), "type": "text",
            "text": {"body": body}}


def notification(messages: list[dict[str, object]],
                 phone_number_id: str = "109876543210001") -> bytes:
    """A webhook body carrying ``messages`` to one of the demo restaurants' numbers."""
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111",
                         "phone_number_id": phone_number_id},
            "messages": messages}}]}]}).encode()


def bodies_to(graph: FakeGraph, to: str) -> list[str]:
    texts = []
    for sent in graph.sends:
        if sent.body.get("to") == to or sent.body.get("recipient") == to:
            message = sent.body
            texts.append(message["text"]["body"] if message["type"] == "text"
                         else message["interactive"]["body"]["text"])
    return texts


async def session_of(client: Client, key: SessionKey) -> Session:
    blob = await client.app[STORE].load_snapshot(key)
    assert blob is not None
    return Session.from_snapshot(decode_snapshot(blob))
