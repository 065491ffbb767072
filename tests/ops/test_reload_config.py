"""``reload_config`` in-process: a good file swaps every reader at once, a bad one nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

from fsm.config import AppConfig
from routes.app import LiveConfig
from routes.ops.reload import reload_config
from tests.conftest import REPO

PRICE = 'price: "9.50"'


@dataclass
class Reader:
    config: AppConfig


def write(path: Path, old: str, new: str) -> None:
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def margherita_price(config: AppConfig) -> int | None:
    restaurant = config.restaurant("luigis")
    assert restaurant is not None
    item = restaurant.item("margherita")
    return None if item is None else item.price


def test_a_good_file_reaches_every_reader_and_listener(tmp_path: Path,
                                                      config: AppConfig) -> None:
    live = LiveConfig(config)
    seen: list[AppConfig] = []
    readers = Reader(config), Reader(config)
    live.attach(*readers, listener=seen.append)
    path = tmp_path / "config.yaml"
    write(path, PRICE, 'price: "11.00"')
    assert reload_config(live, path)
    configs = [live.current, *(reader.config for reader in readers), *seen]
    assert [margherita_price(c) for c in configs] == [1100, 1100, 1100, 950, 1100]


def test_a_bad_file_is_refused_with_its_error_and_nothing_changes(
        tmp_path: Path, config: AppConfig, caplog: pytest.LogCaptureFixture) -> None:
    live, reader = LiveConfig(config), Reader(config)
    live.attach(reader)
    path = tmp_path / "config.yaml"
    write(path, PRICE, "price: nine")
    with caplog.at_level(logging.INFO, "orderbot.reload"):
        assert not reload_config(live, path)
        assert not reload_config(live, tmp_path / "missing.yaml")
    assert live.current is config and reader.config is config
    assert (f"reload refused, still serving the config loaded before: {path}: "
            "restaurants[0].menu[0].items[0].price: expected a decimal string such as "
            '"9.50"') in caplog.messages
    assert any("missing.yaml: cannot read config" in m for m in caplog.messages)


def test_startup_only_sections_are_named(tmp_path: Path, config: AppConfig,
                                         caplog: pytest.LogCaptureFixture) -> None:
    live = LiveConfig(config)
    path = tmp_path / "config.yaml"
    write(path, "ttl_minutes: 30", "ttl_minutes: 45")
    with caplog.at_level(logging.INFO, "orderbot.reload"):
        assert reload_config(live, path)
    assert any("session changed" in m and "takes a restart" in m for m in caplog.messages)
