"""Does orderbot stay as fast and as small with a million stored conversations?

``run(quick)`` returns flat figures, ``python -m bench.scale [--quick]``
prints them as a table and, on its last line, as JSON:

===================================  ==================================================
``rehydrate_us_warm`` / ``_cold``    median µs for ``SessionRepository.load`` of one
                                     stored mid-order conversation (SQLite read,
                                     msgpack decode, migrate) in the 1M database: open
                                     store, rows read once before / a store opened for
                                     that one load; ``_p90`` the 90th centile
``rehydrate_us_disk``                as cold, the file also evicted from the OS cache
``rehydrate_us_decode``              the CPU part alone: decode, migrate, restore
``per_msg_us_1k`` / ``_1m``          µs per message from the inbox through the
                                     dispatcher to the group commit, 1k / 1M stored
                                     conversations, median over alternating bursts of
                                     200 distinct customers (``per_msg_cpu_us_*``: CPU
                                     time of all threads, steadier on a busy machine)
``per_msg_1m_vs_1k``                 their ratio (target ≤ 1.3)
``outbox_bytes_per_msg``             outbox bytes one message leaves in the database
``startup_s_1k`` / ``_1m``           seconds from spawning ``bot.py serve`` to the first
                                     200 from ``/healthz`` (target ≤ 1 s at 1M)
``rss_kb_per_cached_session``        RSS growth per session held in the repository
``rss_kb_after_<N>_customers``       RSS of a process that served N distinct customers
                                     with the default cache size; N is 1k, the cache
                                     size, twice it, decades, half the run and the
                                     run's end: 1m in full mode, 50k in quick mode
                                     (a million customers take ~3.5 minutes alone)
``rss_kb_growth_per_100k_…``         RSS slope over the run's second half (0 = bounded)
``db_1m_generate_s``                 seconds it took to generate the 1M database;
                                     ``db_1m_reused`` is 1 when a cached file was used
===================================  ==================================================

The databases are cached between runs (see :mod:`bench.scale_db`): the 1M
one takes about 5 s to generate and 500 MB of disk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.scale_db import StoredConversations, stored_conversations
from bench.scale_fixtures import REPO, demo_config, stored_snapshots
from bench.scale_load import (
    BURST,
    BurstCost,
    InboxPipeline,
    bursts_of_customers,
    decode_us,
    rehydrate_cold_us,
    rehydrate_warm_us,
)
from bench.scale_startup import startup_seconds
from fsm.config import AppConfig

SEED: Final = 20_251_124
SMALL: Final = 1_000
LARGE: Final = 1_000_000

Figures = dict[str, float | int]


@dataclass(frozen=True, slots=True)
class Plan:
    """How many samples each measurement takes."""

    warm_loads: int
    cold_loads: int
    disk_loads: int
    bursts: int          # per database, after one untimed warm-up burst each
    startup_runs: int    # per database; the median is reported
    rss_customers: int


QUICK: Final = Plan(warm_loads=2_000, cold_loads=200, disk_loads=30, bursts=15,
                    startup_runs=1, rss_customers=50_000)
FULL: Final = Plan(warm_loads=10_000, cold_loads=1_000, disk_loads=200, bursts=50,
                   startup_runs=3, rss_customers=1_000_000)


def run(quick: bool) -> Figures:
    """Every figure of the module docstring; ``quick`` takes ~25 s, full ~4-5 min."""
    plan = QUICK if quick else FULL
    started = time.perf_counter()
    config = demo_config()
    snapshots = stored_snapshots(config)
    rng = random.Random(SEED)
    figures: Figures = {}
    with stored_conversations(SMALL, snapshots) as small, \
            stored_conversations(LARGE, snapshots) as large:
        figures.update(database_figures(large))
        figures.update(asyncio.run(rehydration_figures(large, plan, rng)))
        warm_os_cache(large.path)
        figures.update(asyncio.run(per_message_figures(config, small, large, plan, rng)))
        figures.update(startup_figures(small, large, plan))
    figures.update(memory_figures(plan))
    figures["scale_run_s"] = round(time.perf_counter() - started, 1)
    return figures


def database_figures(large: StoredConversations) -> Figures:
    return {"db_1m_generate_s": round(large.generated_s, 2),
            "db_1m_reused": int(large.reused),
            "db_1m_mb": round(large.path.stat().st_size / 1e6)}


async def rehydration_figures(large: StoredConversations, plan: Plan,
                              rng: random.Random) -> Figures:
    indexes = rng.sample(range(large.count), plan.warm_loads)
    warm = await rehydrate_warm_us(large.path, indexes)  # also puts these rows in the OS cache
    cold = await rehydrate_cold_us(large.path, indexes[:plan.cold_loads])
    disk = await rehydrate_cold_us(large.path, rng.sample(range(large.count), plan.disk_loads),
                                   evict_os_cache=True)
    decode = decode_us(large.snapshots, plan.warm_loads)
    return {"rehydrate_us_decode": _median(decode),
            "rehydrate_us_warm": _median(warm), "rehydrate_us_warm_p90": _p90(warm),
            "rehydrate_us_cold": _median(cold), "rehydrate_us_cold_p90": _p90(cold),
            "rehydrate_us_disk": _median(disk)}


def warm_os_cache(path: Path) -> None:
    """Read the file once: the per-message figures assume a server whose RAM holds it."""
    with path.open("rb") as database:
        while database.read(1 << 20):
            pass


async def per_message_figures(config: AppConfig, small: StoredConversations,
                              large: StoredConversations, plan: Plan,
                              rng: random.Random) -> Figures:
    pipelines = (InboxPipeline(config, small.path), InboxPipeline(config, large.path))
    customers = [bursts_of_customers(db.count, plan.bursts + 1, rng) for db in (small, large)]
    costs: tuple[list[BurstCost], list[BurstCost]] = ([], [])
    for pipeline in pipelines:
        await pipeline.open()
    try:
        for burst in range(plan.bursts + 1):
            for pipeline, bursts, burst_costs in zip(pipelines, customers, costs, strict=True):
                cost = await pipeline.burst_us_per_message(bursts[burst])
                if burst:  # the first burst of each only warms up
                    burst_costs.append(cost)
        outbox_bytes = await pipelines[0].outbox_bytes()
    finally:
        for pipeline in pipelines:
            await pipeline.close()
        small.touched.update(pipelines[0].touched)
        large.touched.update(pipelines[1].touched)
    wall = [_median([cost.wall_us for cost in burst_costs]) for burst_costs in costs]
    cpu = [_median([cost.cpu_us for cost in burst_costs]) for burst_costs in costs]
    return {"per_msg_us_1k": wall[0], "per_msg_us_1m": wall[1],
            "per_msg_1m_vs_1k": round(wall[1] / wall[0], 3),
            "per_msg_cpu_us_1k": cpu[0], "per_msg_cpu_us_1m": cpu[1],
            "per_msg_cpu_1m_vs_1k": round(cpu[1] / cpu[0], 3),
            "per_msg_timed_per_db": plan.bursts * BURST,
            "outbox_bytes_per_msg": round(outbox_bytes / ((plan.bursts + 1) * BURST)),
            "commit_units_per_batch_1m": round(pipelines[1].units_per_commit, 1)}


def startup_figures(small: StoredConversations, large: StoredConversations,
                    plan: Plan) -> Figures:
    startup_seconds(small.path)  # untimed: the first spawn also pays for cold .pyc reads
    runs: tuple[list[float], list[float]] = ([], [])
    for _ in range(plan.startup_runs):  # alternated, so both see the same noise
        runs[0].append(startup_seconds(small.path))
        runs[1].append(startup_seconds(large.path))
    return {"startup_s_1k": round(statistics.median(runs[0]), 3),
            "startup_s_1m": round(statistics.median(runs[1]), 3)}


def memory_figures(plan: Plan) -> Figures:
    """In a child process, so its RSS owes nothing to the measurements above."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scale_memory", "--customers", str(plan.rss_customers)],
        cwd=REPO, capture_output=True, text=True, check=False,
        env={**os.environ,
             "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO),
                                                         os.environ.get("PYTHONPATH"))))})
    if completed.returncode != 0:
        raise RuntimeError(f"bench.scale_memory failed:\n{completed.stderr[-2000:]}")
    figures: Figures = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def _median(samples: Sequence[float]) -> float:
    return round(statistics.median(samples), 1)


def _p90(samples: Sequence[float]) -> float:
    return round(statistics.quantiles(samples, n=10)[-1], 1)


UNITS: Final = (("_us", "µs"), ("_s", "s"), ("_kb", "KB"), ("_mb", "MB"))


def unit_of(name: str) -> str:
    for marker, unit in UNITS:
        if name.endswith(marker) or f"{marker}_" in name:
            return unit
    return ""


def render_table(figures: Figures) -> str:
    width = max(len(name) for name in figures)
    return "\n".join(f"{name:<{width}}  {value:>12,}  {unit_of(name)}".rstrip()
                     for name, value in figures.items())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer samples and 50k instead of 1M customers for RSS")
    args = parser.parse_args(argv)
    figures = run(args.quick)
    print(render_table(figures))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
