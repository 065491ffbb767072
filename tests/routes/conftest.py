"""Fixtures for the webhook tests: the real app on loopback and a fake Graph API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import Settings, create_app
from fsm.config import AppConfig
from tests.fake_graph import FakeGraph
from tests.whatsapp_support import SECRET, Client, ClientFactory, FixtureDayClock


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        yield fake


@pytest.fixture
def fixture_clock() -> FixtureDayClock:
    return FixtureDayClock()


@pytest.fixture
async def client(aiohttp_client: ClientFactory, config: AppConfig, tmp_path: Path,
                 graph: FakeGraph, fixture_clock: FixtureDayClock) -> Client:
    settings = Settings(config=config, db_path=tmp_path / "orderbot.db", app_secret=SECRET,
                        verify_token="verify-me", access_token="token-1",
                        graph_url=graph.url, clock=fixture_clock)
    return await aiohttp_client(create_app(settings))
