"""The real app with an admin token on loopback (as the staff API's tests), plus a browser."""

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
async def client(aiohttp_client: ClientFactory, config: AppConfig, tmp_path: Path,
                 graph: FakeGraph, fixture_clock: FixtureDayClock) -> Client:
    settings = Settings(config=config, app_secret=SecretBytes(SECRET),
                        verify_token=SecretStr("verify-me"), access_token=SecretStr("token-1"),
                        graph_url=graph.url, clock=fixture_clock,
                        admin_token=SecretStr(ADMIN_TOKEN))
    return await aiohttp_client(create_app(settings, lambda: SQLiteStore(tmp_path / "orderbot.db")))
