"""Database URLs, read without any driver: is it PostgreSQL, and how to show it safely.

Kept apart from :mod:`storage.postgres_connect` so that the command line can
tell a ``postgresql://`` URL from a file path, and log it, without importing
asyncpg (the ``postgres`` extra), which a SQLite-only install does not have.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

URL_SCHEMES: Final = ("postgresql", "postgres")


def is_postgres_url(value: str) -> bool:
    """Whether ``value`` names a PostgreSQL database (``postgresql://…`` or ``postgres://…``)."""
    return value.split("://", 1)[0].lower() in URL_SCHEMES and "://" in value


def redact_url(url: str) -> str:
    """``url`` without its password (in the user part or a ``password=`` parameter)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            netloc = f"{user.split(':', 1)[0]}@{host}"
        query = urlencode([(name, "***" if name.lower() == "password" else value)
                           for name, value in parse_qsl(parts.query, keep_blank_values=True)],
                          safe="/")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "postgresql://(unreadable URL)"
