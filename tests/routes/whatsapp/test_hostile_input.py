"""Issue 11: signed bodies that once broke the webhook (500, or 503 for ever and their
neighbours with them). Each must be answered below 500 and store only what is valid."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from routes.app import STORE, WEBHOOK
from routes.whatsapp.fields import ID_MAX, PIN_LABEL_MAX
from routes.whatsapp.parser import parse_notification
from routes.whatsapp.webhook import RejectionLog
from tests.whatsapp_support import (
    FIXTURE_TIME,
    Client,
    fixture,
    notification,
    post,
    settle,
    text_message,
)

LONE = "\ud800"


def inbox_ids(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "orderbot.db") as connection:
        return {row[0] for row in connection.execute("SELECT message_id FROM inbox")}


def body(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: a lone surrogate goes as \ud800


def text_fixture() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fixture("text.json"))
    return loaded


def first_message(payload: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    return message


def poisoned(field: str, value: object) -> bytes:
    payload = text_fixture()
    if field in ("wa_id", "user_id"):
        payload["entry"][0]["changes"][0]["value"]["contacts"][0][field] = value
    else:
        first_message(payload)[field] = value
    return body(payload)


POISONS = [("from", "4477" + LONE), ("id", "wamid." + LONE), ("timestamp", 2**63),
           ("timestamp", 10**30), ("from", "4" * (ID_MAX + 1)), ("wa_id", "4477" + LONE),
           ("user_id", "US." + LONE)]


@pytest.mark.parametrize(("field", "value"), POISONS)
async def test_a_poison_value_is_dropped_and_its_neighbours_are_stored(
        client: Client, tmp_path: Path, field: str, value: object) -> None:
    """Before: 503 for ever, and every webhook committed beside it failed too."""
    neighbours = [notification([text_message(f"44770090{n:04d}", f"wamid.OK{n}", "hi")])
                  for n in range(20)]
    statuses = await asyncio.gather(post(client, poisoned(field, value)),
                                    *(post(client, raw) for raw in neighbours))
    assert statuses == [200] * 21
    stored = inbox_ids(tmp_path)
    assert {f"wamid.OK{n}" for n in range(20)} <= stored
    if field in ("wa_id", "user_id"):  # the contact is dropped, the message is fine
        assert first_message(text_fixture())["id"] in stored
    else:
        assert not any(LONE in message_id for message_id in stored)
        assert first_message(text_fixture())["id"] not in stored
    # Sent again (as Meta would), still no 5xx.
    assert await post(client, poisoned(field, value)) == 200


async def test_poison_status_ids_are_dropped(client: Client) -> None:
    payload = json.loads(fixture("status_delivered.json"))
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    for field, value in [("id", "wamid." + LONE), ("status", "read" + LONE),
                         ("recipient_id", "44" + LONE), ("timestamp", 2**64)]:
        broken = copy.deepcopy(payload)
        broken["entry"][0]["changes"][0]["value"]["statuses"][0][field] = value
        assert await post(client, body(broken)) == 200
    assert await post(client, body(payload)) == 200
    assert await client.app[STORE].message_status(status["id"]) == status["status"]


@pytest.mark.parametrize("where", ["text", "button", "list_title", "button_title", "tap_id"])
async def test_a_lone_surrogate_in_what_the_customer_wrote_is_not_a_500(
        client: Client, tmp_path: Path, where: str) -> None:
    """Before: 500 (encoding the message for the inbox failed)."""
    if where == "text":
        payload = text_fixture()
        first_message(payload)["text"]["body"] = "pizza " + LONE
    elif where == "button":
        payload = json.loads(fixture("quick_reply_button.json"))
        first_message(payload)["button"]["text"] = "Yes " + LONE
    else:
        payload = json.loads(fixture("list_reply.json" if where == "list_title"
                                     else "button_reply.json"))
        tap = first_message(payload)["interactive"]
        reply = tap[tap["type"]]
        reply["id" if where == "tap_id" else "title"] = "x" + LONE
    assert await post(client, body(payload)) == 200
    await settle(client)
    assert first_message(payload)["id"] in inbox_ids(tmp_path)


def test_what_the_customer_wrote_is_bounded_and_made_valid() -> None:
    payload = json.loads(fixture("location.json"))
    first_message(payload)["location"]["name"] = "N" * 70_000
    first_message(payload)["location"]["address"] = LONE * 500
    [message] = parse_notification(payload).messages
    pin = message.inbound.location
    assert pin is not None and pin.name == "N" * PIN_LABEL_MAX
    assert pin.address == "\ufffd" * PIN_LABEL_MAX
    text = text_fixture()
    first_message(text)["text"]["body"] = "a" * 100_000 + LONE
    [message] = parse_notification(text).messages
    assert message.inbound.text == "a" * 4096


def test_pins_are_bounded_like_typed_addresses() -> None:
    from routes.conversation.handlers.checkout import ADDRESS_MAX_LENGTH
    assert PIN_LABEL_MAX == ADDRESS_MAX_LENGTH


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_deeply_nested_json_is_a_400(client: Client, depth: int) -> None:
    """Before: RecursionError escaped json.loads, a 500."""
    raw = b'{"object":"whatsapp_business_account","entry":' + b"[" * depth + b"]" * depth + b"}"
    assert await post(client, raw) == 400


async def test_rejected_requests_leave_one_line_per_reason(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "routes.whatsapp.webhook")
    raw = fixture("text.json")
    forged = "sha256=" + "0" * 64
    statuses = [await post(client, raw, forged) for _ in range(5)]
    statuses += [await post(client, raw, None) for _ in range(3)]
    statuses.append(await post(client, b"{not json"))
    assert statuses == [403] * 5 + [401] * 3 + [400]
    lines = [record.getMessage() for record in caplog.records if "rejected" in record.getMessage()]
    assert len(lines) == 3, lines
    assert "403" in lines[0] and "invalid signature" in lines[0] and "127.0.0.1" in lines[0]
    assert "401" in lines[1] and "400" in lines[2]
    assert not any(forged in line or "test-app-secret" in line for line in lines)


def test_a_flood_of_rejections_is_a_line_every_interval_with_a_count(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = RejectionLog(interval=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "routes.whatsapp.webhook"):
        for _ in range(100):
            log(403, "invalid signature", "203.0.113.9")
            now[0] += 0.5  # 200 a second would be 2,000 lines; 50 s of it
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 5
    assert "19 more like it not logged" in lines[1]


async def test_a_body_too_slow_to_arrive_is_a_408(client: Client) -> None:
    client.app[WEBHOOK].body_read_seconds = 0.5
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"object\":")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        assert status_line.split()[1] == b"408"
    finally:
        writer.close()


async def test_old_timestamps_are_still_fine(client: Client) -> None:
    raw = notification([text_message("447700900555", "wamid.OLD", "hi", FIXTURE_TIME - 10)])
    assert await post(client, raw) == 200
