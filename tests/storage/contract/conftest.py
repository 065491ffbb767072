"""Every contract suite runs on every backend: the engines are listed here, once.

A test in this package asks for ``store`` (a new store, open) or ``backend``
(to open more stores on the same data) and runs once per entry of
:data:`ENGINES`.  A new backend joins every role's suite by adding one line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.base import SessionStore
from storage.memory import MemoryStore
from storage.sqlite import SQLiteStore
from tests.storage.contract.support import Backend

# name -> (durable: keeps its data across close and open, how to make one on a path)
ENGINES: dict[str, tuple[bool, Callable[[Path], SessionStore]]] = {
    "memory": (False, lambda path: MemoryStore()),
    "sqlite": (True, SQLiteStore),
}


@pytest.fixture(params=list(ENGINES))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    name: str = request.param
    durable, make = ENGINES[name]
    return Backend(name, tmp_path / "orderbot.db", durable, make)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[SessionStore]:
    store = backend.new_store()
    await store.open()
    try:
        yield store
    finally:
        await store.close()
