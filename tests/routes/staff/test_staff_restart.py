"""Staff changes survive `kill -9` of a real `serve`: statuses, takeovers, switch, sold-out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fake_graph import FakeGraph
from tests.routes.staff.support import ADMIN, ADMIN_TOKEN, DELIVERY_ORDER
from tests.test_serve_restart import Database, serving
from tests.whatsapp_support import notification, text_message

pytestmark = pytest.mark.slow

ERIN = "447700900301"  # orders
FINN = "447700900302"  # taken over


async def call(http: aiohttp.ClientSession, url: str, method: str, path: str,
               body: Any = None) -> tuple[int, Any]:
    async with http.request(method, f"{url}/api/v1{path}", json=body, headers=ADMIN) as response:
        return response.status, await response.json()


async def say(http: aiohttp.ClientSession, server: Any, db: Database, customer: str,
              text: str) -> None:
    """Post one message and wait until the server processed it (its inbox row)."""
    body = notification([text_message(customer, f"wamid.R{time.monotonic_ns()}", text,
                                       sent_at=int(time.time()))])
    assert await server.post(http, body) == 200
    await db.wait_until(f"{text!r} processed", lambda: db.inbox()[0] == 0)


async def test_staff_changes_survive_kill_9(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.setenv("ORDERBOT_ADMIN_TOKEN", ADMIN_TOKEN)
    db = Database(tmp_path / "orderbot.db")
    async with FakeGraph() as graph, aiohttp.ClientSession() as http:
        async with serving(db, graph.url, http) as server:
            for text in DELIVERY_ORDER:
                await say(http, server, db, ERIN, text)
            await say(http, server, db, FINN, "hi")
            _, listed = await call(http, server.url, "GET", "/restaurants/luigis/orders")
            [order] = listed["orders"]
            reference = order["reference"]
            path = f"/restaurants/luigis/orders/{reference}/status"
            assert (await call(http, server.url, "POST", path, {"status": "PREPARING"}))[0] == 200
            assert (await call(http, server.url, "POST",
                               f"/restaurants/luigis/conversations/{FINN}/takeover"))[0] == 200
            assert (await call(http, server.url, "PUT", "/restaurants/sakura/bot",
                               {"enabled": False}))[0] == 200
            assert (await call(http, server.url, "PUT",
                               "/restaurants/luigis/items/margherita/availability",
                               {"available": False}))[0] == 200
            server.kill()

        async with serving(db, graph.url, http) as server:
            _, shown = await call(http, server.url, "GET",
                                       f"/restaurants/luigis/orders/{reference}")
            assert shown["status"] == "PREPARING"
            assert [e["to"] for e in shown["history"]] == ["CONFIRMED", "PREPARING"]
            _, conversations = await call(http, server.url, "GET",
                                               "/restaurants/luigis/conversations")
            paused = {c["customer"]: c["bot_paused"] for c in conversations["conversations"]}
            assert paused == {ERIN: False, FINN: True}
            assert (await call(http, server.url, "GET", "/restaurants/sakura"))[1][
                "bot_enabled"] is False
            _, luigis = await call(http, server.url, "GET", "/restaurants/luigis")
            assert luigis["sold_out"] == ["margherita"]

            # Still taken over: Finn's message is logged, the bot stays quiet.
            sent = [s for s in graph.sends if s.body.get("to") == f"+{FINN}"]
            await say(http, server, db, FINN, "hello? anyone?")
            await db.wait_until("sent", db.all_processed_and_sent)
            assert [s for s in graph.sends if s.body.get("to") == f"+{FINN}"] == sent
            _, page = await call(http, server.url, "GET",
                                 f"/restaurants/luigis/conversations/{FINN}/messages")
            assert page["messages"][-1]["text"] == "hello? anyone?"
