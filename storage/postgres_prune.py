"""Retention on PostgreSQL: old rows deleted in chunks, one process at a time.

The inbox, the outbox and the live events (:mod:`storage.postgres_events`)
are pruned this way; :func:`exclusive` is the sweep lock they take.

Pruning walks a table in insertion order, a chunk per statement, and stops
at the first chunk reaching rows written after the cut-off (as SQLite's
does).  It runs under a sweep lock (:func:`exclusive`):
while one process prunes a table, the others skip their turn.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import AsyncIterator
from typing import Final

from storage.postgres_connect import Connection, Database, explain

# Key class of the sweeps' two-integer advisory locks (storage.postgres_send_locks has
# the send locks'; the commits take bigint ones on a conversation's hash).
SWEEP_LOCK_CLASS: Final = 0x6F727377  # "orsw"
PRUNE_CHUNK: Final = 2000

INBOX_SCAN: Final = "SELECT seq, received_at FROM inbox WHERE seq > $1 ORDER BY seq LIMIT $2"
INBOX_PRUNE: Final = """
WITH gone AS (DELETE FROM inbox WHERE seq > $1 AND seq <= $2 AND processed_at < $3
              RETURNING 1)
SELECT count(*) FROM gone"""
OUTBOX_SCAN: Final = "SELECT id, created_at FROM outbox WHERE id > $1 ORDER BY id LIMIT $2"
# Delivery statuses go with the message they describe.
OUTBOX_PRUNE: Final = """
WITH gone AS (DELETE FROM outbox
              WHERE id > $1 AND id <= $2 AND state <> 'pending' AND finished_at < $3
              RETURNING wamid),
     statuses AS (DELETE FROM message_status
                  WHERE wamid IN (SELECT wamid FROM gone WHERE wamid IS NOT NULL))
SELECT count(*) FROM gone"""


async def prune(database: Database, what: str, scan: str, delete: str, before: float) -> int:
    """Rows deleted by ``delete`` in chunks found by ``scan``; 0 if another process prunes.

    Raises :class:`~storage.errors.StorageError` (``what`` failed).
    """
    pruned = 0
    after = 0
    async with exclusive(database, zlib.crc32(scan.encode()) & 0x7FFFFFFF) as sweeping:
        if sweeping is None:
            return 0
        while True:
            try:
                rows = await sweeping.fetch(scan, after, PRUNE_CHUNK)
                if not rows:
                    return pruned
                upto, newest = rows[-1]
                count = await sweeping.fetchval(delete, after, upto, before)
            except Exception as exc:
                raise explain(what, exc) from exc
            pruned += int(count)
            if newest >= before:
                return pruned
            after = upto


@contextlib.asynccontextmanager
async def exclusive(database: Database, name: int) -> AsyncIterator[Connection | None]:
    """A pooled connection holding the sweep lock ``name``, or ``None`` if another has it."""
    pool = database.pool()
    try:
        connection = await pool.acquire()
    except Exception as exc:
        raise explain("taking a sweep lock", exc) from exc
    try:
        try:
            got = await connection.fetchval("SELECT pg_try_advisory_lock($1, $2)",
                                            SWEEP_LOCK_CLASS, name)
        except Exception as exc:
            raise explain("taking a sweep lock", exc) from exc
        try:
            yield connection if got else None
        finally:
            if got:
                try:
                    await connection.fetchval("SELECT pg_advisory_unlock($1, $2)",
                                              SWEEP_LOCK_CLASS, name)
                except Exception:
                    # The pool does not reset its connections: one that may still
                    # hold the lock is closed, which releases it (a lost one is gone
                    # already, and asyncpg may refuse to terminate it).
                    with contextlib.suppress(Exception):
                        connection.terminate()
    finally:
        with contextlib.suppress(Exception):
            await pool.release(connection)
