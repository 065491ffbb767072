"""Issue 11: bad days against the real app — a full disk, a refused snapshot, a locked
database, a rejected access token. No duplicate reply, no wedged customer, no 5xx for long."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from pydantic import SecretBytes, SecretStr

from fsm.config import AppConfig
from routes.app import STORE, create_app
from routes.conversation.dispatcher import FAILURE_REPLY
from routes.settings import Settings
from storage.base import Changes, OutboxRecord, SessionStore
from storage.errors import SnapshotTooLarge, StorageError
from storage.mail import SentMark
from storage.sqlite import SQLiteStore
from tests.conftest import REPO
from tests.fake_graph import FakeGraph
from tests.whatsapp_support import (
    SECRET,
    Client,
    ClientFactory,
    FixtureDayClock,
    bodies_to,
    notification,
    post,
    settle,
    text_message,
)


async def serve(aiohttp_client: ClientFactory, config: AppConfig, graph: FakeGraph,
                clock: FixtureDayClock, open_store: Callable[[], SessionStore],
                token: str = "token-1") -> Client:
    settings = Settings(config=config, app_secret=SecretBytes(SECRET),
                        verify_token=SecretStr("verify-me"), access_token=SecretStr(token),
                        graph_url=graph.url, clock=clock)
    return await aiohttp_client(create_app(settings, open_store))


async def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.05)


def hi(customer: str, n: int = 0) -> bytes:
    return notification([text_message(customer, f"wamid.{customer}.{n}", "hi")])


class DiskFullOnMarks(SQLiteStore):
    """Marking a reply sent fails like a full disk the first ``failures`` times."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures
        self.marks_tried = 0

    async def outbox_sent_many(self, marks: Sequence[SentMark]) -> None:
        self.marks_tried += 1
        if self.failures > 0 and any(mark.wamid is not None for mark in marks):  # a reply
            self.failures -= 1
            raise StorageError("marking outbox sent failed: database or disk is full")
        await super().outbox_sent_many(marks)


async def test_a_full_disk_while_marking_sent_never_posts_a_reply_twice(
        aiohttp_client: ClientFactory, config: AppConfig, graph: FakeGraph,
        fixture_clock: FixtureDayClock, tmp_path: Path) -> None:
    """Before: the 1-second scan re-posted every reply whose mark failed (11 times in 10 s)."""
    store = DiskFullOnMarks(tmp_path / "orderbot.db", failures=7)
    client = await serve(aiohttp_client, config, graph, fixture_clock, lambda: store)
    customers = [f"4477009{n:05d}" for n in range(2)]
    assert [await post(client, hi(customer)) for customer in customers] == [200] * 2
    await wait_until(lambda: store.failures == 0, 15, "the disk filled up and emptied again")
    # The marks are written together, so the failures came one write at a time:
    # the last retry waits out the longest backoff (5 s) before it lands.
    for _ in range(100):
        rows = await client.app[STORE].list_outbox()
        if rows and all(row.state == "sent" for row in rows):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # a scan or two after the disk came back
    await settle(client)
    rows = await client.app[STORE].list_outbox()
    assert rows and all(row.state == "sent" for row in rows)
    duplicates = {raw: n for raw, n in Counter(graph.arrivals).items() if n > 1}
    assert duplicates == {}, f"{sum(duplicates.values())} posts of {len(duplicates)} replies"
    assert len(graph.sends) == sum(row.kind != "read" for row in rows)


class RefusesSnapshots(SQLiteStore):
    """Refuses the commits of one message as too large (what a 70,000-character pin did)."""

    def __init__(self, path: Path, message_id: str) -> None:
        super().__init__(path)
        self.message_id = message_id
        self.refused = 0

    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        if changes.inbox_processed == self.message_id and changes.snapshot is not None:
            self.refused += 1
            raise SnapshotTooLarge("snapshot is 70123 bytes, the limit is 65536")
        return await super().commit(changes)


async def test_a_commit_refused_for_good_is_answered_and_the_customer_goes_on(
        aiohttp_client: ClientFactory, config: AppConfig, graph: FakeGraph,
        fixture_clock: FixtureDayClock, tmp_path: Path) -> None:
    """Before: retried for ever, the customer never answered and their later messages stuck."""
    customer = "447700900321"
    store = RefusesSnapshots(tmp_path / "orderbot.db", f"wamid.{customer}.0")
    client = await serve(aiohttp_client, config, graph, fixture_clock, lambda: store)
    assert await post(client, hi(customer, 0)) == 200
    async with asyncio.timeout(10):  # a wedged customer would never settle
        await settle(client)
    assert store.refused == 1
    assert bodies_to(graph, f"+{customer}") == [FAILURE_REPLY]
    assert await client.app[STORE].inbox_state(f"wamid.{customer}.0") == "processed"
    assert await post(client, hi(customer, 1)) == 200
    await settle(client)
    assert len(bodies_to(graph, f"+{customer}")) > 1  # the next message is answered


async def test_a_database_locked_by_another_process_is_a_503_within_the_deadline(
        client: Client, graph: FakeGraph, tmp_path: Path) -> None:
    """Before: answered after ~10 s (busy timeout, then again per unit); Meta waits ~5 s."""
    assert await post(client, hi("447700900001")) == 200  # the baseline answer to "hi"
    await settle(client)
    holder = sqlite3.connect(tmp_path / "orderbot.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        status = await post(client, hi("447700900002"))
        answered_after = time.monotonic() - started
    finally:
        await asyncio.sleep(max(0.0, 3.8 - (time.monotonic() - started)))
        holder.execute("ROLLBACK")  # within the writer's 5 s busy timeout: its batch lands
        holder.close()
    assert status == 503
    assert 2.5 < answered_after < 4.0, answered_after
    # The batch committed after the 503: processed once; Meta's retry is a duplicate.
    assert await post(client, hi("447700900002")) == 200
    await settle(client)
    assert await client.app[STORE].inbox_state("wamid.447700900002.0") == "processed"
    assert bodies_to(graph, "+447700900002") == bodies_to(graph, "+447700900001")


async def test_a_rejected_access_token_holds_the_replies_until_a_restart_with_a_good_one(
        aiohttp_client: ClientFactory, config: AppConfig, graph: FakeGraph,
        fixture_clock: FixtureDayClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """Before: every reply failed, was dropped as permanent, and /healthz stayed 200."""
    graph.required_token = "token-2"
    path = tmp_path / "orderbot.db"
    customers = ["447700900011", "447700900012"]
    client = await serve(aiohttp_client, config, graph, fixture_clock,
                         lambda: SQLiteStore(path), token="token-1")
    for n in range(2):
        for customer in customers:
            assert await post(client, hi(customer, n)) == 200
    await wait_until(lambda: graph.token_rejections > 0, 5, "Graph refused the token")
    await asyncio.sleep(0.3)
    refused = graph.token_rejections  # the posts in flight when the first 401 came
    await asyncio.sleep(1.5)  # scans come and go: nothing is posted, sent or given up on
    assert graph.token_rejections == refused <= 2 * len(customers)  # a receipt and a reply
    async with client.get("/healthz") as health:
        assert (health.status, await health.text()) == (503, "Graph rejected the access token")
    assert graph.sends == []
    rows = await client.app[STORE].list_outbox()
    assert rows and {row.state for row in rows} == {"pending"}
    loud = [r for r in caplog.records if "rejected the access token" in r.getMessage()]
    assert len(loud) == 1 and loud[0].levelno == logging.CRITICAL
    await client.close()

    # Restarted with the right token: everything goes out, in order, once.
    client = await serve(aiohttp_client, config, graph, fixture_clock,
                         lambda: SQLiteStore(path), token="token-2")
    await settle(client)
    async with client.get("/healthz") as health:
        assert health.status == 200
    rows = await client.app[STORE].list_outbox()
    assert {row.state for row in rows if row.kind != "read"} == {"sent"}
    assert Counter(graph.accepted).most_common(1)[0][1] == 1
    for customer in customers:
        expected = [row.id for row in rows if row.key.customer_id == customer
                    and row.kind != "read"]
        assert len(bodies_to(graph, f"+{customer}")) == len(expected)
    sent_order = [sent.body["to"] for sent in graph.sends]
    for customer in customers:
        texts = bodies_to(graph, f"+{customer}")
        assert texts[0].startswith("Welcome"), texts  # the first message's answer first
    assert len(sent_order) == sum(row.kind != "read" for row in rows)


def test_serve_warns_of_what_will_fail_without_the_tokens(tmp_path: Path) -> None:
    """``serve`` with the app secret but neither token: a warning naming each, at start-up.
    (Run on a port already taken, so that it stops right after the warnings.)"""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("WHATSAPP_", "ORDERBOT_"))}
        done = subprocess.run(
            [sys.executable, str(REPO / "bot.py"), "serve", "-c", str(REPO / "config.yaml"),
             "--db", str(tmp_path / "orderbot.db"), "--port", str(taken.getsockname()[1])],
            env={**env, "WHATSAPP_APP_SECRET": "s"}, capture_output=True, text=True,
            timeout=60, check=False)
    finally:
        taken.close()
    assert done.returncode != 0
    assert "WHATSAPP_VERIFY_TOKEN is not set" in done.stderr
    assert "verification of the webhook (GET /webhook) will fail" in done.stderr
    assert "WHATSAPP_ACCESS_TOKEN is not set: Graph will refuse every reply" in done.stderr
