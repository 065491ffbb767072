"""Authenticating Meta's webhook calls: the POST signature and the GET verify token.

Both checks compare bytes with ``hmac.compare_digest``: given a ``str`` with
non-ASCII characters it raises ``TypeError``, which an attacker could turn
into a 500 (Meta: webhooks, "Payload"). Nothing here raises on what a caller sent.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from typing import Final

PREFIX: Final = "sha256="
_HEX_DIGITS: Final = frozenset(b"0123456789abcdefABCDEF")
_DIGEST_HEX_LENGTH: Final = 64


class SignatureCheck(enum.Enum):
    """Outcome of checking ``X-Hub-Signature-256``: answer 401 on MISSING, 403 on INVALID."""

    OK = "ok"
    MISSING = "missing"
    INVALID = "invalid"


def sign(app_secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``: ``sha256=<lowercase hex>``."""
    if not app_secret:
        raise ValueError("an empty app secret signs nothing: anyone could forge it")
    return PREFIX + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def verify_signature(app_secret: bytes, body: bytes, header: str | None) -> SignatureCheck:
    """Check ``header`` against HMAC-SHA256 of the exact raw request ``body``.

    ``body`` must be the bytes as received, before any JSON parsing: Meta
    escapes non-ASCII and ``/`` in its JSON, so re-serialized bytes differ.
    An absent or empty header is MISSING. The hex digest is accepted in either
    case: Meta sends lowercase, and uppercase hex names the same MAC, so
    rejecting it would buy no security and risk refusing every delivery. An
    empty ``app_secret`` verifies nothing (fail closed).
    """
    if not header:
        return SignatureCheck.MISSING
    if not app_secret or not header.isascii():
        return SignatureCheck.INVALID
    given = header.encode("ascii")
    prefix = PREFIX.encode("ascii")
    if not given.startswith(prefix):
        return SignatureCheck.INVALID
    digest = given[len(prefix):]
    if len(digest) != _DIGEST_HEX_LENGTH or not _HEX_DIGITS.issuperset(digest):
        return SignatureCheck.INVALID
    expected = hmac.new(app_secret, body, hashlib.sha256).hexdigest().encode("ascii")
    if hmac.compare_digest(expected, digest.lower()):
        return SignatureCheck.OK
    return SignatureCheck.INVALID


def verify_token_matches(expected: str, given: str | None) -> bool:
    """Whether ``hub.verify_token`` equals the configured token, in constant time.

    An empty configured token matches nothing. Both sides are compared as
    UTF-8 bytes; ``surrogatepass`` keeps a lone surrogate (a query string
    decoded with ``surrogateescape``) from raising.
    """
    if not expected or given is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"),
                               given.encode("utf-8", "surrogatepass"))
