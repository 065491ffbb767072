"""Issue 11, as a property: any mutation of Meta's fixtures, correctly signed, is answered
below 500, and only the messages the parser reads as valid reach the inbox."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsm.config import AppConfig
from routes.whatsapp.parser import parse_notification
from tests.whatsapp_support import FIXTURES, Client, post

FIXTURE_BODIES = {path.name: json.loads(path.read_bytes())
                  for path in sorted(FIXTURES.glob("*.json"))}
NEST = "\x00nest\x00"  # replaced by deep nesting in the bytes (json.dumps would recurse)

ODD_STRINGS = st.sampled_from([
    "\ud800", "4477\ud800", "\udfff\ud800", "a\ud83d", "", " ", "\x00", "\u202e",
    "\U0001f355" * 3, "N" * 70_000, "9" * 5_000, "wamid." + "x" * 300, "\uff11\uff17\uff16\uff13",
])
ODD_NUMBERS = st.sampled_from([2**63, 2**64, -1, -(2**63) - 1, 10**30, 0, 1.5e308, -0.0,
                               float("inf"), float("nan"), True])


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replace(value: Any, path: tuple[Any, ...], new: Any, drop: bool = False) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if drop and not rest:
            copy.pop(head, None)
        else:
            copy[head] = replace(value[head], rest, new, drop)
        return copy
    copy_list = list(value)
    if drop and not rest:
        del copy_list[head]
    else:
        copy_list[head] = replace(value[head], rest, new, drop)
    return copy_list


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    body: Any = draw(st.sampled_from(sorted(FIXTURE_BODIES)))
    body = FIXTURE_BODIES[body]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(body)))
        kind = draw(st.sampled_from(["string", "number", "drop", "nest", "type"]))
        if kind == "drop":
            if path:
                body = replace(body, path, None, drop=True)
        elif kind == "string":
            body = replace(body, path, draw(ODD_STRINGS))
        elif kind == "number":
            body = replace(body, path, draw(ODD_NUMBERS))
        elif kind == "nest":
            body = replace(body, path, NEST)
        else:
            body = replace(body, path, draw(st.sampled_from([None, [], {}, [[]], {"": {}}])))
    raw = json.dumps(body).encode()  # ensure_ascii: lone surrogates go as \ud800 escapes
    depth = draw(st.sampled_from([1, 50, 1_000, 5_000]))
    return raw.replace(json.dumps(NEST).encode(), b"[" * depth + b"]" * depth)


def inbox_ids(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "orderbot.db") as connection:
        return {row[0] for row in connection.execute("SELECT message_id FROM inbox")}


def valid_ids(raw: bytes, config: AppConfig) -> set[str]:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return set()
    return {message.message_id for message in parse_notification(body).messages
            if config.restaurant_for_phone_number(message.phone_number_id) is not None}


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(raw=mutated_bodies())
async def test_any_signed_mutation_is_below_500_and_stores_only_valid_messages(
        client: Client, tmp_path: Path, config: AppConfig, raw: bytes) -> None:
    before = inbox_ids(tmp_path)
    status = await post(client, raw)
    assert status < 500, (status, raw[:300])
    added = inbox_ids(tmp_path) - before
    assert added <= valid_ids(raw, config), added
    for message_id in added:
        message_id.encode("utf-8")  # what was stored is valid Unicode
