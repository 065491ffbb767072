"""Closed-loop webhook blasts: the same generator for the ceiling and for ingest.

Debian's ``wrk`` with ``webhook.lua`` when it is installed, else an aiohttp
client in its own process (``python -m bench.blast``).  Either way the
generator is a separate process, holds ``connections`` keep-alive
connections, each sending its next request as soon as the previous answer
arrived, and reads its bodies from pre-signed pool files (``pool.1.txt``,
``pool.2.txt``, … one per generator thread).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from bench.processes import last_json_line, run_bounded
from bench.stats import BlastResult, percentile

LUA_SCRIPT: Final = Path(__file__).with_name("webhook.lua")
# wrk's own per-request timeout; a slower answer is an error, not a latency.
REQUEST_TIMEOUT_S: Final = 5


@dataclass(frozen=True, slots=True)
class BlastGenerator:
    """How to blast: ``wrk`` or ``aiohttp``, with ``threads`` pool files and ``connections``."""

    name: str
    threads: int
    connections: int

    def pool_path(self, directory: Path, label: str, thread: int) -> Path:
        return directory / f"{label}.{thread}.txt"

    def describe(self) -> str:
        threads = f"{self.threads} thread{'s' if self.threads > 1 else ''}"
        return f"{self.name} ({threads}, {self.connections} connections)"

    async def run(self, url: str, directory: Path, label: str, duration: float) -> BlastResult:
        """Blast ``url/webhook`` for ``duration`` seconds with the ``label`` pools."""
        pattern = str(directory / f"{label}.%d.txt")
        if self.name == "wrk":
            argv = ["wrk", f"-t{self.threads}", f"-c{self.connections}",
                    f"-d{max(1, round(duration))}s", f"--timeout={REQUEST_TIMEOUT_S}s",
                    "-s", str(LUA_SCRIPT), url, "--", pattern]
        else:
            argv = [sys.executable, "-m", "bench.blast", "--url", url, "--pool", pattern % 1,
                    "--connections", str(self.connections), "--duration", str(duration)]
        output = await run_bounded(argv, limit_s=duration + 30)
        return BlastResult.from_json(json.loads(last_json_line(output)))


def pick_generator(requested: str, threads: int, connections: int) -> BlastGenerator:
    """``wrk`` when asked for or (``auto``) installed; the aiohttp fallback otherwise."""
    if requested == "wrk" or (requested == "auto" and shutil.which("wrk")):
        return BlastGenerator("wrk", threads, connections)
    # One client process: its pool is file 1 whatever ``threads`` says.
    return BlastGenerator("aiohttp", 1, connections)


# --- the aiohttp fallback, run as its own process ---------------------------------


def read_pool(path: Path) -> list[tuple[str, bytes]]:
    pool = []
    with path.open("rb") as lines:
        for line in lines:
            sig, _, body = line.rstrip(b"\n").partition(b"\t")
            pool.append((sig.decode("ascii"), body))
    return pool


@dataclass(slots=True)
class _Cursor:
    """The next pool entry to send, shared by every connection's loop."""

    pool: list[tuple[str, bytes]]
    index: int = 0
    wrapped: int = 0

    def take(self) -> tuple[str, bytes]:
        if self.index == len(self.pool):
            self.index, self.wrapped = 0, self.wrapped + 1
        entry = self.pool[self.index]
        self.index += 1
        return entry


async def _connection_loop(http: aiohttp.ClientSession, url: str, cursor: _Cursor,
                           deadline: float, latencies: list[float], errors: list[int]) -> None:
    while time.perf_counter() < deadline:
        sig, body = cursor.take()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sig}
        started = time.perf_counter()
        try:
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                ok = response.status < 400
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            errors.append(1)


async def blast(url: str, pool: Path, connections: int, duration: float) -> BlastResult:
    """The fallback generator: ``connections`` loops over one keep-alive session."""
    cursor = _Cursor(read_pool(pool))
    latencies: list[float] = []
    errors: list[int] = []
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(*(
            _connection_loop(http, url + "/webhook", cursor, deadline, latencies, errors)
            for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return BlastResult("aiohttp", requests=len(latencies) + len(errors), ok=len(latencies),
                       errors=len(errors), duration_s=elapsed,
                       p50_ms=percentile(latencies, 0.50) * 1e3,
                       p99_ms=percentile(latencies, 0.99) * 1e3, wrapped=cursor.wrapped)


def main() -> None:
    parser = argparse.ArgumentParser(description="closed-loop webhook blast (aiohttp)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--pool", type=Path, required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    result = asyncio.run(blast(args.url, args.pool, args.connections, args.duration))
    print(json.dumps(result.to_json()))


if __name__ == "__main__":
    main()
