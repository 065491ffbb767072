"""Seconds from ``python bot.py serve`` to the first ``GET /healthz`` answered 200.

The clock starts just before the process is spawned, so interpreter start,
imports, config validation, opening the database and every start-up step
of ``create_app`` (inbox pruning, recovery, the sender) are included: what
a deploy or a crash restart waits for.  Conversations are never loaded at
start-up (G1), so the figure must not depend on how many are stored.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from bench.scale_fixtures import CONFIG_PATH, REPO

POLL_INTERVAL_S: Final = 0.002
START_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthz_status(port: int) -> int | None:
    """The status of ``GET /healthz``, or ``None`` while nothing listens."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def serve_command(db: Path, port: int) -> list[str]:
    return [sys.executable, str(REPO / "bot.py"), "serve", "-c", str(CONFIG_PATH),
            "--db", str(db), "--insecure-dev", "--host", "127.0.0.1", "--port", str(port)]


def startup_seconds(db: Path) -> float:
    """Spawn ``serve`` on ``db``, wait for a 200 from ``/healthz``, stop it gracefully."""
    port = free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("WHATSAPP_")}
    # The Graph API is never reached: nothing is queued in the outbox.
    env["WHATSAPP_GRAPH_URL"] = "http://127.0.0.1:9"
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(serve_command(db, port), cwd=REPO, env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            elapsed = _wait_until_healthy(process, port, started)
        except RuntimeError as exc:
            log.seek(0)
            output = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\n--- serve output ---\n{output}") from None
        finally:
            _stop(process)
    return elapsed


def _wait_until_healthy(process: subprocess.Popen[bytes], port: int, started: float) -> float:
    while True:
        status = healthz_status(port)
        now = time.perf_counter()
        if status == 200:
            return now - started
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode} before /healthz")
        if now - started > START_TIMEOUT_S:
            raise RuntimeError(f"/healthz not 200 after {START_TIMEOUT_S:.0f} s "
                               f"(last status {status})")
        time.sleep(POLL_INTERVAL_S)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
