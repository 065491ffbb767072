"""Secrets never show in a repr or str: the app's Settings, the Graph client."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_type_hints

import pytest
from pydantic import SecretBytes, SecretStr

from fsm.config import AppConfig
from routes.settings import Settings
from routes.whatsapp.client import GraphClient

APP_SECRET = "app-secret-5f1c9e"
VERIFY_TOKEN = "verify-token-8a2d41"
ACCESS_TOKEN = "EAAG-access-token-77c3b0"
SECRETS = (APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN)


def serve_settings(config: AppConfig) -> Settings:
    """As ``serve`` builds them from the WHATSAPP_* variables (tests do not import bot.py)."""
    return Settings(config=config, app_secret=SecretBytes(APP_SECRET.encode()),
                    verify_token=SecretStr(VERIFY_TOKEN), access_token=SecretStr(ACCESS_TOKEN),
                    graph_url="http://127.0.0.1:9/v23.0")


def test_every_secret_field_is_a_pydantic_secret() -> None:
    hints = get_type_hints(Settings)
    assert hints["app_secret"] == SecretBytes | None
    assert hints["verify_token"] is SecretStr
    assert hints["access_token"] is SecretStr


@pytest.mark.parametrize("show", [repr, str, lambda s: f"{s}", lambda s: f"{s!r}"],
                         ids=["repr", "str", "format", "format-repr"])
def test_settings_never_show_a_secret(config: AppConfig,
                                      show: Callable[[object], str]) -> None:
    settings = serve_settings(config)
    shown = show(settings)
    for secret in SECRETS:
        assert secret not in shown
    assert "http://127.0.0.1:9/v23.0" in shown  # the rest is still there to read


def test_settings_still_hand_out_the_secrets_to_whoever_asks(config: AppConfig) -> None:
    settings = serve_settings(config)
    assert settings.app_secret is not None
    assert settings.app_secret.get_secret_value() == APP_SECRET.encode()
    assert settings.verify_token.get_secret_value() == VERIFY_TOKEN
    assert settings.access_token.get_secret_value() == ACCESS_TOKEN


async def test_the_graph_client_never_shows_its_token(config: AppConfig) -> None:
    settings = serve_settings(config)
    client = GraphClient(settings.graph_url, settings.access_token)
    for shown in (repr(client), str(client), f"{client!r}"):
        assert ACCESS_TOKEN not in shown
        assert "127.0.0.1:9" in shown
    async with client as open_client:
        assert ACCESS_TOKEN not in repr(open_client)
        assert ACCESS_TOKEN not in repr(vars(open_client))  # no attribute holds it in clear
