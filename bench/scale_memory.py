"""How much memory conversations cost: per cached session, and after many customers.

Runs in a child process of its own (``python -m bench.scale_memory``, one
JSON line out) so its RSS starts from imports alone, not from whatever the
other benchmarks allocated.  Customers go through the real
:class:`~routes.conversation.dispatcher.Dispatcher` (session lifecycle,
expiry, routers, WhatsApp outbox rows) with the repository's default cache
size, but the store is :class:`ReplayStore`: it serves every customer a
stored mid-order snapshot and keeps nothing, so what grows is the
process's own state (cache, lock table, machine), not a database held in
memory.  SQLite's own memory is bounded separately by its page cache
(``PRAGMA cache_size``, 2 MiB per connection by default).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bench.scale_fixtures import (
    BENCH_NOW,
    WORKLOAD,
    customer_id,
    demo_config,
    demo_restaurant,
    snapshot_of,
    stored_snapshots,
)
from fsm.config import AppConfig, Restaurant
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.flow import conversation
from routes.whatsapp.outbox import ReplyAddress
from storage.base import Changes, OutboxRecord, SessionKey
from storage.memory import MemoryStore
from storage.sessions import SessionRepository

CONCURRENCY: Final = 64  # customers in flight at once, as a busy webhook would have
WARM_UP_CUSTOMERS: Final = 100


class ReplayStore(MemoryStore):
    """Every customer has a stored mid-order conversation; commits are dropped."""

    def __init__(self, snapshots: Sequence[bytes]) -> None:
        super().__init__()
        self.snapshots = tuple(snapshots)
        self.commits = 0

    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        self._check_open()
        return snapshot_of(int(key.customer_id[4:]), self.snapshots)

    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        self._check_open()
        self.commits += 1
        return []


def rss_kb() -> int:
    """Resident set size now (not the peak that ``resource`` reports)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def settled_rss_kb() -> int:
    gc.collect()
    return rss_kb()


@dataclass(slots=True)
class Crowd:
    """Distinct customers sent through one dispatcher, a contiguous index range at a time."""

    dispatcher: Dispatcher
    restaurant: Restaurant
    served: int = 0

    async def serve_until(self, customers: int) -> None:
        next_index = self.served
        stop = customers

        async def worker() -> None:
            nonlocal next_index
            while next_index < stop:
                index = next_index
                next_index += 1
                await self._feed(index)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        self.served = max(self.served, customers)

    async def _feed(self, index: int) -> None:
        message_id = f"wamid.bench.{index}"
        address = ReplyAddress(self.restaurant.phone_number_id, customer_id(index), None,
                               message_id)
        await self.dispatcher.feed(self.restaurant, customer_id(index),
                                   WORKLOAD[index % len(WORKLOAD)], message_id=message_id,
                                   reply_via=address)


def checkpoints(customers: int, cache_size: int) -> list[int]:
    """1k, the cache just full, twice that, decades, half of ``customers`` and all of them."""
    marks = {1_000, cache_size, 2 * cache_size, slope_start(customers, cache_size), customers}
    decade = 10 * cache_size
    while decade < customers:
        marks.add(decade)
        decade *= 10
    return sorted(mark for mark in marks if WARM_UP_CUSTOMERS < mark <= customers)


async def measure(config: AppConfig, customers: int) -> dict[str, float | int]:
    store = ReplayStore(stored_snapshots(config))
    await store.open()
    repository = SessionRepository(store, cache_size=config.storage.cache_size)
    dispatcher = Dispatcher(config, repository, conversation, clock=lambda: BENCH_NOW,
                            )
    crowd = Crowd(dispatcher, demo_restaurant(config))
    await crowd.serve_until(WARM_UP_CUSTOMERS)  # first-use allocations are not per session
    base_rss, base_cached = settled_rss_kb(), len(repository)
    samples: dict[int, int] = {}
    full_rss = full_cached = 0
    for mark in checkpoints(customers, repository.cache_size):
        await crowd.serve_until(mark)
        samples[mark] = settled_rss_kb()
        if mark == repository.cache_size:
            full_rss, full_cached = samples[mark], len(repository)
    await store.close()
    if store.commits != customers:
        raise RuntimeError(f"{store.commits} commits for {customers} customers")
    return summarize(samples, base_rss, full_rss, full_cached - base_cached,
                     repository.cache_size, len(repository))


def slope_start(customers: int, cache_size: int) -> int:
    """Where RSS growth is measured from: the second half of the run, the cache long full.

    Until ~100k customers pymalloc is still settling after the cache started
    evicting (~1 MB, measured); one leaked object per customer would add
    10 MB or more per 100k customers.
    """
    return max(2 * cache_size, customers // 2)


def summarize(samples: dict[int, int], base_rss: int, full_rss: int, filled: int,
              cache_size: int, cached: int) -> dict[str, float | int]:
    last = max(samples)
    result: dict[str, float | int] = {
        f"rss_kb_after_{count_label(mark)}_customers": rss for mark, rss in samples.items()
    }
    result["rss_kb_per_cached_session"] = round((full_rss - base_rss) / max(filled, 1), 3)
    start = slope_start(last, cache_size)
    if last > start:
        slope = (samples[last] - samples[start]) / (last - start) * 100_000
        result["rss_kb_growth_per_100k_customers_past_cache"] = round(slope, 1)
    result.update({"rss_customers": last, "cache_size": cache_size,
                   "cached_sessions_at_end": cached})
    return result


def count_label(count: int) -> str:
    """``1000`` → ``1k``, ``1000000`` → ``1m``: the suffix of a key name."""
    for size, suffix in ((1_000_000, "m"), (1_000, "k")):
        if count >= size and count % size == 0:
            return f"{count // size}{suffix}"
    return str(count)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(demo_config(), args.customers))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
