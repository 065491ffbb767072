"""Notices nobody typed get no reply (a number change moves the conversation), and media
gets a polite answer saying what the bot can do: issue 14, items 4 and 11."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fsm.session import Session
from routes.conversation.dispatcher import FAILURE_REPLY, Dispatcher
from routes.conversation.messages import Inbound
from routes.whatsapp.parser import parse_notification
from storage.base import SessionKey, SessionStore
from storage.codec import decode_snapshot
from tests.conftest import Customer

OLD, NEW = "15550100121", "15550100122"
# Meta's system message for a number change, as in the failing case (no contacts array).
NUMBER_CHANGE_BODY: dict[str, Any] = json.loads(
    """{"object":"whatsapp_business_account","entry":[{"id":"2012",
"changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{
"display_phone_number":"15550001111","phone_number_id":"109876543210001"},"messages":[{
"from":"15550100121","id":"wamid.QAFAKE0000000000000129","timestamp":"1795968010",
"type":"system","system":{"body":"Test Customer changed from \\u200e15550100121 to \
15550100122\\u200e","wa_id":"15550100122","type":"user_changed_number"}}]}}]}]}""")


def with_message(message: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(NUMBER_CHANGE_BODY)
    base = body["entry"][0]["changes"][0]["value"]["messages"][0]
    body["entry"][0]["changes"][0]["value"]["messages"] = [
        {key: base[key] for key in ("from", "id", "timestamp")} | message]
    return body


def parsed(body: dict[str, Any]) -> Inbound:
    [message] = parse_notification(body).messages
    return message.inbound


def test_the_number_change_is_read_as_a_notice_with_the_new_number() -> None:
    assert parsed(NUMBER_CHANGE_BODY) == Inbound(
        "notice", text=NEW, choice_id="system:user_changed_number")


@pytest.mark.parametrize(("message", "expected"), [
    ({"type": "request_welcome"}, Inbound("notice", choice_id="request_welcome")),
    ({"type": "ephemeral", "ephemeral": {}}, Inbound("notice", choice_id="ephemeral")),
    ({"type": "order", "order": {"catalog_id": "1", "product_items": []}},
     Inbound("notice", choice_id="order")),
    ({"type": "system", "system": {"type": "user_changed_user_id", "user_id": "US.1"}},
     Inbound("notice", choice_id="system:user_changed_user_id")),
    ({"type": "system", "system": {"type": "user_changed_number", "wa_id": "12; DROP"}},
     Inbound("notice", choice_id="system:user_changed_number")),  # not a number: no move
    ({"type": "audio", "audio": {"id": "1", "voice": True}}, Inbound("unsupported", "voice")),
    ({"type": "audio", "audio": {"id": "1"}}, Inbound("unsupported", "audio")),
    ({"type": "image", "image": {"id": "1"}}, Inbound("unsupported", "image")),
    ({"type": "sticker", "sticker": {"id": "1"}}, Inbound("unsupported", "sticker")),
    ({"type": "document", "document": {"id": "1"}}, Inbound("unsupported", "document")),
    ({"type": "contacts", "contacts": []}, Inbound("unsupported", "contacts")),
])
def test_notices_and_media_are_told_apart(message: dict[str, Any], expected: Inbound) -> None:
    assert parsed(with_message(message)) == expected


async def stored(store: SessionStore, customer_id: str) -> Session | None:
    blob = await store.load_snapshot(SessionKey("luigis", customer_id))
    return None if blob is None else Session.from_snapshot(decode_snapshot(blob))


async def test_a_number_change_moves_the_conversation_and_is_not_answered(
        dispatcher: Dispatcher, store: SessionStore, amira: Customer) -> None:
    old = Customer(dispatcher, amira.restaurant, OLD)
    for typed in ("hi", "1", "drinks", "cola"):
        await old.type(typed)
    assert "Added Coca-Cola" in old.text

    replies = await old.send(parsed(NUMBER_CHANGE_BODY))
    assert replies == []

    new = Customer(dispatcher, amira.restaurant, NEW)
    await new.type("cart")
    assert "1 × Coca-Cola" in new.text
    assert "Welcome" not in new.text
    moved = await stored(store, NEW)
    assert moved is not None and [line.item_id for line in moved.cart] == ["cola"]
    left = await stored(store, OLD)
    assert left is not None and left.cart.is_empty


async def test_a_number_change_keeps_a_conversation_the_new_number_already_has(
        dispatcher: Dispatcher, store: SessionStore, amira: Customer) -> None:
    old = Customer(dispatcher, amira.restaurant, OLD)
    new = Customer(dispatcher, amira.restaurant, NEW)
    for typed in ("hi", "1", "drinks", "cola"):
        await old.type(typed)
    for typed in ("hi", "1", "drinks", "peroni"):
        await new.type(typed)
    await old.send(parsed(NUMBER_CHANGE_BODY))
    kept = await stored(store, NEW)
    assert kept is not None and [line.item_id for line in kept.cart] == ["peroni"]


@pytest.mark.parametrize("notice", [
    Inbound("notice", choice_id="request_welcome"),
    Inbound("notice", choice_id="ephemeral"),
    Inbound("notice", choice_id="order"),
    Inbound("notice", choice_id="system:user_changed_user_id"),
    Inbound("notice", choice_id="system:user_changed_number"),  # no usable new number
])
async def test_other_notices_get_no_reply_and_change_no_cart(
        amira: Customer, store: SessionStore, notice: Inbound) -> None:
    for typed in ("hi", "1", "drinks", "cola"):
        await amira.type(typed)
    before = await stored(store, amira.customer_id)
    assert await amira.send(notice) == []
    after = await stored(store, amira.customer_id)
    assert before is not None and after is not None
    assert (after.state, after.cart) == (before.state, before.cart)


@pytest.mark.parametrize(("media", "said"), [
    ("voice", "can't listen to voice notes"),
    ("audio", "can't listen to audio"),
    ("image", "can't look at pictures"),
    ("sticker", "can't read stickers"),
    ("video", "can't watch videos"),
    ("document", "can't open documents"),
    ("contacts", "can't read shared contacts"),
    ("", "can only read text"),
])
async def test_media_gets_a_polite_reply_saying_what_the_bot_can_do(
        amira: Customer, store: SessionStore, media: str, said: str) -> None:
    for typed in ("hi", "1", "drinks", "cola"):
        await amira.type(typed)
    await amira.send(Inbound("unsupported", text=media))
    assert said in amira.text
    assert '"menu"' in amira.text and "location pin" in amira.text
    assert FAILURE_REPLY not in amira.text
    session = await stored(store, amira.customer_id)
    assert session is not None and [line.item_id for line in session.cart] == ["cola"]
