"""A :class:`SessionStore` in plain dicts (tests, ``--db :memory:``): nothing survives
the process.

The restaurant's side (:mod:`storage.staff`) is in :mod:`storage.memory_staff`, the
console's sign-in sessions in :mod:`storage.memory_console`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from storage.base import (
    Changes,
    DraftRecord,
    InboxRecord,
    OrderRecord,
    OutboxRecord,
    QuarantineRecord,
    SessionKey,
    SessionRow,
    SessionStore,
)
from storage.codec import check_snapshot_size
from storage.conversation_move import check_keys
from storage.errors import AlreadyProcessed, DuplicateOrderReference, StorageError, StoreClosed
from storage.mail import SentMark
from storage.memory_console import MemoryConsoleSessions
from storage.memory_staff import MemoryRestaurantSide, StoredOrder, StoredStatus


@dataclass(frozen=True, slots=True)
class _StoredDraft:
    record: DraftRecord
    cart_json: str


@dataclass(frozen=True, slots=True)
class _InboxEntry:
    record: InboxRecord
    processed_at: float | None


class MemoryStore(MemoryConsoleSessions, MemoryRestaurantSide, SessionStore):
    """Keeps everything in dicts; same semantics as :class:`storage.sqlite.SQLiteStore`."""

    def __init__(self) -> None:
        super().__init__()
        self._is_open = False
        self._sessions: dict[SessionKey, SessionRow] = {}
        self._drafts: list[_StoredDraft] = []
        self._quarantine: list[QuarantineRecord] = []
        self._inbox: dict[str, _InboxEntry] = {}  # in acceptance order
        # The unprocessed ones, in acceptance order: the sweep every 30 s reads
        # these, not every message the process ever took.
        self._unprocessed: dict[str, InboxRecord] = {}
        self._identities: dict[str, str] = {}
        self._outbox: dict[int, OutboxRecord] = {}  # in id order
        self._pending: dict[int, None] = {}  # ids of pending rows, in id order
        self._last_outbox_id = 0
        self._finished_at: dict[int, float] = {}  # outbox id -> when sent or given up
        self._statuses: dict[str, StoredStatus] = {}

    async def open(self) -> None:
        self._is_open = True

    async def close(self) -> None:
        self._is_open = False

    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        self._check_open()
        row = self._sessions.get(key)
        return None if row is None else row.snapshot

    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        self._check_open()
        # Everything that can fail happens before the first mutation, so a
        # refused commit leaves no trace — as a rolled-back transaction would.
        if changes.snapshot is not None:
            check_snapshot_size(changes.snapshot)
        _check_quarantine_key(changes)
        inbox_entry = self._unprocessed_entry(changes.inbox_processed)
        new_references = [(order.restaurant_id, order.reference) for order in changes.orders]
        clashes = sorted(
            {ref for ref in new_references if ref in self._orders}
            | {ref for ref in new_references if new_references.count(ref) > 1}
        )
        if clashes:
            raise DuplicateOrderReference(_clash_message(clashes))
        plan = self._plan_restaurant(changes)
        orders = [
            StoredOrder(replace(order, lines=()), _to_json(list(order.lines)))
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
        self._orders.update(zip(new_references, orders, strict=True))
        self._drafts.extend(drafts)
        if inbox_entry is not None:
            self._inbox[inbox_entry.record.message_id] = replace(
                inbox_entry, processed_at=changes.updated_at)
            del self._unprocessed[inbox_entry.record.message_id]
        queued: list[OutboxRecord] = []
        for message in changes.outbox:
            self._last_outbox_id += 1
            self._outbox[self._last_outbox_id] = row = OutboxRecord(
                id=self._last_outbox_id, key=message.key,
                phone_number_id=message.phone_number_id, body=message.body, kind=message.kind,
                state="pending", attempts=0, not_before=changes.updated_at, wamid=None,
                error=None, created_at=changes.updated_at)
            self._pending[self._last_outbox_id] = None
            queued.append(row)
        self._apply_restaurant(changes, plan, queued)
        return queued

    async def delete_session(self, key: SessionKey) -> bool:
        self._check_open()
        return self._sessions.pop(key, None) is not None

    async def move_conversation(self, old: SessionKey, new: SessionKey) -> bool:
        self._check_open()
        check_keys(old.restaurant_id, new.restaurant_id)
        moved = self._move_restaurant_side(old, new)
        row = self._sessions.pop(old, None)
        if row is not None and new not in self._sessions:
            self._sessions[new] = replace(row, key=new)
        drafts = [index for index, draft in enumerate(self._drafts) if draft.record.key == old]
        for index in drafts:
            draft = self._drafts[index]
            self._drafts[index] = replace(draft, record=replace(draft.record, key=new))
        return moved or row is not None or bool(drafts)

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
        stored = [order for order in self._orders.values()
                  if key is None or (order.record.restaurant_id, order.record.customer_id)
                  == (key.restaurant_id, key.customer_id)]
        stored.sort(key=lambda order: order.record.created_at)
        return [order.order() for order in stored]

    async def reference_exists(self, restaurant_id: str, reference: str) -> bool:
        self._check_open()
        return (restaurant_id, reference) in self._orders

    async def list_drafts(self, key: SessionKey) -> list[DraftRecord]:
        self._check_open()
        stored = sorted((draft for draft in self._drafts if draft.record.key == key),
                        key=lambda draft: draft.record.created_at)
        return [replace(draft.record, cart=json.loads(draft.cart_json)) for draft in stored]

    async def list_quarantine(self, key: SessionKey | None = None) -> list[QuarantineRecord]:
        self._check_open()
        records = [record for record in self._quarantine if key is None or record.key == key]
        return sorted(records, key=lambda record: record.created_at)

    async def accept_inbound(self, records: Sequence[InboxRecord],
                             identities: Sequence[tuple[str, str]] = ()) -> list[str]:
        self._check_open()
        new: list[str] = []
        for record in records:
            if record.message_id not in self._inbox:
                self._inbox[record.message_id] = _InboxEntry(record, None)
                self._unprocessed[record.message_id] = record
                new.append(record.message_id)
        self._identities.update(identities)
        return new

    async def pending_inbound(self, limit: int = 1000) -> list[InboxRecord]:
        self._check_open()
        return list(islice(self._unprocessed.values(), max(limit, 0)))

    async def inbox_state(self, message_id: str) -> str | None:
        self._check_open()
        entry = self._inbox.get(message_id)
        if entry is None:
            return None
        return "pending" if entry.processed_at is None else "processed"

    async def prune_inbox(self, processed_before: float) -> int:
        self._check_open()
        old = [message_id for message_id, entry in self._inbox.items()
               if entry.processed_at is not None and entry.processed_at < processed_before]
        for message_id in old:
            del self._inbox[message_id]
        return len(old)

    async def prune_outbox(self, finished_before: float) -> int:
        self._check_open()
        old = [row for row in self._outbox.values()
               if self._finished_at.get(row.id, finished_before) < finished_before]
        for row in old:
            del self._outbox[row.id]
            self._finished_at.pop(row.id, None)
            if row.wamid is not None:
                self._statuses.pop(row.wamid, None)
        return len(old)

    async def resolve_customer(self, user_id: str) -> str | None:
        self._check_open()
        return self._identities.get(user_id)

    async def pending_outbound(self, now: float, limit: int = 1000) -> list[OutboxRecord]:
        self._check_open()
        waiting: set[SessionKey] = set()
        due: list[OutboxRecord] = []
        for outbox_id in self._pending:
            row = self._outbox[outbox_id]
            if row.key in waiting:
                continue
            if row.not_before > now:
                waiting.add(row.key)
            else:
                due.append(row)
        return due[:max(limit, 0)]

    async def pending_keys(self) -> set[SessionKey]:
        self._check_open()
        return {self._outbox[outbox_id].key for outbox_id in self._pending}

    async def outbox_sent(self, outbox_id: int, wamid: str | None, at: float) -> None:
        self._check_open()
        self._finish(outbox_id, at, state="sent", wamid=wamid)

    async def outbox_sent_many(self, marks: Sequence[SentMark]) -> None:
        self._check_open()
        for mark in marks:
            self._finish(mark.outbox_id, mark.at, state="sent", wamid=mark.wamid)

    async def outbox_retry(self, outbox_id: int, not_before: float, error: str) -> None:
        self._check_open()
        row = self._outbox.get(outbox_id)
        if row is not None:
            self._update_pending(outbox_id, attempts=row.attempts + 1, not_before=not_before,
                                 error=error)

    async def outbox_failed(self, outbox_id: int, error: str, at: float) -> None:
        self._check_open()
        row = self._outbox.get(outbox_id)
        if row is not None:
            self._finish(outbox_id, at, state="failed", attempts=row.attempts + 1, error=error)

    async def list_outbox(self, key: SessionKey | None = None) -> list[OutboxRecord]:
        self._check_open()
        return [row for row in self._outbox.values() if key is None or row.key == key]

    async def record_status(self, wamid: str, status: str, rank: int, at: float) -> bool:
        self._check_open()
        stored = self._statuses.get(wamid)
        if stored is not None and rank <= stored.rank:
            return False
        self._statuses[wamid] = StoredStatus(status, rank, at)
        return True

    async def message_status(self, wamid: str) -> str | None:
        self._check_open()
        stored = self._statuses.get(wamid)
        return None if stored is None else stored.status

    def _unprocessed_entry(self, message_id: str | None) -> _InboxEntry | None:
        if message_id is None:
            return None
        entry = self._inbox.get(message_id)
        if entry is None:
            raise StorageError(f"inbox message {message_id!r} was never accepted")
        if entry.processed_at is not None:
            raise AlreadyProcessed(f"inbox message {message_id!r} is already processed")
        return entry

    def _finish(self, outbox_id: int, at: float, **fields: Any) -> None:
        row = self._outbox.get(outbox_id)
        if row is not None and row.state == "pending":
            self._finished_at[outbox_id] = at
            self._update_pending(outbox_id, **fields)

    def _update_pending(self, outbox_id: int, **fields: Any) -> None:
        row = self._outbox.get(outbox_id)
        if row is not None and row.state == "pending":
            self._outbox[outbox_id] = updated = replace(row, **fields)
            if updated.state != "pending":
                del self._pending[outbox_id]

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
