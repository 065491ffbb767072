"""Rows of the PostgreSQL schema as records, and the columns each query selects for them.

JSON-like fields (order lines, a draft's cart) are stored as the same JSON
text as in SQLite (``text``, not ``jsonb``: what SQLite and the memory store
hold, PostgreSQL holds too, and it comes back with the same types).
"""

from __future__ import annotations

import json
from typing import Any, Final

import asyncpg

from storage.records import InboxRecord, OrderRecord, OutboxRecord, SessionKey
from storage.staff import ConversationRecord

ORDER_COLUMNS: Final = """reference, restaurant_id, customer_id, status, order_type,
    branch_id, address, payment_method, currency, total_minor, delivery_fee_minor, lines,
    created_at, updated_at"""
INBOX_COLUMNS: Final = """message_id, restaurant_id, customer_id, phone_number_id, wa_id,
    user_id, sent_at, received_at, payload"""
OUTBOX_COLUMNS: Final = """id, restaurant_id, customer_id, phone_number_id, body, kind, state,
    attempts, not_before, wamid, error, created_at"""
CONVERSATION_COLUMNS: Final = """restaurant_id, customer_id, name, bot_paused,
    handoff_requested, last_message_at, last_inbound_at, unread, phone_number_id, wa_id,
    user_id, away_epoch"""
STAFF_COLUMNS: Final = "restaurant_id, name, token_hash, created_at"


def to_json(value: Any) -> str:
    """The JSON text a JSON-like field is stored as (SQLite's encoding)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def order_from_row(row: asyncpg.Record) -> OrderRecord:
    return OrderRecord(
        reference=row[0], restaurant_id=row[1], customer_id=row[2], status=row[3],
        order_type=row[4], branch_id=row[5], address=row[6], payment_method=row[7],
        currency=row[8], total_minor=row[9], delivery_fee_minor=row[10],
        lines=tuple(json.loads(row[11])), created_at=row[12], updated_at=row[13])


def inbox_from_row(row: asyncpg.Record) -> InboxRecord:
    return InboxRecord(
        message_id=row[0], key=SessionKey(row[1], row[2]), phone_number_id=row[3],
        wa_id=row[4], user_id=row[5], sent_at=row[6], received_at=row[7],
        payload=bytes(row[8]))


def outbox_from_row(row: asyncpg.Record) -> OutboxRecord:
    return OutboxRecord(
        id=row[0], key=SessionKey(row[1], row[2]), phone_number_id=row[3], body=row[4],
        kind=row[5], state=row[6], attempts=row[7], not_before=row[8], wamid=row[9],
        error=row[10], created_at=row[11])


def conversation_from_row(row: asyncpg.Record) -> ConversationRecord:
    return ConversationRecord(
        key=SessionKey(row[0], row[1]), name=row[2], bot_paused=row[3],
        handoff_requested=row[4], last_message_at=row[5], last_inbound_at=row[6],
        unread=row[7], phone_number_id=row[8], wa_id=row[9], user_id=row[10],
        away_epoch=row[11])
