"""A :class:`SessionStore` in plain dicts, for tests: nothing survives the process."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from storage.base import (
    Changes,
    DraftRecord,
    OrderRecord,
    QuarantineRecord,
    SessionKey,
    SessionRow,
    SessionStore,
)
from storage.codec import check_snapshot_size
from storage.errors import DuplicateOrderReference, StoreClosed


@dataclass(frozen=True, slots=True)
class _StoredOrder:
    record: OrderRecord  # with empty ``lines``; they are kept as JSON like SQLite does
    lines_json: str


@dataclass(frozen=True, slots=True)
class _StoredDraft:
    record: DraftRecord
    cart_json: str


class MemoryStore(SessionStore):
    """Keeps everything in dicts; same semantics as :class:`storage.sqlite.SQLiteStore`."""

    def __init__(self) -> None:
        self._is_open = False
        self._sessions: dict[SessionKey, SessionRow] = {}
        self._orders: list[_StoredOrder] = []
        self._references: set[tuple[str, str]] = set()
        self._drafts: list[_StoredDraft] = []
        self._quarantine: list[QuarantineRecord] = []

    async def open(self) -> None:
        self._is_open = True

    async def close(self) -> None:
        self._is_open = False

    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        self._check_open()
        row = self._sessions.get(key)
        return None if row is None else row.snapshot

    async def commit(self, changes: Changes) -> None:
        self._check_open()
        # Everything that can fail happens before the first mutation, so a
        # refused commit leaves no trace — as a rolled-back transaction would.
        if changes.snapshot is not None:
            check_snapshot_size(changes.snapshot)
        _check_quarantine_key(changes)
        new_references = [(order.restaurant_id, order.reference) for order in changes.orders]
        clashes = sorted(
            {ref for ref in new_references if ref in self._references}
            | {ref for ref in new_references if new_references.count(ref) > 1}
        )
        if clashes:
            raise DuplicateOrderReference(_clash_message(clashes))
        orders = [
            _StoredOrder(replace(order, lines=()), _to_json(list(order.lines)))
            for order in changes.orders
        ]
        drafts = [_StoredDraft(replace(draft, cart={}), _to_json(draft.cart))
                  for draft in changes.drafts]

        if changes.quarantine is not None:
            previous = self._sessions.pop(changes.key, None)
            snapshot = changes.quarantine.snapshot if previous is None else previous.snapshot
            self._quarantine.append(replace(changes.quarantine, snapshot=snapshot))
        if changes.snapshot is not None:
            self._sessions[changes.key] = SessionRow(
                changes.key, changes.snapshot, changes.updated_at
            )
        self._orders.extend(orders)
        self._references.update(new_references)
        self._drafts.extend(drafts)

    async def delete_session(self, key: SessionKey) -> bool:
        self._check_open()
        return self._sessions.pop(key, None) is not None

    async def list_sessions(self, restaurant_id: str | None = None,
                            limit: int = 100) -> list[SessionRow]:
        self._check_open()
        rows = [row for row in self._sessions.values()
                if restaurant_id is None or row.key.restaurant_id == restaurant_id]
        rows.sort(key=lambda row: (row.key.restaurant_id, row.key.customer_id))
        rows.sort(key=lambda row: row.updated_at, reverse=True)
        return rows[:max(limit, 0)]

    async def list_orders(self, key: SessionKey | None = None) -> list[OrderRecord]:
        self._check_open()
        stored = [order for order in self._orders
                  if key is None or (order.record.restaurant_id, order.record.customer_id)
                  == (key.restaurant_id, key.customer_id)]
        stored.sort(key=lambda order: order.record.created_at)
        return [replace(order.record, lines=tuple(json.loads(order.lines_json)))
                for order in stored]

    async def reference_exists(self, restaurant_id: str, reference: str) -> bool:
        self._check_open()
        return (restaurant_id, reference) in self._references

    async def list_drafts(self, key: SessionKey) -> list[DraftRecord]:
        self._check_open()
        stored = sorted((draft for draft in self._drafts if draft.record.key == key),
                        key=lambda draft: draft.record.created_at)
        return [replace(draft.record, cart=json.loads(draft.cart_json)) for draft in stored]

    async def list_quarantine(self, key: SessionKey | None = None) -> list[QuarantineRecord]:
        self._check_open()
        records = [record for record in self._quarantine if key is None or record.key == key]
        return sorted(records, key=lambda record: record.created_at)

    def _check_open(self) -> None:
        if not self._is_open:
            raise StoreClosed("the memory store is not open")


def _check_quarantine_key(changes: Changes) -> None:
    if changes.quarantine is not None and changes.quarantine.key != changes.key:
        message = f"quarantine of {changes.quarantine.key} in a commit for {changes.key}"
        raise ValueError(message)


def _clash_message(clashes: list[tuple[str, str]]) -> str:
    listed = ", ".join(f"{reference!r} of {restaurant!r}" for restaurant, reference in clashes)
    return f"order reference already used: {listed}"


def _to_json(value: Any) -> str:
    # Same encoding as SQLite, so a value JSON cannot hold fails here too and
    # what comes back has the same types (tuples become lists) in both stores.
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
