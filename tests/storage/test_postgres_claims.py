"""Claims, wake-ups, send locks and locked sweeps of storage/postgres_claims.py.

Two stores on one schema stand for two processes.  A process that dies is
its connection terminated by the server; one that is stopped is a claim or
a lock left untouched past the (here shortened) timeouts.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from pathlib import Path

import pytest

import storage.postgres_send_locks as send_locks_module
from storage.base import Changes, InboxRecord, SessionKey
from storage.postgres import PostgresStore
from storage.postgres_connect import SERVER_SETTINGS
from storage.postgres_prune import INBOX_SCAN, exclusive
from tests.storage.postgres_server import PostgresServer, schema_for

A, B, C = (SessionKey("luigis", f"4477001000{n}") for n in range(3))


def record(key: SessionKey, message_id: str, at: float) -> InboxRecord:
    return InboxRecord(message_id=message_id, key=key, phone_number_id="109876543210001",
                       wa_id=key.customer_id, user_id=None, sent_at=int(at),
                       received_at=at, payload=b"\x90")


async def accept(store: PostgresStore, *records: InboxRecord) -> None:
    await store.accept_inbound(list(records))


async def test_a_claim_takes_the_oldest_pending_message_of_customers_nobody_holds(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    one, two = stores
    await accept(one, record(A, "a1", 1), record(B, "b1", 2), record(A, "a2", 3))
    await accept(two, record(C, "c1", 4))
    async with one.coordination().claim(2) as first:
        assert [r.message_id for r in first] == ["a1", "b1"]
        async with two.coordination().claim(16) as second:
            assert [r.message_id for r in second] == ["c1"]  # A and B are held
        await one.commit(Changes(A, 5.0, inbox_processed="a1"))
    # Released: the next claim sees the holder's commit.
    async with two.coordination().claim(16, exclude=[C]) as third:
        assert [r.message_id for r in third] == ["b1", "a2"]
    async with two.coordination().claim(16) as everything:
        assert {r.message_id for r in everything} == {"b1", "a2", "c1"}


async def test_a_refused_unit_leaves_the_claim_and_the_others_alone(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    one, two = stores
    await accept(one, record(A, "a1", 1), record(B, "b1", 2))
    async with one.coordination().claim(16) as claimed:
        assert len(claimed) == 2
        await two.commit(Changes(A, 3.0, inbox_processed="a1"))  # a late process did it
        with pytest.raises(Exception, match="already processed"):
            await one.commit(Changes(A, 4.0, inbox_processed="a1"))
        await one.commit(Changes(B, 4.0, inbox_processed="b1"))
    assert await one.pending_inbound() == []


async def test_a_killed_holder_releases_its_claim_at_once(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    one, two = stores
    await accept(one, record(A, "a1", 1))
    async with one.coordination().claim(16) as held:
        assert held
        async with two.coordination().claim(16) as none:
            assert none == []
        await two._database.pool().execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE state = 'idle in transaction' AND pid <> pg_backend_pid()")
        await asyncio.sleep(0.1)
        async with two.coordination().claim(16) as taken:
            assert [r.message_id for r in taken] == ["a1"]


async def test_a_stopped_holder_loses_its_claim_after_the_idle_timeout(
        postgres_server: PostgresServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SERVER_SETTINGS, "idle_in_transaction_session_timeout", "300")
    schema = schema_for(tmp_path)
    async with PostgresStore(postgres_server.url, schema=schema) as one, \
            PostgresStore(postgres_server.url, schema=schema) as two:
        await accept(one, record(A, "a1", 1))
        async with one.coordination().claim(16) as held:
            assert held
            await asyncio.sleep(1.0)  # "stopped": the claim untouched past the timeout
            async with two.coordination().claim(16) as taken:
                assert [r.message_id for r in taken] == ["a1"]
        # Ending the lost claim raises nothing.


async def test_accepting_wakes_listeners_of_every_process(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    one, two = stores
    woken = asyncio.Event()
    listening = asyncio.create_task(two.coordination().listen(woken.set))
    try:
        await asyncio.wait_for(woken.wait(), 5)  # once when it starts listening
        woken.clear()
        await accept(one, record(A, "a1", 1))
        await asyncio.wait_for(woken.wait(), 5)
        woken.clear()
        await accept(one, record(A, "a1", 1))  # a duplicate wakes nobody
        await asyncio.sleep(0.3)
        assert not woken.is_set()
    finally:
        listening.cancel()


async def test_a_send_lock_is_held_by_one_process_at_a_time(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    one, two = stores
    first, second = one.coordination().send_locks(), two.coordination().send_locks()
    try:
        assert await first.acquire(A)
        assert not await second.acquire(A)
        assert await second.acquire(B)
        await first.release(A)
        assert await second.acquire(A)
        assert second.holds(A) and not first.holds(A)
    finally:
        await first.close()
        await second.close()


async def test_a_stopped_sender_loses_its_send_locks(
        stores: tuple[PostgresStore, PostgresStore], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(send_locks_module, "LOCK_IDLE_SESSION_MS", 300)
    monkeypatch.setattr(send_locks_module, "LOCK_PING_SECONDS", 60.0)  # "stopped": no pings
    one, two = stores
    first, second = one.coordination().send_locks(), two.coordination().send_locks()
    try:
        assert await first.acquire(A)
        await asyncio.sleep(1.0)
        assert await second.acquire(A)
        # Woken, the stopped one knows before it posts again, and starts afresh.
        assert not first.holds(A)
        assert await first.acquire(B)
        assert not await first.acquire(A)
    finally:
        await first.close()
        await second.close()


async def test_pending_replies_of_one_customer(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    one, _ = stores
    locks = one.coordination().send_locks()
    assert await locks.pending(A) == []
    await locks.close()


async def test_one_process_prunes_at_a_time(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    one, two = stores
    await accept(one, record(A, "a1", 1))
    await one.commit(Changes(A, 2.0, inbox_processed="a1"))
    name = zlib.crc32(INBOX_SCAN.encode()) & 0x7FFFFFFF
    async with exclusive(two._database, name) as sweeping:
        assert sweeping is not None
        assert await one.prune_inbox(time.time()) == 0  # the other process is pruning
    assert await one.prune_inbox(time.time()) == 1
