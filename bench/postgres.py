"""PostgreSQL against SQLite end to end, in one run: ``python -m bench.postgres [--quick]``.

Measures, back to back with the same simulated customers (``bench.loadgen``,
closed loop) and the same windows:

1. ``serve`` on a SQLite file;
2. ``serve`` on PostgreSQL, one instance;
3. two ``serve`` instances on one PostgreSQL database, each POST sent to
   one of them at random (a customer's consecutive messages reach
   different instances).

PostgreSQL is a throwaway server started here (Debian's binaries, found as
the tests find them), with ``fsync`` on and ``synchronous_commit = on`` as a
real one; each run gets a database of its own.  Besides the rates, the
database server's CPU per message: the CPU seconds of all its processes
(the postmaster and every backend, read from ``/proc`` at the window's
edges; backends that ended meanwhile are counted by the postmaster's
children's times) over the messages answered in the window.  That figure
says how many app hosts one database carries.

Prints a table, then one JSON line; exits 0 with a note when the
PostgreSQL binaries are missing.  Target: ``postgres_vs_sqlite ≥ 0.6``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from bench.blast import pick_generator
from bench.loadgen import WINDOW_END, WINDOW_START
from bench.measure import Knobs, measure_e2e
from bench.processes import (
    HOST,
    Server,
    cpu_seconds,
    free_port,
    last_json_line,
    run_bounded,
    running,
    serve_argv,
    serve_env,
)
from tests.storage.postgres_server import PostgresServer, find_binaries

TARGET: Final = 0.6  # postgres_vs_sqlite
_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(postmaster: int) -> float:
    """CPU seconds of a PostgreSQL server: the postmaster, its live and its ended children."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile: counted in the postmaster's children's times
        pid, parent = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        elif parent == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / _CLOCK_TICKS


def postmaster_pid(server: PostgresServer) -> int:
    return int((server.data / "postmaster.pid").read_text().split()[0])


@contextlib.asynccontextmanager
async def instances(knobs: Knobs, db: str, count: int, label: str,
                    graph_port: int) -> AsyncIterator[list[Server]]:
    """``count`` ``serve`` processes on ``db``, started one after the other."""
    env = serve_env(f"http://{HOST}:{graph_port}/v23.0")
    async with contextlib.AsyncExitStack() as stack:
        servers = []
        for number in range(count):
            port = free_port()
            servers.append(await stack.enter_async_context(running(
                serve_argv(db, port), port, knobs.workdir / f"{label}-{number}.log", env=env)))
        yield servers


async def measure_postgres(knobs: Knobs, server: PostgresServer, count: int) -> dict[str, Any]:
    """Closed loop against ``count`` instances on a new database of ``server``."""
    label = f"pg{count}"
    db = await server.new_database(f"bench_{label}")
    graph_port = free_port()
    postmaster = postmaster_pid(server)
    async with instances(knobs, db, count, label, graph_port) as servers:
        argv = [sys.executable, "-m", "bench.loadgen", "--graph-port", str(graph_port),
                "--customers", str(knobs.customers), "--warmup", str(knobs.warmup_s),
                "--duration", str(knobs.duration_s), "--run-id", "1"]
        for serve in servers:
            argv += ["--target", serve.url]
        marks: dict[str, tuple[float, float]] = {}

        def on_line(line: str) -> None:
            if line in (WINDOW_START, WINDOW_END):
                marks[line] = (sum(cpu_seconds(s.pid) for s in servers),
                               server_cpu_seconds(postmaster))

        output = await run_bounded(argv, limit_s=knobs.warmup_s + knobs.duration_s + 60,
                                   on_line=on_line)
    fields: dict[str, Any] = json.loads(last_json_line(output))
    (app0, db0), (app1, db1) = marks[WINDOW_START], marks[WINDOW_END]
    messages = max(1, int(fields["messages"]))
    fields["serve_cpu"] = (app1 - app0) / knobs.duration_s
    fields["db_cpu"] = (db1 - db0) / knobs.duration_s
    fields["db_cpu_ms_per_msg"] = (db1 - db0) * 1e3 / messages
    fields["serve_cpu_ms_per_msg"] = (app1 - app0) * 1e3 / messages
    return fields


async def measure(knobs: Knobs, bindir: Path) -> dict[str, Any]:
    """Every figure of one run (see the module docstring)."""
    progress("e2e on a SQLite file ...")
    sqlite = await measure_e2e(knobs, str(knobs.workdir / "pg-bench-sqlite.db"), "pg-sqlite")
    progress(f"  {sqlite.msgs_per_s:,.0f} msgs/s; PostgreSQL (fsync on), 1 instance ...")
    server = PostgresServer(bindir, fsync=True)
    server.start()
    try:
        one = await measure_postgres(knobs, server, 1)
        progress(f"  {one['msgs_per_s']:,.0f} msgs/s; 2 instances ...")
        two = await measure_postgres(knobs, server, 2)
        progress(f"  {two['msgs_per_s']:,.0f} msgs/s")
    finally:
        server.stop()
    return {
        "sqlite_msgs_per_s": sqlite.msgs_per_s,
        "sqlite_serve_cpu": sqlite.server_cpu,
        "sqlite_p99_ms": sqlite["p99_ms"],
        "postgres_msgs_per_s": one["msgs_per_s"],
        "postgres_p99_ms": one["p99_ms"],
        "postgres_serve_cpu": one["serve_cpu"],
        "postgres_db_cpu": one["db_cpu"],
        "postgres_db_cpu_ms_per_msg": one["db_cpu_ms_per_msg"],
        "postgres_serve_cpu_ms_per_msg": one["serve_cpu_ms_per_msg"],
        "postgres_2_msgs_per_s": two["msgs_per_s"],
        "postgres_2_p99_ms": two["p99_ms"],
        "postgres_2_serve_cpu": two["serve_cpu"],
        "postgres_2_db_cpu_ms_per_msg": two["db_cpu_ms_per_msg"],
        "postgres_vs_sqlite": one["msgs_per_s"] / max(sqlite.msgs_per_s, 1e-9),
        "postgres_2_vs_1": two["msgs_per_s"] / max(one["msgs_per_s"], 1e-9),
        "postgres_bench_unanswered": sqlite["unanswered"] + one["unanswered"] + two["unanswered"],
    }


def table(figures: dict[str, Any]) -> str:
    """The figures as a table a person reads."""
    ratio = figures["postgres_vs_sqlite"]
    met = "met" if ratio >= TARGET else "**missed**"
    rows = [
        ("SQLite, 1 instance", f"{figures['sqlite_msgs_per_s']:,.0f} msgs/s",
         f"p99 {figures['sqlite_p99_ms']:.0f} ms, serve {figures['sqlite_serve_cpu']:.2f} cores"),
        ("PostgreSQL, 1 instance", f"{figures['postgres_msgs_per_s']:,.0f} msgs/s",
         f"p99 {figures['postgres_p99_ms']:.0f} ms, serve {figures['postgres_serve_cpu']:.2f}"
         f" cores, database {figures['postgres_db_cpu']:.2f} cores"),
        ("PostgreSQL, 2 instances", f"{figures['postgres_2_msgs_per_s']:,.0f} msgs/s",
         f"p99 {figures['postgres_2_p99_ms']:.0f} ms, serve {figures['postgres_2_serve_cpu']:.2f}"
         " cores (both)"),
        ("postgres_vs_sqlite", f"{ratio:.2f}", f"target ≥ {TARGET} — {met}"),
        ("2 instances vs 1", f"{figures['postgres_2_vs_1']:.2f}", ""),
        ("database CPU per message", f"{figures['postgres_db_cpu_ms_per_msg']:.2f} ms",
         f"2 instances: {figures['postgres_2_db_cpu_ms_per_msg']:.2f} ms"),
        ("serve CPU per message (PostgreSQL)",
         f"{figures['postgres_serve_cpu_ms_per_msg']:.2f} ms", ""),
    ]
    width = max(len(row[0]) for row in rows)
    return "\n".join(f"{name:<{width}}  {value:>14}  {note}".rstrip()
                     for name, value, note in rows)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def knobs(quick: bool, workdir: Path, customers: int) -> Knobs:
    return Knobs(warmup_s=1.0 if quick else 3.0, duration_s=3.0 if quick else 10.0,
                 customers=customers, sweep_customers=customers,
                 generator=pick_generator("aiohttp", 1, 64), workdir=workdir)


def run(quick: bool, workdir: Path, customers: int = 200) -> dict[str, Any] | None:
    """The figures, or ``None`` when PostgreSQL's binaries are not installed."""
    bindir = find_binaries()
    if bindir is None:
        return None
    return asyncio.run(measure(knobs(quick, workdir, customers), bindir))


def add_to(figures: dict[str, Any], notes: list[str], quick: bool, workdir: Path,
           customers: int = 200) -> None:
    """For ``python -m bench``: the figures into ``figures``, or a note saying why not."""
    progress("PostgreSQL against SQLite (bench/postgres.py) ...")
    try:
        measured = run(quick, workdir, customers)
    except Exception as exc:  # its failure must not lose the figures measured before
        notes.append(f"bench/postgres.py failed, its figures skipped: "
                     f"{type(exc).__name__}: {exc}")
        return
    if measured is None:
        notes.append("PostgreSQL's binaries (initdb, pg_ctl) not found: its figures skipped")
        return
    figures.update(measured)


def rows(figures: dict[str, Any]) -> list[str]:
    """The table's lines, when ``figures`` hold this bench's."""
    return ["", "PostgreSQL (bench/postgres.py, fsync on):", *table(figures).splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.postgres",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s windows instead of 10 s")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orderbot-bench-pg-") as directory:
        figures = run(args.quick, Path(directory), args.customers)
    if figures is None:
        print("PostgreSQL's binaries (initdb, pg_ctl) not found: nothing measured")
        print(json.dumps({"postgres": None}))
        return
    if not args.json_only:
        print(table(figures))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
