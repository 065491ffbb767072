"""The relay baseline: the HTTP one message needs, and nothing else.

Every message ``serve`` answers costs three HTTP exchanges: the webhook in,
a read receipt out and a reply out.  The relay does exactly those, the way
``serve`` does them, and nothing more: no storage, no conversation.  Its
rate under the same customers as the end-to-end run is the most any aiohttp
bot could answer on this machine, so ``e2e_msgs_per_s / relay_msgs_per_s``
is what the product's own work costs on top of its HTTP.

What is shared with ``serve`` so that each request costs the same: the
webhook's signature check and decoding (``routes.whatsapp.webhook.signed_json``), the
Graph bodies (``routes.whatsapp.payloads``, encoded as the outbox encodes them), the
sender's request (``routes.whatsapp.client.GraphClient``), one ``ClientSession``,
the body limit, no access log, and ``serve``'s garbage-collector settings.

    WHATSAPP_APP_SECRET=… WHATSAPP_ACCESS_TOKEN=… WHATSAPP_GRAPH_URL=… \\
        python -m bench.relay --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from pydantic import SecretStr

from routes.app import tune_gc
from routes.conversation.messages import text
from routes.whatsapp.client import GraphClient
from routes.whatsapp.errors import Accepted
from routes.whatsapp.outbox import payload_json
from routes.whatsapp.payloads import message_payload, read_receipt_payload
from routes.whatsapp.webhook import MAX_BODY_BYTES, signed_json

# One short text per message: a reply's cost is its request, not its few hundred bytes.
REPLY: Final = text("Thanks! Your message reached the relay.")


@dataclass(frozen=True, slots=True)
class Inbound:
    """What answering one message needs from the webhook: whom, from which number, which."""

    message_id: str
    wa_id: str
    phone_number_id: str


def inbound_messages(notification: Any) -> Iterator[Inbound]:
    """Every message of a webhook body: entry → changes → value → messages.

    Anything not shaped like a message is skipped: the relay answers what it
    can and, like ``serve``, never fails a delivery over its content.
    """
    if not isinstance(notification, dict):
        return
    for entry in _dicts(notification.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata")
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            for message in _dicts(value.get("messages")):
                message_id, wa_id = message.get("id"), message.get("from")
                if (isinstance(number, str) and isinstance(message_id, str)
                        and isinstance(wa_id, str)):
                    yield Inbound(message_id, wa_id, number)


def _dicts(items: object) -> Iterator[dict[str, Any]]:
    if isinstance(items, list):
        yield from (item for item in items if isinstance(item, dict))


class Relay:
    """Answers every message with a read receipt and one reply, sent side by side."""

    def __init__(self, graph: GraphClient, app_secret: bytes) -> None:
        self.graph = graph
        self.app_secret = app_secret
        self._sends: set[asyncio.Task[None]] = set()
        self.accepted = 0
        self.failed = 0

    async def receive(self, request: web.Request) -> web.Response:
        for message in inbound_messages(await signed_json(request, self.app_secret)):
            self.answer(message)
        return web.Response(text="ok")

    def answer(self, message: Inbound) -> None:
        """Start the read receipt and the reply; they run once the 200 is on its way.

        ``serve`` sends a receipt beside the replies, not before them, so the
        two go out concurrently here too, each in its own task.
        """
        receipt = payload_json(read_receipt_payload(message.message_id)).encode()
        reply = payload_json(message_payload(REPLY, wa_id=message.wa_id, user_id=None)).encode()
        for body in (receipt, reply):
            task = asyncio.create_task(self._send(message.phone_number_id, body))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _send(self, phone_number_id: str, body: bytes) -> None:
        outcome = await self.graph.send(phone_number_id, body)
        if isinstance(outcome, Accepted):
            self.accepted += 1
        else:
            self.failed += 1

    async def drain(self) -> None:
        """Wait for the sends in flight (the server stopped accepting)."""
        while self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)


RELAY: Final = web.AppKey("relay", Relay)


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """What the relay reads from the environment, under ``serve``'s variable names."""

    app_secret: bytes
    access_token: str
    graph_url: str


def settings_from(env: Mapping[str, str]) -> RelaySettings:
    secret, graph_url = env.get("WHATSAPP_APP_SECRET", ""), env.get("WHATSAPP_GRAPH_URL", "")
    if not secret or not graph_url:
        raise SystemExit("bench.relay needs WHATSAPP_APP_SECRET and WHATSAPP_GRAPH_URL")
    return RelaySettings(secret.encode(), env.get("WHATSAPP_ACCESS_TOKEN", ""), graph_url)


def create_relay_app(settings: RelaySettings) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)

    async def channel(app: web.Application) -> AsyncIterator[None]:
        # One session for every send, opened and closed with the app, as serve does.
        async with GraphClient(settings.graph_url, SecretStr(settings.access_token)) as graph:
            relay = Relay(graph, settings.app_secret)
            app[RELAY] = relay
            try:
                yield
            finally:
                await relay.drain()
                print(f"relay: {relay.accepted:,} sends accepted by Graph, "
                      f"{relay.failed:,} failed", file=sys.stderr, flush=True)

    async def receive(request: web.Request) -> web.Response:
        return await request.app[RELAY].receive(request)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.cleanup_ctx.append(channel)
    app.router.add_post("/webhook", receive)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_relay_app(settings_from(os.environ))
    tune_gc()  # serve's settings: its GC pauses would otherwise be the relay's alone
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None,
                shutdown_timeout=5)


if __name__ == "__main__":
    main()
