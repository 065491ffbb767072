"""SQLite's :meth:`~storage.roles.SessionStorage.move_conversation`: one transaction between
the writer's batches (:mod:`storage.conversation_move` has the statements)."""

from __future__ import annotations

import sqlite3
from typing import Final

from storage.conversation_move import MOVE_STATEMENTS, check_keys
from storage.errors import StorageError
from storage.records import SessionKey
from storage.sqlite_writer import GroupCommitWriter

STATEMENTS: Final = tuple(sql.format(r="?1", old="?2", new="?3") for sql in MOVE_STATEMENTS)


async def move_conversation(writer: GroupCommitWriter, old: SessionKey, new: SessionKey) -> bool:
    check_keys(old.restaurant_id, new.restaurant_id)
    params = (old.restaurant_id, old.customer_id, new.customer_id)

    def run(connection: sqlite3.Connection) -> int:
        connection.execute("BEGIN IMMEDIATE")
        try:
            changed = sum(connection.execute(sql, params).rowcount for sql in STATEMENTS)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return changed

    async with writer.lock:  # between two group commits: after every one already returned
        try:
            return await writer.database.run(run) > 0
        except sqlite3.Error as exc:
            raise StorageError(f"moving {old} to {new} failed: {exc}") from exc
