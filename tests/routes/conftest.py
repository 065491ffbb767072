"""Fixtures for the webhook tests: the real app on loopback and a fake Graph API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretBytes, SecretStr

from fsm.config import AppConfig
from routes.app import create_app
from routes.settings import Settings
from storage.sqlite import SQLiteStore
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
    settings = Settings(config=config, app_secret=SecretBytes(SECRET),
                        verify_token=SecretStr("verify-me"), access_token=SecretStr("token-1"),
                        graph_url=graph.url, clock=fixture_clock)
    return await aiohttp_client(create_app(settings, lambda: SQLiteStore(tmp_path / "orderbot.db")))
