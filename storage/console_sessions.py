"""The staff console's sign-in sessions as stored: one row per signed-in browser.

The console (:mod:`routes.console.sessions`) keeps its sessions here, in the
store every ``serve`` instance shares, so any instance answers any console
request and a restart signs nobody out. A session is found by ``id_hash``,
the SHA-256 hex digest of the random id in the browser's cookie: neither
that id nor anything that would let a reader of the database act as the
session (the CSRF token is derived from the id, never stored) is kept.

* :class:`ConsoleSessionRecord` — one session as stored;
* :class:`ConsoleSessionStorage` — the role a backend implements: open one,
  find it, change what changes (its last request, the restaurant an admin
  looks at, the one-time message for the next page), close it, prune the
  idle ones.

Times are Unix seconds (``float``) of the caller's wall clock, the same in
every process. Errors as every role (:mod:`storage.roles`):
:class:`~storage.errors.StoreClosed` when the store is not open,
:class:`~storage.errors.StorageError` when the backend fails. Every method
is a coroutine safe to call from many coroutines and processes at once; a
write is durable on return and, within one process, the writes of one
session apply in call order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CONSOLE_SESSIONS_INDEX",
    "CONSOLE_SESSIONS_TABLE",
    "ConsoleSessionRecord",
    "ConsoleSessionStorage",
]

# The console sessions' table, the same in SQLite and PostgreSQL but for the
# types: ``seen_at`` is the last request (Unix seconds), ``restaurant_id`` the
# restaurant the session is looking at (an admin's changes), ``principal_*``
# who signed in (``principal_restaurant_id`` NULL for the admin), ``token_hash``
# what the token signed in with is checked against (staff: its SHA-256; admin:
# HMAC-SHA256 of the admin token keyed by the session id), ``flash`` one message
# for the next page.
CONSOLE_SESSIONS_TABLE: Final = """CREATE TABLE console_sessions (
    id_hash {key} PRIMARY KEY, principal_name {key}, principal_restaurant_id text,
    token_hash text NOT NULL, restaurant_id text, flash text, created_at {time},
    seen_at {time})"""
CONSOLE_SESSIONS_INDEX: Final = (
    "CREATE INDEX console_sessions_by_seen ON console_sessions (seen_at)"
)


@dataclass(frozen=True, slots=True)
class ConsoleSessionRecord:
    """One signed-in console browser, as stored.

    ``id_hash`` is the SHA-256 hex digest (64 characters) of the cookie's
    random id. ``principal_name`` and ``principal_restaurant_id`` say who
    signed in: a staff member of that restaurant, or the admin
    (``principal_restaurant_id`` ``None``). ``token_hash`` is what the
    token signed in with is re-checked against on every request, so that a
    revoked staff token, or a changed admin token, ends the session: a staff
    token's SHA-256 hex digest; for the admin, HMAC-SHA256 of the admin token
    keyed by the session id (hex), which the database alone cannot test
    guesses against. ``restaurant_id`` is the
    restaurant the session is looking at (``None``: an admin who has not
    picked one yet). ``flash`` is one message for the next page, or ``None``.
    ``created_at`` (sign-in) and ``seen_at`` (the last request written,
    never moving backwards) are Unix seconds.
    """

    id_hash: str
    principal_name: str
    principal_restaurant_id: str | None
    token_hash: str
    restaurant_id: str | None
    flash: str | None
    created_at: float
    seen_at: float


class ConsoleSessionStorage(ABC):
    """The console's sign-in sessions, by ``id_hash``; see the module docstring.

    The writes that change one session (:meth:`touch_console_session`,
    :meth:`set_console_restaurant`, :meth:`set_console_flash`) only change a
    session that exists: they never bring back one that was closed or
    pruned, in this process or another, and answer ``False`` for it.
    """

    @abstractmethod
    async def open_console_session(self, record: ConsoleSessionRecord) -> None:
        """Store a new session; :class:`~storage.errors.StorageError` if ``id_hash`` is taken."""

    @abstractmethod
    async def console_session(self, id_hash: str) -> ConsoleSessionRecord | None:
        """The session stored under ``id_hash`` (however long idle), or ``None``."""

    @abstractmethod
    async def touch_console_session(self, id_hash: str, seen_at: float) -> bool:
        """Record a request at ``seen_at`` (kept only if later than the stored one).

        ``True`` if the session exists.
        """

    @abstractmethod
    async def set_console_restaurant(self, id_hash: str, restaurant_id: str) -> bool:
        """The session now looks at ``restaurant_id``; ``True`` if the session exists."""

    @abstractmethod
    async def set_console_flash(self, id_hash: str, message: str | None) -> bool:
        """Keep ``message`` (``None``: none) for the session's next page; ``True`` if it exists."""

    @abstractmethod
    async def take_console_flash(self, id_hash: str) -> str | None:
        """The session's message, cleared in the same step; ``None`` if none or no session.

        Of concurrent takes, from any process, one gets the message.
        """

    @abstractmethod
    async def close_console_session(self, id_hash: str) -> bool:
        """Delete the session (sign-out, expiry, revocation); ``True`` if there was one."""

    @abstractmethod
    async def prune_console_sessions(self, seen_before: float) -> int:
        """Delete every session whose ``seen_at`` is before ``seen_before``; how many."""
