"""The end-to-end load generator: simulated customers plus the fake Graph, in one process.

    python -m bench.loadgen --target http://127.0.0.1:8080 --graph-port 8090 \\
        --customers 200 --warmup 2 --duration 10 [--rate 150]

``--target`` may be given several times (instances of ``serve`` on one
PostgreSQL database): each POST goes to one of them picked at random, so a
customer's consecutive messages reach different instances.

Each customer POSTs a signed webhook and waits until the bot's answer to it
reaches the fake Graph API (``graph_sink``), then sends its next step.  A
message counts when its answer arrived; its latency runs from just before
the POST to that arrival, both read from this process's ``perf_counter``.

Without ``--rate`` the load is closed-loop: every customer always has one
message in flight, which finds the highest rate the bot sustains.  With
``--rate`` it is open-loop: messages arrive as a Poisson process at that
rate, each taken by an idle customer; when every customer is still waiting
for an answer the arrival is counted as skipped (the bot is saturated).

With ``--any-answer`` each customer takes any reply after its POST as the
answer to its current step (``bench.relay`` answers without a conversation).

Prints ``mark window-start`` / ``mark window-end`` as the measuring window
opens and closes (the parent samples the server's CPU then), and its result
as one JSON line last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

from bench.customers import WALKS, SimulatedCustomer
from bench.graph_sink import GraphSink
from bench.payloads import signature
from bench.stats import percentile

TURN_TIMEOUT_S: Final = 5.0
POST_RETRY_S: Final = 0.1  # Meta retries a refused delivery after a pause, too
WINDOW_START: Final = "mark window-start"
WINDOW_END: Final = "mark window-end"


@dataclass(slots=True)
class Window:
    """The measuring window, on ``perf_counter``'s clock."""

    start: float
    end: float

    def holds(self, instant: float) -> bool:
        return self.start <= instant < self.end


@dataclass(frozen=True, slots=True)
class Turn:
    """One message's times: POSTed, acknowledged (200), read receipt and answer at Graph."""

    posted: float
    acked: float
    read: float | None
    answered: float | None


@dataclass(slots=True)
class Tally:
    """Every turn, and what went wrong."""

    turns: list[Turn] = field(default_factory=list)
    post_errors: int = 0
    timeouts: int = 0
    offered: int = 0
    skipped: int = 0


class E2ELoad:
    """The customers, the Graph listener that routes answers to them, and the tally."""

    def __init__(self, target: str | list[str], customers: int, run_id: int,
                 any_answer: bool = False) -> None:
        targets = [target] if isinstance(target, str) else target
        self.urls = [url.rstrip("/") + "/webhook" for url in targets]
        self._pick = random.Random(run_id)
        self.run_id = run_id
        self._identities = 0
        self.customers = [SimulatedCustomer(self._new_wa_id(), WALKS[index % len(WALKS)],
                                            any_answer=any_answer)
                          for index in range(customers)]
        self.by_recipient = {customer.recipient: customer for customer in self.customers}
        self.by_wamid: dict[str, SimulatedCustomer] = {}
        self.tally = Tally()
        self._sequence = 0

    def _new_wa_id(self) -> str:
        self._identities += 1
        return f"44{self.run_id:03d}{self._identities:07d}"

    def on_read(self, message_id: str, at: float) -> None:
        customer = self.by_wamid.get(message_id)
        if customer is not None:
            customer.on_read(message_id, at)

    def on_reply(self, recipient: str, message: dict[str, Any], at: float) -> None:
        customer = self.by_recipient.get(recipient)
        if customer is not None:
            customer.on_reply(message, at)

    async def turn(self, http: aiohttp.ClientSession, customer: SimulatedCustomer) -> None:
        """Send the customer's next step and wait for its answer (or give up)."""
        self._sequence += 1
        wamid = f"wamid.BENCH{self.run_id:03d}x{self._sequence:010d}"
        body = customer.compose(wamid)
        answer = customer.begin(wamid)
        self.by_wamid[wamid] = customer
        posted = time.perf_counter()
        try:
            if not await self._post(http, body):
                self.tally.post_errors += 1
                await asyncio.sleep(POST_RETRY_S)
                return  # not acknowledged: no answer will come; the step is resent
            acked = time.perf_counter()
            answered: float | None = await asyncio.wait_for(answer, TURN_TIMEOUT_S)
        except TimeoutError:
            self.tally.timeouts += 1
            answered = None
        finally:
            del self.by_wamid[wamid]
        self.tally.turns.append(Turn(posted, acked, customer.read_at, answered))
        if answered is None:
            self._start_over(customer)
        else:
            customer.advance()

    async def _post(self, http: aiohttp.ClientSession, body: bytes) -> bool:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)}
        try:
            url = self.urls[0] if len(self.urls) == 1 else self._pick.choice(self.urls)
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    def _start_over(self, customer: SimulatedCustomer) -> None:
        del self.by_recipient[customer.recipient]
        customer.start_over(self._new_wa_id())
        self.by_recipient[customer.recipient] = customer


async def closed_loop(load: E2ELoad, http: aiohttp.ClientSession, until: float) -> None:
    """Every customer sends, waits for the answer, sends again, until ``until``."""
    async def walk(customer: SimulatedCustomer) -> None:
        while time.perf_counter() < until:
            await load.turn(http, customer)

    await asyncio.gather(*(walk(customer) for customer in load.customers))


async def open_loop(load: E2ELoad, http: aiohttp.ClientSession, rate: float,
                    window: Window, seed: int) -> None:
    """Poisson arrivals at ``rate`` per second until the window closes.

    An arrival behind schedule is sent at once, not dropped: the schedule,
    not the bot's speed, decides the offered load.
    """
    rng = random.Random(seed)
    idle = deque(load.customers)
    running: set[asyncio.Task[None]] = set()

    async def serve_arrival(customer: SimulatedCustomer) -> None:
        try:
            await load.turn(http, customer)
        finally:
            idle.append(customer)

    arrival = time.perf_counter()
    while arrival < window.end:
        delay = arrival - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        counted = window.holds(arrival)
        load.tally.offered += int(counted)
        if idle:
            task = asyncio.create_task(serve_arrival(idle.popleft()))
            running.add(task)
            task.add_done_callback(running.discard)
        else:
            load.tally.skipped += int(counted)
        arrival += rng.expovariate(rate)
    await asyncio.gather(*running)


async def mark_window(window: Window, cpu: dict[str, float]) -> None:
    """Announce the window's edges on stdout and note this process's CPU time at each."""
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    cpu["start"] = _own_cpu()
    print(WINDOW_START, flush=True)
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    cpu["end"] = _own_cpu()
    print(WINDOW_END, flush=True)


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def summarize(load: E2ELoad, sink: GraphSink, window: Window,
              cpu: dict[str, float], rate: float | None) -> dict[str, Any]:
    """The run's result: throughput in the window and latency of the turns posted in it.

    Besides POST -> answer, the stages: POST -> 200 (the inbox commit) and
    POST -> read receipt (processed, committed and first outbox row sent).
    """
    tally, span = load.tally, window.end - window.start
    answered = [turn for turn in tally.turns
                if turn.answered is not None and window.holds(turn.answered)]
    posted = [turn for turn in tally.turns if window.holds(turn.posted)]
    latencies = [turn.answered - turn.posted for turn in posted if turn.answered is not None]
    return {
        "customers": len(load.customers),
        "rate": rate,
        "duration_s": span,
        "messages": len(answered),
        "msgs_per_s": len(answered) / span,
        "offered_per_s": tally.offered / span if rate is not None else None,
        "skipped_arrivals": tally.skipped,
        **_latency("", latencies),
        "max_ms": max(latencies, default=float("nan")) * 1e3,
        **_latency("ack_", [turn.acked - turn.posted for turn in posted]),
        **_latency("read_", [turn.read - turn.posted for turn in posted
                             if turn.read is not None]),
        "unanswered": len(posted) - len(latencies),
        "timeouts": tally.timeouts,
        "post_errors": tally.post_errors,
        "unexpected_replies": sum(customer.unexpected for customer in load.customers),
        "graph_reads": sink.reads,
        "graph_replies": sink.replies,
        "loadgen_cpu": (cpu.get("end", 0.0) - cpu.get("start", 0.0)) / span,
    }


def _latency(prefix: str, seconds: list[float]) -> dict[str, float]:
    return {f"{prefix}p50_ms": percentile(seconds, 0.50) * 1e3,
            f"{prefix}p90_ms": percentile(seconds, 0.90) * 1e3,
            f"{prefix}p99_ms": percentile(seconds, 0.99) * 1e3}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load = E2ELoad(args.target, args.customers, args.run_id, args.any_answer)
    sink = GraphSink(load)
    await sink.start("127.0.0.1", args.graph_port)
    cpu: dict[str, float] = {}
    try:
        # One connection per waiting customer, as Meta opens several in parallel.
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            begin = time.perf_counter()
            window = Window(begin + args.warmup, begin + args.warmup + args.duration)
            marks = asyncio.create_task(mark_window(window, cpu))
            if args.rate is None:
                await closed_loop(load, http, window.end)
            else:
                await open_loop(load, http, args.rate, window, args.run_id)
            await marks
    finally:
        await sink.close()
    return summarize(load, sink, window, cpu, args.rate)


def main() -> None:
    parser = argparse.ArgumentParser(description="end-to-end customers against serve")
    parser.add_argument("--target", required=True, action="append",
                        help="serve's base URL; several: each POST goes to one at random")
    parser.add_argument("--graph-port", type=int, required=True,
                        help="port of the fake Graph API (serve's WHATSAPP_GRAPH_URL)")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, help="open-loop messages/s (default: closed loop)")
    parser.add_argument("--run-id", type=int, default=1,
                        help="distinct per run against one server: fresh customers, fresh ids")
    parser.add_argument("--any-answer", action="store_true",
                        help="any reply after a POST answers the current step (for "
                             "bench.relay, which runs no conversation)")
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
