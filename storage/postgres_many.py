"""Per-message reads and marks of many conversations in one statement each.

Processing a message reads its session and its gate flags, and sending its
replies marks each one sent: one round trip each, several per message.
The store gathers the requests made at about the same moment and runs one
statement for all of them (:class:`ManyAtOnce`).  Reads are autocommitted,
so each sees every transaction committed when its statement starts — later
than when it was asked, never earlier; a mark is one autocommitted
``UPDATE`` of all the rows, applied all together (``synchronous_commit = on``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from storage.postgres_coalesce import Coalescer
from storage.postgres_connect import Database, refused
from storage.records import SessionKey
from storage.staff import GateFlags

LIMIT: Final = 256  # requests in one statement at most

SNAPSHOTS: Final = """
SELECT s.restaurant_id, s.customer_id, s.snapshot
FROM sessions AS s JOIN unnest($1::text[], $2::text[]) AS k(restaurant_id, customer_id)
  ON s.restaurant_id = k.restaurant_id AND s.customer_id = k.customer_id"""
GATE_FLAGS: Final = """
SELECT c.restaurant_id, c.customer_id, c.bot_paused, c.handoff_requested, c.away_epoch
FROM conversations AS c JOIN unnest($1::text[], $2::text[]) AS k(restaurant_id, customer_id)
  ON c.restaurant_id = k.restaurant_id AND c.customer_id = k.customer_id"""
MARK_SENT: Final = """
UPDATE outbox AS o SET state = 'sent', wamid = m.wamid, finished_at = m.at
FROM unnest($1::bigint[], $2::text[], $3::float8[]) AS m(id, wamid, at)
WHERE o.id = m.id AND o.state = 'pending'"""

Sent = tuple[int, str | None, float]  # outbox id, wamid, when


class ManyAtOnce:
    """The store's coalesced reads and marks on ``database``."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.snapshots: Coalescer[SessionKey, bytes | None] = Coalescer(self._snapshots, LIMIT)
        self.gate_flags: Coalescer[SessionKey, GateFlags] = Coalescer(self._gate_flags, LIMIT)
        self.sent: Coalescer[Sent, None] = Coalescer(self._sent, LIMIT, alone_if=refused)

    async def drain(self) -> None:
        for coalescer in (self.snapshots, self.gate_flags, self.sent):
            await coalescer.drain()

    async def _snapshots(self, keys: list[SessionKey]) -> Sequence[bytes | None]:
        rows = await self._database.fetch(
            "loading snapshots", SNAPSHOTS, [key.restaurant_id for key in keys],
            [key.customer_id for key in keys])
        found = {SessionKey(row[0], row[1]): bytes(row[2]) for row in rows}
        return [found.get(key) for key in keys]

    async def _gate_flags(self, keys: list[SessionKey]) -> Sequence[GateFlags]:
        rows = await self._database.fetch(
            "reading gate flags", GATE_FLAGS, [key.restaurant_id for key in keys],
            [key.customer_id for key in keys])
        found = {SessionKey(row[0], row[1]): GateFlags(row[2], row[3], row[4]) for row in rows}
        return [found.get(key, GateFlags()) for key in keys]

    async def _sent(self, marks: list[Sent]) -> Sequence[None]:
        await self._database.fetch(
            f"marking {len(marks)} outbox rows sent", MARK_SENT, [m[0] for m in marks],
            [m[1] for m in marks], [m[2] for m in marks])
        return [None] * len(marks)
