"""The staff side's live events, shared by every process on one PostgreSQL database.

Each process publishes the changes it commits (an order moved, a message
logged: :mod:`routes.staff.events`); a console connected to another process
must see them too.  So on PostgreSQL every event goes through the table
``staff_events``:

* :meth:`EventLog.append` writes a process's new events in one transaction
  and ``NOTIFY orderbot_events`` (delivered at commit).  The transaction
  first takes an advisory lock that every append takes, so ids are handed
  out and committed in the same order: a reader that has seen id ``n``
  never sees a smaller id appear later.  (Ids of rolled-back appends leave
  gaps, which mean nothing.)
* :meth:`EventLog.after` reads them back in id order — every process
  reads every event, its own included, and fans it out to its clients.
  The id is the event's number in every process, so a client reconnecting
  to any process can say where it stopped.
* :meth:`EventLog.prune` deletes events older than a cut-off (they only
  need to outlive the readers' next poll), one process at a time, by the
  database's clock (the one every append is stamped with).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

from storage.errors import StorageError, WriteRefused
from storage.postgres_connect import Connection, Database, listen, refused
from storage.postgres_prune import prune

CHANNEL: Final = "orderbot_events"
# Key of the transaction-level advisory lock every append takes (one bigint).
APPEND_LOCK: Final = 0x6F72657674730000  # "orevts"

# Times are the database's (one clock for every instance: pruning by one instance's
# clock must not drop what another, whose clock is behind, appended a moment ago).
NOW: Final = "extract(epoch FROM clock_timestamp())"
APPEND: Final = f"""
INSERT INTO staff_events (restaurant_id, kind, data, created_at)
SELECT r, k, d, {NOW} FROM unnest($1::text[], $2::text[], $3::text[]) AS e(r, k, d)"""
AFTER: Final = """
SELECT id, restaurant_id, kind, data FROM staff_events WHERE id > $1 ORDER BY id LIMIT $2"""
LATEST: Final = "SELECT coalesce(max(id), 0) FROM staff_events"
OLDEST: Final = "SELECT min(id) FROM staff_events"
EVENTS_SCAN: Final = "SELECT id, created_at FROM staff_events WHERE id > $1 ORDER BY id LIMIT $2"
EVENTS_PRUNE: Final = """
WITH gone AS (DELETE FROM staff_events WHERE id > $1 AND id <= $2 AND created_at < $3
              RETURNING 1)
SELECT count(*) FROM gone"""


class LoggedEvent(NamedTuple):
    """An appended event as read back; ``id`` ascends in commit order."""

    id: int
    restaurant_id: str
    kind: str
    data: str


class EventLog:
    """``staff_events`` on the store's :class:`~storage.postgres_connect.Database`.

    Every method raises :class:`~storage.errors.StorageError` when the
    database cannot be reached or refuses the statement.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    async def append(self, events: Sequence[tuple[str, str, str]]) -> None:
        """Write ``events``, each ``(restaurant_id, kind, JSON text)``, in this order (at the
        database's time), and notify every reader.

        Raises :class:`~storage.errors.WriteRefused` when the database refuses
        a value (it would refuse it again), :class:`StorageError` otherwise.
        """
        async def work(connection: Connection) -> None:
            await connection.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
            await connection.execute(APPEND, [e[0] for e in events], [e[1] for e in events],
                                     [e[2] for e in events])
            await connection.execute(f"NOTIFY {CHANNEL}")

        if not events:
            return
        try:
            await self._database.transaction("appending live events", work)
        except StorageError as exc:
            if exc.__cause__ is not None and refused(exc.__cause__):
                raise WriteRefused("live events refused by the database") from exc
            raise

    async def after(self, seen: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` events with ids above ``seen``, oldest first."""
        rows = await self._database.fetch("reading live events", AFTER, seen, limit)
        return [LoggedEvent(*row) for row in rows]

    async def latest(self) -> int:
        """The id of the newest event (0 for none): where a new reader starts."""
        rows = await self._database.fetch("reading live events", LATEST)
        return int(rows[0][0])

    async def oldest(self) -> int | None:
        """The id of the oldest event kept (``None`` for none)."""
        rows = await self._database.fetch("reading live events", OLDEST)
        return None if rows[0][0] is None else int(rows[0][0])

    async def prune(self, keep: float) -> int:
        """Delete events appended more than ``keep`` seconds ago (by the database's clock);
        how many (0 if another process is pruning them)."""
        rows = await self._database.fetch("pruning live events", f"SELECT {NOW}")
        return await prune(self._database, "pruning live events", EVENTS_SCAN, EVENTS_PRUNE,
                           float(rows[0][0]) - keep)

    async def listen(self, wake: Callable[[], None], retry: float = 1.0) -> None:
        """Call ``wake`` whenever any process appended events; runs until cancelled
        (readers poll too: a lost connection is opened again after ``retry`` seconds)."""
        await listen(self._database, CHANNEL, wake, "live events", retry)
