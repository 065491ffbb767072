"""Console sign-in sessions: a random id in a cookie, everything else in the store.

Signing in with a staff or admin token (checked by the API's
:class:`~routes.staff.auth.Authenticator`) opens a session under a fresh
random id (32 bytes, URL-safe base64). The browser holds only that id, in
an ``HttpOnly``, ``SameSite=Strict`` cookie scoped to ``/console``
(``Secure`` when the request came over https, directly or as
``X-Forwarded-Proto: https`` from the TLS proxy) that the browser keeps for
12 h (``Max-Age``) from the last page it loaded (each one sets it again,
:func:`routes.console.guard.page`); the token itself is never sent back, put in
a URL or in page storage.

The sessions are **rows of the store** (:class:`~storage.console_sessions.ConsoleSessionStorage`,
on every backend), found by the SHA-256 hex digest of the id — the id
itself is never stored. So every ``serve`` instance on one PostgreSQL
database answers every console request (no sticky load balancer needed),
and a restart signs nobody out; only ``--db :memory:`` forgets them.

* **Time** is wall-clock Unix seconds from the injected clock (the
  settings' clock), which all processes share. A session idle for
  :data:`IDLE_SECONDS` (12 h) ends: it is deleted when next met, and the
  upkeep prunes the idle ones every hour (:mod:`routes.whatsapp.upkeep`).
  ``seen_at`` is written at most once per :data:`TOUCH_SECONDS` (a minute)
  per session, not on every request, so idleness is counted to within a
  minute.
* **Revocation**: a staff session keeps the hash of its token and is
  re-checked against the staff directory on every request
  (:func:`still_valid`), so ``bot.py staff revoke`` ends it at once, as it
  does for the API; a session whose principal can no longer act is deleted
  when met. An admin session keeps the admin token it signed in with bound
  to its id (HMAC-SHA256 keyed by the id: a database reader without the
  cookie cannot test guesses of the token), so changing or unsetting
  ``ORDERBOT_ADMIN_TOKEN`` ends it too.
* **CSRF**: every write must carry the session's CSRF token
  (:mod:`routes.console.guard`). It is not stored: it is derived from the
  session id, ``urlsafe_b64encode(HMAC-SHA256(key=id, msg=CSRF_LABEL))``
  without padding (43 characters), so every instance computes the same
  token, and a reader of the database — who has only the id's hash — cannot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final

from aiohttp import web

from routes.staff.auth import ADMIN, Principal
from storage.console_sessions import ConsoleSessionRecord, ConsoleSessionStorage
from storage.staff import StaffDirectory

COOKIE: Final = "orderbot_console"
COOKIE_PATH: Final = "/console"
ID_BYTES: Final = 32
IDLE_SECONDS: Final = 12 * 3600  # a shift; an idle session ends after it
TOUCH_SECONDS: Final = 60.0      # seen_at is written at most this often per session
CSRF_LABEL: Final = b"orderbot console CSRF token v1"


def _looks_like_an_id(session_id: str) -> bool:
    """Whether a cookie's value could be an id we issued (URL-safe base64, bounded):
    anything else (bytes a browser should never send, a huge value) is no session."""
    return len(session_id) <= 2 * ID_BYTES * 2 and all(
        c.isascii() and (c.isalnum() or c in "-_") for c in session_id)


def id_hash(session_id: str) -> str:
    """The SHA-256 hex digest a session is stored under (its cookie's id is never stored)."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def csrf_token(session_id: str) -> str:
    """The session's CSRF token: HMAC-SHA256 keyed by its id, URL-safe base64, no padding."""
    digest = hmac.new(session_id.encode("utf-8"), CSRF_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """One signed-in browser as one request sees it: who, which restaurant, its CSRF token.

    Built from the stored :class:`~storage.console_sessions.ConsoleSessionRecord`
    and the cookie's id; changes go through :class:`SessionBook`. ``flash``
    is the message stored for the next page when the session was read;
    ``seen_at`` the last request written (Unix seconds).
    """

    id_hash: str
    principal: Principal
    # Staff: SHA-256 of its token; admin: the token's HMAC keyed by the session id
    # (re-checked on every request).
    token_hash: str
    restaurant_id: str | None
    flash: str | None
    seen_at: float
    csrf: str = field(repr=False)

    def __repr__(self) -> str:
        return f"ConsoleSession({self.principal.name!r}, restaurant={self.restaurant_id!r})"

    @property
    def is_admin(self) -> bool:
        return self.principal.restaurant_id is None and self.principal.name == ADMIN

    def csrf_matches(self, candidate: str | None) -> bool:
        """``candidate`` is this session's CSRF token (compared in constant time)."""
        # compare_digest takes ASCII text only; a token is always ASCII.
        return (candidate is not None and candidate.isascii()
                and hmac.compare_digest(candidate, self.csrf))


def _session(record: ConsoleSessionRecord, session_id: str) -> ConsoleSession:
    return ConsoleSession(record.id_hash,
                          Principal(record.principal_name, record.principal_restaurant_id),
                          record.token_hash, record.restaurant_id, record.flash,
                          record.seen_at, csrf_token(session_id))


class SessionBook:
    """The console's sessions in ``store``, on ``clock`` (Unix seconds); see the module docstring.

    Holds nothing itself: any number of books, in any processes, on one
    database see the same sessions.
    """

    def __init__(self, store: ConsoleSessionStorage, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    async def open(self, principal: Principal,
                   token_hash: str | Callable[[str], str]
                   ) -> tuple[str, ConsoleSession]:
        """A new session, stored; returns the id to put in the cookie (stored only as a hash).

        ``token_hash`` is the staff token's hash, or (the admin) a function of
        the new session's id giving the admin token's binding to it.
        """
        session_id = secrets.token_urlsafe(ID_BYTES)
        if callable(token_hash):
            token_hash = token_hash(session_id)
        now = self._clock()
        record = ConsoleSessionRecord(id_hash(session_id), principal.name,
                                      principal.restaurant_id, token_hash,
                                      principal.restaurant_id, None, now, now)
        await self._store.open_console_session(record)
        return session_id, _session(record, session_id)

    async def find(self, session_id: str | None) -> ConsoleSession | None:
        """The stored session of this cookie id; one idle too long is deleted and ``None``.

        Records this request as the session's last when the stored one is a
        minute old or more.
        """
        if not session_id or not _looks_like_an_id(session_id):
            return None
        key = id_hash(session_id)
        record = await self._store.console_session(key)
        if record is None:
            return None
        now = self._clock()
        if now - record.seen_at > IDLE_SECONDS:
            await self._store.close_console_session(key)
            return None
        session = _session(record, session_id)
        if now - record.seen_at >= TOUCH_SECONDS:
            if not await self._store.touch_console_session(key, now):
                return None  # signed out meanwhile, elsewhere
            session = replace(session, seen_at=now)
        return session

    async def close(self, session: ConsoleSession) -> None:
        """End ``session`` (sign-out, revocation) for every instance."""
        await self._store.close_console_session(session.id_hash)

    async def pick(self, session: ConsoleSession, restaurant_id: str) -> bool:
        """``session`` now looks at ``restaurant_id``; ``False`` if it has ended meanwhile."""
        return await self._store.set_console_restaurant(session.id_hash, restaurant_id)

    async def set_flash(self, session: ConsoleSession, message: str) -> None:
        """Show ``message`` once, on the session's next page."""
        await self._store.set_console_flash(session.id_hash, message)

    async def take_flash(self, session: ConsoleSession) -> str | None:
        """The message for this page, if there is one, cleared so it shows once."""
        if session.flash is None:
            return None  # nothing was stored when the session was read: no write
        return await self._store.take_console_flash(session.id_hash)


async def still_valid(session: ConsoleSession, directory: StaffDirectory, *,
                      admin_binding: str | None) -> bool:
    """Whether the session's principal may still act.

    A staff session's token must still be in ``directory`` for its
    restaurant (not revoked since sign-in); an admin session's token must
    still be the configured admin token: ``admin_binding`` is the token's
    binding to this session's id (:meth:`~routes.staff.auth.Authenticator.admin_binding`),
    ``None`` when no admin token is set.
    """
    if session.is_admin:
        return admin_binding is not None and session.token_hash.isascii() \
            and hmac.compare_digest(session.token_hash, admin_binding)
    member = await directory.staff_by_token_hash(session.token_hash)
    return member is not None and member.restaurant_id == session.principal.restaurant_id \
        and member.name == session.principal.name


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
