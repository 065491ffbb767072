"""Menu reload without a restart: SIGHUP and ``bot.py reload`` against a real ``serve``.

A customer is mid-order with a Margherita in the cart; the price changes in
config.yaml, serve is told, and the customer's next message shows the new
price. A broken file is refused with the precise error and the menu stays.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import REPO
from tests.fake_graph import FakeGraph
from tests.serve_process import Serve, bot_command, free_port
from tests.whatsapp_support import bodies_to, notification, text_message

pytestmark = pytest.mark.slow

CUSTOMER = "447700900777"
PRICE_LINE = '{id: margherita, name: Margherita, price: "9.50",'


def write_config(path: Path, margherita: str) -> None:
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    assert PRICE_LINE in text
    path.write_text(text.replace(PRICE_LINE, PRICE_LINE.replace('"9.50"', margherita)),
                    encoding="utf-8")


class Chat:
    """The customer, writing through the signed webhook and reading at the fake Graph."""

    def __init__(self, server: Serve, graph: FakeGraph, http: aiohttp.ClientSession) -> None:
        self.server, self.graph, self.http = server, graph, http
        self.ids = itertools.count()

    async def say(self, text: str) -> str:
        before = len(bodies_to(self.graph, f"+{CUSTOMER}"))
        message = text_message(CUSTOMER, f"wamid.RELOAD{next(self.ids):03d}", text,
                               sent_at=int(time.time()))
        assert await self.server.post(self.http, notification([message])) == 200
        deadline = time.monotonic() + 10
        while len(bodies_to(self.graph, f"+{CUSTOMER}")) == before:
            assert time.monotonic() < deadline, f"no reply to {text!r}:\n{self.server.output}"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the rest of this message's replies
        return "\n".join(bodies_to(self.graph, f"+{CUSTOMER}")[before:])


async def test_sighup_reloads_a_good_config_and_refuses_a_broken_one(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    write_config(config, '"9.50"')
    db = tmp_path / "orderbot.db"
    port = free_port()
    async with FakeGraph() as graph, aiohttp.ClientSession() as http:
        server = Serve(bot_command("serve", "-c", str(config), "--db", str(db), "--port",
                                   str(port)), tmp_path / "serve.log", port,
                       env={"WHATSAPP_GRAPH_URL": graph.url})
        try:
            await server.ready(http)
            chat = Chat(server, graph, http)
            await chat.say("hi")
            await chat.say("delivery")
            assert "Margherita (£9.50)" in await chat.say("margherita")

            write_config(config, '"11.00"')
            server.process.send_signal(signal.SIGHUP)
            await server.wait_for_log(f"reload: {config} loaded")
            cart = await chat.say("cart")
            assert "1 × Margherita — £11.00" in cart, cart

            write_config(config, "nine fifty")
            server.process.send_signal(signal.SIGHUP)
            await server.wait_for_log("reload refused")
            assert (f"{config}: restaurants[0].menu[0].items[0].price: expected a decimal "
                    'string such as "9.50"') in server.output
            assert server.process.poll() is None, "SIGHUP ended serve"
            cart = await chat.say("cart")
            assert "1 × Margherita — £11.00" in cart, "the running menu did not stay"

            # bot.py reload: checks the file itself first, then signals the serve.
            refused = await asyncio.to_thread(
                subprocess.run, bot_command("reload", "-c", str(config), "--db", str(db)),
                capture_output=True, text=True, timeout=30)
            assert refused.returncode == 2
            assert "restaurants[0].menu[0].items[0].price" in refused.stderr

            write_config(config, '"12.00"')
            done = await asyncio.to_thread(
                subprocess.run, bot_command("reload", "-c", str(config), "--db", str(db)),
                capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stderr
            assert f"process {server.process.pid}" in done.stdout
            await server.wait_for_log(f"reload: {config} loaded", count=2)
            # The customer goes on where they were: same cart, new price, to checkout.
            assert "1 × Margherita — £12.00" in await chat.say("cart")
            assert await chat.say("checkout")

            assert await server.terminate() == 0
            assert "Traceback" not in server.output
        finally:
            server.close()


def test_reload_without_a_running_serve_says_so(tmp_path: Path) -> None:
    db = tmp_path / "orderbot.db"
    db.touch()
    result = subprocess.run(bot_command("reload", "--db", str(db)), cwd=REPO,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "no serve is running on" in result.stderr
