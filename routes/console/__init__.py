"""The staff console: a live web page at ``/console`` on the same ``serve``.

Server-rendered with Jinja2 (autoescaping on) from ``templates/``, with one
plain script and one stylesheet from ``static/`` (no build step, nothing
loaded from another host, a strict Content-Security-Policy). Staff sign in
with their token (:mod:`.sessions`, kept in the store so any instance
serves any request; :mod:`.actions`); every change goes
through the same :class:`~routes.staff.service.StaffService` as the JSON API
and every page follows the restaurant's live events. Modules: :mod:`.guard`
(session, origin and CSRF checks, headers), :mod:`.pages` (the ``GET`` pages
and their JSON), :mod:`.actions` (the ``POST`` writes), :mod:`.present`
(what is shown, as data).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from routes.console import actions, pages
from routes.console.guard import BOOK, PREFIX, security_headers
from routes.console.sessions import SessionBook
from routes.staff.api import SERVICE

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"


def add_console(app: web.Application) -> None:
    """Mount ``/console`` (its templates, static files, pages and writes) on ``app``."""
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined)
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": True}
    app.cleanup_ctx.append(_sessions)
    app.on_response_prepare.append(security_headers)
    router = app.router
    router.add_static(f"{PREFIX}/static", STATIC, name="console-static", append_version=True)
    router.add_get(PREFIX, pages.board)
    router.add_get(f"{PREFIX}/login", pages.login_page)
    router.add_post(f"{PREFIX}/login", actions.sign_in)
    router.add_post(f"{PREFIX}/logout", actions.sign_out)
    router.add_get(f"{PREFIX}/restaurants", pages.pick_page)
    router.add_post(f"{PREFIX}/restaurants", actions.pick)
    router.add_get(f"{PREFIX}/orders/{{reference}}", pages.order_page)
    router.add_post(f"{PREFIX}/orders/{{reference}}/status", actions.move)
    router.add_get(f"{PREFIX}/conversations", pages.conversations_page)
    thread = f"{PREFIX}/conversations/{{customer}}"
    router.add_get(thread, pages.thread_page)
    router.add_post(f"{thread}/takeover", actions.take_over)
    router.add_post(f"{thread}/handback", actions.hand_back)
    router.add_post(f"{thread}/read", actions.mark_read)
    router.add_post(f"{thread}/messages", actions.reply)
    router.add_get(f"{PREFIX}/controls", pages.controls_page)
    router.add_post(f"{PREFIX}/controls/bot", actions.set_bot)
    router.add_post(f"{PREFIX}/controls/items/{{item_id}}", actions.set_item)
    router.add_get(f"{PREFIX}/events", pages.events)
    router.add_get(f"{PREFIX}/data/orders/{{reference}}", pages.order_data)
    router.add_get(f"{PREFIX}/data/conversations", pages.conversations_data)
    router.add_get(f"{PREFIX}/data/conversations/{{customer}}", pages.thread_data)


async def _sessions(app: web.Application) -> AsyncIterator[None]:
    """The sessions' book, on the store and clock of the staff service.

    A cleanup context added after the app's own (routes.app), so the store is
    open and the service made by then; until it runs, console requests get
    ``503 starting``.
    """
    service = app[SERVICE]
    app[BOOK] = SessionBook(service.store, service.clock)
    yield
