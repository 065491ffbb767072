"""Issue 11: slow and idle clients (raw sockets) cannot hold the server's connections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretBytes, SecretStr

from fsm.config import AppConfig
from routes.app import create_app
from routes.server import ServerLimits, Serving, start
from routes.settings import Settings
from routes.whatsapp.signature import sign
from storage.sqlite import SQLiteStore
from tests.fake_graph import FakeGraph
from tests.whatsapp_support import SECRET, FixtureDayClock, fixture

LIMITS = ServerLimits(request_arrival_seconds=1.0, max_connections=20)
HALF_REQUEST = b"POST /webhook HTTP/1.1\r\nHost: orderbot\r\nContent-Len"


@pytest.fixture
async def serving(config: AppConfig, tmp_path: Path, graph: FakeGraph,
                  fixture_clock: FixtureDayClock) -> AsyncIterator[Serving]:
    settings = Settings(config=config, app_secret=SecretBytes(SECRET),
                        verify_token=SecretStr("verify-me"), access_token=SecretStr("token-1"),
                        graph_url=graph.url, clock=fixture_clock)
    app = create_app(settings, lambda: SQLiteStore(tmp_path / "orderbot.db"))
    server = await start(app, "127.0.0.1", 0, LIMITS)
    try:
        yield server
    finally:
        await server.close()


async def half_request(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HALF_REQUEST)
    await writer.drain()
    return reader, writer


async def test_a_request_that_never_finishes_arriving_is_cut_off(serving: Serving) -> None:
    reader, writer = await half_request(serving.port)
    started = time.monotonic()
    try:
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    finally:
        writer.close()
    assert time.monotonic() - started < LIMITS.request_arrival_seconds + 2


async def test_idle_connections_cannot_starve_a_real_webhook(serving: Serving) -> None:
    """Before: with the usual 1,024 open files, 1,100 half-sent requests left webhooks
    unanswered. Here 60 half-sent requests against a cap of 20."""
    idle = [await half_request(serving.port) for _ in range(60)]
    try:
        raw = fixture("text.json")
        started = time.monotonic()
        async with aiohttp.ClientSession() as session, session.post(
                f"http://127.0.0.1:{serving.port}/webhook", data=raw,
                headers={"X-Hub-Signature-256": sign(SECRET, raw),
                         "Content-Type": "application/json"}) as response:
            assert response.status == 200
        assert time.monotonic() - started < 1.0  # not after the idle ones time out
        assert serving.cap.closed >= 40
        assert len(serving.runner.server.connections) <= LIMITS.max_connections + 1  # type: ignore[union-attr]
    finally:
        for _, writer in idle:
            writer.close()
