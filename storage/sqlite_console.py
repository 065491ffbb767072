"""The console's sign-in sessions in the SQLite file: the role of :mod:`storage.console_sessions`.

Reads go through the read connection. Each write of one session is a
:class:`~storage.sqlite_writer.Unit` of the group commit, claiming that
session (so its writes never share a batch and apply in call order) and
looking its row up inside the transaction: whether it exists, and its
flash, are decided there. The statements are :data:`CONSOLE_STATEMENTS`,
in :data:`storage.sqlite_schema.STATEMENT_ORDER`. Pruning deletes idle
sessions in chunks (:data:`PRUNE_CHUNK` rows per autocommitted statement,
by the ``seen_at`` index) between batches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from storage.console_sessions import ConsoleSessionRecord
from storage.errors import StorageError
from storage.sqlite_statement import Operation, Params, Statement
from storage.sqlite_writer import Found, GroupCommitWriter, Unit

T = TypeVar("T")

COLUMNS: Final = ("id_hash, principal_name, principal_restaurant_id, token_hash, restaurant_id,"
                  " flash, created_at, seen_at")
# Looked up by every write: {id_hash: flash} of the sessions that exist.
LOOKUP_CONSOLE: Final = "SELECT id_hash, flash FROM console_sessions WHERE id_hash IN ({marks})"

OPEN_CONSOLE: Final = Statement(
    f"INSERT INTO console_sessions ({COLUMNS}) VALUES ", "(?, ?, ?, ?, ?, ?, ?, ?)")
TOUCH_CONSOLE: Final = Statement(
    "UPDATE console_sessions SET seen_at = max(seen_at, ?2) WHERE id_hash = ?1")
SET_CONSOLE_RESTAURANT: Final = Statement(
    "UPDATE console_sessions SET restaurant_id = ?2 WHERE id_hash = ?1")
SET_CONSOLE_FLASH: Final = Statement("UPDATE console_sessions SET flash = ?2 WHERE id_hash = ?1")
CLOSE_CONSOLE: Final = Statement("DELETE FROM console_sessions WHERE id_hash = ?")
# Units of one session never share a batch, so their order here does not matter.
CONSOLE_STATEMENTS: Final = (OPEN_CONSOLE, TOUCH_CONSOLE, SET_CONSOLE_RESTAURANT,
                             SET_CONSOLE_FLASH, CLOSE_CONSOLE)

PRUNE_CHUNK: Final = 2000
PRUNE_CONSOLE: Final = f"""
DELETE FROM console_sessions WHERE id_hash IN (
    SELECT id_hash FROM console_sessions WHERE seen_at < ? LIMIT {PRUNE_CHUNK})"""


class SQLiteConsoleSessions:
    """ConsoleSessionStorage on SQLite: reads by the store's ``_read``
    (:class:`~storage.sqlite_read.SQLiteReads`), writes by its writer."""

    if TYPE_CHECKING:  # declared only, so that no stand-in hides the store's, whatever the order
        async def _read(self, sql: str, params: Params) -> list[Any]: ...

    def _open_writer(self) -> GroupCommitWriter:
        raise NotImplementedError  # the store's

    async def open_console_session(self, record: ConsoleSessionRecord) -> None:
        def unless_taken(found: Found) -> None:
            sessions = found.setdefault(LOOKUP_CONSOLE, {})
            if record.id_hash in sessions:
                raise StorageError("a console session with this id is already open")
            sessions[record.id_hash] = record.flash

        await self._submit(record.id_hash, "opening a console session", [(OPEN_CONSOLE, (
            record.id_hash, record.principal_name, record.principal_restaurant_id,
            record.token_hash, record.restaurant_id, record.flash, record.created_at,
            record.seen_at))], unless_taken)

    async def console_session(self, id_hash: str) -> ConsoleSessionRecord | None:
        rows = await self._read(f"SELECT {COLUMNS} FROM console_sessions WHERE id_hash = ?",
                                (id_hash,))
        return ConsoleSessionRecord(*rows[0]) if rows else None

    async def touch_console_session(self, id_hash: str, seen_at: float) -> bool:
        return await self._submit(id_hash, "touching a console session",
                                  [(TOUCH_CONSOLE, (id_hash, seen_at))], _exists(id_hash))

    async def set_console_restaurant(self, id_hash: str, restaurant_id: str) -> bool:
        return await self._submit(id_hash, "picking a console session's restaurant",
                                  [(SET_CONSOLE_RESTAURANT, (id_hash, restaurant_id))],
                                  _exists(id_hash))

    async def set_console_flash(self, id_hash: str, message: str | None) -> bool:
        def exists(found: Found) -> bool:
            sessions = found.setdefault(LOOKUP_CONSOLE, {})
            if id_hash not in sessions:
                return False
            sessions[id_hash] = message
            return True

        return await self._submit(id_hash, "setting a console session's message",
                                  [(SET_CONSOLE_FLASH, (id_hash, message))], exists)

    async def take_console_flash(self, id_hash: str) -> str | None:
        def taken(found: Found) -> str | None:
            sessions = found.setdefault(LOOKUP_CONSOLE, {})
            if id_hash not in sessions:
                return None
            flash: str | None = sessions[id_hash]
            sessions[id_hash] = None
            return flash

        return await self._submit(id_hash, "taking a console session's message",
                                  [(SET_CONSOLE_FLASH, (id_hash, None))], taken)

    async def close_console_session(self, id_hash: str) -> bool:
        def existed(found: Found) -> bool:
            sessions = found.setdefault(LOOKUP_CONSOLE, {})
            if id_hash not in sessions:
                return False
            del sessions[id_hash]
            return True

        return await self._submit(id_hash, "closing a console session",
                                  [(CLOSE_CONSOLE, (id_hash,))], existed)

    async def prune_console_sessions(self, seen_before: float) -> int:
        pruned = 0
        while True:
            count = await self._open_writer().execute("pruning console sessions",
                                                      PRUNE_CONSOLE, (seen_before,))
            pruned += count
            if count < PRUNE_CHUNK:
                return pruned

    async def _submit(self, id_hash: str, what: str, operations: list[Operation],
                      outcome: Callable[[Found], T]) -> T:
        return await self._open_writer().submit(Unit(
            what, operations, outcome, frozenset({("console", id_hash)}),
            lookups=((LOOKUP_CONSOLE, id_hash),)))


def _exists(id_hash: str) -> Callable[[Found], bool]:
    def exists(found: Found) -> bool:
        return id_hash in found.setdefault(LOOKUP_CONSOLE, {})
    return exists
