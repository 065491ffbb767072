"""The restaurant's side of :class:`storage.memory.MemoryStore`: the roles of :mod:`storage.staff`.

:class:`MemoryRestaurantSide` keeps orders (shared with the records role),
their history, the message log, conversation records, controls and staff in
dicts, and gives :meth:`~storage.memory.MemoryStore.commit` the two halves of
its restaurant work: :meth:`~MemoryRestaurantSide._plan_restaurant` checks
everything that can refuse the commit (order moves, log rows naming outbox
rows) before anything changes, and :meth:`~MemoryRestaurantSide._apply_restaurant`
writes it — the same outcomes as :mod:`storage.sqlite_staff`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

from storage.errors import OrderStatusChanged, StorageError
from storage.records import Changes, ConversationChange, OrderRecord, OutboxRecord, SessionKey
from storage.staff import (
    Controls,
    ConversationRecord,
    MessageRecord,
    OrderEvent,
    StaffMember,
)

OrderKey = tuple[str, str]  # (restaurant id, reference)


@dataclass(frozen=True, slots=True)
class StoredOrder:
    record: OrderRecord  # with empty ``lines``; they are kept as JSON like SQLite does
    lines_json: str

    def order(self) -> OrderRecord:
        return replace(self.record, lines=tuple(json.loads(self.lines_json)))


@dataclass(frozen=True, slots=True)
class StoredStatus:
    status: str
    rank: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class _LoggedRow:
    record: MessageRecord  # status left None: it is read from the outbox row
    outbox_id: int | None


@dataclass(frozen=True, slots=True)
class RestaurantPlan:
    """What a commit will write for the restaurant, checked: order statuses, log outbox ids."""

    statuses: dict[OrderKey, str]
    outbox_indexes: list[int | None]


class MemoryRestaurantSide:
    """OrderBoard, ConversationLog, RestaurantControls and StaffDirectory in dicts."""

    _orders: dict[OrderKey, StoredOrder]  # in commit order
    _outbox: dict[int, OutboxRecord]
    _statuses: dict[str, StoredStatus]

    def __init__(self) -> None:
        self._orders = {}
        self._events: dict[OrderKey, list[OrderEvent]] = {}
        self._log: dict[SessionKey, list[_LoggedRow]] = {}
        self._last_message_id = 0
        self._conversations: dict[SessionKey, ConversationRecord] = {}
        self._controls: dict[str, Controls] = {}
        self._staff: dict[tuple[str, str], StaffMember] = {}

    def _check_open(self) -> None:
        raise NotImplementedError  # the store's

    async def orders(self, restaurant_id: str, *, status: str | None = None, limit: int = 50,
                     before: float | None = None) -> list[OrderRecord]:
        self._check_open()
        since = math.inf if before is None else before
        stored = [order for order in self._orders.values()
                  if order.record.restaurant_id == restaurant_id
                  and (status is None or order.record.status == status)
                  and order.record.created_at < since]
        stored.reverse()  # newest first among equal times, as by id in SQLite
        stored.sort(key=lambda order: order.record.created_at, reverse=True)
        return [order.order() for order in stored[:max(limit, 0)]]

    async def order(self, restaurant_id: str, reference: str) -> OrderRecord | None:
        self._check_open()
        stored = self._orders.get((restaurant_id, reference))
        return None if stored is None else stored.order()

    async def order_history(self, restaurant_id: str, reference: str) -> list[OrderEvent]:
        self._check_open()
        return list(self._events.get((restaurant_id, reference), []))

    async def latest_order(self, key: SessionKey) -> OrderRecord | None:
        self._check_open()
        latest: StoredOrder | None = None
        for stored in self._orders.values():
            if ((stored.record.restaurant_id, stored.record.customer_id)
                    == (key.restaurant_id, key.customer_id)
                    and (latest is None or stored.record.created_at >= latest.record.created_at)):
                latest = stored
        return None if latest is None else latest.order()

    async def conversation(self, key: SessionKey) -> ConversationRecord | None:
        self._check_open()
        return self._conversations.get(key)

    async def conversations(self, restaurant_id: str, *, limit: int = 50,
                            before: float | None = None) -> list[ConversationRecord]:
        self._check_open()
        since = math.inf if before is None else before
        records = [record for record in self._conversations.values()
                   if record.key.restaurant_id == restaurant_id
                   and record.last_message_at < since]
        records.sort(key=lambda record: (-record.last_message_at, record.key.customer_id))
        return records[:max(limit, 0)]

    async def messages(self, key: SessionKey, *, limit: int = 50,
                       before: int | None = None) -> list[MessageRecord]:
        self._check_open()
        rows = [row for row in self._log.get(key, []) if before is None or row.record.id < before]
        newest = rows[len(rows) - max(limit, 0):] if limit > 0 else []
        return [replace(row.record, status=self._delivery(row)) for row in newest]

    def _move_restaurant_side(self, old: SessionKey, new: SessionKey) -> bool:
        """Orders, log and staff record of ``old`` become ``new``'s (see ``move_conversation``)."""
        orders = [key for key, stored in self._orders.items()
                  if key[0] == old.restaurant_id and stored.record.customer_id == old.customer_id]
        for key in orders:
            stored = self._orders[key]
            self._orders[key] = replace(stored, record=replace(
                stored.record, customer_id=new.customer_id))
        rows = self._log.pop(old, [])
        if rows:
            moved = [replace(row, record=replace(row.record, key=new)) for row in rows]
            merged = self._log.get(new, []) + moved
            self._log[new] = sorted(merged, key=lambda row: row.record.id)
        record = self._conversations.pop(old, None)
        if record is not None and new not in self._conversations:
            self._conversations[new] = replace(record, key=new)
        return bool(orders or rows or record)

    async def controls(self, restaurant_id: str) -> Controls:
        self._check_open()
        return self._controls.get(restaurant_id, Controls(restaurant_id))

    async def set_bot_enabled(self, restaurant_id: str, enabled: bool, at: float) -> Controls:
        current = await self.controls(restaurant_id)
        switched_off = current.bot_enabled and not enabled
        self._controls[restaurant_id] = updated = replace(
            current, bot_enabled=enabled, off_epoch=current.off_epoch + switched_off)
        return updated

    async def set_item_available(self, restaurant_id: str, item_id: str, available: bool,
                                 at: float) -> Controls:
        current = await self.controls(restaurant_id)
        sold_out = current.sold_out - {item_id} if available else current.sold_out | {item_id}
        self._controls[restaurant_id] = updated = replace(current, sold_out=sold_out)
        return updated

    async def add_staff(self, member: StaffMember) -> None:
        self._check_open()
        if (member.restaurant_id, member.name) in self._staff:
            raise StorageError(f"staff name {member.name!r} is already taken at "
                               f"{member.restaurant_id!r}")
        if any(other.token_hash == member.token_hash for other in self._staff.values()):
            raise StorageError(f"the token of staff {member.name!r} is already in use")
        self._staff[member.restaurant_id, member.name] = member

    async def staff(self, restaurant_id: str | None = None) -> list[StaffMember]:
        self._check_open()
        return [self._staff[key] for key in sorted(self._staff)
                if restaurant_id is None or key[0] == restaurant_id]

    async def revoke_staff(self, restaurant_id: str, name: str) -> bool:
        self._check_open()
        return self._staff.pop((restaurant_id, name), None) is not None

    async def staff_by_token_hash(self, token_hash: str) -> StaffMember | None:
        self._check_open()
        return next((member for member in self._staff.values()
                     if member.token_hash == token_hash), None)

    def _plan_restaurant(self, changes: Changes) -> RestaurantPlan:
        """Check what the commit does for the restaurant; raise to refuse it. Changes nothing."""
        statuses = {(order.restaurant_id, order.reference): order.status
                    for order in changes.orders}
        restaurant_id = changes.key.restaurant_id
        for move in changes.order_moves:
            key = (restaurant_id, move.reference)
            stored = self._orders.get(key)
            current = statuses.get(key, None if stored is None else stored.record.status)
            if current is None:
                raise StorageError(f"no order {move.reference!r} of {restaurant_id!r} to move")
            if current != move.from_status:
                raise OrderStatusChanged(move.reference, move.from_status, current)
            statuses[key] = move.to_status
        for message in changes.log:
            index = message.outbox_index
            if index is not None and not 0 <= index < len(changes.outbox):
                raise ValueError(f"log entry names outbox row {index} of a commit queueing "
                                 f"{len(changes.outbox)}")
        return RestaurantPlan(statuses, [message.outbox_index for message in changes.log])

    def _apply_restaurant(self, changes: Changes, plan: RestaurantPlan,
                          queued: list[OutboxRecord]) -> None:
        """Write what :meth:`_plan_restaurant` checked; the commit's orders are stored already."""
        for order in changes.orders:
            self._events.setdefault((order.restaurant_id, order.reference), []).append(
                OrderEvent(None, order.status, "customer", order.created_at))
        for move in changes.order_moves:
            key = (changes.key.restaurant_id, move.reference)
            stored = self._orders[key]
            self._orders[key] = replace(stored, record=replace(
                stored.record, status=move.to_status, updated_at=move.at))
            self._events[key].append(OrderEvent(move.from_status, move.to_status, move.actor,
                                                move.at, move.reason))
        log = self._log.setdefault(changes.key, []) if changes.log else []
        for message, index in zip(changes.log, plan.outbox_indexes, strict=True):
            self._last_message_id += 1
            log.append(_LoggedRow(
                MessageRecord(self._last_message_id, changes.key, message.direction,
                              message.kind, message.text, message.author, message.at, None),
                None if index is None else queued[index].id))
        if changes.conversation is not None:
            self._conversations[changes.key] = changed_conversation(
                self._conversations.get(changes.key), changes.key, changes.conversation,
                changes.updated_at)

    def _delivery(self, row: _LoggedRow) -> str | None:
        """An outgoing message's status: its outbox row's state, then Meta's latest."""
        if row.record.direction == "in":
            return None
        outbox = None if row.outbox_id is None else self._outbox.get(row.outbox_id)
        if outbox is not None and outbox.state in ("pending", "failed"):
            return outbox.state
        meta = None if outbox is None or outbox.wamid is None else self._statuses.get(outbox.wamid)
        return "sent" if meta is None else meta.status


def changed_conversation(record: ConversationRecord | None, key: SessionKey,
                         change: ConversationChange, updated_at: float) -> ConversationRecord:
    """``record`` (``None``: a new one) with ``change`` applied, as SQLite's CHANGE_CONVERSATION.

    ``None`` fields leave theirs alone; times only move forward; ``read``
    clears unread after this change's own inbound message is counted.
    """
    if record is None:
        times = [at for at in (change.inbound_at, change.outbound_at) if at is not None]
        record = ConversationRecord(key, None, False, False, max(times, default=updated_at),
                                    None, 0, None, None, None, 0)
    last_message_at = max([record.last_message_at, *(
        at for at in (change.inbound_at, change.outbound_at) if at is not None)])
    last_inbound_at = record.last_inbound_at
    if change.inbound_at is not None:
        last_inbound_at = max(change.inbound_at, last_inbound_at or change.inbound_at)
    unread = 0 if change.read else record.unread + (change.inbound_at is not None)
    contact = ((record.phone_number_id, record.wa_id, record.user_id)
               if change.contact is None else change.contact)
    return ConversationRecord(
        key=key, name=record.name if change.name is None else change.name,
        bot_paused=record.bot_paused if change.bot_paused is None else change.bot_paused,
        handoff_requested=(record.handoff_requested if change.handoff_requested is None
                           else change.handoff_requested),
        last_message_at=last_message_at, last_inbound_at=last_inbound_at, unread=unread,
        phone_number_id=contact[0], wa_id=contact[1], user_id=contact[2],
        away_epoch=record.away_epoch if change.away_epoch is None else change.away_epoch)
