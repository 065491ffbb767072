"""Pruning old inbox and outbox rows in small chunks, oldest first.

A single ``DELETE … WHERE processed_at < ?`` would scan the whole table and
hold the writer (so every commit) for as long as it runs: seconds on a
million rows.  Instead a pruner walks the table in rowid order — the order
rows were written, so their timestamps rise with it — deleting one chunk
per autocommitted statement, letting queued commits in between, and stops
at the first chunk that reaches rows written after the cut-off.  The cost
follows the rows pruned, not the rows kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from storage.sqlite_schema import Params

CHUNK_ROWS: Final = 2000

Read = Callable[[str, Params], Awaitable[list[Any]]]
Execute = Callable[[str, str, Params], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Pruner:
    """How to prune one table: ``deletes`` take (after rowid, up to rowid, cut-off).

    The last statement's row count is what is reported as pruned.
    """

    what: str
    scan: str
    deletes: Sequence[str]

    async def run(self, read: Read, execute: Execute, before: float) -> int:
        chunk = CHUNK_ROWS
        pruned = 0
        after = 0
        while True:
            rows = await read(self.scan, (after, chunk))
            if not rows:
                return pruned
            upto, newest = rows[-1]
            for sql in self.deletes:
                count = await execute(self.what, sql, (after, upto, before))
            pruned += count
            if newest >= before:
                return pruned
            after = upto


INBOX_PRUNER: Final = Pruner(
    "pruning the inbox",
    "SELECT rowid, received_at FROM inbox WHERE rowid > ? ORDER BY rowid LIMIT ?",
    # Unprocessed rows have a NULL processed_at, which is never < ?3: kept.
    ["DELETE FROM inbox WHERE rowid > ?1 AND rowid <= ?2 AND processed_at < ?3"],
)

OUTBOX_PRUNER: Final = Pruner(
    "pruning the outbox",
    "SELECT id, created_at FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
    [
        # Delivery statuses go with the message they describe.
        """DELETE FROM message_status WHERE wamid IN (
            SELECT wamid FROM outbox WHERE id > ?1 AND id <= ?2 AND state != 'pending'
              AND finished_at < ?3 AND wamid IS NOT NULL)""",
        """DELETE FROM outbox
           WHERE id > ?1 AND id <= ?2 AND state != 'pending' AND finished_at < ?3""",
    ],
)
