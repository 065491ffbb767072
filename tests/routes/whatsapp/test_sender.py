"""The outbox sender across a restart: what was pending goes before anything newer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from routes.whatsapp.client import GraphClient
from routes.whatsapp.payloads import read_receipt_payload
from routes.whatsapp.sender import OutboxSender
from storage.base import Changes, OutboxMessage, SessionKey
from storage.mail import SentMark
from storage.sqlite import SQLiteStore
from tests.fake_graph import FakeGraph

KEY = SessionKey("luigis", "447700900001")


def receipt(message_id: str) -> OutboxMessage:
    return OutboxMessage(KEY, "109876543210001", json.dumps(read_receipt_payload(message_id)),
                         kind="read")


def reply(text: str) -> OutboxMessage:
    body = {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "+447700900001", "type": "text", "text": {"body": text}}
    return OutboxMessage(KEY, "109876543210001", json.dumps(body))


async def test_a_reply_waiting_for_a_retry_before_a_restart_still_goes_first(
        tmp_path: Path) -> None:
    db = tmp_path / "orderbot.db"
    async with FakeGraph() as graph, GraphClient(graph.url, SecretStr("token")) as client:
        # The first process: reply A is rate-limited and scheduled for a retry.
        async with SQLiteStore(db) as store:
            graph.fail_next(1, 131056)
            sender = OutboxSender(store, client, time.time)
            running = asyncio.create_task(sender.run())
            await asyncio.sleep(0.1)
            sender.enqueue(KEY, await store.commit(Changes(KEY, time.time(),
                                                           outbox=[reply("A")])))
            await asyncio.sleep(0.3)
            await sender.stop()
            await running
            [row] = await store.list_outbox(KEY)
            assert (row.state, row.attempts) == ("pending", 1)

        # After the restart the customer writes again before A is due.
        async with SQLiteStore(db) as store:
            sender = OutboxSender(store, client, time.time)
            running = asyncio.create_task(sender.run())
            await asyncio.sleep(0.1)
            sender.enqueue(KEY, await store.commit(Changes(KEY, time.time(),
                                                           outbox=[reply("B")])))
            await graph.wait_for_sends(2, timeout=15)
            await sender.stop()
            await running
    assert [sent.body["text"]["body"] for sent in graph.sends] == ["A", "B"]


async def backlog_sent(tmp_path: Path, graph: FakeGraph) -> list[tuple[str, str]]:
    """Three processed messages whose receipts and replies wait from before a restart,
    then a sender started on them; the (kind, state) of every outbox row after."""
    async with (SQLiteStore(tmp_path / "orderbot.db") as store,
               GraphClient(graph.url, SecretStr("token")) as client):
        for n, text in enumerate(["A", "B", "C"]):
            await store.commit(Changes(KEY, time.time(),
                                       outbox=[receipt(f"wamid.IN{n}"), reply(text)]))
        sender = OutboxSender(store, client, time.time)
        running = asyncio.create_task(sender.run())
        await graph.wait_for_sends(3)
        await sender.stop()  # waits for the sends and receipts in flight to be recorded
        await running
        return [(row.kind, row.state) for row in await store.list_outbox(KEY)]


async def test_a_backlog_of_read_receipts_is_one_receipt_for_the_latest_message(
        tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        states = await backlog_sent(tmp_path, graph)
    # Marking a message read marks the earlier ones read: one request does for all three.
    assert [read.body["message_id"] for read in graph.reads] == ["wamid.IN2"]
    assert [sent.body["text"]["body"] for sent in graph.sends] == ["A", "B", "C"]
    assert states == [("read", "sent"), ("message", "sent")] * 3


async def test_a_failed_receipt_settles_the_ones_it_covered_and_holds_up_no_reply(
        tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        graph.fail_next_read(1, 131009)
        states = await backlog_sent(tmp_path, graph)
    # Tried once, not retried: the next message's receipt will cover them.
    assert [json.loads(raw)["message_id"] for raw in graph.arrivals
            if json.loads(raw).get("status") == "read"] == ["wamid.IN2"]
    assert [sent.body["text"]["body"] for sent in graph.sends] == ["A", "B", "C"]
    assert states == [("read", "failed"), ("message", "sent")] * 3


class SlowMarks(SQLiteStore):
    """A store whose 'sent' marks wait until ``landing`` is set (a slow disk)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.landing = asyncio.Event()
        self.writes: list[int] = []  # marks per write

    async def outbox_sent_many(self, marks: Sequence[SentMark]) -> None:
        self.writes.append(len(marks))
        await self.landing.wait()
        await super().outbox_sent_many(marks)


async def test_a_customers_next_reply_does_not_wait_for_the_last_ones_mark(
        tmp_path: Path) -> None:
    # Before: each reply waited for its "sent" mark to be durable before the
    # next was posted (an fsync between a customer's replies); now the marks
    # are written behind, many in one write, and the rows stay in flight —
    # never read as pending by a scan — until it lands.
    async with (FakeGraph() as graph, GraphClient(graph.url, SecretStr("token")) as client,
                SlowMarks(tmp_path / "orderbot.db") as store):
        sender = OutboxSender(store, client, time.time)
        running = asyncio.create_task(sender.run())
        await asyncio.sleep(0.1)
        sender.enqueue(KEY, await store.commit(Changes(
            KEY, time.time(), outbox=[receipt("wamid.in1"), *map(reply, "ABCD")])))
        sent = await graph.wait_for_sends(4, timeout=5)  # none of the marks has landed
        assert [request.body["text"]["body"] for request in sent] == list("ABCD")
        assert len(graph.reads) == 1
        sender.wake()  # a scan while every mark is still waiting posts nothing again
        await asyncio.sleep(0.3)
        assert len(graph.arrivals) == 5
        assert sum(store.writes) < 5  # five marks, fewer writes
        store.landing.set()
        await sender.stop()
        await running
        rows = await store.list_outbox(KEY)
        assert [row.state for row in rows] == ["sent"] * 5
        assert sum(store.writes) == 5 and len(graph.arrivals) == 5
