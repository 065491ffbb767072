"""What every command shares: usage errors, the config file, and choosing and opening the database.

Only this module picks a concrete store: a SQLite file, ``:memory:`` (benchmarks), or
PostgreSQL by URL.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Final

from fsm.config import AppConfig, Restaurant, parse_config
from storage.base import SessionStore
from storage.database_url import is_postgres_url, redact_url
from storage.lock import InstanceLock
from storage.memory import MemoryStore
from storage.sqlite import SQLiteStore

logger = logging.getLogger("orderbot")

EXIT_USAGE = 2


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit code 2."""


def load_config(path: Path) -> AppConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read config: {exc.strerror}") from exc
    return parse_config(text, source=str(path))


def database_path(config_path: Path, config: AppConfig, db: str | None) -> Path:
    """``--db`` as given, else ``storage.path`` relative to the config file."""
    if db:
        return Path(db)
    path = Path(config.storage.path)
    return path if path.is_absolute() else config_path.parent / path


MEMORY_DB: Final = ":memory:"


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL database, by URL; shown (logs, errors) without its password."""

    url: str

    def __str__(self) -> str:
        return redact_url(self.url)


def postgres_url(db: str | None, env: Mapping[str, str]) -> DatabaseUrl | None:
    """``--db`` if it is a ``postgresql://`` URL, else ``ORDERBOT_DATABASE_URL`` unless
    ``--db`` names a file; ``None``: SQLite."""
    if db:
        return DatabaseUrl(db) if is_postgres_url(db) else None
    url = env.get("ORDERBOT_DATABASE_URL")
    if not url:
        return None
    if not is_postgres_url(url):
        raise UsageError("ORDERBOT_DATABASE_URL is not a postgresql:// URL")
    return DatabaseUrl(url)


def open_store(db_path: Path | DatabaseUrl, *, create: bool = True) -> SessionStore:
    """The store at ``db_path`` (PostgreSQL by URL, else a SQLite file); ``:memory:`` keeps
    nothing (benchmarks, demos). ``create=False``: a PostgreSQL database without the
    schema is refused rather than given one (a command that only looks or adds staff)."""
    if isinstance(db_path, DatabaseUrl):
        return _postgres_store(db_path.url, create)
    if str(db_path) != MEMORY_DB:
        return SQLiteStore(db_path)
    logger.warning("--db %s: conversations, inbox and outbox live in memory only and are "
                   "LOST on exit. Never run like this in production.", MEMORY_DB)
    return MemoryStore()


def pick_restaurant(config: AppConfig, restaurant_id: str | None) -> Restaurant:
    if restaurant_id is None:
        return config.restaurants[0]
    restaurant = config.restaurant(restaurant_id)
    if restaurant is None:
        known = ", ".join(r.id for r in config.restaurants)
        raise UsageError(f"unknown restaurant {restaurant_id!r} (known: {known})")
    return restaurant


def existing_database(db_path: Path, args: argparse.Namespace, config: AppConfig) -> Path:
    """``db_path``, which must exist unless ``--create`` or it is the config's default file.

    A mistyped ``--db`` would otherwise open a new, empty database and show nothing.
    """
    if (str(db_path) == MEMORY_DB or db_path.exists() or getattr(args, "create", False)
            or db_path == database_path(args.config, config, None)):
        return db_path
    raise UsageError(f"{db_path}: no such database (check --db, or give --create to start "
                     "a new one)")


@contextlib.asynccontextmanager
async def locked_store(db_path: Path | DatabaseUrl) -> AsyncIterator[SessionStore]:
    """The store at ``db_path``, open, with a file's instance lock held throughout.

    PostgreSQL takes no lock: its guarantees are the database's (storage/postgres.py).
    """
    with contextlib.ExitStack() as held:
        if isinstance(db_path, Path) and str(db_path) != MEMORY_DB:
            held.enter_context(InstanceLock(db_path))
        async with open_store(db_path) as store:
            yield store


def postgres_backend() -> ModuleType:
    """:mod:`storage.postgres`, imported only when a ``postgresql://`` database is asked for.

    asyncpg comes with the ``postgres`` extra, which a SQLite-only install does not
    have: :class:`UsageError` says what to install.
    """
    try:
        return importlib.import_module("storage.postgres")
    except ImportError as exc:
        raise UsageError("a postgresql:// database needs the PostgreSQL driver: "
                         "pip install 'orderbot[postgres]'") from exc


def _postgres_store(url: str, create: bool) -> SessionStore:
    store: SessionStore = postgres_backend().PostgresStore(url, create=create)
    return store
