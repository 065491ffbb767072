"""Cost of a conversation that must come from SQLite, as the database grows.

Two measurements on the real :class:`~storage.sqlite.SQLiteStore`:

* rehydration — :meth:`SessionRepository.load` of one stored conversation
  (read, msgpack decode, migrate, :meth:`Session.from_snapshot`), timed one
  load at a time: *warm* on an open store whose rows were read once before,
  *cold* on a store opened just for that load (empty SQLite page cache, the
  schema not yet parsed), *disk* as cold with the file also evicted from the
  OS page cache;
* per message — bursts of messages from distinct stored customers through
  the webhook's path (inbox accepted first, untimed; then
  :class:`~routes.whatsapp.inbox.InboxProcessor` with group commit, timed to the last
  commit), the repository cache off so that every message loads from
  SQLite even on the small database where customers come back.  Bursts
  alternate between the two databases so that background noise hits both.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench.scale_fixtures import BENCH_NOW, WORKLOAD, customer_id, demo_restaurant, session_key
from fsm.config import AppConfig
from fsm.session import Session
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.flow import conversation
from routes.whatsapp.inbox import InboxProcessor, encode_inbound
from storage.base import InboxRecord, SessionKey
from storage.codec import decode_snapshot
from storage.sessions import SessionRepository
from storage.sqlite import SQLiteStore

BURST: Final = 200  # messages in flight at once: one busy webhook burst


def _check_restored(key: SessionKey, session: Session, quarantined: bool) -> None:
    """A load that fell back to a fresh session would time the wrong thing."""
    if quarantined or len(session.cart) != 4:
        raise RuntimeError(f"{key} did not rehydrate its stored mid-order conversation")


async def _timed_load(repository: SessionRepository, key: SessionKey) -> float:
    started = time.perf_counter_ns()
    session, quarantine = await repository.load(key, BENCH_NOW)
    elapsed_us = (time.perf_counter_ns() - started) / 1_000
    _check_restored(key, session, quarantine is not None)
    return elapsed_us


async def rehydrate_warm_us(path: Path, indexes: Sequence[int]) -> list[float]:
    """One open store; the same rows were loaded once, untimed, just before."""
    store = SQLiteStore(path)
    await store.open()
    try:
        repository = SessionRepository(store)
        for index in indexes:
            await repository.load(session_key(index), BENCH_NOW)
        return [await _timed_load(repository, session_key(index)) for index in indexes]
    finally:
        await store.close()


async def rehydrate_cold_us(path: Path, indexes: Sequence[int], *,
                            evict_os_cache: bool = False) -> list[float]:
    """A store opened (untimed) for each load, as the first message after a restart."""
    timings: list[float] = []
    for index in indexes:
        if evict_os_cache:
            evict_from_os_cache(path)
        store = SQLiteStore(path)
        await store.open()
        try:
            timings.append(await _timed_load(SessionRepository(store), session_key(index)))
        finally:
            await store.close()
    return timings


def decode_us(snapshots: Sequence[bytes], loads: int) -> list[float]:
    """The CPU part of a rehydration alone: msgpack decode, migrate, ``from_snapshot``."""
    timings: list[float] = []
    for turn in range(loads):
        blob = snapshots[turn % len(snapshots)]
        started = time.perf_counter_ns()
        Session.from_snapshot(decode_snapshot(blob))
        timings.append((time.perf_counter_ns() - started) / 1_000)
    return timings


def evict_from_os_cache(path: Path) -> None:
    """Ask the kernel to drop the file's (clean) cached pages: the next reads hit the disk."""
    for candidate in (path, path.with_name(path.name + "-wal")):
        if candidate.exists():
            descriptor = os.open(candidate, os.O_RDONLY)
            try:
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)


def bursts_of_customers(count: int, bursts: int, rng: random.Random) -> list[list[int]]:
    """Distinct customers within a burst; across bursts too when the database is big enough."""
    if count >= bursts * BURST:
        chosen = rng.sample(range(count), bursts * BURST)
        return [chosen[start:start + BURST] for start in range(0, len(chosen), BURST)]
    return [rng.sample(range(count), BURST) for _ in range(bursts)]


@dataclass(frozen=True, slots=True)
class BurstCost:
    """Per message: wall-clock time, and CPU time of every thread (SQLite's included).

    CPU time leaves out waiting for fsync and for other processes on a shared
    machine; it is the steadier of the two when the machine is busy.
    """

    wall_us: float
    cpu_us: float


@dataclass(slots=True)
class InboxPipeline:
    """The serve path from the inbox on, on one database: store, dispatcher, processor."""

    config: AppConfig
    path: Path
    store: SQLiteStore = field(init=False)
    processor: InboxProcessor = field(init=False)
    touched: set[int] = field(default_factory=set)
    bursts_sent: int = 0

    async def open(self) -> None:
        self.store = SQLiteStore(self.path)
        await self.store.open()
        # cache_size=0: every message rehydrates from SQLite, on either database.
        repository = SessionRepository(self.store, cache_size=0)
        dispatcher = Dispatcher(self.config, repository, conversation,
                                clock=lambda: BENCH_NOW)
        self.processor = InboxProcessor(self.config, self.store, dispatcher)

    async def close(self) -> None:
        await self.store.close()

    async def burst_us_per_message(self, indexes: Sequence[int]) -> BurstCost:
        """Accept ``indexes``' messages (untimed), then time processing them all."""
        records = self._records(indexes)
        accepted = await self.store.accept_inbound(records)
        if len(accepted) != len(records):
            raise RuntimeError(f"{len(records) - len(accepted)} messages not accepted")
        before = self.processor.processed
        started, started_cpu = time.perf_counter_ns(), time.process_time_ns()
        for record in records:
            self.processor.submit(record)
        await self.processor.drain()
        elapsed_us = (time.perf_counter_ns() - started) / 1_000
        cpu_us = (time.process_time_ns() - started_cpu) / 1_000
        if self.processor.processed - before != len(records):
            raise RuntimeError(f"only {self.processor.processed - before} of {len(records)} "
                               f"messages were processed on {self.path.name}")
        self.touched.update(indexes)
        self.bursts_sent += 1
        return BurstCost(elapsed_us / len(records), cpu_us / len(records))

    def _records(self, indexes: Sequence[int]) -> list[InboxRecord]:
        restaurant = demo_restaurant(self.config)
        burst = self.bursts_sent
        return [
            InboxRecord(
                message_id=f"wamid.scale.{burst}.{position}",
                key=session_key(index), phone_number_id=restaurant.phone_number_id,
                wa_id=customer_id(index), user_id=None, sent_at=int(BENCH_NOW),
                received_at=BENCH_NOW,
                payload=encode_inbound(WORKLOAD[(index + burst) % len(WORKLOAD)]),
            )
            for position, index in enumerate(indexes)
        ]

    async def outbox_bytes(self) -> int:
        """Bytes of outbox bodies written so far: rows the product never prunes."""
        rows = await self.store.list_outbox()
        return sum(len(row.body.encode()) for row in rows)

    @property
    def units_per_commit(self) -> float:
        return self.store.committed_units / max(self.store.commit_batches, 1)
