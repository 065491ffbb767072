"""Issue 11: a unit SQLite refuses fails alone; a store that cannot write fails the batch once."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from storage.base import InboxRecord, SessionKey
from storage.errors import StorageError, WriteRefused, is_permanent
from storage.sqlite import SQLiteStore

KEY = SessionKey("luigis", "447700900001")


def record(message_id: str, sent_at: int = 1_763_900_000) -> InboxRecord:
    return InboxRecord(message_id=message_id, key=KEY, phone_number_id="109876543210001",
                       wa_id=KEY.customer_id, user_id=None, sent_at=sent_at,
                       received_at=time.time(), payload=b"\x94\xa4text\xa2hi\xc0\xc0")


@pytest.mark.parametrize("poison", [record("wamid.\ud800"), record("wamid.BIG", 2**63)],
                         ids=["lone surrogate", "2**63"])
async def test_a_value_sqlite_refuses_fails_only_its_own_unit(tmp_path: Path,
                                                              poison: InboxRecord) -> None:
    async with SQLiteStore(tmp_path / "orderbot.db") as store:
        good = [record(f"wamid.OK{n}") for n in range(10)]
        results = await asyncio.gather(
            *(store.accept_inbound([one]) for one in good[:5]),
            store.accept_inbound([poison]),
            *(store.accept_inbound([one]) for one in good[5:]),
            return_exceptions=True)
        refused = results.pop(5)
        assert isinstance(refused, WriteRefused) and is_permanent(refused)
        assert results == [[one.message_id] for one in good]
        for one in good:
            assert await store.inbox_state(one.message_id) == "pending"
        # Not retried: the writer goes on with the next batch at once.
        assert await store.accept_inbound([record("wamid.AFTER")]) == ["wamid.AFTER"]


async def test_a_locked_database_fails_a_batch_once_not_once_per_unit(tmp_path: Path) -> None:
    path = tmp_path / "orderbot.db"
    async with SQLiteStore(path) as store:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            results = await asyncio.gather(
                *(store.accept_inbound([record(f"wamid.L{n}")]) for n in range(6)),
                return_exceptions=True)
            waited = time.monotonic() - started
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert all(isinstance(result, StorageError) and not is_permanent(result)
                   for result in results), results
        assert waited < 8, f"{waited:.1f} s: the busy timeout was waited out more than once"
        assert await store.accept_inbound([record("wamid.L0")]) == ["wamid.L0"]
