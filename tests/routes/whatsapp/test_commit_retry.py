"""A commit that fails while the customer's next message already waits: order is kept (G5)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fsm.config import AppConfig
from fsm.session import Session
from fsm.states import States
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.flow import conversation
from routes.conversation.queues import COMMIT_RETRY
from routes.whatsapp.inbox import InboxProcessor
from storage.base import Changes, OutboxRecord, SessionKey
from storage.codec import decode_snapshot
from storage.errors import StorageError
from storage.sessions import SessionRepository
from storage.sqlite import SQLiteStore
from tests.conftest import FakeClock
from tests.routes.whatsapp.test_inbox_processor import record

AMIRA = SessionKey("luigis", "447700900123")


class FailingOnceStore(SQLiteStore):
    """A real SQLite store whose first commit marking ``fail_for`` fails, as a full disk would."""

    def __init__(self, path: Path, fail_for: str) -> None:
        super().__init__(path)
        self.fail_for = fail_for
        self.attempts: list[str | None] = []  # inbox marks, in the order commits were tried
        self.tried_at: list[float] = []  # time.monotonic() of each

    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        self.attempts.append(changes.inbox_processed)
        self.tried_at.append(time.monotonic())
        if changes.inbox_processed == self.fail_for and self.attempts.count(self.fail_for) == 1:
            raise StorageError("database or disk is full")
        return await super().commit(changes)


@pytest.fixture
async def failing_store(tmp_path: Path) -> AsyncIterator[FailingOnceStore]:
    store = FailingOnceStore(tmp_path / "orderbot.db", fail_for=record(AMIRA, 0, "").message_id)
    await store.open()
    yield store
    await store.close()


async def wait_processed(store: FailingOnceStore, message_id: str) -> None:
    # The retry waits out a backoff on a timer of its own: poll the inbox row.
    for _ in range(300):
        if await store.inbox_state(message_id) == "processed":
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{message_id} not processed; commits tried: {store.attempts}")


async def test_a_failed_commit_is_retried_before_the_customers_next_message(
        config: AppConfig, failing_store: FailingOnceStore, clock: FakeClock) -> None:
    store = failing_store
    clock.advance(10)
    dispatcher = Dispatcher(config, SessionRepository(store), conversation, clock=clock)
    queued: list[OutboxRecord] = []
    processor = InboxProcessor(config, store, dispatcher,
                               on_committed=lambda key, rows: queued.extend(rows))
    # "delivery" then "margherita": only in this order does the margherita reach the cart.
    first, second = record(AMIRA, 0, "delivery"), record(AMIRA, 1, "margherita")
    assert await store.accept_inbound([first, second]) == [first.message_id, second.message_id]
    assert processor.submit(first)
    assert processor.submit(second)

    await wait_processed(store, second.message_id)
    await processor.drain()

    assert store.attempts == [first.message_id, first.message_id, second.message_id]
    # Retried after a backoff (a full disk rarely clears at once), the next one held meanwhile.
    failed_at, retried_at, _ = store.tried_at
    assert retried_at - failed_at >= 0.9 * COMMIT_RETRY.delay(1)
    assert await store.inbox_state(first.message_id) == "processed"
    blob = await store.load_snapshot(AMIRA)
    assert blob is not None
    session = Session.from_snapshot(decode_snapshot(blob))
    assert session.state == States.REVIEWING_CART
    [line] = session.cart.lines
    assert (line.item_id, line.quantity) == ("margherita", 1)
    # The replies went out in the same order: the receipt and answer of each, in turn.
    receipts = [json.loads(row.body)["message_id"] for row in queued if row.kind == "read"]
    assert receipts == [first.message_id, second.message_id]
    answers = [row.body for row in queued if row.kind == "message"]
    assert "Added Margherita" not in answers[0]
    assert "Added Margherita" in answers[-1]
    assert processor.processed == 2
    assert len(processor) == 0


async def test_drain_waits_for_a_message_held_for_a_retry(
        config: AppConfig, failing_store: FailingOnceStore, clock: FakeClock) -> None:
    store = failing_store
    clock.advance(10)
    dispatcher = Dispatcher(config, SessionRepository(store), conversation, clock=clock)
    processor = InboxProcessor(config, store, dispatcher)
    first = record(AMIRA, 0, "hi")
    await store.accept_inbound([first])
    processor.submit(first)

    await processor.drain()  # "every submitted message processed": the retry too

    assert store.attempts == [first.message_id, first.message_id]
    assert await store.inbox_state(first.message_id) == "processed"
    assert len(processor) == 0
