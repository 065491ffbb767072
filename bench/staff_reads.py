"""How fast does the staff API read from a long-lived restaurant's database?

    python -m bench.staff_reads --quick   # 100k messages, 10k orders, 5k conversations
    python -m bench.staff_reads           # 1M messages, 100k orders, 50k conversations

:mod:`bench.staff_db` writes the file (the product's schema, bulk-filled);
a real ``bot.py serve`` is started on it (:mod:`bench.processes`, with
``ORDERBOT_ADMIN_TOKEN`` set) and a client process (``client`` below,
aiohttp, :data:`CONNECTIONS` connections, each with one request in flight)
cycles through the API's reads for a measured window after a warm-up:

=====================  ============================================================
``orders_newest``      ``GET …/orders``: the board's first page (50)
``orders_status``      ``GET …/orders?status=S``, S taking every status in turn
``orders_deep``        ``GET …/orders?before=T``, T anywhere in the stored history
``order``              ``GET …/orders/{reference}``: one order with its history
``conversations``      ``GET …/conversations``: the newest page (a snapshot read per row)
``conversations_deep`` ``GET …/conversations?before=T``
``messages_newest``    ``GET …/conversations/{c}/messages``, any stored conversation
``messages_deep``      the same with ``before=`` an id inside one of the conversations
                       holding thousands of messages
=====================  ============================================================

Restaurants, orders and conversations are drawn at random each request.
Every answer must be ``200``. ``api_read_p99_ms`` is the worst endpoint's
p99 (target ≤ 20 ms); each endpoint's p50/p99 and count are in the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import aiohttp

from bench.loadgen import WINDOW_END, WINDOW_START
from bench.processes import (
    HOST,
    cpu_seconds,
    free_port,
    last_json_line,
    run_bounded,
    running,
    serve_argv,
    serve_env,
)
from bench.staff_db import StaffHistory, generate
from bench.stats import percentile
from fsm.order_lifecycle import OrderStatus

ADMIN_TOKEN: Final = "bench-admin-token-not-a-secret"
CONNECTIONS: Final = 4
PREFIX: Final = "/api/v1/restaurants"
ENDPOINTS: Final = ("orders_newest", "orders_status", "orders_deep", "order", "conversations",
                    "conversations_deep", "messages_newest", "messages_deep")


@dataclasses.dataclass(frozen=True, slots=True)
class Scale:
    messages: int
    orders: int
    conversations: int
    warmup_s: float
    duration_s: float


QUICK: Final = Scale(messages=100_000, orders=10_000, conversations=5_000,
                     warmup_s=1.0, duration_s=5.0)
FULL: Final = Scale(messages=1_000_000, orders=100_000, conversations=50_000,
                    warmup_s=3.0, duration_s=15.0)


def run(quick: bool, workdir: Path | None = None, connections: int = CONNECTIONS) -> dict[str, Any]:
    """Generate, serve, measure; flat figures plus ``api_reads`` (per endpoint)."""
    scale = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="orderbot-staff-reads-") as tmp:
        directory = workdir or Path(tmp)
        history = generate(directory / "staff.db", messages=scale.messages, orders=scale.orders,
                           conversations=scale.conversations)
        plan = directory / "staff-plan.json"
        plan.write_text(json.dumps(plan_of(history)))
        measured = asyncio.run(_serve_and_measure(history, plan, scale, connections,
                                                  directory / "staff-reads.log"))
    per_endpoint = measured["endpoints"]
    worst = max(per_endpoint, key=lambda name: per_endpoint[name]["p99_ms"])
    return {
        "api_read_p99_ms": per_endpoint[worst]["p99_ms"],
        "api_read_worst_endpoint": worst,
        "api_reads_per_s": measured["requests_per_s"],
        "api_read_errors": measured["errors"],
        "api_read_server_cpu": measured["server_cpu"],
        "api_read_client_cpu": measured["client_cpu"],
        "api_read_connections": connections,
        "api_read_messages": scale.messages, "api_read_orders": scale.orders,
        "api_read_conversations": scale.conversations,
        "api_read_db_mb": round(measured["db_bytes"] / 1e6),
        "api_read_db_generate_s": round(history.generated_s, 1),
        "api_reads": per_endpoint,
    }


def plan_of(history: StaffHistory) -> dict[str, Any]:
    """What the client draws its requests from (a JSON file it reads)."""
    return {"restaurants": list(history.restaurants), "customers": history.customers,
            "references": history.references,
            "long_conversations": [dataclasses.astuple(long)
                                   for long in history.long_conversations],
            "first_order_at": history.first_order_at, "last_order_at": history.last_order_at}


async def _serve_and_measure(history: StaffHistory, plan: Path, scale: Scale,
                             connections: int, log: Path) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # stop serve
    port, unused_graph = free_port(), free_port()
    env = {**serve_env(f"http://{HOST}:{unused_graph}/v23.0"), "ORDERBOT_ADMIN_TOKEN": ADMIN_TOKEN}
    async with running(serve_argv(str(history.path), port), port, log, env=env) as server:
        cpu: dict[str, float] = {}

        def on_line(line: str) -> None:
            if line in (WINDOW_START, WINDOW_END):
                cpu[line] = cpu_seconds(server.pid)

        argv = [sys.executable, "-m", "bench.staff_reads", "client", "--target", server.url,
                "--plan", str(plan), "--connections", str(connections),
                "--warmup", str(scale.warmup_s), "--duration", str(scale.duration_s)]
        output = await run_bounded(argv, scale.warmup_s + scale.duration_s + 60, on_line)
    result: dict[str, Any] = json.loads(last_json_line(output))
    result["server_cpu"] = round((cpu.get(WINDOW_END, 0.0) - cpu.get(WINDOW_START, 0.0))
                                 / scale.duration_s, 2)
    result["db_bytes"] = sum(path.stat().st_size for path in history.path.parent.glob("staff.db*"))
    return result


# The client (its own process, as every load generator of the bench)

class Requests:
    """Random requests of each endpoint, drawn from the plan."""

    def __init__(self, target: str, plan: Mapping[str, Any], rng: random.Random) -> None:
        self.target = target
        self.plan = plan
        self.rng = rng
        self.statuses = iter(self._cycle(OrderStatus.ALL))

    @staticmethod
    def _cycle(values: Sequence[str]) -> Any:
        while True:
            yield from values

    def url(self, endpoint: str) -> str:
        rng, plan = self.rng, self.plan
        rid = rng.choice(plan["restaurants"])
        base = f"{self.target}{PREFIX}/{rid}"
        first, last = plan["first_order_at"], plan["last_order_at"]
        if endpoint == "orders_newest":
            return f"{base}/orders"
        if endpoint == "orders_status":
            return f"{base}/orders?status={next(self.statuses)}"
        if endpoint == "orders_deep":
            return f"{base}/orders?before={rng.uniform(first, last):.3f}"
        if endpoint == "order":
            rid, reference = rng.choice(plan["references"])
            return f"{self.target}{PREFIX}/{rid}/orders/{reference}"
        if endpoint == "conversations":
            return f"{base}/conversations"
        if endpoint == "conversations_deep":
            return f"{base}/conversations?before={rng.uniform(first, last):.3f}"
        if endpoint == "messages_newest":
            rid, customer = rng.choice(plan["customers"])
            return f"{self.target}{PREFIX}/{rid}/conversations/{customer}/messages"
        if endpoint == "messages_deep":
            rid, customer, first_id, last_id, _ = rng.choice(plan["long_conversations"])
            before = rng.randint(first_id + 1, last_id)
            return (f"{self.target}{PREFIX}/{rid}/conversations/{customer}/messages"
                    f"?before={before}")
        raise ValueError(endpoint)


async def client(target: str, plan: Mapping[str, Any], connections: int, warmup_s: float,
                 duration_s: float) -> dict[str, Any]:
    """Each connection cycles through :data:`ENDPOINTS`; latencies inside the window count."""
    requests = Requests(target, plan, random.Random(7))
    latencies: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    cpu_started = time.process_time()
    start = time.perf_counter() + warmup_s
    end = start + duration_s

    async def connection(http: aiohttp.ClientSession, offset: int) -> None:
        turn = offset
        while time.perf_counter() < end:
            endpoint = ENDPOINTS[turn % len(ENDPOINTS)]
            turn += 1
            url = requests.url(endpoint)
            began = time.perf_counter()
            async with http.get(url, headers=headers) as response:
                await response.read()
                status = response.status
            finished = time.perf_counter()
            if status != 200:
                errors.append(f"{status} {url}")
            elif start <= began and finished < end:
                latencies[endpoint].append((finished - began) * 1000)

    async def marks() -> None:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        print(WINDOW_START, flush=True)
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        print(WINDOW_END, flush=True)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as http:
        cpu_started = time.process_time()
        await asyncio.gather(marks(), *(connection(http, n) for n in range(connections)))
    cpu_used = time.process_time() - cpu_started
    total = sum(len(values) for values in latencies.values())
    return {
        "endpoints": {name: {"p50_ms": round(percentile(values, 0.5), 2),
                             "p99_ms": round(percentile(values, 0.99), 2),
                             "max_ms": round(max(values, default=float("nan")), 2),
                             "requests": len(values)}
                      for name, values in latencies.items()},
        "requests_per_s": round(total / duration_s, 1),
        "errors": len(errors), "first_errors": errors[:5],
        "client_cpu": round(cpu_used / (warmup_s + duration_s), 2),
    }


def render(figures: Mapping[str, Any]) -> list[str]:
    """The endpoint table (also used by ``python -m bench``)."""
    rows = [f"staff API reads: {figures['api_read_messages']:,} messages, "
            f"{figures['api_read_orders']:,} orders, {figures['api_read_conversations']:,} "
            f"conversations ({figures['api_read_db_mb']} MB); {figures['api_read_connections']} "
            f"connections, {figures['api_reads_per_s']:,.0f} requests/s, serve CPU "
            f"{figures['api_read_server_cpu']:.2f} cores, client "
            f"{figures['api_read_client_cpu']:.2f}",
            f"  {'endpoint':<20} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'requests':>9}"]
    for name, point in figures["api_reads"].items():
        rows.append(f"  {name:<20} {point['p50_ms']:>8.1f} {point['p99_ms']:>8.1f} "
                    f"{point['max_ms']:>8.1f} {point['requests']:>9,}")
    if figures["api_read_errors"]:
        rows.append(f"  WARNING: {figures['api_read_errors']} answers were not 200")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.staff_reads",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the database and the server log here and keep them")
    client_cmd = sub.add_parser("client", help="the load generator (started by run)")
    client_cmd.add_argument("--target", required=True)
    client_cmd.add_argument("--plan", type=Path, required=True)
    client_cmd.add_argument("--connections", type=int, default=CONNECTIONS)
    client_cmd.add_argument("--warmup", type=float, default=1.0)
    client_cmd.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.command == "client":
        result = asyncio.run(client(args.target, json.loads(args.plan.read_text()),
                                    args.connections, args.warmup, args.duration))
        print(json.dumps(result), flush=True)
        return 0
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    figures = run(args.quick, args.keep, args.connections)
    print("\n".join(render(figures)))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
