"""What the contract suites share: the backend under test, customers, record builders."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.base import (
    Changes,
    InboxRecord,
    OrderRecord,
    OutboxMessage,
    OutboxRecord,
    SessionKey,
    SessionStore,
    order_lines,
)
from storage.codec import encode_snapshot

ALICE = SessionKey("luigis", "447700900001")
BOB = SessionKey("luigis", "447700900002")
CAROL_AT_SUSHI = SessionKey("sushi", "447700900003")
LUIGIS_NUMBER = "109876543210001"


@dataclass(frozen=True)
class Backend:
    """One engine under test, with the file (if it uses one) of this test."""

    name: str
    path: Path
    durable: bool                           # keeps what was committed across close and open
    make: Callable[[Path], SessionStore]

    def new_store(self) -> SessionStore:
        """A new, unopened store on this test's data (the same file each time)."""
        return self.make(self.path)


def snapshot(state: str, **extra: object) -> bytes:
    return encode_snapshot({"v": 1, "state": state, **extra})


def order(key: SessionKey, reference: str, created_at: float = 1.0) -> OrderRecord:
    return OrderRecord(
        reference=reference, restaurant_id=key.restaurant_id, customer_id=key.customer_id,
        status="CONFIRMED", order_type="delivery", branch_id=None, address="1 Frith St",
        payment_method="card", currency="GBP", total_minor=2150, delivery_fee_minor=250,
        lines=order_lines([
            {"item_id": "margherita", "qty": 2, "unit_minor": 950, "addons": []},
            {"item_id": "calzone", "qty": 1, "unit_minor": 1100, "addons": ["chilli"]},
        ]),
        created_at=created_at,
    )


def inbound(message_id: str, key: SessionKey = ALICE, text: str = "hi") -> InboxRecord:
    return InboxRecord(message_id=message_id, key=key, phone_number_id=LUIGIS_NUMBER,
                       wa_id=key.customer_id, user_id=f"user.{key.customer_id}",
                       sent_at=1_763_900_000, received_at=1_763_900_001.5,
                       payload=json.dumps({"text": text}).encode())


def reply(key: SessionKey, text: str, kind: str = "message") -> OutboxMessage:
    body = {"messaging_product": "whatsapp", "to": key.customer_id, "type": "text",
            "text": {"body": text}}
    return OutboxMessage(key, LUIGIS_NUMBER, json.dumps(body), kind)


def texts(rows: Sequence[OutboxRecord]) -> list[str]:
    return [json.loads(row.body)["text"]["body"] for row in rows]


async def handled(store: SessionStore, message_id: str, key: SessionKey, at: float,
                  *answers: str) -> None:
    """Commit the processing of ``message_id``: a snapshot and one reply per answer."""
    await store.commit(Changes(key, at, snapshot("browsing_items", last=message_id),
                               inbox_processed=message_id,
                               outbox=[reply(key, answer) for answer in answers]))
