"""The staff console's sign-in across two `bot.py serve` processes on one PostgreSQL database.

Real processes (tests/test_instances.py's) behind a load balancer that is
not sticky: a browser signed in through one instance has its next requests
answered by the other. Its cookie is sent by hand to the instance each
request goes to, as the balancer would.
"""

from __future__ import annotations

import hashlib
import re
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest

from routes.console.sessions import COOKIE
from routes.staff.auth import hash_token, new_token
from storage.postgres import PostgresStore
from storage.staff import StaffMember
from tests.fake_graph import FakeGraph
from tests.routes.staff.support import ADMIN, ADMIN_TOKEN
from tests.storage.postgres_server import PostgresServer
from tests.test_instances import Instance, instances, postgres  # noqa: F401 - a fixture

pytestmark = pytest.mark.slow

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class Browser:
    """One browser's console session, each request sent to the instance named."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.session_id = ""

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.session_id}"} if self.session_id else {}

    async def sign_in(self, instance: Instance, token: str) -> str:
        async with self.http.post(f"{instance.url}/console/login", data={"token": token},
                                  headers={"Origin": instance.url},
                                  allow_redirects=False) as response:
            assert response.status == 303, await response.text()
            self.session_id = SimpleCookie(response.headers["Set-Cookie"])[COOKIE].value
            return response.headers["Location"]

    async def get(self, instance: Instance, path: str) -> tuple[int, str]:
        async with self.http.get(f"{instance.url}{path}", headers=self.cookie,
                                 allow_redirects=False) as response:
            return response.status, response.headers.get("Location") or await response.text()

    async def csrf(self, instance: Instance, path: str = "/console") -> str:
        status, html = await self.get(instance, path)
        assert status == 200, (status, html[:200])
        match = CSRF.search(html)
        assert match is not None
        return match[1]

    async def post(self, instance: Instance, path: str, data: dict[str, str]) -> tuple[int, str]:
        async with self.http.post(f"{instance.url}{path}", data=data,
                                  headers={**self.cookie, "Origin": instance.url},
                                  allow_redirects=False) as response:
            return response.status, response.headers.get("Location") or await response.text()


async def bot_enabled(http: aiohttp.ClientSession, instance: Instance) -> bool:
    async with http.get(f"{instance.url}/api/v1/restaurants/luigis", headers=ADMIN) as response:
        assert response.status == 200
        return bool((await response.json())["bot_enabled"])


async def test_any_instance_serves_a_console_signed_in_on_another(
        postgres: PostgresServer, tmp_path: Path,  # noqa: F811 - the fixture
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERBOT_ADMIN_TOKEN", ADMIN_TOKEN)
    url = await postgres.new_database("console")
    async with FakeGraph() as graph, \
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http, \
            instances(url, graph, http, 2, tmp_path) as (one, other):
        browser = Browser(http)
        assert await browser.sign_in(one, ADMIN_TOKEN) == "/console/restaurants"
        # The other instance knows the session, and the restaurant picked through it
        # is the one the first instance shows.
        pick_csrf = await browser.csrf(other, "/console/restaurants")
        assert await browser.post(other, "/console/restaurants",
                                  {"restaurant": "luigis", "csrf": pick_csrf}) == (303, "/console")
        status, board = await browser.get(one, "/console")
        assert status == 200 and "Luigi" in board
        csrf = await browser.csrf(one)
        assert csrf == pick_csrf  # the same token from either instance

        # A write protected by the token, drawn by one instance, posted to the other.
        assert await browser.post(other, "/console/controls/bot",
                                  {"enabled": "false", "csrf": csrf}) == (303, "/console/controls")
        assert not await bot_enabled(http, one)
        status, _ = await browser.post(other, "/console/controls/bot",
                                       {"enabled": "true", "csrf": csrf[::-1]})
        assert status == 403  # and a wrong token is refused there too
        # The error of a form post is shown on the next page, whichever instance draws it.
        assert await browser.post(one, "/console/orders/LU-NONE/status",
                                  {"status": "PREPARING", "csrf": csrf}) == (303, "/console")
        status, board = await browser.get(other, "/console")
        assert status == 200 and 'role="alert">not found</div>' in board
        status, board = await browser.get(one, "/console")
        assert status == 200 and 'role="alert" hidden></div>' in board  # shown once

        # Signing out on one instance ends the session on both.
        assert await browser.post(one, "/console/logout", {"csrf": csrf}) == (
            303, "/console/login")
        assert await browser.get(other, "/console") == (303, "/console/login")
        status, _ = await browser.post(other, "/console/controls/bot",
                                       {"enabled": "true", "csrf": csrf})
        assert status == 401
        assert not await bot_enabled(http, one)

        # A staff session ends everywhere when its token is revoked.
        token = new_token()
        async with PostgresStore(url, pool_size=1) as store:
            await store.add_staff(StaffMember("luigis", "Ana", hash_token(token), 1.0))
            ana = Browser(http)
            assert await ana.sign_in(other, token) == "/console"
            assert (await ana.get(one, "/console"))[0] == 200
            assert await store.revoke_staff("luigis", "Ana")
            assert await ana.get(one, "/console") == (303, "/console/login")
            id_hash = hashlib.sha256(ana.session_id.encode()).hexdigest()
            assert await store.console_session(id_hash) is None  # deleted when met
