"""Server subprocesses: started like production, waited for, and always stopped.

Every server (``bot.py serve``, the ceiling or the relay) runs in its own process, as
in production, so that the load generator never shares its interpreter and
event loop.  ``running`` is an async context manager: whatever happens in the
body, the process gets SIGTERM, then SIGKILL if it does not leave in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from bench.payloads import ACCESS_TOKEN, BENCH_SECRET, VERIFY_TOKEN

REPO: Final = Path(__file__).resolve().parents[1]
HOST: Final = "127.0.0.1"
STARTUP_TIMEOUT_S: Final = 30.0
# serve drains acknowledged messages on SIGTERM; after a saturating run the
# backlog could take long, and the benchmark does not need it processed.
STOP_GRACE_S: Final = 8.0
_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A run could not be carried out (a server did not start, a generator failed)."""


def free_port() -> int:
    """A port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far (Linux ``/proc``); 0 if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name may hold spaces: fields are counted after its ")".
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass(frozen=True, slots=True)
class Server:
    """A started server: its process, where it listens and where it logs."""

    process: asyncio.subprocess.Process
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def serve_argv(db: str, port: int) -> list[str]:
    """``bot.py serve`` exactly as an operator would start it."""
    return [sys.executable, str(REPO / "bot.py"), "serve", "-c", str(REPO / "config.yaml"),
            "--db", db, "--host", HOST, "--port", str(port)]


def serve_env(graph_url: str) -> dict[str, str]:
    """The environment ``serve`` reads its secrets and Graph URL from."""
    return {**os.environ, "WHATSAPP_APP_SECRET": BENCH_SECRET.decode(),
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
            "WHATSAPP_GRAPH_URL": graph_url}


def ceiling_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.ceiling", "--host", HOST, "--port", str(port)]


def relay_argv(port: int) -> list[str]:
    """``bench.relay``: it reads ``serve_env``'s variables, as ``serve`` does."""
    return [sys.executable, "-m", "bench.relay", "--host", HOST, "--port", str(port)]


@contextlib.asynccontextmanager
async def running(argv: Sequence[str], port: int, log: Path,
                  env: Mapping[str, str] | None = None) -> AsyncIterator[Server]:
    """Start ``argv``, wait for ``GET /healthz``, yield, and stop it whatever happens."""
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=REPO, env=dict(env or os.environ), stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file, stderr=log_file)
    server = Server(process, f"http://{HOST}:{port}", log)
    try:
        await wait_healthy(server)
        yield server
    finally:
        await stop(process)


async def wait_healthy(server: Server) -> None:
    """Poll ``/healthz`` until 200; fail early, with the log's tail, if the process exits."""
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_S
    async with aiohttp.ClientSession() as http:
        while asyncio.get_running_loop().time() < deadline:
            if server.process.returncode is not None:
                raise BenchError(f"server exited with {server.process.returncode} before "
                                 f"it was healthy:\n{log_tail(server.log)}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(server.url + "/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise BenchError(f"server not healthy within {STARTUP_TIMEOUT_S:.0f} s:\n"
                     f"{log_tail(server.log)}")


async def stop(process: asyncio.subprocess.Process, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns once the process is gone."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def run_bounded(argv: Sequence[str], limit_s: float,
                      on_line: Callable[[str], None] | None = None) -> str:
    """Run a generator to completion within ``limit_s`` seconds; its stdout.

    ``on_line`` sees each stdout line as it comes (a generator announces its
    measuring window that way).  Past the bound the generator is killed and
    the run reported, so no run of the benchmark can hang.
    """
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=REPO, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    try:
        lines, stderr, _ = await asyncio.wait_for(asyncio.gather(
            _read_lines(process.stdout, on_line), process.stderr.read(), process.wait()),
            limit_s)
    except TimeoutError:
        raise BenchError(f"{argv[0]} did not finish within {limit_s:.0f} s") from None
    finally:
        await stop(process, grace=2.0)
    if process.returncode != 0:
        raise BenchError(f"{' '.join(argv[:3])}… exited with {process.returncode}:\n"
                         f"{stderr.decode(errors='replace')[-2000:]}")
    return "".join(lines)


async def _read_lines(stream: asyncio.StreamReader,
                      on_line: Callable[[str], None] | None) -> list[str]:
    lines = []
    async for raw in stream:
        line = raw.decode(errors="replace")
        lines.append(line)
        if on_line is not None:
            on_line(line.rstrip("\n"))
    return lines


def last_json_line(output: str) -> str:
    """The last line of a generator's output that holds its JSON result."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return line
    raise BenchError(f"no JSON result in the generator's output:\n{output[-2000:]}")


def log_tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
