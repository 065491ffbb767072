"""Inbox upkeep while serving: retrying commits that failed, pruning old message ids."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from routes.app import INBOX, SETTINGS, STORE
from routes.conversation.dispatcher import FAILURE_REPLY
from routes.conversation.messages import Inbound
from routes.whatsapp.inbox import encode_inbound
from routes.whatsapp.upkeep import maintain
from storage.base import Changes, InboxRecord
from storage.errors import StorageError
from tests.fake_graph import FakeGraph
from tests.whatsapp_support import (
    AMIRA,
    FIXTURE_TIME,
    Client,
    FixtureDayClock,
    bodies_to,
    fixture,
    post,
    session_of,
    settle,
)

TEXT_ID = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0EwMDAwMDAwMDAwMDAwMDAwMDEA"


@contextlib.asynccontextmanager
async def maintaining(client: Client, interval: float) -> AsyncIterator[None]:
    app = client.app
    task = asyncio.create_task(maintain(app[SETTINGS].clock, app[STORE], app[INBOX], interval))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_until_processed(client: Client, message_id: str) -> None:
    """Poll the inbox row: the sweep runs on its own timer, there is nothing to await."""
    for _ in range(250):
        if await client.app[STORE].inbox_state(message_id) == "processed":
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{message_id} still not processed")


async def test_a_failed_commit_is_retried_and_later_messages_wait_behind_it(
        client: Client, graph: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app[STORE]
    real_commit = store.commit
    failures: list[str | None] = []

    async def failing_once(changes: Changes) -> Any:
        if not failures:
            failures.append(changes.inbox_processed)
            raise StorageError("database or disk is full")
        return await real_commit(changes)

    monkeypatch.setattr(store, "commit", failing_once)
    assert await post(client, fixture("text.json")) == 200
    assert await post(client, fixture("button_reply.json")) == 200  # "delivery", next
    await wait_until_processed(client, TEXT_ID)
    await settle(client)
    assert failures == [TEXT_ID]
    welcome, category = bodies_to(graph, "+447700900123")
    assert "Welcome to Luigi's Pizzeria!" in welcome
    assert "Welcome" not in category


async def test_the_sweep_picks_up_a_message_nobody_holds(
        client: Client, graph: FakeGraph, fixture_clock: FixtureDayClock) -> None:
    store = client.app[STORE]
    # Stored, but never handed to the processor (as if it could not even be answered).
    record = InboxRecord(TEXT_ID, AMIRA, "109876543210001", AMIRA.customer_id, None,
                         FIXTURE_TIME, fixture_clock() - 60,
                         encode_inbound(Inbound("text", text="hi")))
    assert await store.accept_inbound([record]) == [TEXT_ID]
    assert await store.inbox_state(TEXT_ID) == "pending"

    async with maintaining(client, interval=0.05):
        await wait_until_processed(client, TEXT_ID)
    await settle(client)
    [reply] = bodies_to(graph, "+447700900123")
    assert "Welcome to Luigi's Pizzeria!" in reply


async def test_a_row_this_build_cannot_read_is_answered_with_an_apology_not_retried(
        client: Client, graph: FakeGraph, fixture_clock: FixtureDayClock) -> None:
    store = client.app[STORE]
    assert await post(client, fixture("text.json")) == 200  # "hi"
    await settle(client)
    assert (await session_of(client, AMIRA)).state == "choosing_order_type"
    # Say, written by an older build in a layout this one no longer decodes.
    unreadable = InboxRecord("wamid.UNREADABLE", AMIRA, "109876543210001", AMIRA.customer_id,
                             None, FIXTURE_TIME, fixture_clock(), b"\xc1")
    assert await store.accept_inbound([unreadable]) == ["wamid.UNREADABLE"]
    client.app[INBOX].submit(unreadable)
    await settle(client)

    assert await store.inbox_state("wamid.UNREADABLE") == "processed"  # not retried for ever
    assert bodies_to(graph, "+447700900123")[-1] == FAILURE_REPLY
    assert (await session_of(client, AMIRA)).state == "choosing_order_type"
    assert await post(client, fixture("button_reply.json")) == 200  # "delivery"
    await settle(client)
    assert (await session_of(client, AMIRA)).state == "choosing_category"


async def test_old_ids_and_replies_are_pruned_after_their_retention_and_not_before(
        client: Client, fixture_clock: FixtureDayClock) -> None:
    store = client.app[STORE]
    assert await post(client, fixture("text.json")) == 200
    await settle(client)

    fixture_clock.advance(7 * 24 * 3600)  # Meta may still re-deliver: keep the id
    async with maintaining(client, interval=0.05):
        await asyncio.sleep(0.2)
    assert await store.inbox_state(TEXT_ID) == "processed"

    fixture_clock.advance(2 * 24 * 3600)
    async with maintaining(client, interval=0.05):
        await asyncio.sleep(0.2)
    assert await store.inbox_state(TEXT_ID) is None
    assert len(await store.list_outbox()) == 2  # the read receipt and the reply: kept 30 days

    fixture_clock.advance(30 * 24 * 3600)
    async with maintaining(client, interval=0.05):
        await asyncio.sleep(0.2)
    assert await store.list_outbox() == []
