"""Optional sampling profile of the ``serve`` process during a measuring window.

``python -m bench --profile DIR`` runs ``py-spy record`` (raw collapsed
stacks, every thread, non-blocking so the server is not paused) on serve
for the durable end-to-end window, and prints where the time went: by
library (the sampled leaf frame's package) and by function (inclusive).
Profiling costs the server a little CPU, so figures of a profiled run read
a little low; the run says so.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from bench.processes import stop

SAMPLE_RATE_HZ: Final = 200
# Leaf frames from these paths are charged to the named part of the stack.
_PARTS: Final = (
    ("logging/", "logging"),
    ("aiosqlite/", "sqlite (aiosqlite thread)"),
    ("sqlite3/", "sqlite (aiosqlite thread)"),
    ("transitions/", "transitions"),
    ("aiohttp/", "aiohttp"),
    ("yarl/", "aiohttp"),
    ("multidict/", "aiohttp"),
    ("asyncio/", "asyncio"),
    ("json/", "json"),
    ("msgpack/", "msgpack"),
    ("pydantic", "pydantic"),
    ("hmac.py", "hmac"),
    ("threading.py", "threads"),
    ("queue.py", "threads"),
)
_PROJECT: Final = ("fsm/", "storage/", "routes/", "bot.py")


class Profiler:
    """Starts py-spy on a pid for a fixed duration; ``finish`` waits and summarises."""

    def __init__(self, output: Path, label: str) -> None:
        self.output = output
        self.label = label
        self._process: asyncio.subprocess.Process | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("py-spy") is not None

    async def start(self, pid: int, duration: float) -> None:
        self._process = await asyncio.create_subprocess_exec(
            "py-spy", "record", "--pid", str(pid), "--duration", str(max(1, round(duration))),
            "--rate", str(SAMPLE_RATE_HZ), "--format", "raw", "--nonblocking", "--gil",
            "-o", str(self.output),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

    async def finish(self, limit_s: float = 30.0) -> list[str]:
        """Wait for py-spy (bounded), then the summary lines; none if it failed."""
        if self._process is None:
            return []
        try:
            await asyncio.wait_for(self._process.wait(), limit_s)
        except TimeoutError:
            await stop(self._process, grace=2.0)
        if not self.output.is_file():
            return [f"py-spy wrote no profile to {self.output}"]
        title = f"serve during {self.label}, stacks in {self.output}"
        return summarize(self.output.read_text().splitlines(), title)


def parse_collapsed(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """``frame;frame;… count`` lines into (frames, count) pairs."""
    stacks = []
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def part_of(frame: str) -> str:
    """The library or project module a frame ``name (path:line)`` belongs to."""
    location = frame.rpartition("(")[2]
    for marker, part in _PARTS:
        if marker in location:
            return part
    if location.startswith(_PROJECT):
        return "orderbot: " + location.partition(":")[0]
    return "other: " + location.partition(":")[0].rsplit("/", 1)[-1]


def _function(frame: str) -> str:
    return frame.rpartition(":")[0] + ")" if ":" in frame else frame


def summarize(lines: Iterable[str], title: str = "serve", top: int = 12) -> list[str]:
    """Self time by part of the stack and by function, then orderbot's inclusive time."""
    stacks = parse_collapsed(lines)
    total = sum(count for _, count in stacks)
    if not total:
        return ["profile: no samples"]
    by_part: Counter[str] = Counter()
    by_leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        by_part[part_of(frames[-1])] += count
        by_leaf[_function(frames[-1])] += count
        for function in {_function(frame) for frame in frames if _is_project(frame)}:
            inclusive[function] += count
    return [f"profile of {title} ({total} samples at {SAMPLE_RATE_HZ} Hz, all threads, "
            "idle left out):",
            *_section("self time by part of the stack", by_part, total, top),
            *_section("self time by function", by_leaf, total, top),
            *_section("inclusive time of orderbot's functions", inclusive, total, top)]


def _is_project(frame: str) -> bool:
    location = frame.rpartition("(")[2]
    return location.startswith(_PROJECT) and not location.startswith("bot.py")


def _section(title: str, counts: Counter[str], total: int, top: int) -> list[str]:
    return [f"  {title}:",
            *(f"    {count / total:6.1%}  {name}" for name, count in counts.most_common(top))]
