"""Handing out work among several processes on one PostgreSQL database (issue 16).

Any number of ``serve`` processes may share a database; what keeps each
customer's messages processed once, in order, and their replies sent in
order, by one process at a time:

* **Claims** (:meth:`Coordination.claim`).  Every conversation that ever had
  an inbox message has a row in ``claims`` (written by
  :meth:`~storage.postgres.PostgresStore.accept_inbound`, in the transaction
  that stores the message).  A worker opens a transaction and locks up to
  ``limit`` rows of customers with pending messages, oldest first, with
  ``SELECT … FOR UPDATE SKIP LOCKED``: rows another worker (of any process)
  holds are skipped, never waited for.  Then, in a second statement (a
  snapshot taken once the locks are held, so it sees what the previous
  holder committed), it reads the oldest pending message of each.  The
  transaction stays open, writing nothing, while those messages are
  processed — their commits on the pool, together in one transaction where
  they can be (:mod:`storage.postgres_group`), a unit refused (already
  processed, an order reference taken) never sinking the others — and ends
  when the batch is done, releasing the rows.  A process killed mid-batch
  loses its connection and with it the locks at once; one stopped
  (``SIGSTOP``) loses them after ``idle_in_transaction_session_timeout``.
  Whatever a late process still commits is refused by the inbox mark
  (``UPDATE … WHERE processed_at IS NULL``): a message is applied once, and
  only the oldest pending message of a customer is ever picked, so never
  out of order.
* **Wake-ups** (:meth:`Coordination.listen`).  Accepting messages sends
  ``NOTIFY orderbot_inbox`` (delivered at commit); idle workers of every
  process ``LISTEN`` and claim at once.  Polling every second is the
  fallback for a lost notification or connection.
* **Send locks** (:class:`~storage.postgres_send_locks.SendLocks`).  A
  sender posts a customer's replies only while it holds that customer's
  session-level advisory lock, on a connection of its own that never has a
  transaction open (:mod:`storage.postgres_send_locks`).
* **Sweeps** (:func:`storage.postgres_prune.exclusive`).  Retention pruning runs in one process
  at a time, under ``pg_try_advisory_lock`` on the connection doing it;
  the others skip their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Final

from storage.postgres_connect import Database, explain, listen
from storage.postgres_events import EventLog
from storage.postgres_records import INBOX_COLUMNS, inbox_from_row
from storage.postgres_send_locks import SendLocks
from storage.records import InboxRecord, SessionKey

logger = logging.getLogger(__name__)

CHANNEL: Final = "orderbot_inbox"
CANDIDATES: Final = 4096  # customers with pending messages a claim looks at, oldest first

CLAIM: Final = f"""
SELECT c.restaurant_id, c.customer_id
FROM claims AS c
JOIN (SELECT restaurant_id, customer_id, min(seq) AS first FROM inbox
      WHERE processed_at IS NULL GROUP BY restaurant_id, customer_id
      ORDER BY first LIMIT {CANDIDATES}) AS p
  ON p.restaurant_id = c.restaurant_id AND p.customer_id = c.customer_id
WHERE NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS x(restaurant_id, customer_id)
                  WHERE x.restaurant_id = c.restaurant_id AND x.customer_id = c.customer_id)
ORDER BY p.first
LIMIT $1
FOR UPDATE OF c SKIP LOCKED"""
OLDEST_PENDING: Final = f"""
SELECT DISTINCT ON (restaurant_id, customer_id) {INBOX_COLUMNS} FROM inbox
WHERE processed_at IS NULL
  AND (restaurant_id, customer_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY restaurant_id, customer_id, seq"""
# The pending replies of several customers (each under its send lock), at most $3 each.
class Coordination:
    """Claims and wake-ups on the store's :class:`~storage.postgres_connect.Database`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @contextlib.asynccontextmanager
    async def claim(self, limit: int, exclude: Iterable[SessionKey] = ()
                    ) -> AsyncIterator[list[InboxRecord]]:
        """Claim up to ``limit`` customers; yields the oldest pending message of each.

        The customers stay claimed (their ``claims`` rows locked by this
        open transaction) until the block ends.  ``exclude`` are customers
        not to claim (held back for a retry by the caller).  Raises
        :class:`~storage.errors.StorageError` when the claim cannot be
        made; ending it never raises (a lost connection has released it).
        """
        skipped = list(exclude)
        pool = self._database.pool()
        try:
            connection = await pool.acquire()
        except Exception as exc:
            raise explain("claiming customers", exc) from exc
        transaction = connection.transaction()
        try:
            try:
                await transaction.start()
                keys = await connection.fetch(CLAIM, limit, [k.restaurant_id for k in skipped],
                                              [k.customer_id for k in skipped])
                records: list[InboxRecord] = []
                if keys:
                    rows = await connection.fetch(OLDEST_PENDING, [k[0] for k in keys],
                                                  [k[1] for k in keys])
                    records = sorted((inbox_from_row(row) for row in rows),
                                     key=lambda record: record.received_at)
            except Exception as exc:
                raise explain("claiming customers", exc) from exc
            yield records
        finally:
            try:
                # Nothing was written: a rollback releases the rows just as well.
                await asyncio.shield(transaction.rollback())
            except Exception as exc:  # the connection died: the server released them
                logger.debug("ending a claim: %r", exc)
            with contextlib.suppress(Exception):
                await asyncio.shield(pool.release(connection))

    async def listen(self, wake: Callable[[], None], retry: float = 1.0) -> None:
        """Call ``wake`` on every notification of new inbox messages; runs until cancelled.

        A lost connection is opened again after ``retry`` seconds (the
        workers poll meanwhile).
        """
        await listen(self._database, CHANNEL, wake, "new messages", retry)

    def send_locks(self) -> SendLocks:
        return SendLocks(self._database)

    def events(self) -> EventLog:
        """The live events every process on this database shares (storage.postgres_events)."""
        return EventLog(self._database)
