"""The contract of :meth:`storage.roles.UnitOfWork.commit`: all or nothing, once."""

import asyncio

import pytest

from storage.base import Changes, SessionKey, SessionStore
from storage.codec import MAX_SNAPSHOT_BYTES, decode_snapshot
from storage.errors import AlreadyProcessed, SnapshotTooLarge, StorageError
from tests.storage.contract.support import (
    ALICE,
    BOB,
    CAROL_AT_SUSHI,
    LUIGIS_NUMBER,
    handled,
    inbound,
    order,
    reply,
    snapshot,
    texts,
)


class TestCommit:
    """Atomicity and ordering of commits."""

    async def test_oversize_snapshot_is_refused_and_nothing_written(
        self, store: SessionStore
    ) -> None:
        too_big = b"\x00" * (MAX_SNAPSHOT_BYTES + 1)
        with pytest.raises(SnapshotTooLarge):
            await store.commit(Changes(ALICE, 1.0, too_big, orders=[order(ALICE, "LU-1")]))
        assert await store.load_snapshot(ALICE) is None
        assert await store.list_orders() == []

    async def test_many_concurrent_commits_all_land_in_order(self, store: SessionStore) -> None:
        keys = [SessionKey("luigis", f"4477009{i:05d}") for i in range(100)]

        def change(i: int) -> Changes:
            key = keys[i % 100]
            return Changes(key, float(i), snapshot("browsing_items", seq=i),
                           orders=[order(key, f"LU-{i:04d}", float(i))])

        await asyncio.gather(*(store.commit(change(i)) for i in range(500)))

        for k, key in enumerate(keys):
            # Commits of one conversation are applied in the order they were made.
            assert decode_snapshot(await store.load_snapshot(key) or b"")["seq"] == 400 + k
            assert [o.reference for o in await store.list_orders(key)] == [
                f"LU-{i:04d}" for i in range(k, 500, 100)
            ]
        assert len(await store.list_orders()) == 500


class TestProcessingCommit:
    """A commit naming an inbox message: its one and only processing."""

    async def test_marks_processed_and_queues_replies_in_the_same_commit(
        self, store: SessionStore
    ) -> None:
        await store.accept_inbound([inbound("wamid.1")])
        await handled(store, "wamid.1", ALICE, 50.0, "Delivery or pickup?", "Menu below")

        assert await store.inbox_state("wamid.1") == "processed"
        assert await store.pending_inbound() == []
        assert decode_snapshot(await store.load_snapshot(ALICE) or b"")["last"] == "wamid.1"
        rows = await store.list_outbox(ALICE)
        assert texts(rows) == ["Delivery or pickup?", "Menu below"]
        assert rows[0].id < rows[1].id
        for row in rows:
            assert (row.key, row.phone_number_id, row.kind, row.state) == (
                ALICE, LUIGIS_NUMBER, "message", "pending")
            assert (row.attempts, row.not_before, row.created_at) == (0, 50.0, 50.0)
            assert (row.wamid, row.error) == (None, None)

    async def test_commit_returns_the_rows_it_queued_as_stored(self, store: SessionStore) -> None:
        await store.accept_inbound([inbound("wamid.1"), inbound("wamid.2", BOB)])
        first = await store.commit(Changes(ALICE, 50.0, snapshot("browsing_items"),
                                           inbox_processed="wamid.1",
                                           outbox=[reply(ALICE, "one"), reply(ALICE, "two")]))
        second = await store.commit(Changes(BOB, 51.0, inbox_processed="wamid.2",
                                            outbox=[reply(BOB, "three")]))
        assert await store.commit(Changes(ALICE, 52.0, snapshot("checkout"))) == []
        assert [*first, *second] == await store.list_outbox()
        assert [row.id for row in [*first, *second]] == sorted({row.id for row in
                                                                [*first, *second]})

    async def test_processing_twice_fails_and_writes_nothing(self, store: SessionStore) -> None:
        await store.accept_inbound([inbound("wamid.1")])
        await handled(store, "wamid.1", ALICE, 50.0, "Delivery or pickup?")

        with pytest.raises(AlreadyProcessed):
            await store.commit(Changes(ALICE, 60.0, snapshot("checkout"),
                                       orders=[order(ALICE, "LU-0001")],
                                       inbox_processed="wamid.1",
                                       outbox=[reply(ALICE, "second answer")]))

        assert decode_snapshot(await store.load_snapshot(ALICE) or b"")["state"] == (
            "browsing_items")
        assert texts(await store.list_outbox()) == ["Delivery or pickup?"]
        assert await store.list_orders() == []
        [row] = await store.list_sessions()
        assert row.updated_at == 50.0

    async def test_concurrent_processing_of_one_message_commits_once(
        self, store: SessionStore
    ) -> None:
        await store.accept_inbound([inbound("wamid.1")])
        results = await asyncio.gather(
            handled(store, "wamid.1", ALICE, 50.0, "from worker one"),
            handled(store, "wamid.1", ALICE, 51.0, "from worker two"),
            return_exceptions=True,
        )
        assert sorted(type(result).__name__ for result in results) == [
            "AlreadyProcessed", "NoneType"]
        assert texts(await store.list_outbox()) == ["from worker one"]

    async def test_one_message_processed_under_two_customer_ids_commits_once(
        self, store: SessionStore
    ) -> None:
        # Different conversations may share a group commit: the guard must hold within one.
        await store.accept_inbound([inbound("wamid.1")])
        results = await asyncio.gather(
            handled(store, "wamid.1", ALICE, 50.0, "as alice"),
            handled(store, "wamid.1", BOB, 50.0, "as bob"),
            return_exceptions=True,
        )
        assert results[0] is None
        assert isinstance(results[1], AlreadyProcessed)
        assert texts(await store.list_outbox()) == ["as alice"]
        assert await store.load_snapshot(BOB) is None

    async def test_processing_an_unknown_message_fails_and_writes_nothing(
        self, store: SessionStore
    ) -> None:
        with pytest.raises(StorageError) as raised:
            await handled(store, "wamid.never-accepted", ALICE, 5.0, "hello")
        assert not isinstance(raised.value, AlreadyProcessed)
        assert await store.load_snapshot(ALICE) is None
        assert await store.list_outbox() == []
        assert await store.inbox_state("wamid.never-accepted") is None

    async def test_a_refused_commit_does_not_hold_up_others(self, store: SessionStore) -> None:
        await store.accept_inbound([inbound("wamid.1"), inbound("wamid.2", BOB)])
        await handled(store, "wamid.1", ALICE, 10.0, "first answer")
        results = await asyncio.gather(
            handled(store, "wamid.1", ALICE, 20.0, "again"),
            handled(store, "wamid.2", BOB, 20.0, "to bob"),
            store.commit(Changes(CAROL_AT_SUSHI, 20.0, snapshot("start"),
                                 outbox=[reply(CAROL_AT_SUSHI, "to carol")])),
            return_exceptions=True,
        )
        assert isinstance(results[0], AlreadyProcessed)
        assert not any(isinstance(result, BaseException) for result in results[1:])
        assert texts(await store.list_outbox()) == ["first answer", "to bob", "to carol"]
