"""Who is asking: ``Authorization: Bearer <token>`` read as the admin or one restaurant's staff.

``ORDERBOT_ADMIN_TOKEN`` may act for every restaurant; a staff token (made
by ``bot.py staff add``) for its own restaurant only. Staff tokens are
stored as SHA-256 hex digests, never as themselves, and the admin token is
compared in constant time. Nothing here logs a token or shows one in a
``repr``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from pydantic import SecretStr

from storage.staff import StaffDirectory

ADMIN: Final = "admin"
TOKEN_BYTES: Final = 32
BEARER: Final = "bearer "


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: ``name`` (a staff name, or ``"admin"``) and its restaurant.

    ``restaurant_id`` is ``None`` for the admin, who may act for all of them.
    """

    name: str
    restaurant_id: str | None

    def may_act_for(self, restaurant_id: str) -> bool:
        return self.restaurant_id is None or self.restaurant_id == restaurant_id


def new_token() -> str:
    """A fresh random staff token (shown once, then only its hash is kept)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest a staff token is stored and looked up as."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if authorization is None or authorization[:len(BEARER)].lower() != BEARER:
        return None
    token = authorization[len(BEARER):].strip()
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8 (kept as surrogates): no token
        return None
    return token or None


class Authenticator:
    """Turns a request's ``Authorization`` header into a :class:`Principal`, or ``None``."""

    def __init__(self, admin_token: SecretStr | None, directory: StaffDirectory) -> None:
        secret = None if admin_token is None else admin_token.get_secret_value()
        self._admin: bytes | None = secret.encode("utf-8") if secret else None
        self._directory = directory

    def __repr__(self) -> str:
        return f"Authenticator(admin_token={'set' if self._admin else 'unset'})"

    def admin_binding(self, session_id: str) -> str | None:
        """What a console session signed in with the admin token keeps, to end when the
        token changes: HMAC-SHA256 of the token keyed by the session's id (hex), so the
        database holds nothing a weak admin token could be guessed from offline without
        the cookie. ``None`` when no admin token is set."""
        if self._admin is None:
            return None
        return hmac.new(session_id.encode("ascii"), self._admin, hashlib.sha256).hexdigest()

    async def principal(self, authorization: str | None) -> Principal | None:
        """Who the header names; ``None`` when it is missing or matches no token."""
        token = bearer_token(authorization)
        if token is None:
            return None
        if self._admin is not None and hmac.compare_digest(token.encode("utf-8"), self._admin):
            return Principal(ADMIN, None)
        member = await self._directory.staff_by_token_hash(hash_token(token))
        if member is None:
            return None
        return Principal(member.name, member.restaurant_id)
