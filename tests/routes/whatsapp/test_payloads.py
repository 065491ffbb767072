"""Graph API payloads for every outgoing message type, error classification, the fake Graph."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from routes.conversation.messages import (
    Option,
    Outgoing,
    Section,
    buttons,
    list_message,
    location_request,
    text,
)
from routes.whatsapp.errors import (
    Accepted,
    Permanent,
    Retryable,
    SendOutcome,
    SendProblem,
    backoff_seconds,
    classify_send_result,
    transport_failure,
)
from routes.whatsapp.payloads import message_payload, read_receipt_payload
from tests.fake_graph import FakeGraph, RecordedRequest, start_fake_graph

WA_ID, USER_ID, PHONE_NUMBER_ID = "447700900123", "GB.80412297731100456", "109876543210001"
TO = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+447700900123"}


def payload(message: Outgoing) -> dict[str, Any]:
    return message_payload(message, wa_id=WA_ID, user_id=USER_ID)


def test_text() -> None:
    assert payload(text("Hi! See https://example.com/menu")) == {
        **TO, "type": "text",
        "text": {"body": "Hi! See https://example.com/menu", "preview_url": False}}


def test_a_long_text_is_clipped_to_meta_limit() -> None:
    body = payload(text("x" * 5000))["text"]["body"]
    assert len(body) == 4096 and body.endswith("…")


def test_the_phone_number_wins_and_the_user_id_is_the_fallback() -> None:
    assert message_payload(text("hi"), wa_id="+" + WA_ID, user_id=None)["to"] == "+" + WA_ID
    by_user = message_payload(text("hi"), wa_id=None, user_id=USER_ID)
    assert by_user["recipient"] == USER_ID and "to" not in by_user
    assert "recipient" not in payload(text("hi"))
    with pytest.raises(ValueError):
        message_payload(text("hi"), wa_id=None, user_id=None)


def test_reply_buttons() -> None:
    message = buttons("Delivery or pickup?", [Option("order_type:delivery", "Delivery"),
                                              Option("order_type:pickup", "Pickup")],
                      header="Luigi's", footer="Reply any time")
    assert payload(message) == {**TO, "type": "interactive", "interactive": {
        "type": "button",
        "header": {"type": "text", "text": "Luigi's"},
        "body": {"text": "Delivery or pickup?"},
        "footer": {"text": "Reply any time"},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": "order_type:delivery", "title": "Delivery"}},
            {"type": "reply", "reply": {"id": "order_type:pickup", "title": "Pickup"}}]}}}


def test_reply_buttons_respect_the_limits_and_omit_absent_parts() -> None:
    message = buttons("b" * 2000, [Option("item:long", "A very long dish name indeed")])
    interactive = payload(message)["interactive"]
    assert set(interactive) == {"type", "body", "action"}
    assert len(interactive["body"]["text"]) == 1024
    assert len(interactive["action"]["buttons"][0]["reply"]["title"]) == 20


def test_list_with_sections() -> None:
    message = list_message("What would you like?", "Menu", [
        Section("Pizza", (Option("item:margherita", "Margherita", "Tomato, mozzarella"),
                          Option("item:calzone", "Calzone"))),
        Section("Drinks", (Option("item:cola", "Cola", "330 ml"),)),
    ], header="Luigi's", footer="Prices include VAT")
    assert payload(message) == {**TO, "type": "interactive", "interactive": {
        "type": "list",
        "header": {"type": "text", "text": "Luigi's"},
        "body": {"text": "What would you like?"},
        "footer": {"text": "Prices include VAT"},
        "action": {"button": "Menu", "sections": [
            {"title": "Pizza", "rows": [
                {"id": "item:margherita", "title": "Margherita",
                 "description": "Tomato, mozzarella"},
                {"id": "item:calzone", "title": "Calzone"}]},
            {"title": "Drinks", "rows": [
                {"id": "item:cola", "title": "Cola", "description": "330 ml"}]}]}}}


def test_a_full_list_respects_every_limit() -> None:
    rows = tuple(Option(f"item:{n}", f"Dish number {n} with a long name", "d" * 100)
                 for n in range(10))
    message = list_message("body", "Choose a dish from the menu", [Section(None, rows)])
    interactive = payload(message)["interactive"]
    [section] = interactive["action"]["sections"]
    assert "title" not in section and "header" not in interactive
    assert len(interactive["action"]["button"]) <= 20
    assert len(section["rows"]) == 10
    assert all(len(row["title"]) <= 24 and len(row["description"]) <= 72
               for row in section["rows"])


def test_location_request() -> None:
    assert payload(location_request("Where should we deliver?")) == {
        **TO, "type": "interactive", "interactive": {
            "type": "location_request_message", "body": {"text": "Where should we deliver?"},
            "action": {"name": "send_location"}}}


def test_payloads_are_json() -> None:
    message = buttons("é 🍔", [Option("a", "A")])
    assert json.loads(json.dumps(payload(message))) == payload(message)


def test_read_receipt() -> None:
    assert read_receipt_payload("wamid.IN") == {
        "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"}


def meta_error(code: object) -> dict[str, Any]:
    return {"error": {"message": f"error {code}", "type": "OAuthException", "code": code,
                      "error_data": {"details": "more"}, "fbtrace_id": "Atrace"}}


@pytest.mark.parametrize(("code", "http_status", "kind", "problem"), [
    *[(code, 400, Retryable, SendProblem.THROUGHPUT) for code in (130429, 80007, 4, 131048)],
    (130429, 429, Retryable, SendProblem.THROUGHPUT),
    (131056, 400, Retryable, SendProblem.PAIR_RATE_LIMIT),
    *[(code, 500, Retryable, SendProblem.TRANSIENT) for code in (131000, 131016, 1, 2)],
    (131000, 400, Retryable, SendProblem.TRANSIENT),
    (131047, 400, Permanent, SendProblem.WINDOW_CLOSED),
    *[(code, 400, Permanent, SendProblem.UNDELIVERABLE) for code in (131026, 131062)],
    *[(code, 400, Permanent, SendProblem.BAD_REQUEST) for code in (100, 131008, 131009)],
    (190, 401, Permanent, SendProblem.TOKEN_EXPIRED),
    (131049, 400, Permanent, SendProblem.REJECTED),
    (131049, 503, Retryable, SendProblem.TRANSIENT),
    (None, 429, Retryable, SendProblem.TRANSIENT),
    (True, 404, Permanent, SendProblem.REJECTED),
])
def test_classification_follows_the_contract_table(
        code: int | None, http_status: int, kind: type[Retryable | Permanent],
        problem: SendProblem) -> None:
    outcome = classify_send_result(http_status, meta_error(code))
    assert type(outcome) is kind
    assert outcome.problem is problem
    assert outcome.code == (code if type(code) is int else None)
    assert (outcome.http_status, outcome.details, outcome.fbtrace_id) == (
        http_status, "more", "Atrace")


@pytest.mark.parametrize(("http_status", "body", "expected"), [
    (200, {"messages": [{"id": "wamid.OK"}]}, Accepted("wamid.OK")),
    (200, {"success": True}, Accepted(None)),
    (201, "not json", Accepted(None)),
    (502, "<html>Bad gateway</html>", Retryable(SendProblem.TRANSIENT, None, 502, "HTTP 502")),
    (500, None, Retryable(SendProblem.TRANSIENT, None, 500, "HTTP 500")),
    (404, {"error": "x"}, Permanent(SendProblem.REJECTED, None, 404, "HTTP 404")),
    (302, None, Permanent(SendProblem.UNEXPECTED_RESPONSE, None, 302, "HTTP 302")),
])
def test_answers_without_a_meta_error(http_status: int, body: object,
                                      expected: SendOutcome) -> None:
    assert classify_send_result(http_status, body) == expected


def test_a_failure_describes_itself_for_the_log() -> None:
    failure = classify_send_result(400, meta_error(131047))
    assert isinstance(failure, Permanent)
    line = failure.describe()
    assert all(part in line for part in ("window_closed", "131047", "400", "more", "Atrace"))


def test_backoff() -> None:
    assert [backoff_seconds(131056, n) for n in (1, 2, 3)] == [4.0, 16.0, 64.0]
    assert [backoff_seconds(130429, n) for n in (1, 2, 3, 8, 9, 50)] == [
        2.0, 4.0, 8.0, 256.0, 300.0, 300.0]
    assert backoff_seconds(None, 0) == backoff_seconds(None, 1) == 2.0
    retry = classify_send_result(400, meta_error(131056))
    assert isinstance(retry, Retryable) and retry.delay(2) == 16.0


def test_a_transport_failure_is_transient() -> None:
    failure = transport_failure(TimeoutError("read timed out"))
    assert failure.problem is SendProblem.TRANSIENT and "TimeoutError" in failure.message


# --- against the fake Graph API on loopback ----------------------------------

@pytest.fixture
async def fake_graph() -> AsyncIterator[FakeGraph]:
    fake = await start_fake_graph()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> SendOutcome:
    async with session.post(f"{url}/{PHONE_NUMBER_ID}/messages", json=body,
                            headers={"Authorization": "Bearer TOKEN"}) as response:
        return classify_send_result(response.status, await response.json())


async def test_a_send_is_accepted_and_recorded(fake_graph: FakeGraph,
                                               session: aiohttp.ClientSession) -> None:
    assert fake_graph.url.startswith("http://127.0.0.1:") and fake_graph.url.endswith("/v23.0")
    body = payload(text("hello"))
    assert await post(session, fake_graph.url, body) == Accepted("wamid.FAKE1")
    assert await fake_graph.wait_for_sends(1) == [
        RecordedRequest(PHONE_NUMBER_ID, body, "Bearer TOKEN")]


async def test_scripted_rate_limits_then_success(fake_graph: FakeGraph,
                                                 session: aiohttp.ClientSession) -> None:
    fake_graph.fail_next(2, 130429, 429)
    body = payload(text("hello"))
    outcomes = [await post(session, fake_graph.url, body) for _ in range(3)]
    assert [(type(outcome), getattr(outcome, "code", None)) for outcome in outcomes] == [
        (Retryable, 130429), (Retryable, 130429), (Accepted, None)]
    assert outcomes[2] == Accepted("wamid.FAKE1")
    assert len(fake_graph.failures) == 2 and len(fake_graph.sends) == 1


async def test_read_receipts_are_recorded_apart(fake_graph: FakeGraph,
                                                session: aiohttp.ClientSession) -> None:
    unversioned = fake_graph.url.rsplit("/", 1)[0]
    assert await post(session, unversioned, read_receipt_payload("wamid.IN")) == Accepted(None)
    assert [read.body["message_id"] for read in fake_graph.reads] == ["wamid.IN"]
    assert fake_graph.sends == []


async def test_the_fake_refuses_what_meta_would(fake_graph: FakeGraph,
                                                session: aiohttp.ClientSession) -> None:
    url = f"{fake_graph.url}/{PHONE_NUMBER_ID}/messages"
    async with session.post(url, json=payload(text("hi"))) as response:
        outcome = classify_send_result(response.status, await response.json())
    assert isinstance(outcome, Permanent) and outcome.problem is SendProblem.TOKEN_EXPIRED
    assert await post(session, fake_graph.url, {"to": "+1"}) == Permanent(
        SendProblem.BAD_REQUEST, 100, 400, "(#100) Invalid parameter",
        "(#100) Invalid parameter", "AFAKEtraceid")


async def test_waiting_for_sends_that_never_come_says_how_many_came(
        fake_graph: FakeGraph) -> None:
    with pytest.raises(TimeoutError, match=r"expected 1 sends within 0\.05 s, got 0"):
        await fake_graph.wait_for_sends(1, timeout=0.05)
