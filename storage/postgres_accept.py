"""Accepting inbound messages: the webhooks of about the same moment in one statement.

:meth:`storage.postgres.PostgresStore.accept_inbound` hands each webhook's
messages and identities to :class:`Acceptance`, which gathers the calls
made at about the same moment (:mod:`storage.postgres_coalesce`) and stores
all of them with one autocommitted statement — one round trip and one WAL
flush for many webhooks:

* the messages, ``INSERT … ON CONFLICT DO NOTHING RETURNING``: of deliveries
  of one id — in one statement, in concurrent statements, from any process
  — exactly one gets it back as new (within one statement, the first call
  that named it);
* their conversations made claimable (:mod:`storage.postgres_claims`), in
  key order so that two deliveries never wait on each other's rows
  crosswise, and the claimers of every process woken at commit (``NOTIFY``);
* the identities (user id → phone number), a later pair replacing an earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from storage.postgres_claims import CHANNEL
from storage.postgres_coalesce import Coalescer
from storage.postgres_connect import Database, refused
from storage.records import InboxRecord

LIMIT: Final = 64  # webhooks accepted in one statement at most

ACCEPT: Final = f"""
WITH new AS (
  INSERT INTO inbox (message_id, restaurant_id, customer_id, phone_number_id, wa_id, user_id,
                     sent_at, received_at, payload)
  SELECT r.message_id, r.restaurant_id, r.customer_id, r.phone_number_id, r.wa_id, r.user_id,
         r.sent_at, r.received_at, r.payload
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::bigint[], $8::float8[], $9::bytea[]) WITH ORDINALITY
       AS r(message_id, restaurant_id, customer_id, phone_number_id, wa_id, user_id, sent_at,
            received_at, payload, n)
  ORDER BY r.n
  ON CONFLICT (message_id) DO NOTHING
  RETURNING message_id, restaurant_id, customer_id),
claimable AS (
  INSERT INTO claims (restaurant_id, customer_id)
  SELECT DISTINCT restaurant_id, customer_id FROM new ORDER BY restaurant_id, customer_id
  ON CONFLICT DO NOTHING),
known AS (
  INSERT INTO identities (user_id, wa_id) SELECT * FROM unnest($10::text[], $11::text[])
  ON CONFLICT (user_id) DO UPDATE SET wa_id = excluded.wa_id)
SELECT message_id, pg_notify('{CHANNEL}', '') FROM new"""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One call's messages (the first of each id only) and identities (user id → wa_id)."""

    records: list[InboxRecord]
    identities: dict[str, str]


class Acceptance:
    """Stores deliveries on ``database``, many in one statement; see the module docstring."""

    def __init__(self, database: Database) -> None:
        self._database = database
        # A delivery the database refuses (a value it cannot hold) fails alone.
        self.deliveries: Coalescer[Delivery, list[str]] = Coalescer(
            self._accept, LIMIT, alone_if=refused)

    async def accept(self, delivery: Delivery) -> list[str]:
        """The ids of ``delivery.records`` stored now (new), in order.

        Raises :class:`~storage.errors.StorageError`; nothing of the
        statement was stored then.
        """
        return await self.deliveries.submit(delivery)

    async def _accept(self, deliveries: list[Delivery]) -> Sequence[list[str]]:
        first: dict[str, int] = {}  # message id -> the delivery that named it first
        records: list[InboxRecord] = []
        identities: dict[str, str] = {}
        for number, delivery in enumerate(deliveries):
            for record in delivery.records:
                if record.message_id not in first:
                    first[record.message_id] = number
                    records.append(record)
            identities.update(delivery.identities)
        columns: list[list[object]] = [[] for _ in range(9)]
        for r in records:
            for column, value in zip(columns, (
                    r.message_id, r.key.restaurant_id, r.key.customer_id, r.phone_number_id,
                    r.wa_id, r.user_id, r.sent_at, r.received_at, r.payload), strict=True):
                column.append(value)
        rows = await self._database.fetch(
            f"accepting {len(records)} inbound messages", ACCEPT, *columns,
            list(identities), list(identities.values()))
        new = {row[0] for row in rows}
        return [[record.message_id for record in delivery.records
                 if record.message_id in new and first[record.message_id] == number]
                for number, delivery in enumerate(deliveries)]
