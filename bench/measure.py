"""Each measurement: start the server under test, warm it up, measure, stop it.

The ceiling and ingest are blasted by the same closed-loop generator with
the same connections, duration and body size; end-to-end runs drive
``serve`` with simulated customers (``bench.loadgen``), and the relay
(``bench.relay``: only the HTTP of each message) with the same customers.
Every server is a fresh subprocess on a free port, with its database in the
run's temp dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.blast import BlastGenerator
from bench.graph_sink import GraphSink
from bench.loadgen import WINDOW_END, WINDOW_START
from bench.payloads import write_pool
from bench.processes import (
    HOST,
    Server,
    ceiling_argv,
    cpu_seconds,
    free_port,
    last_json_line,
    relay_argv,
    run_bounded,
    running,
    serve_argv,
    serve_env,
)
from bench.profile import Profiler
from bench.stats import BlastResult

CEILING_POOL: Final = 2_000  # the ceiling keeps nothing, so bodies may repeat
# The measured ingest pool holds twice what the warm-up rate would send; a
# faster run would wrap around, and the table says so.
INGEST_MARGIN: Final = 2.0
POOL_MAX_PER_THREAD: Final = 400_000  # ~380 MB of bodies in wrk
GRAPH_VERSION_PATH: Final = "/v23.0"


@dataclass(frozen=True, slots=True)
class Knobs:
    """How long and how hard to measure; the same for every phase of one run."""

    warmup_s: float
    duration_s: float
    customers: int
    sweep_customers: int
    generator: BlastGenerator
    workdir: Path
    profile_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class BlastPhase:
    """A blast result plus the server's CPU use (cores) while it was measured.

    ``answered`` counts the inbox rows marked processed in the window: how
    many of the accepted messages the server also processed meanwhile.
    """

    result: BlastResult
    server_cpu: float
    pool_size: int
    answered: int | None = None
    profile: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class E2EPhase:
    """A load-generator result (``bench.loadgen`` JSON) plus the server's CPU use."""

    fields: dict[str, Any]
    server_cpu: float
    profile: list[str]

    @property
    def msgs_per_s(self) -> float:
        return float(self.fields["msgs_per_s"])

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


async def measure_ceiling(knobs: Knobs) -> BlastPhase:
    """The plain aiohttp handler, blasted exactly like the webhook."""
    _write_pools(knobs, "ceiling", CEILING_POOL)
    port = free_port()
    async with running(ceiling_argv(port), port, knobs.workdir / "ceiling.log") as server:
        await knobs.generator.run(server.url, knobs.workdir, "ceiling", knobs.warmup_s)
        return await _measure_blast(server, knobs, "ceiling", CEILING_POOL)


async def measure_ingest(knobs: Knobs, ceiling_rps: float) -> BlastPhase:
    """``serve``'s webhook on a SQLite file: every request a new, signed message.

    Accepted messages are processed and answered in the same process (as in
    production), with replies going to a Graph sink hosted here; that work
    competes with ingest for the server's event loop and is part of the figure.
    The warm-up pool is sized from the ceiling (ingest cannot be faster than
    a server that only parses JSON), the measured pool from the warm-up rate.
    """
    _write_pools(knobs, "ingest-warm", _pool_size(ceiling_rps, knobs.warmup_s, knobs))
    graph_port, port = free_port(), free_port()
    sink = GraphSink()
    await sink.start(HOST, graph_port)
    db = knobs.workdir / "ingest.db"
    try:
        async with running(serve_argv(str(db), port), port,
                           knobs.workdir / "ingest.log",
                           env=serve_env(_graph_url(graph_port))) as server:
            warm = await knobs.generator.run(server.url, knobs.workdir, "ingest-warm",
                                             knobs.warmup_s)
            size = _pool_size(warm.rps * INGEST_MARGIN, knobs.duration_s, knobs)
            _write_pools(knobs, "ingest", size)
            processed_before = processed_messages(db)
            phase = await _measure_blast(server, knobs, "ingest", size, profile=True)
            return dataclasses.replace(phase, answered=processed_messages(db) - processed_before)
    finally:
        await sink.close()


def processed_messages(db: Path) -> int:
    """Inbox rows marked processed so far, read from the file ``serve`` is writing.

    Not the read receipts at Graph: of a customer's waiting messages only the
    latest is marked read.
    """
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as file:
        [(count,)] = file.execute(
            "SELECT count(*) FROM inbox WHERE processed_at IS NOT NULL").fetchall()
    return int(count)


def _write_pools(knobs: Knobs, label: str, size: int) -> None:
    """One pool file per generator thread, each with its own message ids."""
    generator = knobs.generator
    for thread in range(1, generator.threads + 1):
        write_pool(generator.pool_path(knobs.workdir, label, thread), size,
                   f"{label.upper()}{thread}x")


def _pool_size(rps: float, seconds: float, knobs: Knobs) -> int:
    needed = math.ceil(rps * max(1.0, round(seconds)) / knobs.generator.threads) + 500
    return min(needed, POOL_MAX_PER_THREAD)


async def _measure_blast(server: Server, knobs: Knobs, label: str, pool_size: int,
                         profile: bool = False) -> BlastPhase:
    profiler = _profiler(knobs, label) if profile else None
    if profiler is not None:
        await profiler.start(server.pid, knobs.duration_s)
    cpu_before = cpu_seconds(server.pid)
    result = await knobs.generator.run(server.url, knobs.workdir, label, knobs.duration_s)
    server_cpu = (cpu_seconds(server.pid) - cpu_before) / max(result.duration_s, 1e-9)
    summary = await profiler.finish() if profiler is not None else []
    return BlastPhase(result, server_cpu, pool_size, profile=tuple(summary))


def _profiler(knobs: Knobs, label: str) -> Profiler | None:
    """A py-spy recorder for this phase when ``--profile DIR`` was given."""
    if knobs.profile_dir is None:
        return None
    return Profiler(knobs.profile_dir / f"serve-{label}.txt", label)


def _graph_url(port: int) -> str:
    return f"http://{HOST}:{port}{GRAPH_VERSION_PATH}"


async def measure_e2e(knobs: Knobs, db: str, label: str, profile: bool = False) -> E2EPhase:
    """Closed loop: ``knobs.customers`` customers against a fresh ``serve --db db``."""
    async with _serve_for_customers(knobs, db, label) as (server, graph_port):
        return await run_customers(server, graph_port, knobs, customers=knobs.customers,
                                   run_id=1, rate=None, profile_label=label if profile else None)


async def measure_relay(knobs: Knobs) -> E2EPhase:
    """The closed-loop e2e run against ``bench.relay`` instead of ``serve``.

    Same customers, warm-up and duration as ``measure_e2e``; each customer
    takes any reply as its answer, as the relay runs no conversation.  Its
    rate is what the three HTTP exchanges of a message alone allow here.
    """
    graph_port, port = free_port(), free_port()
    async with running(relay_argv(port), port, knobs.workdir / "relay.log",
                       env=serve_env(_graph_url(graph_port))) as server:
        return await run_customers(server, graph_port, knobs, customers=knobs.customers,
                                   run_id=1, rate=None, any_answer=True)


async def measure_sweep(knobs: Knobs, max_rate: float,
                        fractions: Sequence[float]) -> list[E2EPhase]:
    """Open-loop runs at each fraction of ``max_rate``, lowest first, on one server.

    Each run uses new customers (``run_id``): the earlier runs' customers are
    mid-order, and their next message would not be the one the walk expects.
    There are ``knobs.sweep_customers`` of them, enough that an arrival finds
    an idle customer unless the bot is saturated.
    """
    phases = []
    async with _serve_for_customers(knobs, str(knobs.workdir / "sweep.db"), "sweep") as (
            server, graph_port):
        for run_id, fraction in enumerate(sorted(fractions), start=1):
            phases.append(await run_customers(
                server, graph_port, knobs, customers=knobs.sweep_customers, run_id=run_id,
                rate=max(1.0, fraction * max_rate)))
    return phases


@contextlib.asynccontextmanager
async def _serve_for_customers(knobs: Knobs, db: str,
                               label: str) -> AsyncIterator[tuple[Server, int]]:
    """``serve`` on ``db``, its Graph URL pointing where the load generator will listen."""
    graph_port, port = free_port(), free_port()
    async with running(serve_argv(db, port), port, knobs.workdir / f"{label}.log",
                       env=serve_env(_graph_url(graph_port))) as server:
        yield server, graph_port


async def run_customers(server: Server, graph_port: int, knobs: Knobs, *, customers: int,
                        run_id: int, rate: float | None,
                        profile_label: str | None = None,
                        any_answer: bool = False) -> E2EPhase:
    """One ``bench.loadgen`` run; the server's CPU is sampled at the window's edges."""
    argv = [sys.executable, "-m", "bench.loadgen", "--target", server.url,
            "--graph-port", str(graph_port), "--customers", str(customers),
            "--warmup", str(knobs.warmup_s), "--duration", str(knobs.duration_s),
            "--run-id", str(run_id)]
    if rate is not None:
        argv += ["--rate", f"{rate:.3f}"]
    if any_answer:
        argv.append("--any-answer")
    profiler = _profiler(knobs, profile_label) if profile_label else None
    cpu: dict[str, float] = {}
    starts: list[asyncio.Task[None]] = []

    def on_line(line: str) -> None:
        if line in (WINDOW_START, WINDOW_END):
            cpu[line] = cpu_seconds(server.pid)
        if line == WINDOW_START and profiler is not None:
            starts.append(asyncio.ensure_future(profiler.start(server.pid, knobs.duration_s)))

    output = await run_bounded(argv, limit_s=knobs.warmup_s + knobs.duration_s + 60,
                               on_line=on_line)
    await asyncio.gather(*starts)
    summary = await profiler.finish() if profiler is not None else []
    fields = json.loads(last_json_line(output))
    used = cpu.get(WINDOW_END, 0.0) - cpu.get(WINDOW_START, 0.0)
    return E2EPhase(fields, used / knobs.duration_s, summary)
