"""The throwaway PostgreSQL server the storage tests share (tests/storage/postgres_server.py).

Started once per test run, on first use, and stopped at its end.  Without
PostgreSQL's binaries the tests that need it are skipped, saying why —
unless ``ORDERBOT_REQUIRE_POSTGRES`` is set (as ``.ci/run`` does), which
makes a missing server an error rather than a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.postgres import PostgresStore
from tests.storage.postgres_server import (
    REQUIRE_ENV,
    PostgresServer,
    find_binaries,
    schema_for,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_binaries()
    if bindir is None:
        reason = ("PostgreSQL not found: no initdb/pg_ctl on PATH or under "
                  "/usr/lib/postgresql/*/bin (apt-get install postgresql)")
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{reason}, and {REQUIRE_ENV} is set")
        pytest.skip(reason)
    server = PostgresServer(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def stores(postgres_server: PostgresServer, tmp_path: Path
                 ) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores on one fresh schema: two processes sharing a database."""
    schema = schema_for(tmp_path)
    first = PostgresStore(postgres_server.url, schema=schema)
    second = PostgresStore(postgres_server.url, schema=schema)
    await first.open()
    await second.open()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()
