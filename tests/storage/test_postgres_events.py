"""Live events shared through PostgreSQL (storage.postgres_events, routes.staff.shared_events).

Two stores on one schema stand for two ``serve`` processes, each with its
own :class:`EventHub` put on the shared log as ``serve`` does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

import routes.staff.shared_events as shared_events
from routes.staff.events import Event, EventHub, Subscription
from routes.staff.shared_events import SEQUENCE, SharedEvents
from storage.errors import StorageError
from storage.postgres import PostgresStore
from storage.postgres_connect import Database
from storage.postgres_events import EventLog, LoggedEvent


def log_of(store: PostgresStore) -> EventLog:
    return store.coordination().events()


@pytest.fixture
async def hubs(stores: tuple[PostgresStore, PostgresStore]
               ) -> AsyncIterator[tuple[EventHub, EventHub]]:
    """Two processes' hubs, on the shared log; polling slowed so that NOTIFY must wake them."""
    one, two = EventHub(), EventHub()
    shared = [SharedEvents(hub, log_of(store), poll=30.0)
              for hub, store in zip((one, two), stores, strict=True)]
    for each in shared:
        await each.start()
    try:
        yield one, two
    finally:
        for each in shared:
            await each.stop()


async def age(store: PostgresStore, seconds: float) -> None:
    """Every event so far appended ``seconds`` earlier than it was."""
    await store._database.fetch("ageing events", "UPDATE staff_events SET created_at = "
                                "created_at - $1", seconds)


async def received(subscription: Subscription, count: int) -> list[Event]:
    async with asyncio.timeout(5):
        return [event for _ in range(count)
                if (event := await subscription.queue.get()) is not None]


async def test_appended_events_read_back_in_order_from_either_process(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    one, two = (log_of(store) for store in stores)
    assert await one.latest() == 0
    await one.append([("luigis", "order.updated", '{"n":1}'),
                      ("sakura", "controls.updated", '{"n":2}')])
    await two.append([("luigis", "message.created", '{"n":3}')])
    events = await two.after(0, 10)
    assert [(e.restaurant_id, e.kind, json.loads(e.data)["n"]) for e in events] == [
        ("luigis", "order.updated", 1), ("sakura", "controls.updated", 2),
        ("luigis", "message.created", 3)]
    ids = [e.id for e in events]
    assert ids == sorted(ids) and await one.latest() == ids[-1]
    assert [e.id for e in await one.after(ids[0], 1)] == [ids[1]]


async def test_ids_follow_commit_order_when_appends_race(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    # Each append's ids are taken under a lock held to its commit: a reader
    # that saw id n never finds a smaller one committed later.
    one, two = (log_of(store) for store in stores)
    seen: list[int] = []
    stop = asyncio.Event()

    async def read() -> None:
        last = 0
        while not stop.is_set():
            for event in await one.after(last, 1000):
                seen.append(event.id)
                last = event.id

    async def write(log: EventLog, name: str) -> None:
        for n in range(60):
            await log.append([("luigis", name, str(n))] * 3)

    reader = asyncio.create_task(read())
    await asyncio.gather(write(one, "a"), write(two, "b"), write(one, "c"), write(two, "d"))
    stop.set()
    await reader
    everything = [e.id for e in await one.after(0, 10_000)]
    assert len(everything) == 720
    for event in await one.after(seen[-1] if seen else 0, 10_000):
        seen.append(event.id)
    assert seen == everything  # nothing skipped, nothing twice


async def test_prune_drops_only_events_older_than_the_cut(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    log = log_of(stores[0])
    await log.append([("luigis", "old", "{}")] * 3)
    await age(stores[0], 700.0)  # appended 700 s ago, by the database's clock
    await log.append([("luigis", "new", "{}")])
    assert await log.prune(600.0) == 3
    assert [e.kind for e in await log.after(0, 10)] == ["new"]


async def test_a_change_published_in_one_process_reaches_the_others_clients(
        hubs: tuple[EventHub, EventHub]) -> None:
    one, two = hubs
    watching_two = two.subscribe("luigis", None)
    watching_one = one.subscribe("luigis", None)
    sakura = two.subscribe("sakura", None)
    one.publish("luigis", "order.updated", {"reference": "LU-0001"})
    one.publish("sakura", "controls.updated", {"bot_enabled": False})
    two.publish("luigis", "message.created", {"customer": "447700900204"})
    on_two = await received(watching_two, 2)
    on_one = await received(watching_one, 2)
    # Which process's append commits first is a race; both see the same order.
    assert sorted((e.kind, e.data) for e in on_two) == [
        ("message.created", '{"customer":"447700900204"}'),
        ("order.updated", '{"reference":"LU-0001"}')]
    assert [(e.id, e.kind, e.data) for e in on_one] == [(e.id, e.kind, e.data) for e in on_two]
    assert all(e.id.startswith(f"{SEQUENCE}-") for e in on_two)
    assert [e.kind for e in await received(sakura, 1)] == ["controls.updated"]
    assert watching_two.queue.empty()  # Sakura's event went to Sakura's clients only


async def test_a_client_reconnecting_to_another_process_gets_what_it_missed(
        hubs: tuple[EventHub, EventHub]) -> None:
    one, two = hubs
    first = one.subscribe("luigis", None)
    watching = two.subscribe("luigis", None)
    two.publish("luigis", "order.updated", {"status": "PREPARING"})
    [seen] = await received(first, 1)
    one.unsubscribe(first)
    two.publish("luigis", "order.updated", {"status": "OUT_FOR_DELIVERY"})
    one.publish("luigis", "order.updated", {"status": "COMPLETED"})
    await received(watching, 3)  # all of them reached the other process
    back = two.subscribe("luigis", seen.id)
    assert not back.reset
    # Published by two processes at once: either may have been appended first.
    assert sorted(json.loads(e.data)["status"] for e in back.replay) == [
        "COMPLETED", "OUT_FOR_DELIVERY"]


async def test_a_process_started_later_resets_clients_from_before_it(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    early = EventHub()
    sharing = SharedEvents(early, log_of(stores[0]), poll=30.0)
    await sharing.start()
    try:
        watching = early.subscribe("luigis", None)
        early.publish("luigis", "order.updated", {"n": 1})
        early.publish("luigis", "order.updated", {"n": 2})
        first, second = await received(watching, 2)
        late = EventHub()
        late_sharing = SharedEvents(late, log_of(stores[1]), poll=30.0)
        await late_sharing.start()
        try:
            # A client that missed the second event: the late process never
            # saw it, so the client must re-read everything.
            assert late.subscribe("luigis", first.id).reset
            # One that saw it missed nothing the late process could give.
            caught_up = late.subscribe("luigis", second.id)
            assert (caught_up.reset, caught_up.replay) == (False, [])
        finally:
            await late_sharing.stop()
    finally:
        await sharing.stop()


async def test_events_published_while_the_database_is_away_are_shared_when_it_is_back(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    hub = EventHub()
    log = log_of(stores[0])
    sharing = SharedEvents(hub, log, poll=0.05, retry=0.05)
    await sharing.start()
    try:
        watching = hub.subscribe("luigis", None)
        await stores[0].close()  # the pool is gone: appends and reads fail
        hub.publish("luigis", "order.updated", {"n": 1})
        await asyncio.sleep(0.3)
        assert watching.queue.empty()
        await stores[0].open()
        [event] = await received(watching, 1)
        assert json.loads(event.data) == {"n": 1}
    finally:
        await sharing.stop()


async def test_the_reader_and_the_listener_outlive_any_failure(
        stores: tuple[PostgresStore, PostgresStore], monkeypatch: pytest.MonkeyPatch) -> None:
    # asyncpg raises more than PostgresError/InterfaceError (InternalClientError
    # when a connection dies mid-operation, InterfaceError from a released
    # proxy): neither task may end, or this process's clients hear nothing more.
    failures = {"prune": 1, "connect": 1}
    connect_failed = asyncio.Event()
    real_prune, real_connect = EventLog.prune, Database.connect_one

    async def prune(self: EventLog, keep: float) -> int:
        if failures["prune"]:
            failures["prune"] -= 1
            raise asyncpg.InterfaceError("cannot call Connection.terminate(): released")
        return await real_prune(self, keep)

    async def connect_one(self: Database) -> asyncpg.Connection[asyncpg.Record]:
        if failures["connect"]:
            failures["connect"] -= 1
            connect_failed.set()
            raise asyncpg.InternalClientError("cannot switch to state 12")
        return await real_connect(self)

    monkeypatch.setattr(EventLog, "prune", prune)
    monkeypatch.setattr(Database, "connect_one", connect_one)
    one, two = EventHub(), EventHub()
    shared = [SharedEvents(two, log_of(stores[1]), poll=30.0, retry=0.05),
              SharedEvents(one, log_of(stores[0]), poll=0.05, retry=0.05)]
    await shared[0].start()  # its listener meets the failed connection
    async with asyncio.timeout(5):
        await connect_failed.wait()
    await shared[1].start()
    try:
        watching = one.subscribe("luigis", None)
        hearing = two.subscribe("luigis", None)
        two.publish("luigis", "order.updated", {"n": 1})
        assert [json.loads(e.data) for e in await received(watching, 1)] == [{"n": 1}]
        assert failures == {"prune": 0, "connect": 0}
        # Woken by NOTIFY again once its listener reconnected (polling is slowed to 30 s).
        one.publish("luigis", "order.updated", {"n": 2})
        assert [json.loads(e.data) for e in await received(hearing, 2)] == [{"n": 1}, {"n": 2}]
    finally:
        for each in shared:
            await each.stop()


async def test_a_process_that_missed_pruned_events_starts_its_clients_over(
        stores: tuple[PostgresStore, PostgresStore], monkeypatch: pytest.MonkeyPatch) -> None:
    # B cannot reach the database while A's events are appended and, ten minutes
    # on, pruned: B's clients must not be told they missed nothing. (KEEP_SECONDS
    # shortened: B has been away for longer than half of it.)
    monkeypatch.setattr(shared_events, "KEEP_SECONDS", 0.4)
    one, two = EventHub(), EventHub()
    away = {"on": False}
    real_after = EventLog.after

    async def after(self: EventLog, seen: int, limit: int) -> list[LoggedEvent]:
        if away["on"] and self is reading_b:
            raise StorageError("database unreachable")
        return await real_after(self, seen, limit)

    monkeypatch.setattr(EventLog, "after", after)
    reading_b = log_of(stores[1])
    shared = [SharedEvents(one, log_of(stores[0]), poll=0.05, retry=0.05),
              SharedEvents(two, reading_b, poll=0.05, retry=0.05)]
    for each in shared:
        await each.start()
    try:
        watching = two.subscribe("luigis", None)
        one.publish("luigis", "order.updated", {"n": 1})
        [first] = await received(watching, 1)
        away["on"] = True
        one.publish("luigis", "order.updated", {"n": 2})
        one.publish("luigis", "order.updated", {"n": 3})
        await asyncio.sleep(0.3)
        await age(stores[0], 700.0)
        log = log_of(stores[0])
        async with asyncio.timeout(5):  # pruned, by this call or a reader's own sweep
            while await log.oldest() is not None:
                await log.prune(600.0)
        one.publish("luigis", "order.updated", {"n": 4})
        away["on"] = False
        async with asyncio.timeout(5):
            assert await watching.queue.get() is None  # ended: it reconnects
        assert two.subscribe("luigis", first.id).reset
    finally:
        for each in shared:
            await each.stop()


async def test_a_gap_of_ids_after_a_quiet_prune_is_not_taken_for_missed_events(
        stores: tuple[PostgresStore, PostgresStore]) -> None:
    # The log pruned empty after a quiet spell, then an append rolled back (or the
    # sequence skipped ahead): ids jump, but nothing was missed, so nobody's console
    # is sent back to reload.
    hub = EventHub()
    sharing = SharedEvents(hub, log_of(stores[0]), poll=0.05, retry=0.05)
    await sharing.start()
    try:
        watching = hub.subscribe("luigis", None)
        hub.publish("luigis", "order.updated", {"n": 1})
        await received(watching, 1)
        await age(stores[0], 700.0)
        log = log_of(stores[0])
        async with asyncio.timeout(5):
            while await log.oldest() is not None:  # the reader may hold the sweep lock
                await log.prune(600.0)
        await stores[0]._database.fetch(
            "skipping ids", "SELECT setval(pg_get_serial_sequence('staff_events', 'id'), "
            "(SELECT last_value FROM staff_events_id_seq) + 32)")
        hub.publish("luigis", "order.updated", {"n": 2})
        [event] = await received(watching, 1)
        assert json.loads(event.data) == {"n": 2}  # delivered, the stream not ended
    finally:
        await sharing.stop()
