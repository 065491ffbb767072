"""``python -m bench``: how fast is orderbot, against what this machine can do at all?

    python -m bench --quick        # under a minute, no plot
    python -m bench                # the full run (a few minutes) and bench/results.png

Measures, each server in its own subprocess and each load generator in
another: the ceiling (a plain aiohttp JSON handler), webhook ingest, whole
orders end to end on a SQLite file, the relay (the same customers against
only the HTTP each message needs), whole orders in memory, an open-loop
sweep of offered load and what the message log costs the e2e rate
(``bench/log_cost.py``); then ``bench/scale.py`` when it exists, the staff
API's reads on a large history (``bench/staff_reads.py``) and PostgreSQL
against SQLite (``bench/postgres.py``; ``--no-postgres`` skips it).  Prints a table with
every figure beside its target and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

from bench import log_cost, postgres, staff_reads
from bench.blast import pick_generator
from bench.measure import (
    Knobs,
    measure_ceiling,
    measure_e2e,
    measure_ingest,
    measure_relay,
    measure_sweep,
)
from bench.processes import BenchError
from bench.profile import Profiler
from bench.report import (
    TARGETS,
    blast_figures,
    detail_rows,
    e2e_figures,
    headline_rows,
    relay_figures,
    relay_note,
    scale_rows,
    staff_rows,
    sweep_figures,
    sweep_rows,
)

FULL_SWEEP: Final = (0.1, 0.25, 0.5, 0.8, 0.9, 1.0, 1.2)
QUICK_SWEEP: Final = (0.5, 0.8)
DEFAULT_PLOT: Final = Path(__file__).with_name("results.png")

ScaleRun = Callable[[bool], Mapping[str, float | int]]


@dataclass(slots=True)
class Outcome:
    """Everything measured, and the lines that explain it."""

    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)
    scale: dict[str, float | int] = field(default_factory=dict)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="short windows, the sweep at 50%% and 80%% of max only, no plot")
    parser.add_argument("--duration", type=float, help="measured seconds per run "
                        "(default 10, quick 3)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each "
                        "measurement (default 3, quick 1)")
    parser.add_argument("--customers", type=int, default=200,
                        help="simulated customers in end-to-end runs (default 200)")
    parser.add_argument("--sweep-customers", type=int, default=1000,
                        help="customers available to the open-loop sweep's arrivals "
                             "(default 1000)")
    parser.add_argument("--connections", type=int, default=64,
                        help="connections of the ceiling and ingest blasts (default 64)")
    parser.add_argument("--threads", type=int, default=1,
                        help="wrk threads (default 1: the machine has few cores)")
    parser.add_argument("--generator", choices=["auto", "wrk", "aiohttp"], default="auto",
                        help="blast generator (default: wrk when installed)")
    parser.add_argument("--sweep", help="comma-separated fractions of the max e2e rate "
                        f"(default {','.join(map(str, FULL_SWEEP))}; quick 0.5,0.8)")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT,
                        help=f"where the full run writes its PNG (default {DEFAULT_PLOT})")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--no-scale", action="store_true", help="skip bench/scale.py")
    parser.add_argument("--no-log-cost", action="store_true",
                        help="skip the with/without message log A/B (bench/log_cost.py)")
    parser.add_argument("--log-cost-rounds", type=int, default=log_cost.ROUNDS,
                        help=f"runs of each variant in the log A/B (default {log_cost.ROUNDS})")
    parser.add_argument("--no-staff-reads", action="store_true",
                        help="skip the staff API reads on a large history "
                             "(bench/staff_reads.py)")
    parser.add_argument("--no-postgres", action="store_true",
                        help="skip PostgreSQL against SQLite (bench/postgres.py)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy serve during the ingest and both e2e windows "
                        "(figures read a little low)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir (server logs, databases, pools)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    return parser


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cancel_on_sigterm() -> None:
    """Let SIGTERM cancel the running task as Ctrl-C does.

    Python's default for SIGTERM exits without unwinding, which would leave
    every server the bench started running; cancelling runs their ``finally``.
    """
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


async def measure_all(knobs: Knobs, fractions: Sequence[float], outcome: Outcome,
                      log_cost_rounds: int = 0) -> None:
    """Every server-side measurement, in an order where each sizes the next."""
    cancel_on_sigterm()
    progress(f"ceiling: {knobs.generator.describe()} ...")
    ceiling = await measure_ceiling(knobs)
    progress(f"  {ceiling.result.rps:,.0f} requests/s; ingest ...")
    ingest = await measure_ingest(knobs, ceiling.result.rps)
    progress(f"  {ingest.result.rps:,.0f} requests/s; e2e on a SQLite file ...")
    durable = await measure_e2e(knobs, str(knobs.workdir / "e2e.db"), "e2e",
                                profile=knobs.profile_dir is not None)
    progress(f"  {durable.msgs_per_s:,.0f} msgs/s; relay (the HTTP alone) ...")
    relay = await measure_relay(knobs)
    progress(f"  {relay.msgs_per_s:,.0f} msgs/s; e2e in memory ...")
    memory = await measure_e2e(knobs, ":memory:", "e2e-memory",
                               profile=knobs.profile_dir is not None)
    progress(f"  {memory.msgs_per_s:,.0f} msgs/s; open-loop sweep at "
             f"{', '.join(f'{f:.0%}' for f in fractions)} ...")
    sweep = await measure_sweep(knobs, durable.msgs_per_s, fractions)
    outcome.figures.update(blast_figures(ceiling, ingest))
    outcome.figures.update(e2e_figures(durable, memory, ceiling.result.rps))
    outcome.figures.update(relay_figures(relay, durable, ceiling.result.rps))
    outcome.figures.update(sweep_figures(sweep, durable.msgs_per_s))
    outcome.profile = [*ingest.profile, *durable.profile, *memory.profile]
    if log_cost_rounds:
        progress(f"message log A/B: {log_cost_rounds} e2e runs with it, {log_cost_rounds} "
                 "without (ABBA) ...")
        try:
            outcome.figures.update(await log_cost.measure_log_cost(knobs, log_cost_rounds))
        except BenchError as exc:  # the figures above are kept
            outcome.notes.append(f"message log A/B failed: {exc}")


def run_scale(quick: bool, outcome: Outcome) -> None:
    """``bench.scale.run(quick)`` when that module exists; a note when it does not."""
    try:
        module = importlib.import_module("bench.scale")
    except ModuleNotFoundError as exc:
        if exc.name != "bench.scale":
            raise
        outcome.notes.append("bench/scale.py not found: scale figures skipped")
        return
    progress("scale (bench/scale.py) ...")
    run = cast(ScaleRun, module.run)
    try:
        outcome.scale = dict(run(quick))
    except Exception as exc:  # its failure must not lose the figures measured above
        outcome.notes.append(f"bench/scale.py failed, scale figures skipped: "
                             f"{type(exc).__name__}: {exc}")


def run_staff_reads(quick: bool, outcome: Outcome, workdir: Path) -> None:
    """``bench.staff_reads.run``; its failure becomes a note, the other figures stay."""
    scale = staff_reads.QUICK if quick else staff_reads.FULL
    progress(f"staff API reads ({scale.messages:,} messages, {scale.orders:,} orders) ...")
    try:
        outcome.figures.update(staff_reads.run(quick, workdir))
    except Exception as exc:
        outcome.notes.append(f"bench/staff_reads.py failed, its figures skipped: "
                             f"{type(exc).__name__}: {exc}")


def knobs_from(args: argparse.Namespace, workdir: Path) -> Knobs:
    quick = args.quick
    return Knobs(
        warmup_s=args.warmup if args.warmup is not None else (1.0 if quick else 3.0),
        duration_s=args.duration if args.duration is not None else (3.0 if quick else 10.0),
        customers=args.customers,
        sweep_customers=args.sweep_customers,
        generator=pick_generator(args.generator, args.threads, args.connections),
        workdir=workdir,
        profile_dir=args.profile,
    )


def sweep_fractions(args: argparse.Namespace) -> tuple[float, ...]:
    if args.sweep:
        return tuple(float(part) for part in args.sweep.split(","))
    return QUICK_SWEEP if args.quick else FULL_SWEEP


def print_table(outcome: Outcome, knobs: Knobs, quick: bool) -> None:
    figures = outcome.figures
    lines = [f"orderbot bench ({'quick' if quick else 'full'} run): {knobs.duration_s:g} s "
             f"measured after {knobs.warmup_s:g} s warm-up; blasts by "
             f"{knobs.generator.describe()}; {knobs.customers} customers end to end "
             f"(closed loop), {knobs.sweep_customers} in the open-loop sweep", ""]
    lines += headline_rows(figures)
    lines += relay_note(figures)
    lines += ["", *detail_rows(figures), "", "open-loop sweep (fractions of e2e_msgs_per_s):"]
    lines += sweep_rows(figures["sweep"])
    if "log_cost" in figures or "api_read_p99_ms" in figures:
        lines += ["", "staff API and message log:", *staff_rows(figures)]
    if "log_cost" in figures:
        lines += log_cost.rows(figures)
    if "api_read_p99_ms" in figures:
        lines += staff_reads.render(figures)
    if "postgres_vs_sqlite" in figures:
        lines += postgres.rows(figures)
    if outcome.scale:
        lines += ["", "scale (bench/scale.py):", *scale_rows(outcome.scale)]
    lines += [*([""] if outcome.notes else []), *outcome.notes]
    if outcome.profile:
        lines += ["", *outcome.profile]
    print("\n".join(lines), flush=True)


def json_line(outcome: Outcome, knobs: Knobs, quick: bool, wall_s: float) -> str:
    verdicts = {name: TARGETS[name].met_by(float(value))
                for name, value in {**outcome.figures, **outcome.scale}.items()
                if name in TARGETS}
    record = {**outcome.figures, **outcome.scale, "targets_met": verdicts,
              "quick": quick, "generator": knobs.generator.name,
              "connections": knobs.generator.connections, "customers": knobs.customers,
              "sweep_customers": knobs.sweep_customers,
              "duration_s": knobs.duration_s, "warmup_s": knobs.warmup_s,
              "load_avg_1m": round(os.getloadavg()[0], 2),
              "wall_s": round(wall_s, 1)}
    return json.dumps(_json_safe(record), allow_nan=False)


def _json_safe(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    """A temp dir for databases, pools and logs; removed afterwards unless ``keep``."""
    if keep:
        path = Path(tempfile.mkdtemp(prefix="orderbot-bench-"))
        progress(f"working in {path} (kept)")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="orderbot-bench-") as tmp:
        yield Path(tmp)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    load_at_start = round(os.getloadavg()[0], 2)
    if args.profile is not None:
        if not Profiler.available():
            build_parser().error("--profile needs py-spy on PATH")
        args.profile.mkdir(parents=True, exist_ok=True)
    outcome = Outcome()
    with workdir(args.keep) as tmp:
        knobs = knobs_from(args, tmp)
        try:
            asyncio.run(measure_all(knobs, sweep_fractions(args), outcome,
                                    0 if args.no_log_cost else args.log_cost_rounds))
        except BenchError as exc:
            progress(f"bench failed: {exc}")
            print(json.dumps({"error": str(exc).splitlines()[0]}))
            return 1
        except (asyncio.CancelledError, KeyboardInterrupt):
            progress("bench interrupted; every server it started was stopped")
            return 130
        outcome.figures["load_avg_1m_at_start"] = load_at_start
        if not args.no_staff_reads:
            run_staff_reads(args.quick, outcome, tmp)
        if not args.no_postgres:
            postgres.add_to(outcome.figures, outcome.notes, args.quick, tmp, args.customers)
    if not args.no_scale:
        run_scale(args.quick, outcome)
    if not (args.quick or args.no_plot):
        from bench.plot import plot_sweep

        try:
            plot_sweep(outcome.figures["sweep"], outcome.figures["e2e_msgs_per_s"],
                       TARGETS["e2e_p99_ms_at_half_max"].bound, args.plot)
            outcome.notes.append(f"plot: {args.plot}")
        except ModuleNotFoundError as exc:  # matplotlib: the figures must not be lost
            outcome.notes.append(f"no plot ({exc}): pip install -e '.[bench]'")
    if not args.json_only:
        print_table(outcome, knobs, args.quick)
    print(json_line(outcome, knobs, args.quick, time.monotonic() - started), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
