"""What only the SQLite backend promises: its file format, group commit, kill -9."""

import asyncio
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from storage import sqlite_prune, sqlite_writer
from storage.base import Changes, InboxRecord, OrderRecord, OutboxMessage, SessionKey
from storage.codec import MAX_SNAPSHOT_BYTES, decode_snapshot, encode_snapshot
from storage.errors import (
    AlreadyProcessed,
    DuplicateOrderReference,
    SnapshotTooLarge,
    StorageError,
)
from storage.sqlite import MIGRATIONS, SQLiteStore
from storage.sqlite_schema import Params, Statement

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "orderbot.db")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def key(i: int) -> SessionKey:
    return SessionKey("luigis", f"c{i}")


def order(i: int, reference: str) -> OrderRecord:
    return OrderRecord(reference, "luigis", f"c{i}", "CONFIRMED", "pickup", "soho", None,
                       "cash", "GBP", 950, 0, ({"item_id": "margherita", "qty": 1},), float(i))


def change(i: int, reference: str | None = None) -> Changes:
    orders = [order(i, reference or f"LU-{i:05d}")]
    return Changes(key(i), float(i), encode_snapshot({"v": 1, "seq": i}), orders=orders)


def inbound(i: int, message_id: str | None = None) -> InboxRecord:
    return InboxRecord(message_id or f"wamid.{i}", key(i), "109876543210001", f"c{i}", None,
                       1_763_900_000, 1_763_900_001.0, b"hello %d" % i)


def processed(i: int, message_id: str | None = None) -> Changes:
    answer = OutboxMessage(key(i), "109876543210001", '{"text": {"body": "hi"}}')
    return Changes(key(i), float(i), encode_snapshot({"v": 1, "seq": i}),
                   inbox_processed=message_id or f"wamid.{i}", outbox=[answer])


def pragma(path: Path, name: str) -> object:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]


async def test_open_creates_the_schema_at_the_latest_version_in_wal_mode(
    store: SQLiteStore,
) -> None:
    assert pragma(store.path, "user_version") == len(MIGRATIONS) == 4
    assert pragma(store.path, "journal_mode") == "wal"
    with closing(sqlite3.connect(store.path)) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"sessions", "orders", "drafts", "quarantine",
                      "inbox", "outbox", "identities", "message_status",
                      "order_events", "messages", "conversations", "restaurant_controls",
                      "sold_out", "staff", "console_sessions"}


async def test_reopening_keeps_the_schema_and_data(store: SQLiteStore) -> None:
    await store.commit(change(1))
    await store.close()
    async with SQLiteStore(store.path) as reopened:
        assert await reopened.load_snapshot(key(1)) == change(1).snapshot
    assert pragma(store.path, "user_version") == len(MIGRATIONS)


async def test_a_version_1_file_is_upgraded_in_place_keeping_its_sessions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.db"
    v1_snapshot = encode_snapshot({"v": 1, "state": "checkout"})
    with closing(sqlite3.connect(path)) as connection:
        for statement in MIGRATIONS[0]:
            connection.execute(statement)
        connection.execute("INSERT INTO sessions VALUES ('luigis', 'c1', ?, 5.0)", (v1_snapshot,))
        connection.execute("PRAGMA user_version = 1")
        connection.commit()

    async with SQLiteStore(path) as store:
        assert await store.load_snapshot(key(1)) == v1_snapshot
        assert await store.accept_inbound([inbound(1)]) == ["wamid.1"]
        await store.commit(processed(1))
        assert await store.inbox_state("wamid.1") == "processed"
        assert len(await store.list_outbox(key(1))) == 1
    assert pragma(path, "user_version") == len(MIGRATIONS)
    assert pragma(path, "integrity_check") == "ok"


async def test_a_file_from_a_newer_build_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StorageError, match="newer"):
        await SQLiteStore(path).open()


async def test_an_sqlite_library_older_than_3_33_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ubuntu 20.04's 3.31, say: UPDATE ... FROM would fail at the first commit.
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(StorageError, match=r"3\.33\.0 or newer is needed.*3\.31\.1"):
        await SQLiteStore(tmp_path / "orderbot.db").open()


async def test_concurrent_commits_share_physical_commits(store: SQLiteStore) -> None:
    await asyncio.gather(*(store.commit(change(i)) for i in range(500)))
    assert store.committed_units == 500
    # All 500 are queued before the writer wakes: one or two transactions.
    assert store.commit_batches <= 5
    assert len(await store.list_orders()) == 500


async def test_concurrent_webhooks_share_physical_commits(store: SQLiteStore) -> None:
    results = await asyncio.gather(
        *(store.accept_inbound([inbound(i), inbound(i + 1000)], [(f"US.{i}", f"c{i}")])
          for i in range(300))
    )
    assert results == [[f"wamid.{i}", f"wamid.{i + 1000}"] for i in range(300)]
    assert store.commit_batches <= 5
    assert len(await store.pending_inbound(limit=10_000)) == 600
    assert await store.resolve_customer("US.299") == "c299"


async def test_one_id_in_many_concurrent_webhooks_is_new_once_and_still_batched(
    store: SQLiteStore,
) -> None:
    results = await asyncio.gather(
        *(store.accept_inbound([inbound(i), inbound(0, "wamid.dup")]) for i in range(1, 101))
    )
    assert [result.count("wamid.dup") for result in results] == [1] + [0] * 99
    assert all(f"wamid.{i}" in result for i, result in enumerate(results, start=1))
    assert store.commit_batches <= 5


async def test_processing_commits_and_statuses_share_physical_commits(
    store: SQLiteStore,
) -> None:
    await store.accept_inbound([inbound(i) for i in range(200)])
    batches_before = store.commit_batches
    await asyncio.gather(
        *(store.commit(processed(i)) for i in range(200)),
        *(store.record_status(f"wamid.out{i}", "delivered", 2, 1.0) for i in range(200)),
    )
    assert store.commit_batches - batches_before <= 5
    assert await store.pending_inbound() == []
    assert len(await store.pending_outbound(now=1e9)) == 200
    assert await store.message_status("wamid.out199") == "delivered"


async def test_a_message_accepted_and_processed_in_one_batch_ends_processed(
    store: SQLiteStore,
) -> None:
    batches_before = store.commit_batches
    new, _ = await asyncio.gather(store.accept_inbound([inbound(1)]),
                                  store.commit(processed(1)))
    assert store.commit_batches - batches_before == 1
    assert new == ["wamid.1"]
    assert await store.inbox_state("wamid.1") == "processed"
    assert len(await store.list_outbox()) == 1


async def test_a_refused_processing_commit_does_not_redo_its_batch(
    store: SQLiteStore,
) -> None:
    await store.accept_inbound([inbound(i) for i in range(50)])
    await store.commit(processed(25))
    batches_before = store.commit_batches

    results = await asyncio.gather(*(store.commit(processed(i)) for i in range(50)),
                                   return_exceptions=True)

    assert [i for i, result in enumerate(results) if isinstance(result, BaseException)] == [25]
    assert isinstance(results[25], AlreadyProcessed)
    # Refused before anything was written: no rollback, no one-by-one retry.
    assert store.commit_batches - batches_before <= 2
    assert len(await store.list_outbox()) == 50


async def test_a_processed_mark_cannot_be_overwritten_behind_the_store(
    store: SQLiteStore,
) -> None:
    await store.accept_inbound([inbound(1)])
    await store.commit(processed(1))
    with closing(sqlite3.connect(store.path)) as connection:
        with pytest.raises(sqlite3.IntegrityError, match="already processed"):
            connection.execute("UPDATE inbox SET processed_at = 99.0")
        with pytest.raises(sqlite3.IntegrityError, match="already processed"):
            connection.execute("UPDATE inbox SET processed_at = NULL")
    assert await store.inbox_state("wamid.1") == "processed"


async def test_sequential_commits_are_one_transaction_each(store: SQLiteStore) -> None:
    for i in range(5):
        await store.commit(change(i))
    assert (store.commit_batches, store.committed_units) == (5, 5)


async def test_a_failing_unit_fails_alone_and_the_rest_of_its_batch_lands(
    store: SQLiteStore,
) -> None:
    await store.commit(change(0, "LU-TAKEN"))
    batches_before = store.commit_batches

    results = await asyncio.gather(
        *(store.commit(change(i, "LU-TAKEN" if i == 25 else None)) for i in range(1, 50)),
        return_exceptions=True,
    )

    failed = [i for i, result in enumerate(results, start=1)
              if isinstance(result, BaseException)]
    assert failed == [25]
    assert isinstance(results[24], DuplicateOrderReference)
    assert await store.load_snapshot(key(25)) is None
    for i in range(1, 50):
        if i != 25:
            assert await store.load_snapshot(key(i)) == change(i).snapshot
    assert len(await store.list_orders()) == 49
    # The batch was rolled back and redone unit by unit: 48 good transactions.
    assert store.commit_batches - batches_before == 48


async def test_the_writer_survives_an_unexpected_error(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_write(*args: object) -> None:
        raise RuntimeError("disk gremlin")

    # Replacing the writer's statement runner is the only way to make the writer itself fail.
    monkeypatch.setattr(sqlite_writer, "write_all", broken_write)
    with pytest.raises(StorageError, match="disk gremlin"):
        await store.commit(change(1))
    monkeypatch.undo()

    await store.commit(change(2))
    assert await store.load_snapshot(key(1)) is None
    assert await store.load_snapshot(key(2)) == change(2).snapshot


@pytest.mark.parametrize("count", [1, 2, 3, 37, 300])
def test_rows_are_written_in_order_by_a_few_statements_of_a_few_shapes(count: int) -> None:
    statement = Statement("INSERT INTO t (a, b) VALUES ", "(?, ?)")
    executed: list[str] = []
    with closing(sqlite3.connect(":memory:")) as connection:
        connection.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
        connection.set_trace_callback(executed.append)
        sqlite_writer.write_all(connection, statement, [(i, f"row {i}") for i in range(count)])
        rows = connection.execute("SELECT a, b FROM t ORDER BY n").fetchall()
    assert rows == [(i, f"row {i}") for i in range(count)]
    # One execution per power of two in the count (300 = 128 + 128 + 32 + 8 + 4).
    inserts = [sql for sql in executed if sql.startswith("INSERT")]
    sizes = [sql.count("'row ") for sql in inserts]  # traced with the values bound
    assert sum(sizes) == count
    assert all(size & (size - 1) == 0 and size <= 128 for size in sizes)
    assert len(inserts) == (count // 128) + bin(count % 128).count("1")


def test_a_statement_without_a_row_part_runs_once_per_row() -> None:
    statement = Statement("INSERT INTO t (a) SELECT ?1 WHERE ?1 % 2 = 0")
    with closing(sqlite3.connect(":memory:")) as connection:
        connection.execute("CREATE TABLE t (a INTEGER)")
        sqlite_writer.write_all(connection, statement, [(i,) for i in range(10)])
        assert connection.execute("SELECT a FROM t").fetchall() == [(0,), (2,), (4,), (6,), (8,)]


async def test_close_drains_every_accepted_commit(store: SQLiteStore) -> None:
    commits = [asyncio.ensure_future(store.commit(change(i))) for i in range(300)]
    await asyncio.sleep(0)  # let them queue
    await store.close()
    assert all(task.done() and task.exception() is None for task in commits)
    async with SQLiteStore(store.path) as reopened:
        assert len(await reopened.list_orders()) == 300


async def test_oversize_snapshots_are_refused_on_the_way_in_and_out(
    store: SQLiteStore,
) -> None:
    with pytest.raises(SnapshotTooLarge):
        encode_snapshot({"v": 1, "cart": "x" * MAX_SNAPSHOT_BYTES})
    with pytest.raises(SnapshotTooLarge):
        await store.commit(Changes(key(1), 1.0, b"\x80" * (MAX_SNAPSHOT_BYTES + 1)))
    assert await store.load_snapshot(key(1)) is None

    # A row written behind the store's back is still refused when decoded.
    async with aiosqlite.connect(store.path) as connection:
        await connection.execute("INSERT INTO sessions VALUES ('luigis', 'c2', ?, 1.0)",
                                 (b"\x80" * (MAX_SNAPSHOT_BYTES + 1),))
        await connection.commit()
    with pytest.raises(SnapshotTooLarge):
        decode_snapshot(await store.load_snapshot(key(2)) or b"")


CHILD = """
import asyncio, sys
from storage.base import Changes, OrderRecord, SessionKey
from storage.sqlite import SQLiteStore

def change(i):
    order = OrderRecord(f"LU-{i:05d}", "luigis", f"c{i}", "CONFIRMED", "pickup", "soho",
                        None, "cash", "GBP", 950, 0, ({"item_id": "margherita"},), float(i))
    return Changes(SessionKey("luigis", f"c{i}"), float(i), b"snapshot-%d" % i, orders=[order])

async def main(path, count):
    store = SQLiteStore(path)
    await store.open()
    await asyncio.gather(*(store.commit(change(i)) for i in range(count)))
    print("committed", flush=True)
    while True:  # keep writing so the kill lands in the middle of a transaction
        await asyncio.gather(*(store.commit(change(i)) for i in range(count, count + 50)))
        count += 50
        print("more", flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.slow
async def test_commits_survive_sigkill(tmp_path: Path) -> None:
    path, count = tmp_path / "orderbot.db", 300
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(path), str(count),
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
        assert line == b"committed\n", (await child.communicate())[1].decode()
        assert await asyncio.wait_for(child.stdout.readline(), timeout=60) == b"more\n"
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        await child.communicate()
    assert child.returncode == -signal.SIGKILL

    async with SQLiteStore(path) as reopened:
        for i in range(count):
            assert await reopened.load_snapshot(key(i)) == b"snapshot-%d" % i
        sessions = {row.key.customer_id for row in await reopened.list_sessions(limit=10**6)}
        ordered = {record.customer_id for record in await reopened.list_orders()}
    # Commits cut short by the kill left nothing half-written.
    assert sessions == ordered
    assert len(sessions) > count
    assert pragma(path, "integrity_check") == "ok"


async def test_pruning_walks_in_chunks_and_stops_at_rows_newer_than_the_cut_off(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(25):  # received at i, processed and answered at i + 0.5
        record = replace(inbound(i), received_at=float(i))
        await store.accept_inbound([record])
        await store.commit(Changes(key(i), i + 0.5, inbox_processed=record.message_id,
                                   outbox=processed(i).outbox))
    for row in await store.list_outbox():
        await store.outbox_sent(row.id, f"wamid.out{row.id}", row.created_at + 0.1)

    monkeypatch.setattr(sqlite_prune, "CHUNK_ROWS", 4)
    scans: list[str] = []
    real_read = store._read

    async def counting_read(sql: str, params: Params) -> list[Any]:
        scans.append(sql)
        return await real_read(sql, params)

    monkeypatch.setattr(store, "_read", counting_read)
    assert await store.prune_inbox(processed_before=15.2) == 15
    # Rows 0-19 in chunks of 4, the last one reaching past 15.2: 5 of the table's 7 chunks.
    assert len(scans) == 5
    assert await store.inbox_state("wamid.14") is None
    assert await store.inbox_state("wamid.15") == "processed"
    assert await store.prune_outbox(finished_before=15.2) == 15
    assert [row.created_at for row in await store.list_outbox()][:1] == [15.5]
