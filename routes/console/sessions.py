"""Console sign-in sessions: a random id in a cookie, everything else on the server.

Signing in with a staff or admin token (checked by the API's
:class:`~routes.staff.auth.Authenticator`) creates a :class:`ConsoleSession`
under a fresh random id. The browser holds only that id, in an ``HttpOnly``,
``SameSite=Strict`` cookie scoped to ``/console`` (``Secure`` when the request
came over https, directly or as ``X-Forwarded-Proto: https`` from the TLS
proxy); the token itself is never sent back, put in a URL or in page storage.

The sessions are kept **in this process's memory**, looked up by the SHA-256
of the id: a restart of ``serve`` signs everyone out (they sign in again),
and they are not shared between processes — fine for the one ``serve`` per
database that runs today. A staff session keeps the hash of its token and is
re-checked against the store on every request, so ``bot.py staff revoke``
ends it at once, as it does for the API. Each session has a random CSRF
token that every write must carry (:mod:`routes.console.guard`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from routes.staff.auth import ADMIN, Principal
from storage.staff import StaffDirectory

COOKIE: Final = "orderbot_console"
COOKIE_PATH: Final = "/console"
IDLE_SECONDS: Final = 12 * 3600  # a shift; an idle session ends after it
MAX_SESSIONS: Final = 10_000     # the oldest are dropped beyond this


@dataclass(slots=True)
class ConsoleSession:
    """One signed-in browser: who, which restaurant it is looking at, its CSRF token."""

    principal: Principal
    token_hash: str | None  # a staff token's hash (re-checked each request); None for the admin
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    restaurant_id: str | None = None
    flash: str | None = None  # one message for the next page (an error of a form post)
    seen_at: float = 0.0

    def __post_init__(self) -> None:
        if self.restaurant_id is None:
            self.restaurant_id = self.principal.restaurant_id

    def __repr__(self) -> str:
        return f"ConsoleSession({self.principal.name!r}, restaurant={self.restaurant_id!r})"

    @property
    def is_admin(self) -> bool:
        return self.principal.restaurant_id is None and self.principal.name == ADMIN

    def csrf_matches(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(),
                                                             self.csrf.encode())

    def take_flash(self) -> str | None:
        message, self.flash = self.flash, None
        return message


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SessionBook:
    """The signed-in console sessions of this process, by the hash of their cookie id."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions: dict[str, ConsoleSession] = {}
        self._clock = clock

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, principal: Principal, token_hash: str | None) -> tuple[str, ConsoleSession]:
        """A new session; returns the id to put in the cookie (kept here only as a hash)."""
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.pop(next(iter(self._sessions)))
        session_id = secrets.token_urlsafe(32)
        session = ConsoleSession(principal, token_hash, seen_at=self._clock())
        self._sessions[_key(session_id)] = session
        return session_id, session

    def find(self, session_id: str | None) -> ConsoleSession | None:
        """The live session of this cookie id; an idle-expired one is dropped."""
        if not session_id:
            return None
        key = _key(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock()
        if now - session.seen_at > IDLE_SECONDS:
            del self._sessions[key]
            return None
        session.seen_at = now
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(_key(session_id), None)


async def still_valid(session: ConsoleSession, directory: StaffDirectory) -> bool:
    """A staff session's token has not been revoked since sign-in (the admin's cannot be)."""
    if session.token_hash is None:
        return True
    member = await directory.staff_by_token_hash(session.token_hash)
    return member is not None and member.restaurant_id == session.principal.restaurant_id


def came_over_https(request: web.Request) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


def set_cookie(response: web.StreamResponse, request: web.Request, session_id: str) -> None:
    response.set_cookie(COOKIE, session_id, path=COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=came_over_https(request), max_age=IDLE_SECONDS)


def clear_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.set_cookie(COOKIE, "", path=COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=came_over_https(request), max_age=0,
                        expires="Thu, 01 Jan 1970 00:00:00 GMT")
