"""Reaching PostgreSQL: the URL (never logged with its password), the pool, errors, retries.

:class:`Database` owns one asyncpg pool.  Every connection it opens is set
up for the store's guarantees and for a stalled or vanished peer:

* ``synchronous_commit = on`` — a commit returns once its WAL is flushed
  (whatever the server's or database's default says);
* ``idle_in_transaction_session_timeout`` — a process that stops in the
  middle of a transaction (SIGSTOP, a hung event loop) loses its session
  and so its row and advisory locks after :data:`IDLE_IN_TRANSACTION_MS`,
  and the other instances go on;
* TCP keepalives on the server's side (``tcp_keepalives_*``), so a client
  host that vanished is noticed within about a minute rather than the
  kernel's two hours; on a unix socket they do nothing;
* ``search_path`` set to the store's schema, when it has one.

A connection goes back to the pool without asyncpg's default reset (``UNLISTEN
*; RESET ALL; CLOSE ALL; pg_advisory_unlock_all()``, a round trip per
release, nine per message processed): an open transaction is still rolled
back, and the store's pooled connections never ``LISTEN``, ``SET``, open a
cursor, or keep a session-level advisory lock past their use (the one that
takes one, :func:`storage.postgres_prune.exclusive`, closes the connection
when it cannot release it).

:meth:`Database.transaction` runs a piece of work in one transaction on one
connection and retries it, from the start, when PostgreSQL broke a deadlock
or a serialization conflict by aborting it (nothing of it was written).
Errors come back as :mod:`storage.errors`: :func:`explain` decides which.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeAlias, TypeVar

import asyncpg
import asyncpg.pool

from storage.database_url import is_postgres_url, redact_url
from storage.errors import (
    AlreadyProcessed,
    DuplicateOrderReference,
    StorageError,
    StoreClosed,
    WriteRefused,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
# What the pool lends (a proxy) or a connection of its own: either runs the store's SQL.
Connection: TypeAlias = (
    "asyncpg.pool.PoolConnectionProxy[asyncpg.Record] | asyncpg.Connection[asyncpg.Record]")

IDLE_IN_TRANSACTION_MS: Final = 30_000
COMMAND_TIMEOUT_S: Final = 60.0
RETRIES: Final = 5  # attempts of a transaction PostgreSQL aborted to break a deadlock
SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Raised by the inbox trigger (storage.postgres_schema) when a message is marked twice.
ALREADY_PROCESSED_STATE: Final = "OBPRC"
ORDER_REFERENCE_CONSTRAINT: Final = "orders_reference_unique"

SERVER_SETTINGS: Final = {
    "application_name": "orderbot",
    "synchronous_commit": "on",
    "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}


class Database:
    """One pool of connections to ``url``; ``schema`` (checked) becomes the ``search_path``."""

    def __init__(self, url: str, *, schema: str | None = None, pool_size: int = 10) -> None:
        if not is_postgres_url(url):
            raise ValueError(f"not a PostgreSQL URL: {redact_url(url)}")
        if schema is not None and not SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema {schema!r}: use lower-case letters, digits and _")
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        self._url = url
        self.safe_url = redact_url(url)
        self.schema = schema
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r}, schema={self.schema!r})"

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def connect(self) -> None:
        settings = dict(SERVER_SETTINGS)
        if self.schema is not None:
            settings["search_path"] = self.schema
        try:
            self._pool = await asyncpg.create_pool(
                self._url, min_size=1, max_size=self._pool_size, server_settings=settings,
                command_timeout=COMMAND_TIMEOUT_S, reset=_keep_session)
        except ValueError:  # asyncpg cannot read the URL (a port "abc", a bad host)
            raise StorageError(f"cannot connect to {self.safe_url}: not a valid URL") from None
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            # The URL in the message is the redacted one; asyncpg's own text names no password.
            raise StorageError(f"cannot connect to {self.safe_url}: {exc}") from None

    async def connect_one(self) -> asyncpg.Connection[asyncpg.Record]:
        """A connection of its own, outside the pool, set up like the pool's (its caller
        closes it): for ``LISTEN`` and for session-level locks."""
        settings = dict(SERVER_SETTINGS)
        if self.schema is not None:
            settings["search_path"] = self.schema
        connection: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            self._url, server_settings=settings, command_timeout=COMMAND_TIMEOUT_S)
        return connection

    async def disconnect(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreClosed(f"{self.safe_url} is not open")
        return self._pool

    async def fetch(self, what: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        """Rows of one autocommitted query (a read, or a write of one statement).

        Raises :class:`~storage.errors.StorageError` (see :func:`explain`).
        """
        pool = self.pool()
        try:
            return list(await pool.fetch(sql, *args))
        except Exception as exc:
            raise explain(what, exc) from exc

    async def transaction(self, what: str,
                          work: Callable[[Connection], Awaitable[T]]) -> T:
        """``work(connection)`` in one transaction, retried when PostgreSQL aborted it."""
        pool = self.pool()
        for attempt in range(1, RETRIES + 1):
            try:
                async with pool.acquire() as connection, connection.transaction():
                    return await work(connection)
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
                if attempt == RETRIES:
                    raise StorageError(f"{what} failed {RETRIES} times: {exc}") from exc
            except StorageError:
                raise
            except Exception as exc:
                raise explain(what, exc) from exc
        raise AssertionError("unreachable")


async def _keep_session(connection: asyncpg.Connection[asyncpg.Record]) -> None:
    """Nothing to reset on release (see the module docstring); asyncpg rolls back first."""


def refused(exc: BaseException) -> bool:
    """Whether the database refused a value or a constraint of ``exc``'s write.

    True for the :class:`StorageError` :func:`explain` made of such an error
    (the same write would be refused again); false when the server is gone,
    timed out or aborted the transaction to break a deadlock.
    """
    cause = exc.__cause__ if isinstance(exc, StorageError) else exc
    return isinstance(cause, asyncpg.IntegrityConstraintViolationError | asyncpg.DataError
                      | ValueError | OverflowError)


def explain(what: str, exc: BaseException) -> StorageError:
    """The :mod:`storage.errors` error for ``exc``, which failed ``what``.

    A duplicate order reference and a message processed twice say so; a
    constraint or a value the database cannot hold is a ``StorageError``
    saying "refused" (the same write would be refused again); anything
    else — the server gone, a timeout, a full disk — is a
    :class:`StorageError` that a retry may get past.
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, asyncpg.UniqueViolationError) and (
            exc.constraint_name == ORDER_REFERENCE_CONSTRAINT):
        return DuplicateOrderReference(f"{what}: order reference already used in its "
                                       f"restaurant ({exc.detail or exc})")
    if isinstance(exc, asyncpg.PostgresError) and exc.sqlstate == ALREADY_PROCESSED_STATE:
        return AlreadyProcessed(f"{what} failed: {exc}")
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError | asyncpg.DataError
                  | ValueError | OverflowError):
        # DataError (class 22): a NUL in text, a number out of range; ValueError:
        # a value asyncpg cannot encode for its parameter (its client-side
        # DataError, a string that is not UTF-8).
        return WriteRefused(f"{what} refused: {exc!r}")
    if isinstance(exc, asyncpg.InterfaceError) and "is closed" in str(exc):
        return StoreClosed(f"{what}: the store was closed")
    return StorageError(f"{what} failed: {exc!r}")


async def listen(database: Database, channel: str, wake: Callable[[], None], what: str,
                 retry: float = 1.0) -> None:
    """Call ``wake`` on every ``NOTIFY channel`` (and once listening); runs until cancelled.

    On a connection of its own; a lost one is opened again after ``retry``
    seconds, ``what`` naming the notifications in the warnings (the
    listener's caller polls meanwhile).
    """
    while True:
        lost = asyncio.Event()
        connection: asyncpg.Connection[asyncpg.Record] | None = None
        try:
            connection = await database.connect_one()
            connection.add_termination_listener(lambda _, lost=lost: lost.set())
            await connection.add_listener(channel, lambda *_: wake())
            wake()  # what arrived while not listening
            await lost.wait()
            logger.warning("lost the connection listening for %s; polling", what)
        except Exception as exc:  # any asyncpg or OS failure: never end the listener
            logger.warning("cannot listen for %s (%r); polling", what, exc)
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))
        await asyncio.sleep(retry)
