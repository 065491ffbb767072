"""Who may see a console page and make a change: the session cookie, the origin, the CSRF token.

:func:`page` wraps a ``GET`` handler: without a live session a page is
redirected to the sign-in form (``/console/data/…`` and the event stream
answer ``401``), and an admin who has not picked a restaurant is sent to
the picker. :func:`action` wraps a ``POST``: the request's ``Origin`` (or,
without one, its ``Referer``) must name this host, else ``403`` before
anything else is looked at; then the session, then the session's CSRF token
(form field ``csrf`` or header ``X-CSRF-Token``, ``403`` when wrong; derived
from the session id, :func:`~routes.console.sessions.csrf_token`). An
action answers JSON when asked for it (``Accept: application/json``, as the
page's script does) and otherwise redirects back (``303``), with the error
shown once on the next page (kept with the session in the store, so it is
shown whichever instance serves that page). Every ``/console`` response
carries a strict Content-Security-Policy (:func:`security_headers`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from routes.console.sessions import COOKIE, ConsoleSession, SessionBook, set_cookie, still_valid
from routes.staff.api import AUTHENTICATOR, SERVICE
from routes.staff.service import Conflict, Invalid, NotFound, StaffService

BOOK: Final = web.AppKey("console_sessions", SessionBook)
PREFIX: Final = "/console"
LOGIN: Final = f"{PREFIX}/login"
PICK: Final = f"{PREFIX}/restaurants"

CSP: Final = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
              "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
              "form-action 'self'; frame-ancestors 'none'")


@dataclass(frozen=True, slots=True)
class Visit:
    """A request of a signed-in console session, for the restaurant it is looking at."""

    request: web.Request
    session: ConsoleSession
    service: StaffService

    @property
    def restaurant_id(self) -> str:
        rid = self.session.restaurant_id
        if rid is None:  # pragma: no cover - the decorators send these to the picker
            raise NotFound("no restaurant picked")
        return rid

    def arg(self, name: str) -> str:
        return self.request.match_info[name]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
VisitHandler = Callable[[Visit], Awaitable[web.StreamResponse]]


def see_other(location: str) -> web.Response:
    """A ``303`` to ``location`` (returned, so that cookies can be set on it)."""
    return web.Response(status=303, headers={"Location": location})


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def same_origin(request: web.Request) -> bool:
    """The write comes from a page of this host (``Origin``, else ``Referer``)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    parts = urlsplit(source)
    return parts.scheme in ("http", "https") and bool(request.host) and \
        parts.netloc.lower() == request.host.lower()


async def current_session(request: web.Request) -> ConsoleSession | None:
    """The request's live session: its cookie's session stored, not idle too long, and its
    principal still able to act (a staff token not revoked); one that cannot is deleted."""
    if BOOK not in request.app:
        return None
    book = request.app[BOOK]
    session = await book.find(request.cookies.get(COOKIE))
    if session is None:
        return None
    # A row looking at a restaurant its principal may not act for was not written by us.
    looking_elsewhere = (session.restaurant_id is not None
                         and not session.principal.may_act_for(session.restaurant_id))
    admin_binding = request.app[AUTHENTICATOR].admin_binding(request.cookies[COOKIE])
    if looking_elsewhere or not await still_valid(session, request.app[SERVICE].store,
                                                  admin_binding=admin_binding):
        await book.close(session)
        return None
    return session


def _signed_out(request: web.Request) -> web.StreamResponse:
    if BOOK not in request.app:
        return web.Response(status=503, text="starting")
    if request.method != "GET" or request.path.startswith((f"{PREFIX}/data", f"{PREFIX}/events")):
        return web.json_response({"error": "sign in first"}, status=401)
    return see_other(LOGIN)


def page(handle: VisitHandler, *, needs_restaurant: bool = True) -> Handler:
    """A ``GET`` of a signed-in session; see the module docstring."""
    async def run(request: web.Request) -> web.StreamResponse:
        session = await current_session(request)
        if session is None:
            return _signed_out(request)
        if needs_restaurant and session.restaurant_id is None:
            return see_other(PICK)
        try:
            response = await handle(Visit(request, session, request.app[SERVICE]))
        except NotFound:
            if request.path.startswith(f"{PREFIX}/data"):
                return web.json_response({"error": "not found"}, status=404)
            return web.Response(status=404, text="Not found. Back to /console")
        # The cookie of a session in use lasts another IDLE_SECONDS from now: a
        # console in use all day is not signed out 12 h after sign-in. (A stream,
        # already sent, keeps the cookie it came with.)
        if not response.prepared:
            set_cookie(response, request, request.cookies[COOKIE])
        return response
    return run


def action(handle: Callable[[Visit, dict[str, str]], Awaitable[Any]], back: Callable[[Visit], str],
           *, needs_restaurant: bool = True) -> Handler:
    """A ``POST``: origin, session, CSRF, then ``handle(visit, form)``; see the module docstring.

    ``handle`` returns what a JSON caller gets (a dict), or a response of its own.
    """
    async def run(request: web.Request) -> web.StreamResponse:
        if not same_origin(request):
            return web.json_response({"error": "cross-origin request refused"}, status=403)
        session = await current_session(request)
        if session is None:
            return _signed_out(request)
        form = {key: str(value) for key, value in (await request.post()).items()
                if isinstance(value, str)}
        if not session.csrf_matches(request.headers.get("X-CSRF-Token") or form.get("csrf")):
            return web.json_response({"error": "missing or wrong CSRF token; reload the page"},
                                     status=403)
        if needs_restaurant and session.restaurant_id is None:
            return see_other(PICK)
        visit = Visit(request, session, request.app[SERVICE])
        try:
            result = await handle(visit, form)
        except NotFound:
            return await _failed(visit, back, 404, "not found")
        except Invalid as exc:
            return await _failed(visit, back, 400, str(exc), field=exc.field)
        except Conflict as exc:
            return await _failed(visit, back, 409, str(exc))
        if isinstance(result, web.StreamResponse):
            return result
        if wants_json(request):
            return web.json_response(result if result is not None else {"ok": True})
        return see_other(back(visit))
    return run


async def _failed(visit: Visit, back: Callable[[Visit], str], status: int, message: str,
                  **extra: str) -> web.StreamResponse:
    if wants_json(visit.request):
        return web.json_response({"error": message, **extra}, status=status)
    await visit.request.app[BOOK].set_flash(visit.session, message)
    return see_other(back(visit))


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: a strict policy on every ``/console`` response."""
    if request.path != PREFIX and not request.path.startswith(f"{PREFIX}/"):
        return
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith(f"{PREFIX}/static/"):
        response.headers.setdefault("Cache-Control", "no-store")

