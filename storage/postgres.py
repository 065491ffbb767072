"""A :class:`SessionStore` in a PostgreSQL database (asyncpg, a connection pool).

Several processes may open one database; every guarantee of the roles
rests on PostgreSQL's transactions, locks and constraints, never on state
in one process (ids come from the database's sequences):

* :meth:`PostgresStore.commit` — ``synchronous_commit = on``; the
  conversation's advisory lock orders its commits and so its outbox ids,
  the processed mark is an ``UPDATE … WHERE processed_at IS NULL`` with its
  row count checked, order moves read their orders ``FOR UPDATE``
  (:mod:`storage.postgres_commit`).  Commits made at about the same moment
  (a claimed batch of customers) are written together, one transaction and
  one statement per table for all of them (:mod:`storage.postgres_group`),
  a unit refused there (already processed, an order reference taken, an
  order's status moved on) refused alone;
* :meth:`PostgresStore.accept_inbound` — ``INSERT … ON CONFLICT DO NOTHING
  RETURNING``: of concurrent deliveries of one id, from any process,
  exactly one gets it back as new; the webhooks of about the same moment
  share one statement (:mod:`storage.postgres_accept`);
* :meth:`PostgresStore.record_status` — ``ON CONFLICT DO UPDATE … WHERE
  excluded.rank > rank``: a status never moves backwards.

Within one process, writes that share a conversation, an inbox message, an
order or a restaurant's controls run in call order (:mod:`storage.postgres_order`);
the others run side by side on the pool's connections.  Reads are single
queries (:mod:`storage.postgres_read`, :mod:`storage.postgres_staff`);
the console's sign-in sessions are :mod:`storage.postgres_console`.
Connections, their settings and errors: :mod:`storage.postgres_connect`;
the schema and ``bot.py db migrate``: :mod:`storage.postgres_schema`.

Handing out work among processes — claims of customers with pending
messages, their wake-ups, per-customer send locks, one pruning process at a
time — is :mod:`storage.postgres_claims` (:meth:`PostgresStore.coordination`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Final, TypeVar

import asyncpg

from storage.base import Changes, InboxRecord, OutboxRecord, SessionKey, SessionStore
from storage.conversation_move import check_keys
from storage.errors import StorageError, StoreClosed
from storage.mail import SentMark
from storage.postgres_accept import Acceptance, Delivery
from storage.postgres_claims import Coordination
from storage.postgres_coalesce import Coalescer
from storage.postgres_commit import check_changes
from storage.postgres_connect import Connection, Database, refused
from storage.postgres_console import PostgresConsoleSessions
from storage.postgres_group import write_group
from storage.postgres_many import ManyAtOnce
from storage.postgres_move import move_work
from storage.postgres_order import CallOrder, Turn
from storage.postgres_prune import INBOX_PRUNE, INBOX_SCAN, OUTBOX_PRUNE, OUTBOX_SCAN, prune
from storage.postgres_schema import check_version, migrate, schema_version
from storage.postgres_staff import PostgresRestaurantSide
from storage.staff import GateFlags

__all__ = ["PostgresStore", "migrate_database"]

T = TypeVar("T")

MIN_SERVER: Final = (12, 0)
GROUP_LIMIT: Final = 64  # commits written in one transaction at most

UPSERT_STATUS: Final = """
INSERT INTO message_status (wamid, status, rank, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (wamid) DO UPDATE
SET status = excluded.status, rank = excluded.rank, updated_at = excluded.updated_at
WHERE excluded.rank > message_status.rank
RETURNING 1"""
OUTBOX_RETRY: Final = """
UPDATE outbox SET attempts = attempts + 1, not_before = $2, error = $3
WHERE id = $1 AND state = 'pending'"""
OUTBOX_FAILED: Final = """
UPDATE outbox SET state = 'failed', attempts = attempts + 1, error = $2, finished_at = $3
WHERE id = $1 AND state = 'pending'"""
class PostgresStore(PostgresConsoleSessions, PostgresRestaurantSide, SessionStore):
    """Conversations in the PostgreSQL database at ``url``; see the module docstring.

    ``schema`` (lower-case letters, digits, ``_``) keeps the tables in that
    PostgreSQL schema, created if missing; by default they go where the
    connection's ``search_path`` puts them (``public``).  ``pool_size``
    bounds the connections this process opens.  The URL's password is
    never shown: not in ``repr``, not in an error.
    """

    def __init__(self, url: str, *, schema: str | None = None, pool_size: int = 10,
                 create: bool = True) -> None:
        self._database = Database(url, schema=schema, pool_size=pool_size)
        self._create = create  # a database without the schema gets it (else: refused)
        self._order = CallOrder()
        self._turnstile = asyncio.Lock()  # storage.postgres_commit: ids in start order
        self._group: Coalescer[Changes, list[OutboxRecord]] = Coalescer(
            self._write_group, GROUP_LIMIT, alone_if=refused)
        self._many = ManyAtOnce(self._database)
        self._acceptance = Acceptance(self._database)
        self._closing = False

    def __repr__(self) -> str:
        return f"PostgresStore({self._database.safe_url!r}, schema={self._database.schema!r})"

    @property
    def url(self) -> str:
        """The database's URL without its password."""
        return self._database.safe_url

    async def open(self) -> None:
        database = self._database
        if database.is_open:
            raise StorageError(f"{database.safe_url} is already open")
        await database.connect()
        try:
            async with database.pool().acquire() as connection:
                version = connection.get_server_version()
                if (version.major, version.minor) < MIN_SERVER:
                    raise StorageError(f"PostgreSQL {'.'.join(map(str, MIN_SERVER))} or newer "
                                       f"is needed; {database.safe_url} runs {version.major}."
                                       f"{version.minor}")
                if self._create:
                    before, _ = await migrate(connection, database.schema, only_if_missing=True)
                else:
                    before = await schema_version(connection)
                    if before is None:
                        raise StorageError(
                            f"{database.safe_url} holds no orderbot schema: check the URL, "
                            "or create it with `python bot.py db migrate --db URL`")
            check_version(before, database.safe_url)
        except BaseException as exc:
            await database.disconnect()
            if isinstance(exc, asyncpg.PostgresError | OSError):
                raise StorageError(f"opening {database.safe_url} failed: {exc}") from exc
            raise

    async def close(self) -> None:
        if not self._database.is_open or self._closing:
            return
        self._closing = True
        try:
            await self._order.drain()
            await self._many.drain()
            await self._acceptance.deliveries.drain()
            await self._database.disconnect()
        finally:
            self._closing = False

    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        """Apply ``changes`` atomically, grouped with those made meanwhile (storage.postgres_group).

        A caller cancelled while waiting does not withdraw its changes.
        """
        self._check_writable()
        check_changes(changes)
        if _nothing_to_write(changes):
            return []
        key = changes.key
        claims: set[Hashable] = {("session", key)}
        if changes.inbox_processed is not None:
            claims.add(("inbox", changes.inbox_processed))
        claims.update(("order", order.restaurant_id, order.reference) for order in changes.orders)
        claims.update(("order", key.restaurant_id, move.reference)
                      for move in changes.order_moves)

        self._check_writable()
        return await self._order.run(frozenset(claims), lambda: self._group.submit(changes))

    async def _write_group(self, units: list[Changes]
                           ) -> list[list[OutboxRecord] | StorageError]:
        """Units in one transaction (storage.postgres_group); one by one if it is refused."""
        # The turnstile is held from before the connection is taken (see
        # storage.postgres_order); a retried transaction runs without it, its ids then
        # in no particular order.
        async with Turn(self._turnstile) as turn:
            return await self._database.transaction(
                f"group commit of {len(units)}",
                lambda connection: write_group(connection, units, turn))

    async def accept_inbound(self, records: Sequence[InboxRecord],
                             identities: Sequence[tuple[str, str]] = ()) -> list[str]:
        self._check_writable()
        first_of_each: dict[str, InboxRecord] = {}
        for record in records:
            first_of_each.setdefault(record.message_id, record)
        latest_pairs = dict(identities)  # a newer pair replaces an older one
        if not first_of_each and not latest_pairs:
            return []
        return await self._acceptance.accept(
            Delivery(list(first_of_each.values()), latest_pairs))

    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        """Read with the other snapshot reads made meanwhile (storage.postgres_many)."""
        return await self._many.snapshots.submit(key)

    async def gate_flags(self, key: SessionKey) -> GateFlags:
        """Read with the other gate flags asked for meanwhile (storage.postgres_many)."""
        return await self._many.gate_flags.submit(key)

    async def outbox_sent(self, outbox_id: int, wamid: str | None, at: float) -> None:
        """Marked with the other rows marked sent meanwhile (storage.postgres_many)."""
        self._check_writable()
        await self._order.run(frozenset({("outbox", outbox_id)}),
                              lambda: self._many.sent.submit((outbox_id, wamid, at)))

    async def outbox_sent_many(self, marks: Sequence[SentMark]) -> None:
        """All ``marks`` in one call-ordered write, with the other marks made meanwhile."""
        self._check_writable()
        if not marks:
            return

        async def mark_all() -> None:
            await asyncio.gather(*(self._many.sent.submit(mark) for mark in marks))

        await self._order.run(frozenset(("outbox", mark.outbox_id) for mark in marks), mark_all)

    async def outbox_retry(self, outbox_id: int, not_before: float, error: str) -> None:
        await self._statement(("outbox", outbox_id), f"delaying outbox {outbox_id}",
                              OUTBOX_RETRY, outbox_id, not_before, error)

    async def outbox_failed(self, outbox_id: int, error: str, at: float) -> None:
        await self._statement(("outbox", outbox_id), f"marking outbox {outbox_id} failed",
                              OUTBOX_FAILED, outbox_id, error, at)

    async def record_status(self, wamid: str, status: str, rank: int, at: float) -> bool:
        rows = await self._statement(("status", wamid), f"recording status {status} of {wamid}",
                                     UPSERT_STATUS, wamid, status, rank, at)
        return bool(rows)

    async def delete_session(self, key: SessionKey) -> bool:
        rows = await self._statement(
            ("session", key), f"deleting {key}",
            "DELETE FROM sessions WHERE restaurant_id = $1 AND customer_id = $2 RETURNING 1",
            key.restaurant_id, key.customer_id)
        return bool(rows)

    async def move_conversation(self, old: SessionKey, new: SessionKey) -> bool:
        check_keys(old.restaurant_id, new.restaurant_id)
        return await self._write(frozenset({("session", old), ("session", new)}),
                                 f"moving {old} to {new}", move_work(old, new))

    async def prune_inbox(self, processed_before: float) -> int:
        self._check_writable()
        return await prune(self._database, "pruning the inbox", INBOX_SCAN, INBOX_PRUNE,
                           processed_before)

    async def prune_outbox(self, finished_before: float) -> int:
        self._check_writable()
        return await prune(self._database, "pruning the outbox", OUTBOX_SCAN, OUTBOX_PRUNE,
                           finished_before)

    def coordination(self) -> Coordination:
        """What several processes on this database share work by (storage.postgres_claims)."""
        return Coordination(self._database)

    async def _write(self, claims: frozenset[Hashable], what: str,
                     work: Callable[[Connection], Awaitable[T]]) -> T:
        """``work`` in one transaction, after the earlier writes of ``claims`` in this process."""
        self._check_writable()
        return await self._order.run(claims, lambda: self._database.transaction(what, work))

    async def _statement(self, claim: Hashable, what: str, sql: str,
                         *args: object) -> list[asyncpg.Record]:
        """One statement, autocommitted (no ``BEGIN``/``COMMIT`` round trips), in call order."""
        self._check_writable()
        return await self._order.run(frozenset({claim}),
                                     lambda: self._database.fetch(what, sql, *args))

    def _check_writable(self) -> None:
        if self._closing or not self._database.is_open:
            raise StoreClosed(f"{self._database.safe_url} is not open")


def _nothing_to_write(changes: Changes) -> bool:
    return (changes.snapshot is None and changes.quarantine is None and not changes.orders
            and not changes.drafts and changes.inbox_processed is None and not changes.outbox
            and not changes.log and changes.conversation is None and not changes.order_moves)


async def migrate_database(url: str, *, schema: str | None = None) -> tuple[int | None, int]:
    """Create or upgrade the schema at ``url``: ``(version before or None, version now)``."""
    database = Database(url, schema=schema, pool_size=1)
    await database.connect()
    try:
        async with database.pool().acquire() as connection:
            return await migrate(connection, schema)
    except asyncpg.PostgresError as exc:
        raise StorageError(f"migrating {database.safe_url} failed: {exc}") from exc
    finally:
        await database.disconnect()
