"""A small fake Graph API on loopback, for tests and the benchmark.

``POST /{version}/{phone_number_id}/messages`` (the version segment is
optional) answers like Meta: a wamid for a message, ``{"success": true}`` for
a read receipt, and Meta's error body when a failure was scripted with
``fail_next``. ``GET /{version}/{phone_number_id}`` answers ``{"id": …}`` for a
token it accepts (what ``bot.py doctor`` asks; ``lookups`` records them). Every
request is recorded in arrival order::

    fake = await start_fake_graph()
    try:
        ...  # send to f"{fake.url}/{phone_number_id}/messages"
        await fake.wait_for_sends(2, timeout=5)
    finally:
        await fake.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

DEFAULT_VERSION = "v23.0"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake received it."""

    phone_number_id: str
    body: dict[str, Any]
    authorization: str | None


@dataclass(frozen=True, slots=True)
class _ScriptedFailure:
    code: int
    http_status: int


class FakeGraph:
    """The fake server: ``async with FakeGraph() as fake`` or ``start_fake_graph()``.

    ``sends`` holds accepted messages, ``reads`` read receipts, ``failures``
    the message sends answered with a scripted error. ``latency`` (seconds)
    delays every answer, to measure against a slow Graph; ``arrivals`` holds
    every request body as it arrived, before that delay (what was in flight).
    """

    def __init__(self, *, version: str = DEFAULT_VERSION, latency: float = 0.0) -> None:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self._handle)
        app.router.add_post("/{phone_number_id}/messages", self._handle)
        app.router.add_get("/{version}/{phone_number_id}", self._lookup)
        self.lookups: list[RecordedRequest] = []  # GET of a phone number, any answer
        self._runner = web.AppRunner(app)
        self._version = version
        self.url = ""  # set by start()
        self.latency = latency
        self.sends: list[RecordedRequest] = []
        self.reads: list[RecordedRequest] = []
        self.failures: list[RecordedRequest] = []
        self.arrivals: list[bytes] = []
        self.accepted: list[bytes] = []  # raw bodies of the requests answered with success
        self._closing = asyncio.Event()
        self._script: deque[_ScriptedFailure] = deque()
        self._read_script: deque[_ScriptedFailure] = deque()
        self._changed = asyncio.Condition()
        # When set, only "Bearer <required_token>" is accepted: any other token is
        # answered 401 with Meta's code 190, as an expired or wrong token is.
        self.required_token: str | None = None
        self.token_rejections = 0  # requests answered 401 for their token

    def fail_next(self, times: int, code: int, http_status: int = 400) -> None:
        """Answer the next ``times`` message sends with Meta's error ``code``."""
        self._script.extend(_ScriptedFailure(code, http_status) for _ in range(times))

    def fail_next_read(self, times: int, code: int, http_status: int = 400) -> None:
        """Answer the next ``times`` read receipts with Meta's error ``code``."""
        self._read_script.extend(_ScriptedFailure(code, http_status) for _ in range(times))

    # A plain timeout argument (ASYNC109) so that a test failure says how many arrived.
    async def wait_for_sends(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:  # noqa: ASYNC109
        """Wait until at least ``n`` messages were accepted; TimeoutError names how many came."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(self.sends) >= n)
        except TimeoutError:
            raise TimeoutError(f"expected {n} sends within {timeout} s, got "
                               f"{len(self.sends)}") from None
        return list(self.sends)

    async def start(self) -> None:
        """Listen on 127.0.0.1 at a free port and set ``url``."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        except BaseException:
            await self._runner.cleanup()
            raise
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/{self._version}"

    async def close(self) -> None:
        self._closing.set()
        await self._runner.cleanup()

    async def __aenter__(self) -> FakeGraph:
        if not self.url:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _lookup(self, request: web.Request) -> web.Response:
        """``GET /{version}/{phone_number_id}?fields=id``: the number, for a good token."""
        phone_number_id = request.match_info["phone_number_id"]
        authorization = request.headers.get("Authorization")
        self.lookups.append(RecordedRequest(phone_number_id, dict(request.query), authorization))
        if not (authorization or "").startswith("Bearer ") or (
                self.required_token is not None
                and authorization != f"Bearer {self.required_token}"):
            self.token_rejections += 1
            return _error(401, 190, "Error validating access token: Session has expired")
        return web.json_response({"id": phone_number_id})

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.arrivals.append(raw)
        if self.latency:
            # Cut short by close(), so that a test does not wait out a long latency.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.latency)
        phone_number_id = request.match_info["phone_number_id"]
        authorization = request.headers.get("Authorization")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return _error(400, 100, "(#100) Invalid parameter")
        if not (authorization or "").startswith("Bearer "):
            return _error(401, 190, "Error validating access token")
        if self.required_token is not None and authorization != f"Bearer {self.required_token}":
            self.token_rejections += 1
            return _error(401, 190, "Error validating access token: Session has expired")
        recorded = RecordedRequest(phone_number_id, body, authorization)
        if body.get("status") == "read":
            if self._read_script:
                failure = self._read_script.popleft()
                self.failures.append(recorded)
                return _error(failure.http_status, failure.code, f"scripted error {failure.code}")
            self.reads.append(recorded)
            self.accepted.append(raw)
            return web.json_response({"success": True})
        if self._script:
            failure = self._script.popleft()
            self.failures.append(recorded)
            return _error(failure.http_status, failure.code, f"scripted error {failure.code}")
        self.accepted.append(raw)
        async with self._changed:
            self.sends.append(recorded)
            wamid = f"wamid.FAKE{len(self.sends)}"
            self._changed.notify_all()
        recipient = body.get("to") or body.get("recipient")
        return web.json_response({
            "messaging_product": "whatsapp",
            "contacts": [{"input": recipient, "wa_id": str(recipient).removeprefix("+")}],
            "messages": [{"id": wamid}],
        })


async def start_fake_graph(*, version: str = DEFAULT_VERSION, latency: float = 0.0) -> FakeGraph:
    """A started fake Graph API; ``url`` is like ``http://127.0.0.1:PORT/v23.0``."""
    fake = FakeGraph(version=version, latency=latency)
    await fake.start()
    return fake


def compare_with_outbox(graph: FakeGraph, rows: Sequence[tuple[str, str, str, bytes]]
                        ) -> tuple[list[bytes], Counter[bytes]]:
    """What Graph should have accepted and did not, and what reached it more than once.

    ``rows`` are the outbox as ``(phone_number_id, customer, kind, body)`` in
    id order. Every reply must have been accepted; a read receipt may instead
    be covered by a later receipt to the same customer on the same number
    that was accepted (marking a message read marks the earlier ones read
    too, so the sender sends only the latest).
    """
    unmatched = Counter(graph.accepted)
    missing: list[bytes] = []
    receipt_accepted: set[tuple[str, str]] = set()
    for phone_number_id, customer, kind, body in reversed(rows):
        if unmatched[body] > 0:
            unmatched[body] -= 1
            if kind == "read":
                receipt_accepted.add((phone_number_id, customer))
        elif kind != "read" or (phone_number_id, customer) not in receipt_accepted:
            missing.append(body)
    return missing, Counter(graph.arrivals) - Counter(body for *_, body in rows)


def _error(http_status: int, code: int, message: str) -> web.Response:
    """Meta's error body, as the Cloud API's error-code reference shows it."""
    return web.json_response({"error": {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_data": {"details": message},
        "fbtrace_id": "AFAKEtraceid",
    }}, status=http_status)
