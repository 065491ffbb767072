"""G1 across real processes: `bot.py chat` killed with SIGKILL mid-order, then restarted."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


class ChatProcess:
    """A real `python bot.py chat` with piped stdin, read line by line."""

    def __init__(self, db: Path, customer: str, restaurant: str = "luigis") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "bot.py", "chat", "--db", str(db), "--customer", customer,
             "--restaurant", restaurant],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.transcript: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def say(self, text: str, expect: str, timeout: float = 15.0) -> str:
        """Send one line and return the output up to the first line containing ``expect``."""
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self.wait_for(expect, timeout)

    def wait_for(self, expect: str, timeout: float = 15.0) -> str:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(line)
            self.transcript.append(line)
            if expect in line:
                return "".join(seen)
        raise AssertionError(f"{expect!r} not seen; output so far:\n{''.join(self.transcript)}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._pump_thread.join(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()


@pytest.fixture
def chats() -> Iterator[list[ChatProcess]]:
    started: list[ChatProcess] = []
    try:
        yield started
    finally:
        for chat in started:
            chat.close()


def start(chats: list[ChatProcess], db: Path, customer: str) -> ChatProcess:
    chat = ChatProcess(db, customer)
    chats.append(chat)
    chat.wait_for("Chatting with Luigi's Pizzeria")
    return chat


def test_sigkill_mid_order_then_restart_finds_the_cart(tmp_path: Path,
                                                       chats: list[ChatProcess]) -> None:
    db = tmp_path / "orderbot.db"
    first = start(chats, db, "447700900123")
    first.say("hi", "2. Pickup")
    first.say("1", "Pick a category")          # delivery
    first.say("pizza", "Margherita")
    first.say("calzone", "Any extras")
    first.say("burrata", "So far: Burrata")
    first.kill()  # mid add-ons: the choice so far must survive too

    second = start(chats, db, "447700900123")
    out = second.say("no extras", "Total:")
    assert "Added Calzone with Burrata (£13.50)" in out
    assert "Welcome" not in out
    second.say("checkout", "Where should we deliver")
    second.say("/location 51.507351 -0.127758 Trafalgar Sq", "How would you like to pay")
    second.kill()  # at the payment step

    third = start(chats, db, "447700900123")
    out = third.say("card", "Confirm order")
    assert "Deliver to: Trafalgar Sq" in out
    assert "Total: £16.00" in out  # 11.00 + 2.50 burrata + 2.50 delivery
    out = third.say("confirm", "is confirmed")
    assert "Total: £16.00" in out
    third.say("/quit", "you> /quit")
    assert third.process.wait(timeout=10) == 0

    listing = subprocess.run(
        [sys.executable, "bot.py", "sessions", "show", "--db", str(db),
         "--customer", "447700900123"],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=True)
    assert "state: choosing order type" in listing.stdout
    assert "cart: empty" in listing.stdout


def test_restart_command_drops_memory_and_continues(tmp_path: Path,
                                                    chats: list[ChatProcess]) -> None:
    chat = start(chats, tmp_path / "orderbot.db", "chat-user")
    chat.say("pickup", "Which branch")
    chat.say("camden", "Pickup from Camden")
    chat.say("margherita", "Total:")
    chat.say("/restart", "database reopened")
    out = chat.say("cart", "Total:")
    assert "1 × Margherita — £9.50" in out


def test_two_processes_on_one_database_continue_one_conversation(
        tmp_path: Path, chats: list[ChatProcess]) -> None:
    db = tmp_path / "orderbot.db"
    first = start(chats, db, "447700900123")
    first.say("delivery", "Pick a category")
    first.say("margherita", "Total:")
    first.say("/quit", "you> /quit")
    first.process.wait(timeout=10)
    second = start(chats, db, "447700900123")
    out = second.say("cart", "Total:")
    assert "1 × Margherita" in out
