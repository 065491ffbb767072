"""A real ``serve`` subprocess on a loopback port: any config, command, user and environment."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from routes.whatsapp.signature import sign
from tests.conftest import REPO
from tests.whatsapp_support import SECRET

START_SECONDS = 20.0
STOP_SECONDS = 40.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bot_command(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "bot.py"), *args]


class Serve:
    """``command`` (a ``serve`` command line) started with its output in ``log``."""

    def __init__(self, command: Sequence[str], log: Path, port: int,
                 env: dict[str, str] | None = None, cwd: Path = REPO) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        full_env = {**os.environ, "WHATSAPP_APP_SECRET": SECRET.decode(),
                    "WHATSAPP_ACCESS_TOKEN": "token-1", "WHATSAPP_VERIFY_TOKEN": "verify-1",
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        with log.open("ab") as out:
            self.process = subprocess.Popen(list(command), cwd=cwd, env=full_env, stdout=out,
                                            stderr=subprocess.STDOUT)

    async def ready(self, http: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n"
                                     f"{self.output}")
            try:
                async with http.get(f"{self.url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"serve did not answer /healthz:\n{self.output}")

    async def post(self, http: aiohttp.ClientSession, body: bytes) -> int:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, body)}
        async with http.post(f"{self.url}/webhook", data=body, headers=headers) as response:
            return response.status

    async def wait_for_log(self, text: str, count: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while self.output.count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged {count}×:\n{self.output}")
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n"
                                     f"{self.output}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, STOP_SECONDS)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")
