"""Every contract suite runs on every backend: the engines are listed here, once.

A test in this package asks for ``store`` (a new store, open) or ``backend``
(to open more stores on the same data) and runs once per entry of
:data:`ENGINES`.  A new backend joins every role's suite by adding one line.
PostgreSQL's stores share the session's throwaway server
(tests/storage/conftest.py), each test in a schema of its own; they are
skipped, saying why, where no PostgreSQL can be started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.base import SessionStore
from storage.memory import MemoryStore
from storage.postgres import PostgresStore
from storage.sqlite import SQLiteStore
from tests.storage.contract.support import Backend
from tests.storage.postgres_server import schema_for

# name -> (durable: keeps its data across close and open,
#          how to make one on a path, given the PostgreSQL server's URL if it needs one)
ENGINES: dict[str, tuple[bool, Callable[[Path, str], SessionStore]]] = {
    "memory": (False, lambda path, url: MemoryStore()),
    "sqlite": (True, lambda path, url: SQLiteStore(path)),
    "postgres": (True, lambda path, url: PostgresStore(url, schema=schema_for(path),
                                                       pool_size=4)),
}
NEEDS_POSTGRES = frozenset({"postgres"})


@pytest.fixture(params=list(ENGINES))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    name: str = request.param
    durable, make = ENGINES[name]
    url = request.getfixturevalue("postgres_server").url if name in NEEDS_POSTGRES else ""
    return Backend(name, tmp_path / "orderbot.db", durable, lambda path: make(path, url))


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[SessionStore]:
    store = backend.new_store()
    await store.open()
    try:
        yield store
    finally:
        await store.close()
