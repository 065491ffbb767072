"""The real app, with an admin token, on loopback; the fake Graph API from tests/routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretBytes, SecretStr

from fsm.config import AppConfig
from routes.app import create_app
from routes.settings import Settings
from storage.sqlite import SQLiteStore
from tests.fake_graph import FakeGraph
from tests.routes.staff.support import ADMIN_TOKEN
from tests.whatsapp_support import SECRET, Client, ClientFactory, FixtureDayClock


@pytest.fixture
def settings(config: AppConfig, graph: FakeGraph, fixture_clock: FixtureDayClock) -> Settings:
    """What the app runs on: the demo config, the fake Graph, the fixtures' clock, the admin."""
    return Settings(config=config, app_secret=SecretBytes(SECRET),
                    verify_token=SecretStr("verify-me"), access_token=SecretStr("token-1"),
                    graph_url=graph.url, clock=fixture_clock,
                    admin_token=SecretStr(ADMIN_TOKEN))


@pytest.fixture
async def client(aiohttp_client: ClientFactory, settings: Settings, tmp_path: Path) -> Client:
    return await aiohttp_client(create_app(settings, lambda: SQLiteStore(tmp_path / "orderbot.db")))
