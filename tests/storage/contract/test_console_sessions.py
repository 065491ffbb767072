"""The contract of :class:`storage.console_sessions.ConsoleSessionStorage`: console sign-ins."""

import asyncio
import hashlib
from dataclasses import replace

import pytest

from storage.base import SessionStore
from storage.console_sessions import ConsoleSessionRecord
from storage.errors import StorageError, StoreClosed
from tests.storage.contract.support import Backend


def id_hash(cookie_id: str) -> str:
    return hashlib.sha256(cookie_id.encode()).hexdigest()


ADMIN = ConsoleSessionRecord(id_hash("admin-cookie"), "admin", None, "a" * 64, None, None,
                             1000.0, 1000.0)
ANA = ConsoleSessionRecord(id_hash("ana-cookie"), "ana", "luigis",
                           hashlib.sha256(b"token-ana").hexdigest(), "luigis", None,
                           2000.0, 2500.5)


class TestConsoleSessions:
    """Opening, finding, changing, closing and pruning sign-in sessions."""

    async def test_a_session_is_found_by_its_id_hash_as_opened(self, store: SessionStore) -> None:
        assert await store.console_session(ADMIN.id_hash) is None
        await store.open_console_session(ADMIN)
        await store.open_console_session(ANA)
        assert await store.console_session(ADMIN.id_hash) == ADMIN
        assert await store.console_session(ANA.id_hash) == ANA
        assert await store.console_session(id_hash("another-cookie")) is None

    async def test_an_id_hash_is_opened_once(self, store: SessionStore) -> None:
        await store.open_console_session(ANA)
        with pytest.raises(StorageError, match="already open"):
            await store.open_console_session(replace(ANA, principal_name="mallory"))
        assert await store.console_session(ANA.id_hash) == ANA

    async def test_touching_moves_seen_at_forward_only(self, store: SessionStore) -> None:
        await store.open_console_session(ANA)
        assert await store.touch_console_session(ANA.id_hash, 3000.25) is True
        assert await store.console_session(ANA.id_hash) == replace(ANA, seen_at=3000.25)
        # Another instance's request seen a little earlier does not move it back.
        assert await store.touch_console_session(ANA.id_hash, 2999.0) is True
        assert await store.console_session(ANA.id_hash) == replace(ANA, seen_at=3000.25)
        assert await store.touch_console_session(ADMIN.id_hash, 3000.0) is False
        assert await store.console_session(ADMIN.id_hash) is None

    async def test_an_admin_picks_a_restaurant(self, store: SessionStore) -> None:
        await store.open_console_session(ADMIN)
        assert await store.set_console_restaurant(ADMIN.id_hash, "sakura") is True
        assert await store.console_session(ADMIN.id_hash) == replace(ADMIN,
                                                                     restaurant_id="sakura")
        assert await store.set_console_restaurant(ADMIN.id_hash, "luigis") is True
        found = await store.console_session(ADMIN.id_hash)
        assert found is not None and found.restaurant_id == "luigis"
        assert await store.set_console_restaurant(ANA.id_hash, "luigis") is False
        assert await store.console_session(ANA.id_hash) is None

    async def test_a_flash_is_taken_once(self, store: SessionStore) -> None:
        await store.open_console_session(ANA)
        assert await store.take_console_flash(ANA.id_hash) is None
        assert await store.set_console_flash(ANA.id_hash, "not found") is True
        assert await store.set_console_flash(ANA.id_hash, "write a message of 1 to 4096 "
                                             "characters — ünïcode") is True
        stored = await store.console_session(ANA.id_hash)
        assert stored is not None and stored.flash == ("write a message of 1 to 4096 "
                                                       "characters — ünïcode")
        assert await store.take_console_flash(ANA.id_hash) == ("write a message of 1 to 4096 "
                                                               "characters — ünïcode")
        assert await store.take_console_flash(ANA.id_hash) is None
        assert await store.console_session(ANA.id_hash) == ANA
        assert await store.set_console_flash(ADMIN.id_hash, "nobody") is False
        assert await store.take_console_flash(ADMIN.id_hash) is None

    async def test_of_concurrent_takes_one_gets_the_flash(self, store: SessionStore) -> None:
        await store.open_console_session(ANA)
        await store.set_console_flash(ANA.id_hash, "conflict")
        taken = await asyncio.gather(*(store.take_console_flash(ANA.id_hash) for _ in range(8)))
        assert taken.count("conflict") == 1 and taken.count(None) == 7

    async def test_closing_ends_a_session_for_good(self, store: SessionStore) -> None:
        await store.open_console_session(ADMIN)
        await store.open_console_session(ANA)
        assert await store.close_console_session(ANA.id_hash) is True
        assert await store.close_console_session(ANA.id_hash) is False
        assert await store.console_session(ANA.id_hash) is None
        # Writes racing the sign-out do not bring it back.
        assert await store.touch_console_session(ANA.id_hash, 9999.0) is False
        assert await store.set_console_flash(ANA.id_hash, "late") is False
        assert await store.set_console_restaurant(ANA.id_hash, "luigis") is False
        assert await store.console_session(ANA.id_hash) is None
        assert await store.console_session(ADMIN.id_hash) == ADMIN

    async def test_closing_while_a_write_is_in_flight(self, store: SessionStore) -> None:
        await store.open_console_session(ANA)
        touched, closed = await asyncio.gather(store.touch_console_session(ANA.id_hash, 5000.0),
                                               store.close_console_session(ANA.id_hash))
        assert closed is True and touched in (True, False)
        assert await store.console_session(ANA.id_hash) is None

    async def test_pruning_deletes_only_the_sessions_idle_before_the_cut_off(
            self, store: SessionStore) -> None:
        await store.open_console_session(ADMIN)  # seen at 1000.0
        await store.open_console_session(ANA)    # seen at 2500.5
        newer = replace(ADMIN, id_hash=id_hash("newer"), seen_at=2500.0)
        await store.open_console_session(newer)
        assert await store.prune_console_sessions(1000.0) == 0  # not before: kept
        assert await store.prune_console_sessions(2500.25) == 2
        assert await store.console_session(ADMIN.id_hash) is None
        assert await store.console_session(newer.id_hash) is None
        assert await store.console_session(ANA.id_hash) == ANA
        assert await store.touch_console_session(ANA.id_hash, 4000.0)
        assert await store.prune_console_sessions(3000.0) == 0
        assert await store.prune_console_sessions(4000.5) == 1
        assert await store.prune_console_sessions(10_000.0) == 0

    async def test_pruning_many_sessions(self, store: SessionStore) -> None:
        sessions = [replace(ANA, id_hash=id_hash(f"cookie-{n}"), seen_at=float(n))
                    for n in range(2500)]  # more than one chunk of the durable stores
        await asyncio.gather(*(store.open_console_session(record) for record in sessions))
        assert await store.prune_console_sessions(2450.0) == 2450
        assert await store.console_session(sessions[2449].id_hash) is None
        assert await store.console_session(sessions[2450].id_hash) == sessions[2450]

    async def test_a_session_survives_close_and_reopen(
        self, backend: Backend, store: SessionStore
    ) -> None:
        if not backend.durable:
            pytest.skip(f"{backend.name} keeps nothing across a restart")
        await store.open_console_session(ADMIN)
        await store.set_console_restaurant(ADMIN.id_hash, "sakura")
        await store.set_console_flash(ADMIN.id_hash, "not found")
        await store.touch_console_session(ADMIN.id_hash, 1060.0)
        await store.open_console_session(ANA)
        await store.close()
        async with backend.new_store() as reopened:
            assert await reopened.console_session(ADMIN.id_hash) == replace(
                ADMIN, restaurant_id="sakura", flash="not found", seen_at=1060.0)
            assert await reopened.console_session(ANA.id_hash) == ANA
            assert await reopened.take_console_flash(ADMIN.id_hash) == "not found"

    async def test_a_closed_store_refuses(self, store: SessionStore) -> None:
        await store.close()
        with pytest.raises(StoreClosed):
            await store.open_console_session(ANA)
        with pytest.raises(StoreClosed):
            await store.console_session(ANA.id_hash)
        with pytest.raises(StoreClosed):
            await store.touch_console_session(ANA.id_hash, 1.0)
        with pytest.raises(StoreClosed):
            await store.take_console_flash(ANA.id_hash)
        with pytest.raises(StoreClosed):
            await store.close_console_session(ANA.id_hash)
        with pytest.raises(StoreClosed):
            await store.prune_console_sessions(1.0)
