"""GraphClient against a fake Graph on loopback: posts wait their turn in order."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import SecretStr

from routes.whatsapp.client import GraphClient
from routes.whatsapp.errors import Accepted
from tests.fake_graph import FakeGraph

NUMBER = "109876543210001"


def body(n: int) -> bytes:
    return json.dumps({"messaging_product": "whatsapp", "to": "447700900001",
                       "type": "text", "text": {"body": f"reply {n}"}}).encode()


async def test_every_customer_gets_a_connection_in_turn_while_the_pool_is_full() -> None:
    # Forty senders, each posting again as soon as its last post is answered
    # (serve's senders under load), share four connections to a Graph that
    # takes 10 ms: a fair turn is about 40 / 4 x 10 ms. aiohttp's pool lets a
    # post that finds a connection free go ahead of those already waiting, so
    # some senders starved for the whole run (serve --db :memory: had replies
    # 0.5-1 s late for it while later ones went straight out).
    waits: dict[int, list[float]] = {sender: [] for sender in range(40)}
    async with FakeGraph(latency=0.01) as graph, GraphClient(
            graph.url, SecretStr("token"), max_connections=4) as client:
        loop = asyncio.get_running_loop()
        until = loop.time() + 1.5

        async def sender(n: int) -> None:
            while loop.time() < until:
                started = loop.time()
                outcome = await client.send(NUMBER, body(n))
                assert isinstance(outcome, Accepted)
                waits[n].append(loop.time() - started)

        await asyncio.gather(*(sender(n) for n in range(40)))
    posts = sorted(len(times) for times in waits.values())
    assert posts[0] >= posts[-1] // 2, posts
    assert max(max(times) for times in waits.values()) < 0.6


async def test_at_most_max_connections_posts_are_in_flight() -> None:
    async with FakeGraph(latency=0.05) as graph, GraphClient(
            graph.url, SecretStr("token"), max_connections=3) as client:
        sends = [asyncio.create_task(client.send(NUMBER, body(n))) for n in range(7)]
        await asyncio.sleep(0.03)
        assert len(graph.arrivals) == 3
        await asyncio.gather(*sends)
    assert len(graph.arrivals) == 7


def test_a_client_needs_at_least_one_connection() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GraphClient("http://127.0.0.1:9/v23.0", SecretStr("token"), max_connections=0)
