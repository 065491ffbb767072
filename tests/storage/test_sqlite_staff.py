"""What only the SQLite backend promises for the restaurant's side: upgrades, batching, indexes."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from storage.base import Changes, SessionKey
from storage.errors import OrderStatusChanged
from storage.sqlite import MIGRATIONS, SQLiteStore
from storage.sqlite_read import PRAGMAS
from storage.sqlite_staff import LOOKUP_ORDER
from storage.sqlite_staff_read import CONVERSATIONS, HISTORY, MESSAGES, ORDERS, ORDERS_IN_STATUS
from storage.staff import ConversationChange, LoggedMessage, OrderEvent, OrderMove
from tests.storage.contract.support import ALICE, order, reply, snapshot


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "orderbot.db") as opened:
        yield opened


async def test_a_version_2_file_upgrades_keeping_its_orders_and_their_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.db"
    placed = order(ALICE, "LU-1", 10.0)
    with closing(sqlite3.connect(path)) as connection:
        for script in MIGRATIONS[:2]:
            for statement in script:
                connection.execute(statement)
        connection.execute(
            "INSERT INTO orders (reference, restaurant_id, customer_id, status, order_type,"
            " branch_id, address, payment_method, currency, total_minor, delivery_fee_minor,"
            " lines, created_at) VALUES ('LU-1', 'luigis', ?, 'CONFIRMED', 'delivery', NULL,"
            " '1 Frith St', 'card', 'GBP', 2150, 250, ?, 10.0)",
            (ALICE.customer_id,
             '[{"addons":[],"item_id":"margherita","qty":2,"unit_minor":950},'
             '{"addons":["chilli"],"item_id":"calzone","qty":1,"unit_minor":1100}]'))
        connection.execute("INSERT INTO sessions VALUES ('luigis', ?, ?, 5.0)",
                           (ALICE.customer_id, snapshot("checkout")))
        connection.execute("PRAGMA user_version = 2")
        connection.commit()

    async with SQLiteStore(path) as store:
        assert await store.list_orders() == [placed]
        assert await store.load_snapshot(ALICE) == snapshot("checkout")
        assert await store.order_history("luigis", "LU-1") == [
            OrderEvent(None, "CONFIRMED", "customer", 10.0)]
        await store.commit(Changes(ALICE, 20.0, order_moves=[
            OrderMove("LU-1", "CONFIRMED", "PREPARING", "sam", 20.0)]))
        assert await store.orders("luigis", status="PREPARING") == [
            replace(placed, status="PREPARING", updated_at=20.0)]
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 4
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_a_processed_message_writes_its_log_in_one_batch_with_others(
    store: SQLiteStore,
) -> None:
    keys = [SessionKey("luigis", f"c{n}") for n in range(50)]

    def processed(key: SessionKey) -> Changes:
        return Changes(key, 1.0, snapshot("start"), outbox=[reply(key, "a"), reply(key, "b")],
                       log=[LoggedMessage("in", "text", "hi", "customer", 1.0, "w"),
                            LoggedMessage("out", "text", "a", "bot", 1.0, outbox_index=0),
                            LoggedMessage("out", "text", "b", "bot", 1.0, outbox_index=1)],
                       conversation=ConversationChange(inbound_at=1.0, outbound_at=1.0))

    before = store.commit_batches
    queued = await asyncio.gather(*(store.commit(processed(key)) for key in keys))
    assert store.commit_batches - before <= 3
    for key in keys:
        logged = await store.messages(key)
        assert [m.text for m in logged] == ["hi", "a", "b"]
        assert (await store.conversation(key) or pytest.fail()).unread == 1
    # Each log row names its own outbox row (the ids the store numbered).
    with closing(sqlite3.connect(store.path)) as connection:
        named = connection.execute(
            "SELECT count(*) FROM messages JOIN outbox ON outbox.id = messages.outbox_id"
            " WHERE outbox.restaurant_id = messages.restaurant_id"
            " AND outbox.customer_id = messages.customer_id"
            " AND json_extract(outbox.body, '$.text.body') = messages.text").fetchone()[0]
    assert named == 100 == sum(len(rows) for rows in queued)


async def test_moves_of_one_order_from_many_callers_share_a_batch(store: SQLiteStore) -> None:
    await store.commit(Changes(ALICE, 1.0, orders=[order(ALICE, "LU-1")]))
    chain = ["CONFIRMED", "PREPARING", "READY", "OUT_FOR_DELIVERY", "COMPLETED"]
    before = store.commit_batches
    results = await asyncio.gather(*(
        store.commit(Changes(SessionKey("luigis", f"staff{n}"), float(n), order_moves=[
            OrderMove("LU-1", chain[n], chain[n + 1], f"staff{n}", float(n))]))
        for n in range(4)), store.commit(Changes(SessionKey("luigis", "late"), 9.0, order_moves=[
            OrderMove("LU-1", "READY", "CANCELLED", "late", 9.0)])), return_exceptions=True)
    assert store.commit_batches - before == 1
    assert results[:4] == [[], [], [], []]
    assert isinstance(results[4], OrderStatusChanged)
    assert [e.to_status for e in await store.order_history("luigis", "LU-1")] == chain


@pytest.mark.parametrize(("query", "index"), [
    (LOOKUP_ORDER.format(marks="?, ?"), "orders_by_key"),
    (MESSAGES, "messages_by_conversation"),
    (ORDERS_IN_STATUS, "orders_by_status"),
    (ORDERS, "orders_by_time"),
    (CONVERSATIONS, "conversations_by_activity"),
    (HISTORY, "order_events_by_order"),
])
async def test_reads_and_lookups_use_their_index(
    store: SQLiteStore, query: str, index: str
) -> None:
    with closing(sqlite3.connect(store.path)) as connection:
        for pragma in PRAGMAS:
            connection.execute(f"PRAGMA {pragma}")
        plan = " ".join(row[3] for row in connection.execute(
            f"EXPLAIN QUERY PLAN {query}", [None] * query.count("?")))
    assert index in plan, plan
