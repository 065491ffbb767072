"""The inbox processor: per-customer order, bounded concurrency, no customer behind another."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fsm.config import AppConfig
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.flow import conversation
from routes.conversation.messages import Inbound
from routes.whatsapp.inbox import InboxProcessor, encode_inbound
from storage.base import InboxRecord, OutboxRecord, SessionKey
from storage.memory import MemoryStore
from storage.sessions import SessionRepository
from tests.conftest import FakeClock

BUSY = SessionKey("luigis", "447700900001")
QUIET = SessionKey("luigis", "447700900002")


def record(key: SessionKey, n: int, text: str) -> InboxRecord:
    return InboxRecord(f"wamid.{key.customer_id}.{n:03d}", key, "109876543210001",
                       key.customer_id, None, 1_763_900_000, 1_763_900_000.0,
                       encode_inbound(Inbound("text", text=text)))


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    backend = MemoryStore()
    await backend.open()
    yield backend
    await backend.close()


async def test_a_busy_customer_does_not_hold_up_others_and_keeps_its_order(
        config: AppConfig, store: MemoryStore, clock: FakeClock) -> None:
    clock.now = 1_763_900_010.0
    committed: list[tuple[SessionKey, int]] = []
    processor: InboxProcessor

    def on_queued(key: SessionKey, rows: list[OutboxRecord]) -> None:
        committed.append((key, processor.active))

    dispatcher = Dispatcher(config, SessionRepository(store), conversation, clock=clock)
    processor = InboxProcessor(config, store, dispatcher, concurrency=2, on_committed=on_queued)
    burst = [record(BUSY, 0, "hi"), record(BUSY, 1, "delivery")]
    burst += [record(BUSY, n, "margherita") for n in range(2, 30)]
    records = [*burst, record(QUIET, 0, "hi")]
    await store.accept_inbound(records)
    for each in records:
        assert processor.submit(each)
    assert not processor.submit(records[0])  # already on its way
    await processor.drain()

    assert len(committed) == len(records) == processor.processed
    assert max(active for _, active in committed) <= 2
    assert [key for key, _ in committed].index(QUIET) < 3  # not after the 30-message burst
    receipts = [row.body for row in await store.list_outbox(BUSY) if row.kind == "read"]
    assert receipts == [f'{{"messaging_product":"whatsapp","status":"read","message_id":'
                        f'"{each.message_id}"}}' for each in burst]
    assert await store.pending_inbound() == []
