"""The staff side across several `bot.py serve` processes on one PostgreSQL database.

Real processes (tests/test_instances.py's), a load balancer that is not
sticky: a console's live events come from one instance while the changes
are made through, or processed by, another.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.fake_graph import FakeGraph
from tests.routes.staff.support import ADMIN, ADMIN_TOKEN, event_of_kind
from tests.routes.staff.test_cli import bot
from tests.storage.postgres_server import PostgresServer
from tests.test_instances import deliver, instances, postgres  # noqa: F401 - a fixture
from tests.whatsapp_support import notification, text_message

pytestmark = pytest.mark.slow

EVENTS = "/api/v1/restaurants/luigis/events"
SWITCH = "/api/v1/restaurants/luigis/bot"
CUSTOMER = "447700800999"


async def test_a_console_on_one_instance_sees_what_the_others_commit(
        postgres: PostgresServer, tmp_path: Path,  # noqa: F811 - the fixture
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERBOT_ADMIN_TOKEN", ADMIN_TOKEN)
    url = await postgres.new_database("staff")
    async with FakeGraph() as graph, aiohttp.ClientSession() as http, \
            instances(url, graph, http, 2, tmp_path) as (watched, other):
        async with http.get(f"{watched.url}{EVENTS}", headers=ADMIN) as stream:
            assert stream.status == 200
            # A customer writes through the other instance; whichever claims it,
            # the watched instance's client hears of it.
            body = notification([text_message(CUSTOMER, "wamid.staff-1", "hi")])
            await deliver(lambda: other, http, body)
            assert (await event_of_kind(stream, "message.created")).data == {
                "customer": CUSTOMER}
            # A colleague turns the bot off on the other instance.
            async with http.put(f"{other.url}{SWITCH}", json={"enabled": False},
                                headers=ADMIN) as response:
                assert response.status == 200
            off = await event_of_kind(stream, "controls.updated")
            assert off.data["bot_enabled"] is False and off.id is not None
        # On again while this console is away; it reconnects through the other
        # instance, which gives it what it missed rather than a reset.
        async with http.put(f"{other.url}{SWITCH}", json={"enabled": True},
                            headers=ADMIN) as response:
            assert response.status == 200
        async with http.get(f"{other.url}{EVENTS}",
                            headers={**ADMIN, "Last-Event-ID": off.id}) as stream:
            missed = await event_of_kind(stream, "controls.updated")
        assert missed.data["bot_enabled"] is True


async def test_staff_tokens_and_orders_from_the_command_line_on_postgresql(
        postgres: PostgresServer, tmp_path: Path,  # noqa: F811 - the fixture
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Several instances share the database while they run: staff tokens are
    # made and revoked there, beside them, and a token works on any instance.
    url = await postgres.new_database("cli")
    monkeypatch.setenv("ORDERBOT_DATABASE_URL", url)
    run = bot
    # A database without the schema (a URL naming the wrong one) is refused, not given
    # one; a URL asyncpg cannot read is a one-line error too.
    for wrong in (await postgres.new_database("empty"),
                  url.replace("postgresql://postgres@", "postgresql://postgres@localhost:abc")):
        monkeypatch.setenv("ORDERBOT_DATABASE_URL", wrong)
        refused = run("staff", "add", "--restaurant", "luigis", "--name", "Pia")
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert ("holds no orderbot schema" in refused.stderr
                or "not a valid URL" in refused.stderr), refused.stderr
    empty = await asyncpg.connect(await postgres.new_database("empty2"))
    try:
        monkeypatch.setenv("ORDERBOT_DATABASE_URL", postgres.database_url("empty2"))
        assert run("orders", "list").returncode == 2
        assert await empty.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = "
                                    "'public'") == 0
    finally:
        await empty.close()
    monkeypatch.setenv("ORDERBOT_DATABASE_URL", url)
    assert run("db", "migrate").returncode == 0
    added = run("staff", "add", "--restaurant", "luigis", "--name", "Pia")
    assert added.returncode == 0, added.stderr
    token = added.stdout.splitlines()[0]
    assert "Pia" in run("staff", "list", "--restaurant", "luigis").stdout
    async with FakeGraph() as graph, aiohttp.ClientSession() as http, \
            instances(url, graph, http, 2, tmp_path) as serving:
        for instance in serving:
            async with http.get(f"{instance.url}/api/v1/restaurants/luigis/orders",
                                headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == 200
        assert run("orders", "list").returncode == 0
        moved = run("orders", "move", "LU-NONE", "PREPARING", "--restaurant", "luigis")
        assert moved.returncode == 2 and "--url http://HOST:PORT" in moved.stderr
        assert run("staff", "revoke", "--restaurant", "luigis", "--name", "Pia").returncode == 0
        async with http.get(f"{serving[1].url}/api/v1/restaurants/luigis/orders",
                            headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 401
