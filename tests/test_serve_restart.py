"""G3 and G4 across real processes: `bot.py serve` killed with SIGKILL or stopped with SIGTERM.

The server runs as a subprocess on loopback and sends to a fake Graph API in
the test process. What is checked is what the customer and the restaurant
would see: the carts, the inbox and outbox rows in the SQLite file, and the
requests that reached Graph.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from fsm.session import Session
from storage.codec import decode_snapshot
from tests.conftest import REPO
from tests.fake_graph import FakeGraph, compare_with_outbox
from tests.serve_process import Serve, bot_command, free_port
from tests.whatsapp_support import notification, text_message

pytestmark = pytest.mark.slow

STOP_SECONDS = 30.0
SETTLE_SECONDS = 60.0
CUSTOMERS = 100
STEPS = ("hi", "delivery") + ("margherita",) * 8  # each cart ends with 8 margheritas
MESSAGES = CUSTOMERS * len(STEPS)


class ServeProcess(Serve):
    """A real `python bot.py serve` on a free loopback port, its log in a file."""

    def __init__(self, db: Path, graph_url: str, log: Path) -> None:
        self.port = free_port()
        super().__init__(bot_command("serve", "--db", str(db), "--port", str(self.port)), log,
                         self.port, env={"WHATSAPP_GRAPH_URL": graph_url})


class Database:
    """Read-only views of the server's SQLite file, as an operator would query it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10) as db:
            return db.execute(sql, params).fetchall()

    def inbox(self) -> tuple[int, int]:
        """(pending, processed) inbox rows."""
        [(pending, processed)] = self.query(
            "SELECT count(*) FILTER (WHERE processed_at IS NULL),"
            " count(*) FILTER (WHERE processed_at IS NOT NULL) FROM inbox")
        return int(str(pending)), int(str(processed))

    def outbox(self, state: str | None = None) -> list[bytes]:
        rows = self.query("SELECT body FROM outbox WHERE ?1 IS NULL OR state = ?1 ORDER BY id",
                          (state,))
        return [str(body).encode() for (body,) in rows]

    def outbox_rows(self) -> list[tuple[str, str, str, bytes]]:
        """(phone_number_id, customer, kind, body) of every outbox row, in id order."""
        rows = self.query("SELECT phone_number_id, customer_id, kind, body FROM outbox"
                          " ORDER BY id")
        return [(str(number), str(customer), str(kind), str(body).encode())
                for number, customer, kind, body in rows]

    def session(self, customer_id: str, restaurant_id: str = "luigis") -> Session:
        [(blob,)] = self.query("SELECT snapshot FROM sessions WHERE restaurant_id = ?"
                               " AND customer_id = ?", (restaurant_id, customer_id))
        assert isinstance(blob, bytes)
        return Session.from_snapshot(decode_snapshot(blob))

    async def wait_until(self, done: str, check: Callable[[], bool]) -> None:
        """Poll the file: the server is another process, there is nothing to await."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline:
            if check():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting until {done}")

    def all_processed_and_sent(self) -> bool:
        return self.inbox()[0] == 0 and not self.outbox("pending")


def customer(n: int) -> str:
    return f"4477009{n:05d}"


def order_burst() -> bytes:
    """One webhook: every customer's whole walk to 8 margheritas, 1,000 messages."""
    now = int(time.time())
    messages = [text_message(customer(n), f"wamid.SERVE{step:02d}{n:05d}", text, sent_at=now)
                for step, text in enumerate(STEPS) for n in range(CUSTOMERS)]
    return notification(messages)


def assert_every_cart_exact(db: Database) -> None:
    for n in range(CUSTOMERS):
        [line] = db.session(customer(n)).cart.lines
        assert (line.item_id, line.quantity) == ("margherita", 8), customer(n)
    [(reads,)] = db.query("SELECT count(*) FROM outbox WHERE kind = 'read'")
    assert reads == MESSAGES  # one read receipt per message: processed once


@contextlib.asynccontextmanager
async def serving(db: Database, graph_url: str, http: aiohttp.ClientSession
                  ) -> AsyncIterator[ServeProcess]:
    """A started `serve` on ``db``, killed on the way out if still running."""
    server = ServeProcess(db.path, graph_url, db.path.with_name("serve.log"))
    try:
        await server.ready(http)
        yield server
    finally:
        server.close()


async def restart_until_settled(db: Database, graph_url: str,
                                http: aiohttp.ClientSession) -> str:
    """Start `serve` again, wait until every message is processed and sent; its log."""
    async with serving(db, graph_url, http) as server:
        await db.wait_until("all processed and sent", db.all_processed_and_sent)
    return server.output


def extra_sends(graph: FakeGraph, db: Database) -> Counter[bytes]:
    """What reached Graph beyond one request per outbox row; every row must be covered."""
    missing, extras = compare_with_outbox(graph, db.outbox_rows())
    assert not missing, f"{len(missing)} outbox rows never accepted by Graph"
    [(unsent,)] = db.query("SELECT count(*) FROM outbox WHERE state != 'sent'")
    assert unsent == 0
    return extras


async def test_kill_after_acknowledging_before_processing(tmp_path: Path) -> None:
    db = Database(tmp_path / "orderbot.db")
    async with FakeGraph() as graph, aiohttp.ClientSession() as http:
        async with serving(db, graph.url, http) as server:
            assert await server.post(http, order_burst()) == 200
            server.kill()
        await asyncio.sleep(0.1)  # let the fake finish requests cut by the kill
        before_kill = list(graph.arrivals)
        pending, processed = db.inbox()
        assert pending + processed == MESSAGES
        assert pending > 0, "the kill came after processing ended: nothing was tested"

        assert "recovering" in await restart_until_settled(db, graph.url, http)

    assert_every_cart_exact(db)
    extras = extra_sends(graph, db)
    # A request can only be sent twice if the first process had it in flight.
    assert not extras - Counter(before_kill)


async def test_kill_after_committing_before_sending(tmp_path: Path) -> None:
    db = Database(tmp_path / "orderbot.db")
    async with FakeGraph(latency=60) as stuck, FakeGraph() as graph, \
            aiohttp.ClientSession() as http:
        async with serving(db, stuck.url, http) as server:
            assert await server.post(http, order_burst()) == 200
            await db.wait_until("all processed", lambda: db.inbox() == (0, MESSAGES))
            # Every reply is committed; Graph holds each customer's first request.
            in_flight = list(stuck.arrivals)
            assert 0 < len(in_flight) <= CUSTOMERS
            assert len(db.outbox("pending")) == len(db.outbox())
            server.kill()

        await restart_until_settled(db, graph.url, http)

    assert_every_cart_exact(db)
    assert not extra_sends(graph, db), "a reply was sent twice after restart"
    # So the only requests Graph saw twice are the ones in flight at the kill.
    assert not Counter(in_flight) - Counter(db.outbox())
    assert set(stuck.arrivals) == set(in_flight)
    for n in (0, 57, 99):
        replies = [json.loads(body) for body in graph.arrivals
                   if json.loads(body).get("to") == f"+{customer(n)}"]
        assert "Margherita" in json.dumps(replies[-1])


async def test_sigterm_finishes_what_is_in_progress_and_leaves_the_rest_durable(
        tmp_path: Path) -> None:
    db = Database(tmp_path / "orderbot.db")
    async with FakeGraph() as graph, aiohttp.ClientSession() as http:
        async with serving(db, graph.url, http) as server:
            assert await server.post(http, order_burst()) == 200
            assert await server.terminate() == 0, server.output
        pending, processed = db.inbox()
        assert pending + processed == MESSAGES, server.output
        assert processed > 0
        # What was being processed finished: no commit cut short by the store closing.
        assert "Traceback" not in server.output and " ERROR " not in server.output

        # The next start processes what waited and sends every reply.
        await restart_until_settled(db, graph.url, http)
    assert_every_cart_exact(db)
    assert not extra_sends(graph, db)


async def test_a_second_process_on_the_same_database_is_refused(tmp_path: Path) -> None:
    db = Database(tmp_path / "orderbot.db")
    async with FakeGraph() as graph, aiohttp.ClientSession() as http:
        async with serving(db, graph.url, http) as server:
            second = ServeProcess(db.path, graph.url, tmp_path / "second.log")
            assert await asyncio.to_thread(second.process.wait, STOP_SECONDS) == 2
            assert "is in use by orderbot process" in second.output
            chat = await asyncio.to_thread(
                subprocess.run, [sys.executable, "bot.py", "chat", "--db", str(db.path)],
                cwd=REPO, input="hi\n", capture_output=True, text=True, timeout=STOP_SECONDS)
            assert chat.returncode == 2
            assert "is in use by orderbot process" in chat.stderr
            server.kill()  # the kernel drops the lock with the process
        async with serving(db, graph.url, http):
            pass  # starts: /healthz answered
