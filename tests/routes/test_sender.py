"""The outbox sender across a restart: what was pending goes before anything newer."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from routes.sender import OutboxSender
from storage.base import Changes, OutboxMessage, SessionKey
from storage.sqlite import SQLiteStore
from tests.fake_graph import FakeGraph

KEY = SessionKey("luigis", "447700900001")


def reply(text: str) -> OutboxMessage:
    body = {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "+447700900001", "type": "text", "text": {"body": text}}
    return OutboxMessage(KEY, "109876543210001", json.dumps(body))


async def test_a_reply_waiting_for_a_retry_before_a_restart_still_goes_first(
        tmp_path: Path) -> None:
    db = tmp_path / "orderbot.db"
    async with FakeGraph() as graph, aiohttp.ClientSession() as http:
        # The first process: reply A is rate-limited and scheduled for a retry.
        async with SQLiteStore(db) as store:
            graph.fail_next(1, 131056)
            sender = OutboxSender(store, http, graph.url, "token", time.time)
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
            sender = OutboxSender(store, http, graph.url, "token", time.time)
            running = asyncio.create_task(sender.run())
            await asyncio.sleep(0.1)
            sender.enqueue(KEY, await store.commit(Changes(KEY, time.time(),
                                                           outbox=[reply("B")])))
            await graph.wait_for_sends(2, timeout=15)
            await sender.stop()
            await running
    assert [sent.body["text"]["body"] for sent in graph.sends] == ["A", "B"]
