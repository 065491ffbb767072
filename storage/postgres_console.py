"""The console's sign-in sessions on PostgreSQL: the role of :mod:`storage.console_sessions`.

Every instance on the database reads and writes the same rows, so any
instance serves any console request. Reads are single queries; each write
is one autocommitted statement, run in call order with this process's
other writes of the session (:mod:`storage.postgres_order`). The writes
that change a session are ``UPDATE``s (a session closed or pruned by
another instance is never brought back); taking the flash clears it in the
statement that reads it, with the row locked, so of concurrent takes from
any process one gets it. Pruning deletes idle sessions in chunks of
:data:`PRUNE_CHUNK` by the ``seen_at`` index; any instance may prune.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

import asyncpg

from storage.console_sessions import ConsoleSessionRecord
from storage.errors import StorageError
from storage.postgres_connect import Database

COLUMNS: Final = ("id_hash, principal_name, principal_restaurant_id, token_hash, restaurant_id,"
                  " flash, created_at, seen_at")
OPEN_CONSOLE: Final = (f"INSERT INTO console_sessions ({COLUMNS})"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
TOUCH_CONSOLE: Final = ("UPDATE console_sessions SET seen_at = greatest(seen_at, $2)"
                        " WHERE id_hash = $1 RETURNING 1")
SET_CONSOLE_RESTAURANT: Final = (
    "UPDATE console_sessions SET restaurant_id = $2 WHERE id_hash = $1 RETURNING 1")
SET_CONSOLE_FLASH: Final = "UPDATE console_sessions SET flash = $2 WHERE id_hash = $1 RETURNING 1"
# The subquery locks the row; a take waiting on another's lock then reads the
# flash that one left (NULL) and takes nothing.
TAKE_CONSOLE_FLASH: Final = """
UPDATE console_sessions AS s SET flash = NULL
FROM (SELECT id_hash, flash FROM console_sessions WHERE id_hash = $1 FOR UPDATE) AS old
WHERE s.id_hash = old.id_hash AND old.flash IS NOT NULL
RETURNING old.flash"""
CLOSE_CONSOLE: Final = "DELETE FROM console_sessions WHERE id_hash = $1 RETURNING 1"
PRUNE_CHUNK: Final = 2000
PRUNE_CONSOLE: Final = f"""
WITH gone AS (DELETE FROM console_sessions WHERE id_hash IN (
                  SELECT id_hash FROM console_sessions WHERE seen_at < $1 LIMIT {PRUNE_CHUNK})
              RETURNING 1)
SELECT count(*) FROM gone"""


class PostgresConsoleSessions:
    """ConsoleSessionStorage on PostgreSQL; ``_database`` and ``_statement`` are the store's."""

    _database: Database

    async def _statement(self, claim: Hashable, what: str, sql: str,
                         *args: object) -> list[asyncpg.Record]:
        raise NotImplementedError  # the store's: one statement, in call order per claim

    async def open_console_session(self, record: ConsoleSessionRecord) -> None:
        try:
            await self._statement(
                ("console", record.id_hash), "opening a console session", OPEN_CONSOLE,
                record.id_hash, record.principal_name, record.principal_restaurant_id,
                record.token_hash, record.restaurant_id, record.flash, record.created_at,
                record.seen_at)
        except StorageError as exc:
            if isinstance(exc.__cause__, asyncpg.UniqueViolationError):
                raise StorageError("a console session with this id is already open") from exc
            raise

    async def console_session(self, id_hash: str) -> ConsoleSessionRecord | None:
        rows = await self._database.fetch(
            "reading a console session",
            f"SELECT {COLUMNS} FROM console_sessions WHERE id_hash = $1", id_hash)
        return ConsoleSessionRecord(*rows[0]) if rows else None

    async def touch_console_session(self, id_hash: str, seen_at: float) -> bool:
        return bool(await self._statement(("console", id_hash), "touching a console session",
                                          TOUCH_CONSOLE, id_hash, seen_at))

    async def set_console_restaurant(self, id_hash: str, restaurant_id: str) -> bool:
        return bool(await self._statement(
            ("console", id_hash), "picking a console session's restaurant",
            SET_CONSOLE_RESTAURANT, id_hash, restaurant_id))

    async def set_console_flash(self, id_hash: str, message: str | None) -> bool:
        return bool(await self._statement(
            ("console", id_hash), "setting a console session's message", SET_CONSOLE_FLASH,
            id_hash, message))

    async def take_console_flash(self, id_hash: str) -> str | None:
        rows = await self._statement(("console", id_hash), "taking a console session's message",
                                     TAKE_CONSOLE_FLASH, id_hash)
        return str(rows[0][0]) if rows else None

    async def close_console_session(self, id_hash: str) -> bool:
        return bool(await self._statement(("console", id_hash), "closing a console session",
                                          CLOSE_CONSOLE, id_hash))

    async def prune_console_sessions(self, seen_before: float) -> int:
        pruned = 0
        while True:
            rows = await self._statement(("console", "prune"), "pruning console sessions",
                                         PRUNE_CONSOLE, seen_before)
            count = int(rows[0][0])
            pruned += count
            if count < PRUNE_CHUNK:
                return pruned
