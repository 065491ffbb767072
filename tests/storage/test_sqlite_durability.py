"""The writer's own connection commits durably: WAL and synchronous=FULL, read through it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from storage.sqlite import SQLiteStore

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "orderbot.db") as opened:
        yield opened


async def on_writer(store: SQLiteStore, pragma: str) -> object:
    """``PRAGMA <pragma>`` on the writer's connection, on its thread."""
    database = store._database
    assert database is not None, "store not open"
    return await database.run(lambda connection: connection.execute(
        f"PRAGMA {pragma}").fetchone()[0])


async def test_the_writer_connection_syncs_fully_in_wal_mode(store: SQLiteStore) -> None:
    assert await on_writer(store, "synchronous") == FULL
    assert await on_writer(store, "journal_mode") == "wal"


async def test_the_level_is_the_writers_own_not_a_default_of_the_file(
        store: SQLiteStore) -> None:
    # synchronous is per connection: another one opened on the file says nothing
    # about the writer, which is why the check above goes through the writer itself.
    with closing(sqlite3.connect(store.path)) as other:
        other.execute("PRAGMA synchronous = OFF")
        assert other.execute("PRAGMA synchronous").fetchone()[0] == 0
    assert await on_writer(store, "synchronous") == FULL


async def test_a_reopened_store_syncs_fully_too(store: SQLiteStore) -> None:
    await store.close()
    async with SQLiteStore(store.path) as reopened:
        assert await on_writer(reopened, "synchronous") == FULL
        assert await on_writer(reopened, "journal_mode") == "wal"
