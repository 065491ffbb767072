"""The durable inbox: acknowledged messages processed once, in order per customer.

A webhook stores its messages (:meth:`SessionStore.accept_inbound`) before
answering 200 and hands the new ones to :class:`InboxProcessor`. Processing
a message runs the conversation and commits, in one transaction, the inbox
mark, the snapshot and the outbox rows (a read receipt, then the replies).
After a crash, :meth:`InboxProcessor.recover` picks up what was acknowledged
but never processed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from fsm.config import AppConfig
from routes.dispatcher import Dispatcher
from routes.graph import message_payload, read_receipt_payload
from routes.messages import Inbound, Location, Outgoing
from routes.middlewares import Update
from storage.base import InboxRecord, OutboxMessage, SessionStore
from storage.errors import AlreadyProcessed, StorageError

logger = logging.getLogger(__name__)


def encode_inbound(inbound: Inbound) -> bytes:
    pin = inbound.location
    location = None if pin is None else [pin.latitude, pin.longitude, pin.name, pin.address]
    packed: bytes = msgpack.packb([inbound.kind, inbound.text, inbound.choice_id, location],
                                  use_bin_type=True)
    return packed


def decode_inbound(payload: bytes) -> Inbound:
    kind, text, choice_id, location = msgpack.unpackb(payload, raw=False)
    pin = None if location is None else Location(*location)
    return Inbound(kind, text=text, choice_id=choice_id, location=pin)


@dataclass(frozen=True, slots=True)
class ReplyAddress:
    """Where the replies to one inbound message go."""

    phone_number_id: str
    wa_id: str | None
    user_id: str | None
    message_id: str


def whatsapp_outbox(update: Update, replies: Sequence[Outgoing]) -> list[OutboxMessage]:
    """Outbox rows for one processed WhatsApp message: a read receipt, then the replies."""
    address = update.channel
    if not isinstance(address, ReplyAddress):
        return []
    rows = [OutboxMessage(update.key, address.phone_number_id,
                          _json(read_receipt_payload(address.message_id)), kind="read")]
    rows.extend(
        OutboxMessage(update.key, address.phone_number_id,
                      _json(message_payload(reply, wa_id=address.wa_id, user_id=address.user_id)))
        for reply in replies)
    return rows


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class InboxProcessor:
    """Processes accepted inbox rows; one task per message, ordered by the customer lock."""

    def __init__(self, config: AppConfig, store: SessionStore, dispatcher: Dispatcher,
                 on_committed: Any = None) -> None:
        self.config = config
        self.store = store
        self.dispatcher = dispatcher
        self.on_committed = on_committed
        self._tasks: set[asyncio.Task[None]] = set()
        self.processed = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def submit(self, record: InboxRecord) -> None:
        """Process ``record`` soon; call in arrival order (the lock queue is FIFO)."""
        task = asyncio.create_task(self._process(record), name=f"inbox {record.message_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recover(self, batch: int = 1000) -> int:
        """Submit every acknowledged, unprocessed row; returns how many."""
        records = await self.store.pending_inbound(limit=batch)
        for record in records:
            self.submit(record)
        if records:
            logger.info("recovering %d acknowledged but unprocessed messages", len(records))
        return len(records)

    async def drain(self) -> None:
        """Wait for every submitted message to be processed."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _process(self, record: InboxRecord) -> None:
        restaurant = self.config.restaurant(record.key.restaurant_id)
        if restaurant is None:
            logger.error("inbox row for unknown restaurant=%s message=%s left pending",
                         record.key.restaurant_id, record.message_id)
            return
        address = ReplyAddress(record.phone_number_id, record.wa_id, record.user_id,
                               record.message_id)
        try:
            await self.dispatcher.feed(restaurant, record.key.customer_id,
                                       decode_inbound(record.payload),
                                       message_id=record.message_id, channel=address)
        except AlreadyProcessed:
            logger.info("message=%s already processed", record.message_id)
            return
        except StorageError as exc:
            # Stays pending in the inbox: processed on the next start-up.
            logger.error("could not commit restaurant=%s customer=%s message=%s: %s",
                         restaurant.id, record.key.customer_id, record.message_id, exc)
            return
        self.processed += 1
        if self.on_committed is not None:
            self.on_committed()
