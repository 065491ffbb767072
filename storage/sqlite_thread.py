"""The writer's SQLite connection, on a thread of its own, driven a transaction at a time.

aiosqlite makes every statement one round trip between the event loop and
its thread: a group-committed batch of BEGIN, lookups, a few ``executemany``
and COMMIT cost half a dozen trips, and each one waits for a turn of a busy
event loop.  Measured under the end-to-end benchmark, commits waited 6–14 ms
for an fsync of 0.3 ms.  Here a whole transaction is one function run on the
connection's thread: one trip per batch.  (aiosqlite has no public way to
run a function on its thread; reads still go through it.)
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from storage.errors import StoreClosed

T = TypeVar("T")

# Room for every shape of the writer's statements (storage.sqlite_writer.write_all).
STATEMENT_CACHE = 256


class DatabaseThread:
    """One ``sqlite3`` connection, only ever used from its own single thread."""

    def __init__(self, path: Path, name: str = "sqlite-writer") -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._connection: sqlite3.Connection | None = None

    async def open(self, setup: Callable[[sqlite3.Connection], None]) -> None:
        """Connect (autocommit: we say BEGIN and COMMIT) and run ``setup`` once."""
        def connect() -> None:
            connection = sqlite3.connect(self.path, isolation_level=None,
                                         cached_statements=STATEMENT_CACHE)
            try:
                setup(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection

        try:
            await self._submit(connect)
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` on the connection's thread; its result or exception."""
        def call() -> T:
            if self._connection is None:
                raise StoreClosed(f"{self.path} is not open")
            return work(self._connection)

        return await self._submit(call)

    async def close(self) -> None:
        def disconnect() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        try:
            await self._submit(disconnect)
        finally:
            self._executor.shutdown(wait=True)

    async def _submit(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)
