"""Many callers, one round trip on PostgreSQL: group commit, coalesced accepts, reads, marks, locks.

Each test makes its calls at the same moment (``asyncio.gather``), as a
claimed batch of customers does, and checks both what landed and that it
took one statement (or one transaction) rather than one per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.base import Changes, InboxRecord, OutboxMessage, SessionKey
from storage.errors import (
    AlreadyProcessed,
    DuplicateOrderReference,
    OrderStatusChanged,
    StorageError,
)
from storage.mail import SentMark
from storage.postgres import PostgresStore
from storage.records import OrderMove
from storage.staff import ConversationChange, LoggedMessage
from tests.storage.contract.support import order
from tests.storage.postgres_server import PostgresServer, schema_for

KEYS = [SessionKey("luigis", f"4477002000{n}") for n in range(4)]
NUMBER = "109876543210001"


def record(key: SessionKey, message_id: str, at: float) -> InboxRecord:
    return InboxRecord(message_id=message_id, key=key, phone_number_id=NUMBER,
                       wa_id=key.customer_id, user_id=None, sent_at=int(at),
                       received_at=at, payload=b"\x90")


def processing(key: SessionKey, message_id: str, at: float, text: str = "hello") -> Changes:
    return Changes(
        key, at, snapshot=f"snapshot of {message_id}".encode(), inbox_processed=message_id,
        outbox=[OutboxMessage(key, NUMBER, '{"read": 1}', "read"),
                OutboxMessage(key, NUMBER, f'{{"text": "{message_id}"}}')],
        log=[LoggedMessage("in", "text", text, "customer", at, message_id),
             LoggedMessage("out", "text", "reply", "bot", at, outbox_index=1)],
        conversation=ConversationChange(inbound_at=at, outbound_at=at))


@pytest.fixture
async def store(postgres_server: PostgresServer, tmp_path: Path) -> AsyncIterator[PostgresStore]:
    opened = PostgresStore(postgres_server.url, schema=schema_for(tmp_path))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def settle(calls: list[object]) -> list[object]:
    return list(await asyncio.gather(*calls, return_exceptions=True))  # type: ignore[call-overload]


async def test_one_refused_unit_of_a_group_is_refused_alone_and_the_others_land(
        store: PostgresStore) -> None:
    await store.accept_inbound([record(key, f"m{n}", n) for n, key in enumerate(KEYS)])
    await store.commit(Changes(KEYS[1], 9.0, inbox_processed="m1"))  # processed before
    before = store._group.round_trips
    outcomes = await settle([
        store.commit(processing(KEYS[0], "m0", 10.0)),
        store.commit(processing(KEYS[1], "m1", 10.0)),
        store.commit(processing(KEYS[2], "never-accepted", 10.0)),
        store.commit(processing(KEYS[3], "m3", 10.0))])
    assert store._group.round_trips - before == 1  # one transaction for the four
    assert isinstance(outcomes[1], AlreadyProcessed)
    assert isinstance(outcomes[2], StorageError)
    assert not isinstance(outcomes[2], AlreadyProcessed)
    for landed, key, message_id in ((outcomes[0], KEYS[0], "m0"), (outcomes[3], KEYS[3], "m3")):
        assert isinstance(landed, list)
        assert [row.kind for row in landed] == ["read", "message"]
        assert landed[0].id < landed[1].id
        assert await store.load_snapshot(key) == f"snapshot of {message_id}".encode()
        log = await store.messages(key)
        assert [(m.direction, m.text, m.status) for m in log] == [
            ("in", "hello", None), ("out", "reply", "pending")]  # its outbox row's state
        conversation = await store.conversation(key)
        assert conversation is not None and conversation.unread == 1
    # Nothing of the refused units was written.
    assert await store.load_snapshot(KEYS[1]) is None
    assert await store.load_snapshot(KEYS[2]) is None
    assert await store.messages(KEYS[1]) == []
    assert await store.conversation(KEYS[2]) is None
    assert [r.message_id for r in await store.pending_inbound()] == ["m2"]
    pending = await store.pending_outbound(now=20.0)
    assert {row.key for row in pending} == {KEYS[0], KEYS[3]}


async def test_a_group_the_database_refuses_is_written_unit_by_unit(
        store: PostgresStore) -> None:
    await store.accept_inbound([record(key, f"m{n}", n) for n, key in enumerate(KEYS[:3])])
    outcomes = await settle([
        store.commit(processing(KEYS[0], "m0", 10.0)),
        store.commit(processing(KEYS[1], "m1", 10.0, text="a NUL \x00 PostgreSQL refuses")),
        store.commit(processing(KEYS[2], "m2", 10.0))])
    assert isinstance(outcomes[0], list) and isinstance(outcomes[2], list)
    assert isinstance(outcomes[1], StorageError)
    assert "refused" in str(outcomes[1])
    assert [r.message_id for r in await store.pending_inbound()] == ["m1"]
    assert await store.load_snapshot(KEYS[2]) == b"snapshot of m2"


async def test_a_conversations_commits_keep_their_order_across_groups(
        store: PostgresStore) -> None:
    key = KEYS[0]
    await store.accept_inbound([record(key, f"m{n}", n) for n in range(3)])
    outcomes = await settle([store.commit(processing(key, f"m{n}", 10.0 + n))
                             for n in range(3)])
    ids = [row.id for outcome in outcomes for row in outcome]  # type: ignore[attr-defined]
    assert ids == sorted(ids)
    assert await store.load_snapshot(key) == b"snapshot of m2"
    conversation = await store.conversation(key)
    assert conversation is not None and conversation.unread == 3


async def test_deliveries_at_the_same_moment_share_one_statement_and_each_id_is_new_once(
        store: PostgresStore) -> None:
    acceptance = store._acceptance.deliveries
    before = acceptance.round_trips
    first, second, third = await asyncio.gather(
        store.accept_inbound([record(KEYS[0], "x", 1), record(KEYS[0], "x", 1),
                              record(KEYS[1], "y", 2)], [("u1", "447700")]),
        store.accept_inbound([record(KEYS[1], "y", 2), record(KEYS[2], "z", 3)],
                             [("u1", "447711")]),
        store.accept_inbound([record(KEYS[0], "x", 1)]))
    assert acceptance.round_trips - before == 1
    assert (first, second, third) == (["x", "y"], ["z"], [])
    assert await store.accept_inbound([record(KEYS[2], "z", 3)]) == []
    assert await store.resolve_customer("u1") == "447711"  # the later pair wins
    assert [r.message_id for r in await store.pending_inbound()] == ["x", "y", "z"]


async def test_reads_and_sent_marks_at_the_same_moment_take_one_statement(
        store: PostgresStore) -> None:
    await store.accept_inbound([record(key, f"m{n}", n) for n, key in enumerate(KEYS)])
    await settle([store.commit(processing(key, f"m{n}", 10.0))
                  for n, key in enumerate(KEYS[:3])])
    snapshots = store._many.snapshots
    before = snapshots.round_trips
    read = await asyncio.gather(*(store.load_snapshot(key) for key in KEYS))
    assert snapshots.round_trips - before == 1
    assert read == [b"snapshot of m0", b"snapshot of m1", b"snapshot of m2", None]
    flags = await asyncio.gather(*(store.gate_flags(key) for key in KEYS))
    assert [f.bot_paused for f in flags] == [False] * 4
    rows = await store.pending_outbound(now=20.0)
    sent = store._many.sent
    before = sent.round_trips
    await asyncio.gather(*(store.outbox_sent(row.id, f"wamid.{row.id}", 30.0) for row in rows))
    assert sent.round_trips - before == 1
    assert await store.pending_outbound(now=40.0) == []


async def test_send_locks_asked_together_take_one_statement_and_exclude_another_process(
        store: PostgresStore, postgres_server: PostgresServer, tmp_path: Path) -> None:
    other = PostgresStore(postgres_server.url, schema=schema_for(tmp_path))
    await other.open()
    mine, theirs = store.coordination().send_locks(), other.coordination().send_locks()
    try:
        assert await asyncio.gather(*(mine.acquire(key) for key in KEYS[:3])) == [True] * 3
        assert mine._tries.round_trips == 1
        assert await asyncio.gather(*(theirs.acquire(key) for key in KEYS)) == [
            False, False, False, True]
        await asyncio.gather(*(mine.release(key) for key in KEYS[:2]))
        assert not mine.holds(KEYS[0]) and mine.holds(KEYS[2])
        assert await asyncio.gather(*(theirs.acquire(key) for key in KEYS[:3])) == [
            True, True, False]
    finally:
        await mine.close()
        await theirs.close()
        await other.close()


async def test_a_delivery_or_a_mark_the_database_refuses_fails_alone(
        store: PostgresStore) -> None:
    bad = InboxRecord(message_id="bad", key=KEYS[1], phone_number_id=NUMBER,
                      wa_id="a NUL \x00", user_id=None, sent_at=1, received_at=1.0,
                      payload=b"\x90")
    accepted = await settle([store.accept_inbound([record(KEYS[0], "good", 1)]),
                             store.accept_inbound([bad]),
                             store.accept_inbound([record(KEYS[2], "fine", 2)])])
    assert accepted[0] == ["good"] and accepted[2] == ["fine"]
    assert isinstance(accepted[1], StorageError) and "refused" in str(accepted[1])
    await settle([store.commit(processing(key, message_id, 10.0))
                  for key, message_id in ((KEYS[0], "good"), (KEYS[2], "fine"))])
    rows = await store.pending_outbound(now=20.0)
    marked = await settle([store.outbox_sent(row.id, "wamid \x00" if n == 0 else "wamid.ok",
                                             30.0) for n, row in enumerate(rows)])
    assert isinstance(marked[0], StorageError)
    assert marked[1:] == [None] * (len(rows) - 1)
    assert [row.id for row in await store.pending_outbound(now=40.0)] == [rows[0].id]


async def test_a_reference_clash_or_a_stale_move_in_a_group_is_refused_alone(
        store: PostgresStore) -> None:
    await store.accept_inbound([record(key, f"m{n}", n) for n, key in enumerate(KEYS)])
    await store.commit(Changes(KEYS[3], 5.0, orders=[order(KEYS[3], "LU-TAKEN"),
                                                     order(KEYS[3], "LU-MOVED")]))
    clash = processing(KEYS[0], "m0", 10.0)
    clash.orders = [order(KEYS[0], "LU-TAKEN", 10.0)]
    fine = processing(KEYS[1], "m1", 10.0)
    fine.orders = [order(KEYS[1], "LU-NEW", 10.0)]
    stale = processing(KEYS[3], "m3", 10.0)
    stale.order_moves = [OrderMove("LU-MOVED", "PREPARING", "READY", "staff", 10.0)]
    before = store._group.round_trips
    outcomes = await settle([store.commit(clash), store.commit(fine),
                             store.commit(processing(KEYS[2], "m2", 10.0)),
                             store.commit(stale)])
    assert store._group.round_trips - before == 1
    assert isinstance(outcomes[0], DuplicateOrderReference)
    assert isinstance(outcomes[3], OrderStatusChanged)
    assert isinstance(outcomes[1], list) and isinstance(outcomes[2], list)
    assert {o.reference for o in await store.list_orders()} == {
        "LU-TAKEN", "LU-MOVED", "LU-NEW"}
    assert {o.status for o in await store.list_orders(KEYS[3])} == {"CONFIRMED"}
    assert [r.message_id for r in await store.pending_inbound()] == ["m0", "m3"]
    assert await store.load_snapshot(KEYS[0]) is None
    assert await store.load_snapshot(KEYS[1]) == b"snapshot of m1"
    assert await store.messages(KEYS[0]) == [] and await store.messages(KEYS[3]) == []
    assert {row.key for row in await store.pending_outbound(now=20.0)} == {KEYS[1], KEYS[2]}


async def test_many_sent_marks_of_one_write_take_one_statement(store: PostgresStore) -> None:
    await store.accept_inbound([record(key, f"m{n}", n) for n, key in enumerate(KEYS)])
    await settle([store.commit(processing(key, f"m{n}", 10.0)) for n, key in enumerate(KEYS)])
    rows = await store.pending_outbound(now=20.0)
    before = store._many.sent.round_trips
    await store.outbox_sent_many([SentMark(row.id, None, 30.0) for row in rows])
    assert store._many.sent.round_trips - before == 1
    assert await store.pending_outbound(now=40.0) == []
