"""Group commit: many callers' :class:`~storage.records.Changes` in one PostgreSQL transaction.

:meth:`storage.postgres.PostgresStore.commit` hands the commits made at about
the same moment (a claimed batch of customers reaches its commits together,
:mod:`storage.postgres_coalesce`) to :func:`write_group`, which writes them
in one transaction — one WAL flush — with one statement per table rather
than per commit (a commit made alone is a group of one):

1. the advisory locks of all their conversations
   (:data:`storage.postgres_commit.LOCK_CONVERSATION`'s), in key order (two
   groups never wait on each other crosswise), held to the end: the
   commits of one conversation, from any process, run one at a time, and
   the outbox ids that step 4 takes ascend in each conversation's commit
   order.  Within one process the caller holds the store's turnstile
   (:class:`~storage.postgres_order.Turn`) until those ids are taken, so
   the process's commits take their ids in the order they started;
2. the processed marks of the units that only have a mark to be refused
   for, in one ``UPDATE … WHERE processed_at IS NULL``: a unit whose
   message is not marked is *refused* — already processed
   (:class:`~storage.errors.AlreadyProcessed`) or never accepted
   (:class:`~storage.errors.StorageError`) — and nothing else of it is
   written (check, then write: no savepoint is needed);
3. each unit with new orders, order moves or a quarantine, in a savepoint
   of its own (:func:`storage.postgres_commit.write_refusable`): its mark,
   quarantine, orders and moves; refused there (already processed, an
   order reference taken, an order's status moved on), the savepoint is
   rolled back and that unit alone is refused;
4. the outbox rows of the units left, ids handed out in unit order (the
   caller's turnstile is let go then); snapshots, drafts, log rows and the
   conversations' records, one statement each.

A refusal never sinks the others.  Should the group's transaction fail as a
whole because the database refused a value of one unit, the store writes
its units one by one (:class:`~storage.postgres_coalesce.Coalescer`'s
``alone_if``), so the refusal reaches that unit alone.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from storage.errors import AlreadyProcessed, StorageError
from storage.postgres_commit import write_refusable
from storage.postgres_connect import Connection, explain
from storage.postgres_order import Turn
from storage.postgres_records import to_json
from storage.records import Changes, OutboxRecord

LOCK_CONVERSATIONS: Final = """
SELECT count(pg_advisory_xact_lock(hashtextextended(k.r || chr(31) || k.c, 0)))
FROM (SELECT DISTINCT r, c FROM unnest($1::text[], $2::text[]) AS u(r, c)
      ORDER BY r, c) AS k"""
MARK_PROCESSED: Final = """
UPDATE inbox SET processed_at = m.at
FROM unnest($1::text[], $2::float8[]) AS m(message_id, at)
WHERE inbox.message_id = m.message_id AND inbox.processed_at IS NULL
RETURNING inbox.message_id"""
INBOX_KNOWN: Final = "SELECT message_id FROM inbox WHERE message_id = ANY($1::text[])"
# Ids go in row order (the sorted rows take them one by one): the caller sorts them.
QUEUE: Final = """
INSERT INTO outbox (restaurant_id, customer_id, phone_number_id, body, kind, state, attempts,
                    not_before, created_at)
SELECT m.restaurant_id, m.customer_id, m.phone_number_id, m.body, m.kind, 'pending', 0, m.at,
       m.at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[])
     WITH ORDINALITY AS m(restaurant_id, customer_id, phone_number_id, body, kind, at, n)
ORDER BY m.n
RETURNING id"""
UPSERT_SESSIONS: Final = """
INSERT INTO sessions (restaurant_id, customer_id, snapshot, updated_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::float8[])
ON CONFLICT (restaurant_id, customer_id)
DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at"""
INSERT_DRAFTS: Final = """
INSERT INTO drafts (restaurant_id, customer_id, reason, cart, created_at)
SELECT d.restaurant_id, d.customer_id, d.reason, d.cart, d.created_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[])
     WITH ORDINALITY AS d(restaurant_id, customer_id, reason, cart, created_at, n)
ORDER BY d.n"""
INSERT_MESSAGES: Final = """
INSERT INTO messages (restaurant_id, customer_id, direction, kind, text, author, at, wamid,
                      outbox_id)
SELECT m.restaurant_id, m.customer_id, m.direction, m.kind, m.text, m.author, m.at, m.wamid,
       m.outbox_id
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::float8[], $8::text[], $9::bigint[]) WITH ORDINALITY
     AS m(restaurant_id, customer_id, direction, kind, text, author, at, wamid, outbox_id, n)
ORDER BY m.n"""
# Conversation records: a NULL leaves its column alone; times only move forward;
# ``read`` clears unread after this change's own inbound message is counted; a new
# record is the change applied to an empty one (storage.memory_staff.changed_conversation).
# The existing records are changed, the missing ones inserted (under their conversation
# locks, which every writer of a record holds, so none appears in between).
CHANGE_CONVERSATIONS: Final = """
WITH v AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[],
                       $6::boolean[], $7::boolean[], $8::boolean[], $9::boolean[], $10::text[],
                       $11::text[], $12::text[], $13::integer[], $14::float8[])
    AS v(restaurant_id, customer_id, name, inbound_at, outbound_at, handoff, paused, read,
         has_contact, phone_number_id, wa_id, user_id, away_epoch, updated_at)),
changed AS (
  UPDATE conversations AS c SET
    name = coalesce(v.name, c.name),
    last_message_at = greatest(c.last_message_at, v.inbound_at, v.outbound_at),
    last_inbound_at = greatest(c.last_inbound_at, v.inbound_at),
    unread = CASE WHEN v.read THEN 0
                  ELSE c.unread + CASE WHEN v.inbound_at IS NULL THEN 0 ELSE 1 END END,
    handoff_requested = coalesce(v.handoff, c.handoff_requested),
    bot_paused = coalesce(v.paused, c.bot_paused),
    phone_number_id = CASE WHEN v.has_contact THEN v.phone_number_id ELSE c.phone_number_id END,
    wa_id = CASE WHEN v.has_contact THEN v.wa_id ELSE c.wa_id END,
    user_id = CASE WHEN v.has_contact THEN v.user_id ELSE c.user_id END,
    away_epoch = coalesce(v.away_epoch, c.away_epoch)
  FROM v WHERE c.restaurant_id = v.restaurant_id AND c.customer_id = v.customer_id
  RETURNING c.restaurant_id, c.customer_id)
INSERT INTO conversations (restaurant_id, customer_id, name, bot_paused, handoff_requested,
    last_message_at, last_inbound_at, unread, phone_number_id, wa_id, user_id, away_epoch)
SELECT v.restaurant_id, v.customer_id, v.name, coalesce(v.paused, false),
       coalesce(v.handoff, false), coalesce(greatest(v.inbound_at, v.outbound_at), v.updated_at),
       v.inbound_at, CASE WHEN v.read OR v.inbound_at IS NULL THEN 0 ELSE 1 END,
       v.phone_number_id, v.wa_id, v.user_id, coalesce(v.away_epoch, 0)
FROM v WHERE NOT EXISTS (SELECT 1 FROM changed
                         WHERE changed.restaurant_id = v.restaurant_id
                           AND changed.customer_id = v.customer_id)"""

Outcome = list[OutboxRecord] | StorageError


def marked_only(changes: Changes) -> bool:
    """Whether only its processed mark can refuse ``changes`` (no savepoint needed)."""
    return not changes.orders and not changes.order_moves and changes.quarantine is None


async def write_group(connection: Connection, units: list[Changes],
                      turn: Turn) -> list[Outcome]:
    """Write ``units`` (one per conversation) in the caller's transaction.

    Returns one outcome per unit, in order: its queued outbox rows, or the
    error that refused it (nothing of it written).  ``turn`` is let go once
    the outbox ids are taken.  Anything raised rolls the whole group back.
    """
    try:
        await connection.execute(LOCK_CONVERSATIONS, [u.key.restaurant_id for u in units],
                                 [u.key.customer_id for u in units])
        refused = await _mark_processed(connection, [u for u in units if marked_only(u)])
        for unit in units:
            if not marked_only(unit):
                error = await _in_savepoint(connection, unit)
                if error is not None:
                    refused[id(unit)] = error
        kept = [unit for unit in units if id(unit) not in refused]
        queued = await _queue(connection, kept)
    finally:
        turn.done()
    await _write_rows(connection, kept, queued)
    return [refused[id(unit)] if id(unit) in refused else queued[id(unit)] for unit in units]


async def _in_savepoint(connection: Connection, unit: Changes) -> StorageError | None:
    """:func:`write_refusable` for ``unit`` in a savepoint; the refusal, rolled back, if any."""
    try:
        async with connection.transaction():  # nested: a savepoint
            await write_refusable(connection, unit)
    except StorageError as exc:
        return exc
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
        return explain(f"commit for {unit.key}", exc)
    return None


async def _mark_processed(connection: Connection, units: list[Changes]) -> dict[int, StorageError]:
    """Mark the units' messages processed; the refused units (by ``id()``) and why."""
    marking = [unit for unit in units if unit.inbox_processed is not None]
    if not marking:
        return {}
    rows = await connection.fetch(MARK_PROCESSED, [u.inbox_processed for u in marking],
                                  [u.updated_at for u in marking])
    marked = {row[0] for row in rows}
    missing = [unit for unit in marking if unit.inbox_processed not in marked]
    if not missing:
        return {}
    known = {row[0] for row in await connection.fetch(
        INBOX_KNOWN, [unit.inbox_processed for unit in missing])}
    return {id(unit): (AlreadyProcessed(f"inbox message {unit.inbox_processed!r} is already "
                                        "processed")
                       if unit.inbox_processed in known else
                       StorageError(f"inbox message {unit.inbox_processed!r} was never "
                                    "accepted"))
            for unit in missing}


async def _queue(connection: Connection, units: list[Changes]) -> dict[int, list[OutboxRecord]]:
    """The units' outbox rows (by ``id()`` of the unit), ids in unit and row order."""
    messages = [(unit, message) for unit in units for message in unit.outbox]
    ids: list[int] = []
    if messages:
        rows = await connection.fetch(
            QUEUE, [m.key.restaurant_id for _, m in messages],
            [m.key.customer_id for _, m in messages], [m.phone_number_id for _, m in messages],
            [m.body for _, m in messages], [m.kind for _, m in messages],
            [u.updated_at for u, _ in messages])
        ids = sorted(row[0] for row in rows)
    queued: dict[int, list[OutboxRecord]] = {id(unit): [] for unit in units}
    for outbox_id, (unit, message) in zip(ids, messages, strict=True):
        queued[id(unit)].append(OutboxRecord(
            id=outbox_id, key=message.key, phone_number_id=message.phone_number_id,
            body=message.body, kind=message.kind, state="pending", attempts=0,
            not_before=unit.updated_at, wamid=None, error=None, created_at=unit.updated_at))
    return queued


async def _write_rows(connection: Connection, units: list[Changes],
                      queued: dict[int, list[OutboxRecord]]) -> None:
    """Snapshots, drafts, log rows and conversation records of the units kept."""
    sessions = [unit for unit in units if unit.snapshot is not None]
    if sessions:
        await connection.execute(UPSERT_SESSIONS, [u.key.restaurant_id for u in sessions],
                                 [u.key.customer_id for u in sessions],
                                 [u.snapshot for u in sessions], [u.updated_at for u in sessions])
    drafts = [draft for unit in units for draft in unit.drafts]
    if drafts:
        await connection.execute(
            INSERT_DRAFTS, [d.key.restaurant_id for d in drafts],
            [d.key.customer_id for d in drafts], [d.reason for d in drafts],
            [to_json(d.cart) for d in drafts], [d.created_at for d in drafts])
    log = [(unit, message) for unit in units for message in unit.log]
    if log:
        await connection.execute(
            INSERT_MESSAGES, [u.key.restaurant_id for u, _ in log],
            [u.key.customer_id for u, _ in log], [m.direction for _, m in log],
            [m.kind for _, m in log], [m.text for _, m in log], [m.author for _, m in log],
            [m.at for _, m in log], [m.wamid for _, m in log],
            [None if m.outbox_index is None else queued[id(u)][m.outbox_index].id
             for u, m in log])
    changed = [(unit, unit.conversation) for unit in units if unit.conversation is not None]
    if changed:
        contacts = [c.contact or (None, None, None) for _, c in changed]
        await connection.execute(
            CHANGE_CONVERSATIONS, [u.key.restaurant_id for u, _ in changed],
            [u.key.customer_id for u, _ in changed], [c.name for _, c in changed],
            [c.inbound_at for _, c in changed], [c.outbound_at for _, c in changed],
            [c.handoff_requested for _, c in changed], [c.bot_paused for _, c in changed],
            [c.read for _, c in changed], [c.contact is not None for _, c in changed],
            [contact[0] for contact in contacts], [contact[1] for contact in contacts],
            [contact[2] for contact in contacts], [c.away_epoch for _, c in changed],
            [u.updated_at for u, _ in changed])
