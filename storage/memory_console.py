"""The console's sign-in sessions of :class:`storage.memory.MemoryStore`, in a dict.

The role is :class:`storage.console_sessions.ConsoleSessionStorage`; the
outcomes are those of :mod:`storage.sqlite_console` and
:mod:`storage.postgres_console`. Nothing survives the process.
"""

from __future__ import annotations

from dataclasses import replace

from storage.console_sessions import ConsoleSessionRecord
from storage.errors import StorageError


class MemoryConsoleSessions:
    """ConsoleSessionStorage in a dict keyed by ``id_hash``."""

    def __init__(self) -> None:
        super().__init__()
        self._console: dict[str, ConsoleSessionRecord] = {}

    def _check_open(self) -> None:
        raise NotImplementedError  # the store's

    async def open_console_session(self, record: ConsoleSessionRecord) -> None:
        self._check_open()
        if record.id_hash in self._console:
            raise StorageError("a console session with this id is already open")
        self._console[record.id_hash] = record

    async def console_session(self, id_hash: str) -> ConsoleSessionRecord | None:
        self._check_open()
        return self._console.get(id_hash)

    async def touch_console_session(self, id_hash: str, seen_at: float) -> bool:
        self._check_open()
        record = self._console.get(id_hash)
        if record is None:
            return False
        if seen_at > record.seen_at:
            self._console[id_hash] = replace(record, seen_at=seen_at)
        return True

    async def set_console_restaurant(self, id_hash: str, restaurant_id: str) -> bool:
        self._check_open()
        record = self._console.get(id_hash)
        if record is not None:
            self._console[id_hash] = replace(record, restaurant_id=restaurant_id)
        return record is not None

    async def set_console_flash(self, id_hash: str, message: str | None) -> bool:
        self._check_open()
        record = self._console.get(id_hash)
        if record is not None:
            self._console[id_hash] = replace(record, flash=message)
        return record is not None

    async def take_console_flash(self, id_hash: str) -> str | None:
        self._check_open()
        record = self._console.get(id_hash)
        if record is None or record.flash is None:
            return None
        self._console[id_hash] = replace(record, flash=None)
        return record.flash

    async def close_console_session(self, id_hash: str) -> bool:
        self._check_open()
        return self._console.pop(id_hash, None) is not None

    async def prune_console_sessions(self, seen_before: float) -> int:
        self._check_open()
        idle = [key for key, record in self._console.items() if record.seen_at < seen_before]
        for key in idle:
            del self._console[key]
        return len(idle)
