"""The SQLite file format: schema migrations, the statements that write it, rows ↔ records.

:class:`storage.sqlite.SQLiteStore` turns every write into a list of
``(statement, parameters)`` operations built here; its writer runs the
operations of many callers grouped by statement, in :data:`STATEMENT_ORDER`.
A new kind of row joins the group commit by adding its statement to that
order and a builder for its operations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from storage.base import (
    Changes,
    InboxRecord,
    OrderRecord,
    OutboxRecord,
    SessionKey,
)
from storage.codec import check_snapshot_size
from storage.console_sessions import CONSOLE_SESSIONS_INDEX, CONSOLE_SESSIONS_TABLE
from storage.sqlite_console import CONSOLE_STATEMENTS
from storage.sqlite_staff import (
    CONTROL_STATEMENTS,
    LOG_STATEMENTS,
    ORDER_KEY_SQL,
    ORDER_STATEMENTS,
    log_operations,
    order_operations,
)
from storage.sqlite_statement import Operation, Params, Statement, key_params, to_json

# Params, Statement and key_params are imported from here too.
__all__ = ["MIGRATIONS", "STATEMENT_ORDER", "Operation", "Params", "Statement", "key_params"]

# MIGRATIONS[n] upgrades a file at ``PRAGMA user_version`` n to n + 1.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE sessions (
            restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            snapshot BLOB NOT NULL, updated_at REAL NOT NULL,
            PRIMARY KEY (restaurant_id, customer_id)) WITHOUT ROWID""",
        """CREATE TABLE orders (
            id INTEGER PRIMARY KEY, reference TEXT NOT NULL,
            restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL, status TEXT NOT NULL,
            order_type TEXT NOT NULL, branch_id TEXT, address TEXT,
            payment_method TEXT NOT NULL, currency TEXT NOT NULL,
            total_minor INTEGER NOT NULL, delivery_fee_minor INTEGER NOT NULL,
            lines TEXT NOT NULL, created_at REAL NOT NULL,
            UNIQUE (restaurant_id, reference))""",
        "CREATE INDEX orders_by_customer ON orders (restaurant_id, customer_id)",
        """CREATE TABLE drafts (
            id INTEGER PRIMARY KEY, restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            reason TEXT NOT NULL, cart TEXT NOT NULL, created_at REAL NOT NULL)""",
        "CREATE INDEX drafts_by_customer ON drafts (restaurant_id, customer_id)",
        """CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY, restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            snapshot BLOB NOT NULL, reason TEXT NOT NULL, created_at REAL NOT NULL)""",
        "CREATE INDEX quarantine_by_customer ON quarantine (restaurant_id, customer_id)",
    ),
    (
        # The rowid is the acceptance order; the pending index keeps it (an
        # index ends with the rowid), so recovery reads pending rows in order.
        """CREATE TABLE inbox (
            message_id TEXT PRIMARY KEY,
            restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            phone_number_id TEXT NOT NULL, wa_id TEXT, user_id TEXT,
            sent_at INTEGER NOT NULL, received_at REAL NOT NULL,
            payload BLOB NOT NULL, processed_at REAL)""",
        "CREATE INDEX inbox_pending ON inbox (processed_at) WHERE processed_at IS NULL",
        # The writer checks before it marks; this catches any other writer (G4).
        # (A message marked twice within one multi-row UPDATE would be updated
        # once without firing it: the writer's lookup refuses the second mark.)
        """CREATE TRIGGER inbox_processed_once BEFORE UPDATE OF processed_at ON inbox
            WHEN OLD.processed_at IS NOT NULL
            BEGIN SELECT RAISE(ABORT, 'inbox message already processed'); END""",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY, restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            phone_number_id TEXT NOT NULL, body TEXT NOT NULL, kind TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL, not_before REAL NOT NULL,
            wamid TEXT, error TEXT, created_at REAL NOT NULL, finished_at REAL)""",
        "CREATE INDEX outbox_by_customer ON outbox (restaurant_id, customer_id)",
        """CREATE INDEX outbox_pending ON outbox (restaurant_id, customer_id, id)
            WHERE state = 'pending'""",
        "CREATE TABLE identities (user_id TEXT PRIMARY KEY, wa_id TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE message_status (
            wamid TEXT PRIMARY KEY, status TEXT NOT NULL, rank INTEGER NOT NULL,
            updated_at REAL NOT NULL) WITHOUT ROWID""",
    ),
    (
        # The restaurant's side (storage.staff, storage.sqlite_staff).
        """CREATE TABLE order_events (
            id INTEGER PRIMARY KEY, restaurant_id TEXT NOT NULL, reference TEXT NOT NULL,
            from_status TEXT, to_status TEXT NOT NULL, actor TEXT NOT NULL,
            at REAL NOT NULL, reason TEXT)""",
        "CREATE INDEX order_events_by_order ON order_events (restaurant_id, reference)",
        # Orders placed before there was a history start theirs with their creation.
        """INSERT INTO order_events (restaurant_id, reference, to_status, actor, at)
            SELECT restaurant_id, reference, status, 'customer', created_at FROM orders
            ORDER BY id""",
        "ALTER TABLE orders ADD COLUMN updated_at REAL",
        "CREATE INDEX orders_by_time ON orders (restaurant_id, created_at)",
        "CREATE INDEX orders_by_status ON orders (restaurant_id, status, created_at)",
        f"CREATE INDEX orders_by_key ON orders ({ORDER_KEY_SQL})",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY, restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            direction TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
            author TEXT NOT NULL, at REAL NOT NULL, wamid TEXT, outbox_id INTEGER)""",
        "CREATE INDEX messages_by_conversation ON messages (restaurant_id, customer_id, id)",
        """CREATE TABLE conversations (
            restaurant_id TEXT NOT NULL, customer_id TEXT NOT NULL, name TEXT,
            bot_paused INTEGER NOT NULL DEFAULT 0,
            handoff_requested INTEGER NOT NULL DEFAULT 0,
            last_message_at REAL NOT NULL, last_inbound_at REAL,
            unread INTEGER NOT NULL DEFAULT 0,
            phone_number_id TEXT, wa_id TEXT, user_id TEXT,
            away_epoch INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (restaurant_id, customer_id)) WITHOUT ROWID""",
        """CREATE INDEX conversations_by_activity
            ON conversations (restaurant_id, last_message_at)""",
        """CREATE TABLE restaurant_controls (
            restaurant_id TEXT PRIMARY KEY, bot_enabled INTEGER NOT NULL,
            off_epoch INTEGER NOT NULL, updated_at REAL NOT NULL) WITHOUT ROWID""",
        """CREATE TABLE sold_out (
            restaurant_id TEXT NOT NULL, item_id TEXT NOT NULL,
            PRIMARY KEY (restaurant_id, item_id)) WITHOUT ROWID""",
        """CREATE TABLE staff (
            restaurant_id TEXT NOT NULL, name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE, created_at REAL NOT NULL,
            PRIMARY KEY (restaurant_id, name)) WITHOUT ROWID""",
    ),
    (
        # The console's sign-in sessions (storage.console_sessions.ConsoleSessionStorage),
        # kept across restarts: by the SHA-256 of the cookie's id, never the id.
        CONSOLE_SESSIONS_TABLE.format(key="TEXT NOT NULL", time="REAL NOT NULL")
        + " WITHOUT ROWID",
        CONSOLE_SESSIONS_INDEX,
    ),
)

# ?1/?2 are the conversation; the stored snapshot is moved aside, or the
# caller's copy when none is stored, so the record is never silently dropped.
QUARANTINE_SESSION: Final = Statement("""
INSERT INTO quarantine (restaurant_id, customer_id, snapshot, reason, created_at)
SELECT ?1, ?2, coalesce((SELECT snapshot FROM sessions
                         WHERE restaurant_id = ?1 AND customer_id = ?2), ?3), ?4, ?5
""")
DELETE_SESSION: Final = Statement(
    "DELETE FROM sessions WHERE restaurant_id = ? AND customer_id = ?")
UPSERT_SESSION: Final = Statement(
    "INSERT INTO sessions (restaurant_id, customer_id, snapshot, updated_at) VALUES ",
    "(?, ?, ?, ?)", """
ON CONFLICT (restaurant_id, customer_id)
DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at""")
INSERT_ORDER: Final = Statement("""
INSERT INTO orders (reference, restaurant_id, customer_id, status, order_type, branch_id,
                    address, payment_method, currency, total_minor, delivery_fee_minor,
                    lines, created_at, updated_at)
VALUES """, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_DRAFT: Final = Statement(
    "INSERT INTO drafts (restaurant_id, customer_id, reason, cart, created_at) VALUES ",
    "(?, ?, ?, ?, ?)")
MARK_PROCESSED: Final = Statement(
    "WITH marks (processed_at, message_id) AS (VALUES ", "(?, ?)", """)
UPDATE inbox SET processed_at = marks.processed_at
FROM marks WHERE inbox.message_id = marks.message_id""")
# The id is chosen by the store (the writer is the only one inserting), so a
# commit can hand its rows to the sender without reading them back.
INSERT_OUTBOX: Final = Statement("""
INSERT INTO outbox (id, restaurant_id, customer_id, phone_number_id, body, kind, state,
                    attempts, not_before, created_at)
VALUES """, "(?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)")
MAX_OUTBOX_ID: Final = "SELECT coalesce(max(id), 0) FROM outbox"
INSERT_INBOX: Final = Statement("""
INSERT INTO inbox (message_id, restaurant_id, customer_id, phone_number_id, wa_id, user_id,
                   sent_at, received_at, payload)
VALUES """, "(?, ?, ?, ?, ?, ?, ?, ?, ?)", " ON CONFLICT (message_id) DO NOTHING")
UPSERT_IDENTITY: Final = Statement(
    "INSERT INTO identities (user_id, wa_id) VALUES ", "(?, ?)",
    " ON CONFLICT (user_id) DO UPDATE SET wa_id = excluded.wa_id")
# The first value is the outbox id: a row that is no longer pending is left as it is.
OUTBOX_SENT: Final = Statement(
    "WITH sent (id, wamid, at) AS (VALUES ", "(?, ?, ?)", """)
UPDATE outbox SET state = 'sent', wamid = sent.wamid, finished_at = sent.at
FROM sent WHERE outbox.id = sent.id AND outbox.state = 'pending'""")
OUTBOX_RETRY: Final = Statement(
    "WITH delayed (id, not_before, error) AS (VALUES ", "(?, ?, ?)", """)
UPDATE outbox SET attempts = attempts + 1, not_before = delayed.not_before,
                  error = delayed.error
FROM delayed WHERE outbox.id = delayed.id AND outbox.state = 'pending'""")
OUTBOX_FAILED: Final = Statement(
    "WITH failed (id, error, at) AS (VALUES ", "(?, ?, ?)", """)
UPDATE outbox SET state = 'failed', attempts = attempts + 1, error = failed.error,
                  finished_at = failed.at
FROM failed WHERE outbox.id = failed.id AND outbox.state = 'pending'""")
UPSERT_STATUS: Final = Statement(
    "INSERT INTO message_status (wamid, status, rank, updated_at) VALUES ", "(?, ?, ?, ?)", """
ON CONFLICT (wamid) DO UPDATE
SET status = excluded.status, rank = excluded.rank, updated_at = excluded.updated_at
WHERE excluded.rank > message_status.rank""")
# A unit's operations run in this order whether it is batched or alone.
# INSERT_INBOX comes before MARK_PROCESSED: a message accepted earlier in the
# same batch must exist when its processing is marked (storage.sqlite_writer);
# likewise INSERT_ORDER before the order moves (storage.sqlite_staff).
STATEMENT_ORDER: Final = (
    QUARANTINE_SESSION, DELETE_SESSION, UPSERT_SESSION, INSERT_ORDER, *ORDER_STATEMENTS,
    INSERT_DRAFT, INSERT_INBOX, UPSERT_IDENTITY, MARK_PROCESSED, INSERT_OUTBOX,
    *LOG_STATEMENTS, OUTBOX_SENT, OUTBOX_RETRY, OUTBOX_FAILED, UPSERT_STATUS,
    *CONTROL_STATEMENTS, *CONSOLE_STATEMENTS,
)

# Lookups the writer runs inside its transaction before it writes (see
# storage.sqlite_writer): two columns, ``{marks}`` for the IN list.
LOOKUP_INBOX: Final = (
    "SELECT message_id, processed_at IS NOT NULL FROM inbox WHERE message_id IN ({marks})"
)
LOOKUP_STATUS: Final = "SELECT wamid, rank FROM message_status WHERE wamid IN ({marks})"

ORDER_COLUMNS: Final = """reference, restaurant_id, customer_id, status, order_type,
    branch_id, address, payment_method, currency, total_minor, delivery_fee_minor, lines,
    created_at, updated_at"""
INBOX_COLUMNS: Final = """message_id, restaurant_id, customer_id, phone_number_id, wa_id,
    user_id, sent_at, received_at, payload"""
OUTBOX_COLUMNS: Final = """id, restaurant_id, customer_id, phone_number_id, body, kind, state,
    attempts, not_before, wamid, error, created_at"""
# Pending and due, minus everything queued behind a row of its conversation
# that waits for a retry: per-customer order outranks throughput.  The ``+``
# stops SQLite from walking the whole (never pruned) table in id order to
# skip a sort; it reads the small pending index and sorts that instead.
PENDING_OUTBOUND: Final = f"""
SELECT {OUTBOX_COLUMNS} FROM outbox AS queued
WHERE queued.state = 'pending' AND queued.not_before <= ?1
  AND NOT EXISTS (SELECT 1 FROM outbox AS waiting
                  WHERE waiting.state = 'pending' AND waiting.restaurant_id = queued.restaurant_id
                    AND waiting.customer_id = queued.customer_id AND waiting.id < queued.id
                    AND waiting.not_before > ?1)
ORDER BY +queued.id LIMIT ?2
"""


def commit_operations(changes: Changes, outbox: Sequence[OutboxRecord]) -> list[Operation]:
    """The statements of one commit; ``outbox`` is ``changes.outbox`` numbered (queued_rows)."""
    key = key_params(changes.key)
    operations: list[Operation] = []
    if changes.quarantine is not None:
        quarantine = changes.quarantine
        if quarantine.key != changes.key:
            raise ValueError(f"quarantine of {quarantine.key} in a commit for {changes.key}")
        operations.append((QUARANTINE_SESSION, (*key, quarantine.snapshot, quarantine.reason,
                                                quarantine.created_at)))
        operations.append((DELETE_SESSION, key))
    if changes.snapshot is not None:
        check_snapshot_size(changes.snapshot)
        operations.append((UPSERT_SESSION, (*key, changes.snapshot, changes.updated_at)))
    operations.extend(
        (INSERT_ORDER, (order.reference, order.restaurant_id, order.customer_id, order.status,
                        order.order_type, order.branch_id, order.address,
                        order.payment_method, order.currency, order.total_minor,
                        order.delivery_fee_minor, to_json(list(order.lines)),
                        order.created_at, order.updated_at))
        for order in changes.orders
    )
    operations.extend(order_operations(changes))
    operations.extend(
        (INSERT_DRAFT, (*key_params(draft.key), draft.reason, to_json(draft.cart),
                        draft.created_at))
        for draft in changes.drafts
    )
    if changes.inbox_processed is not None:
        operations.append((MARK_PROCESSED, (changes.updated_at, changes.inbox_processed)))
    operations.extend(
        (INSERT_OUTBOX, (row.id, *key_params(row.key), row.phone_number_id, row.body,
                         row.kind, row.not_before, row.created_at))
        for row in outbox
    )
    operations.extend(log_operations(changes, outbox))
    return operations


def queued_rows(changes: Changes, first_id: int) -> list[OutboxRecord]:
    """``changes.outbox`` as the pending rows they become, numbered from ``first_id``."""
    return [OutboxRecord(id=first_id + n, key=message.key,
                         phone_number_id=message.phone_number_id, body=message.body,
                         kind=message.kind, state="pending", attempts=0,
                         not_before=changes.updated_at, wamid=None, error=None,
                         created_at=changes.updated_at)
            for n, message in enumerate(changes.outbox)]


def accept_operations(records: Sequence[InboxRecord],
                      identities: Sequence[tuple[str, str]]) -> list[Operation]:
    operations: list[Operation] = [
        (INSERT_INBOX, (record.message_id, *key_params(record.key), record.phone_number_id,
                        record.wa_id, record.user_id, record.sent_at, record.received_at,
                        record.payload))
        for record in records
    ]
    operations.extend((UPSERT_IDENTITY, (user_id, wa_id)) for user_id, wa_id in identities)
    return operations


def order_from_row(row: Any) -> OrderRecord:
    return OrderRecord(
        reference=row[0], restaurant_id=row[1], customer_id=row[2], status=row[3],
        order_type=row[4], branch_id=row[5], address=row[6], payment_method=row[7],
        currency=row[8], total_minor=row[9], delivery_fee_minor=row[10],
        lines=tuple(json.loads(row[11])), created_at=row[12], updated_at=row[13],
    )


def inbox_from_row(row: Any) -> InboxRecord:
    return InboxRecord(
        message_id=row[0], key=SessionKey(row[1], row[2]), phone_number_id=row[3],
        wa_id=row[4], user_id=row[5], sent_at=row[6], received_at=row[7],
        payload=bytes(row[8]),
    )


def outbox_from_row(row: Any) -> OutboxRecord:
    return OutboxRecord(
        id=row[0], key=SessionKey(row[1], row[2]), phone_number_id=row[3], body=row[4],
        kind=row[5], state=row[6], attempts=row[7], not_before=row[8], wamid=row[9],
        error=row[10], created_at=row[11],
    )


