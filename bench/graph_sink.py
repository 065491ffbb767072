"""A lean fake Graph API: answers like Meta and tells a listener what arrived, and when.

It runs inside the load-generator process, so the time a reply reaches
"Meta" and the time the customer's message was POSTed come from the same
clock (``time.perf_counter``).  It is a low-level aiohttp server (no router,
no middlewares): every cycle spent here is one the generator cannot spend
sending, and on two shared cores that shows in the figures.
``tests.fake_graph.FakeGraph`` records everything for assertions; this one
records nothing and only counts.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from aiohttp import web

_READ_OK = b'{"success":true}'


class GraphListener(Protocol):
    """Who hears about each request the bot sent to Graph."""

    def on_read(self, message_id: str, at: float) -> None:
        """A read receipt for our inbound message ``message_id`` arrived at ``at``."""

    def on_reply(self, recipient: str, message: dict[str, Any], at: float) -> None:
        """A message for ``recipient`` (``+wa_id`` or a user id) arrived at ``at``."""


class GraphSink:
    """``start(port)`` on loopback; answers every send as accepted, with a fresh wamid."""

    def __init__(self, listener: GraphListener | None = None) -> None:
        self.listener = listener
        self.reads = 0
        self.replies = 0
        self.rejected = 0
        self._runner = web.ServerRunner(web.Server(self._handle, access_log=None))

    async def start(self, host: str, port: int) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def close(self) -> None:
        await self._runner.cleanup()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        at = time.perf_counter()
        if request.method != "POST" or not request.path.endswith("/messages"):
            self.rejected += 1
            return web.Response(status=404)
        try:
            message = json.loads(await request.read())
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.rejected += 1
            return _error(400, 100, "(#100) Invalid parameter")
        if message.get("status") == "read":
            self.reads += 1
            if self.listener is not None:
                self.listener.on_read(str(message.get("message_id")), at)
            return web.Response(body=_READ_OK, content_type="application/json")
        self.replies += 1
        recipient = str(message.get("to") or message.get("recipient"))
        if self.listener is not None:
            self.listener.on_reply(recipient, message, at)
        return web.Response(body=_accepted(recipient, self.replies),
                            content_type="application/json")


def _accepted(recipient: str, serial: int) -> bytes:
    """Meta's success body, with the wamid the sender stores."""
    wa_id = recipient.removeprefix("+")
    return (f'{{"messaging_product":"whatsapp","contacts":[{{"input":"{recipient}",'
            f'"wa_id":"{wa_id}"}}],"messages":[{{"id":"wamid.SINK{serial}"}}]}}').encode()


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "OAuthException",
                                         "code": code, "fbtrace_id": "ABENCHtrace"}},
                             status=status)
