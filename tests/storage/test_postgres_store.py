"""PostgreSQL only: what holds between *processes* sharing one database, and its set-up.

Two stores opened on one schema are two pools of connections, as two
``serve`` processes would have; the contract suites (tests/storage/contract)
cover one store.  The server is the session's throwaway one
(tests/storage/conftest.py); each test has a schema of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.base import Changes
from storage.codec import decode_snapshot
from storage.database_url import redact_url
from storage.errors import AlreadyProcessed, StorageError
from storage.postgres import PostgresStore, migrate_database
from storage.postgres_connect import IDLE_IN_TRANSACTION_MS
from storage.postgres_schema import LATEST
from storage.staff import LoggedMessage
from tests.storage.contract.support import ALICE, BOB, inbound, reply, snapshot, texts
from tests.storage.postgres_server import PostgresServer, schema_for


@pytest.fixture
def schema(tmp_path: Path) -> str:
    return schema_for(tmp_path)


@pytest.fixture
async def two(postgres_server: PostgresServer,
              schema: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores — two pools, as two processes would have — on one schema."""
    first = PostgresStore(postgres_server.url, schema=schema, pool_size=4)
    second = PostgresStore(postgres_server.url, schema=schema, pool_size=4)
    async with first, second:
        yield first, second


def label(store: int, n: int) -> str:
    return f"{store}:{n:03d}"


async def test_two_processes_committing_for_one_conversation_keep_ids_in_commit_order(
    two: tuple[PostgresStore, PostgresStore]
) -> None:
    async def commits(store_number: int, store: PostgresStore) -> None:
        async def one(n: int) -> None:
            name = label(store_number, n)
            await store.commit(Changes(
                ALICE, float(n), snapshot("browsing_items", last=name),
                outbox=[reply(ALICE, f"{name}a"), reply(ALICE, f"{name}b")],
                log=[LoggedMessage("out", "text", name, "bot", float(n), outbox_index=0)]))

        await asyncio.gather(*(one(n) for n in range(40)))

    await asyncio.gather(*(commits(number, store) for number, store in enumerate(two)))

    rows = await two[0].list_outbox(ALICE)
    ids = [row.id for row in rows]
    assert ids == sorted(set(ids)) and len(rows) == 160
    sent = texts(rows)
    # Each commit's rows are together (no commit ran between its two id grabs) ...
    assert all(first[:-1] == second[:-1] for first, second in zip(sent[::2], sent[1::2],
                                                                   strict=True))
    # ... each process's commits in its call order ...
    for number in (0, 1):
        mine = [text[:-1] for text in sent[::2] if text.startswith(f"{number}:")]
        assert mine == [label(number, n) for n in range(40)]
    # ... and the last commit (whose snapshot stayed) holds the highest ids: id order
    # is commit order, across the two processes.
    stored = decode_snapshot(await two[1].load_snapshot(ALICE) or b"")
    assert stored["last"] == sent[-1][:-1]
    logged = [m.text for m in await two[1].messages(ALICE, limit=100)]
    assert logged == [text[:-1] for text in sent[::2]]


async def test_two_processes_processing_every_message_commit_each_once(
    two: tuple[PostgresStore, PostgresStore]
) -> None:
    first, second = two
    messages = [inbound(f"wamid.{n}", (ALICE, BOB)[n % 2]) for n in range(30)]
    await first.accept_inbound(messages)

    async def process(store: PostgresStore, name: str) -> list[bool]:
        async def one(record_index: int) -> bool:
            record = messages[record_index]
            try:
                await store.commit(Changes(
                    record.key, float(record_index), snapshot("start", by=name),
                    inbox_processed=record.message_id,
                    outbox=[reply(record.key, f"{record.message_id} by {name}")]))
            except AlreadyProcessed:
                return False
            return True

        return list(await asyncio.gather(*(one(n) for n in range(len(messages)))))

    by_first, by_second = await asyncio.gather(process(first, "one"), process(second, "two"))
    assert [a + b for a, b in zip(by_first, by_second, strict=True)] == [1] * len(messages)
    assert await second.pending_inbound() == []
    answered = sorted(text.split(" by ")[0] for text in texts(await first.list_outbox()))
    assert answered == sorted(record.message_id for record in messages)


async def test_one_delivery_reaching_two_processes_is_new_to_exactly_one(
    two: tuple[PostgresStore, PostgresStore]
) -> None:
    second = two[1]
    calls = [store.accept_inbound([inbound(f"wamid.dup{n}"), inbound(f"wamid.{k}.{n}")])
             for n in range(25) for k, store in enumerate(two)]
    results = await asyncio.gather(*calls)
    for n in range(25):
        assert sum(result.count(f"wamid.dup{n}") for result in results) == 1
    assert all(len(result) in (1, 2) for result in results)
    assert len(await second.pending_inbound()) == 75


async def test_a_status_never_moves_back_across_processes(
    two: tuple[PostgresStore, PostgresStore]
) -> None:
    updates = [("read", 3), ("sent", 1), ("delivered", 2)] * 10
    changed = await asyncio.gather(*(two[n % 2].record_status("wamid.out", status, rank, 1.0)
                                     for n, (status, rank) in enumerate(updates)))
    assert sum(changed) >= 1
    assert await two[0].message_status("wamid.out") == "read"


async def test_connections_are_set_up_for_durability_and_stalls(
    postgres_server: PostgresServer, schema: str
) -> None:
    async with PostgresStore(postgres_server.url, schema=schema) as store:
        pool = store._database.pool()
        assert await pool.fetchval("SHOW synchronous_commit") == "on"
        timeout = await pool.fetchval("SHOW idle_in_transaction_session_timeout")
        assert timeout == f"{IDLE_IN_TRANSACTION_MS // 1000}s"
        assert await pool.fetchval("SHOW tcp_keepalives_idle") is not None
        assert await pool.fetchval("SELECT current_schema()") == schema


def test_the_password_is_never_shown() -> None:
    url = "postgresql://orderbot:s3cret@db.example:5432/orders?sslmode=require&password=s3cret"
    store = PostgresStore(url)
    assert "s3cret" not in repr(store) and "s3cret" not in store.url
    assert redact_url(url) == ("postgresql://orderbot@db.example:5432/orders"
                               "?sslmode=require&password=%2A%2A%2A")


async def test_an_unreachable_server_is_a_storage_error_without_the_password() -> None:
    store = PostgresStore("postgresql://orderbot:s3cret@127.0.0.1:1/orders")
    with pytest.raises(StorageError) as failed:
        await store.open()
    assert "s3cret" not in str(failed.value)
    assert "127.0.0.1" in str(failed.value)


async def test_open_creates_a_missing_schema_and_refuses_another_version(
    postgres_server: PostgresServer, schema: str
) -> None:
    async with PostgresStore(postgres_server.url, schema=schema) as store:
        pool = store._database.pool()
        assert await pool.fetchval("SELECT version FROM orderbot_schema") == LATEST
        await pool.execute("UPDATE orderbot_schema SET version = 0")
    with pytest.raises(StorageError, match=r"bot\.py db migrate"):
        await PostgresStore(postgres_server.url, schema=schema).open()


async def test_migrate_creates_then_finds_the_schema_current(
    postgres_server: PostgresServer, schema: str
) -> None:
    assert await migrate_database(postgres_server.url, schema=schema) == (None, LATEST)
    assert await migrate_database(postgres_server.url, schema=schema) == (LATEST, LATEST)
    async with PostgresStore(postgres_server.url, schema=schema) as store:
        await store._database.pool().execute("UPDATE orderbot_schema SET version = 99")
    with pytest.raises(StorageError, match="newer"):
        await migrate_database(postgres_server.url, schema=schema)
    with pytest.raises(StorageError, match="newer"):
        await PostgresStore(postgres_server.url, schema=schema).open()


async def test_a_commit_whose_caller_is_cancelled_still_lands(
    two: tuple[PostgresStore, PostgresStore]
) -> None:
    store = two[0]
    task = asyncio.create_task(store.commit(Changes(ALICE, 1.0, snapshot("checkout"),
                                                    outbox=[reply(ALICE, "still sent")])))
    await asyncio.sleep(0)
    task.cancel()
    await store.close()  # waits for the write the caller left
    assert texts(await two[1].list_outbox(ALICE)) == ["still sent"]
    assert json.loads((await two[1].list_outbox(ALICE))[0].body)["to"] == ALICE.customer_id
