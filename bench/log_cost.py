"""What the message log costs the end-to-end rate: the product against a build without it.

    python -m bench.log_cost [--quick] [--rounds 2]

The same closed-loop e2e run as ``python -m bench`` (the same customers,
warm-up and window: :func:`bench.measure.run_customers`), alternately
against

* **with**: ``bot.py serve``, the product, which writes every message to the
  log (``messages``) and updates the conversation's staff record
  (``conversations``) in each commit, and
* **without**: :mod:`bench.serve_without_log`, the same serve whose store
  drops those two parts of each commit,

each run a fresh server on a fresh SQLite file, in ABBA order
(with, without, without, with, …) so a drift of the machine weighs on both.

``log_cost = 1 - rate_with / rate_without``: the fraction of the rate the
bot would have without the log that logging takes away (0.10 = the log
costs 10% of the throughput; target ≤ 0.10).  Rates are each variant's
mean over its runs; ``log_cost_rounds`` gives it per round (one run of each)
as the spread.  ``log_cpu_cost`` is the same for ``serve``'s CPU time per
answered message (``1 - cpu_without / cpu_with``), steadier when a
neighbour takes part of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from bench.blast import pick_generator
from bench.measure import E2EPhase, Knobs, run_customers
from bench.processes import HOST, free_port, running, serve_argv, serve_env

VARIANTS: Final = ("with", "without")
ROUNDS: Final = 2


def without_log_argv(db: str, port: int) -> list[str]:
    """:func:`bench.processes.serve_argv` with the bench-only build in place of ``bot.py``."""
    product = serve_argv(db, port)
    return [product[0], "-m", "bench.serve_without_log", *product[2:]]


async def one_run(knobs: Knobs, variant: str, label: str) -> E2EPhase:
    graph_port, port = free_port(), free_port()
    db = str(knobs.workdir / f"{label}.db")
    argv = serve_argv(db, port) if variant == "with" else without_log_argv(db, port)
    async with running(argv, port, knobs.workdir / f"{label}.log",
                       env=serve_env(f"http://{HOST}:{graph_port}/v23.0")) as server:
        return await run_customers(server, graph_port, knobs, customers=knobs.customers,
                                   run_id=1, rate=None)


async def measure_log_cost(knobs: Knobs, rounds: int = ROUNDS) -> dict[str, Any]:
    """``rounds`` runs of each variant, alternating in ABBA order."""
    phases: dict[str, list[E2EPhase]] = {variant: [] for variant in VARIANTS}
    for round_index in range(rounds):
        order = VARIANTS if round_index % 2 == 0 else VARIANTS[::-1]
        for variant in order:
            phases[variant].append(
                await one_run(knobs, variant, f"log-cost-{variant}-{round_index + 1}"))
    return log_cost_figures(phases["with"], phases["without"])


def log_cost_figures(with_log: Sequence[E2EPhase],
                     without_log: Sequence[E2EPhase]) -> dict[str, Any]:
    rates = {"with": [phase.msgs_per_s for phase in with_log],
             "without": [phase.msgs_per_s for phase in without_log]}
    cpu = {"with": [_cpu_us(phase) for phase in with_log],
           "without": [_cpu_us(phase) for phase in without_log]}
    mean_with, mean_without = statistics.fmean(rates["with"]), statistics.fmean(rates["without"])
    cpu_with, cpu_without = statistics.fmean(cpu["with"]), statistics.fmean(cpu["without"])
    return {
        "log_cost": round(1 - mean_with / mean_without, 3) if mean_without else math.nan,
        "log_cost_rounds": [round(1 - a / b, 3) if b else math.nan
                            for a, b in zip(rates["with"], rates["without"], strict=True)],
        "log_cpu_cost": round(1 - cpu_without / cpu_with, 3) if cpu_with else math.nan,
        "log_with_msgs_per_s": [round(rate, 1) for rate in rates["with"]],
        "log_without_msgs_per_s": [round(rate, 1) for rate in rates["without"]],
        "log_with_cpu_us_per_msg": [round(value, 1) for value in cpu["with"]],
        "log_without_cpu_us_per_msg": [round(value, 1) for value in cpu["without"]],
        "log_unanswered": sum(int(phase["unanswered"]) + int(phase["post_errors"])
                              for phase in (*with_log, *without_log)),
    }


def _cpu_us(phase: E2EPhase) -> float:
    """``serve``'s CPU (all threads) per answered message in the window, in µs."""
    return phase.server_cpu / phase.msgs_per_s * 1e6 if phase.msgs_per_s else math.nan


def rows(figures: dict[str, Any]) -> list[str]:
    """Lines for ``python -m bench``'s table."""
    def listed(values: Sequence[float], unit: str = "") -> str:
        return ", ".join(f"{value:,.0f}{unit}" for value in values)

    return [
        f"message log (ABBA, {len(figures['log_with_msgs_per_s'])} runs each): with "
        f"{listed(figures['log_with_msgs_per_s'])} msgs/s, without "
        f"{listed(figures['log_without_msgs_per_s'])} msgs/s; serve CPU per message with "
        f"{listed(figures['log_with_cpu_us_per_msg'], ' µs')}, without "
        f"{listed(figures['log_without_cpu_us_per_msg'], ' µs')}",
        f"  per round: log_cost {', '.join(f'{value:.3f}' for value in figures['log_cost_rounds'])}"
        f"; CPU per message: log_cpu_cost {figures['log_cpu_cost']:.3f}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.log_cost",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s warm-up, 3 s windows")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the databases and server logs here and keep them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="orderbot-log-cost-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        knobs = Knobs(warmup_s=1.0 if args.quick else 3.0,
                      duration_s=3.0 if args.quick else 10.0, customers=args.customers,
                      sweep_customers=0, generator=pick_generator("auto", 1, 64),
                      workdir=workdir)
        figures = asyncio.run(measure_log_cost(knobs, args.rounds))
    print("\n".join(rows(figures)))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
