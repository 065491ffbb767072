"""PostgreSQL only: the console's sign-in sessions between *processes* sharing one database.

Two stores on one schema are two pools, as two ``serve`` instances would
have; the contract suite (tests/storage/contract/test_console_sessions.py)
covers one store, where this process's call order already serialises the
writes of a session.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncpg

from storage.console_sessions import ConsoleSessionRecord
from storage.postgres import PostgresStore
from storage.postgres_console import TAKE_CONSOLE_FLASH
from tests.storage.postgres_server import PostgresServer, schema_for

SESSION = ConsoleSessionRecord(hashlib.sha256(b"cookie").hexdigest(), "admin", None, "a" * 64,
                               None, None, 1000.0, 1000.0)


async def test_a_session_opened_by_one_instance_is_used_and_closed_by_the_other(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    first, second = stores
    await first.open_console_session(SESSION)
    assert await second.console_session(SESSION.id_hash) == SESSION
    assert await second.set_console_restaurant(SESSION.id_hash, "luigis")
    assert await second.touch_console_session(SESSION.id_hash, 1100.0)
    found = await first.console_session(SESSION.id_hash)
    assert found is not None and (found.restaurant_id, found.seen_at) == ("luigis", 1100.0)
    assert await first.close_console_session(SESSION.id_hash)
    assert await second.console_session(SESSION.id_hash) is None
    assert not await second.touch_console_session(SESSION.id_hash, 1200.0)


async def test_a_take_waiting_on_anothers_takes_nothing(
        postgres_server: PostgresServer, tmp_path: Path,
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    """Two instances take at once: the second waits on the first's row lock, then finds it
    taken (the first's transaction held open here, so that the two overlap for sure)."""
    first, second = stores
    await first.open_console_session(SESSION)
    await first.set_console_flash(SESSION.id_hash, "not found")
    holder = await asyncpg.connect(postgres_server.url,
                                   server_settings={"search_path": schema_for(tmp_path)})
    try:
        async with holder.transaction():
            rows = await holder.fetch(TAKE_CONSOLE_FLASH, SESSION.id_hash)
            assert [row[0] for row in rows] == ["not found"]
            waiting = asyncio.create_task(second.take_console_flash(SESSION.id_hash))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # on the row lock
        assert await waiting is None
    finally:
        await holder.close()
    assert await first.take_console_flash(SESSION.id_hash) is None
