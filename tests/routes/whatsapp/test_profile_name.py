"""The customer's WhatsApp profile name travels through the durable inbox to what staff see."""

from __future__ import annotations

import msgpack

from routes.app import STORE
from routes.conversation.messages import Inbound
from routes.whatsapp.inbox import decode_inbound, encode_inbound
from tests.whatsapp_support import AMIRA, Client, fixture, post, settle


async def test_the_profile_name_reaches_the_conversation_record(client: Client) -> None:
    assert await post(client, fixture("text.json")) == 200
    await settle(client)

    record = await client.app[STORE].conversation(AMIRA)
    assert record is not None
    assert record.name == "Amira Haddad"
    assert record.wa_id == "447700900123" and record.phone_number_id == "109876543210001"


def test_an_inbox_row_written_before_names_still_reads() -> None:
    old: bytes = msgpack.packb(["text", "hi", None, None], use_bin_type=True)
    assert decode_inbound(old) == (Inbound.typed("hi"), None)
    assert decode_inbound(encode_inbound(Inbound.typed("hi"), "Amira")) == (
        Inbound.typed("hi"), "Amira")
