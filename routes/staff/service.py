"""What staff may change, each change one durable commit of the customer's conversation.

An order move, a takeover or hand-back and a staff reply are committed
through the store's unit of work (:meth:`~storage.roles.UnitOfWork.commit`)
for the customer's key, so they are ordered with the bot's own commits for
that customer and exactly-once with them: a move and the customer's
notification (outbox row and log entry) are one transaction. Only once a
commit is durable are its outbox rows handed to the sender and its events
published. The bot switch and sold-out items are written through
:class:`~storage.staff.RestaurantControls` and put into the shared
:class:`~routes.conversation.gate.ControlsCache` the conversation reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final

from fsm.config import AppConfig, Restaurant
from fsm.order_lifecycle import IllegalMove, OrderLifecycle, OrderStatus
from routes.conversation import i18n
from routes.conversation.gate import ControlsCache
from routes.conversation.messages import text
from routes.conversation.order_news import order_news
from routes.staff.events import EventHub
from routes.staff.serialize import Json, conversation_json, order_json, snapshot_state
from routes.whatsapp.outbox import OnCommitted, payload_json
from routes.whatsapp.payloads import message_payload
from storage.base import Changes, OutboxMessage, OutboxRecord, SessionKey, SessionStore
from storage.codec import decode_snapshot
from storage.errors import OrderStatusChanged
from storage.records import ConversationChange, LoggedMessage, OrderMove, OrderRecord
from storage.staff import Controls, ConversationRecord

# Meta lets a business send free-form messages for 24 h after the customer's last one.
SERVICE_WINDOW_SECONDS: Final = 24 * 3600
NOTIFICATION_AUTHOR: Final = "bot"


class NotFound(Exception):
    """No such restaurant, order, conversation or item (or not the caller's to see)."""


class Invalid(Exception):
    """A request field is wrong: ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class Conflict(Exception):
    """The change cannot be made in the current state; ``allowed`` lists statuses, if any."""

    def __init__(self, message: str, allowed: tuple[str, ...] | None = None) -> None:
        self.allowed = allowed
        super().__init__(message)


class StaffService:
    """The staff operations; ``deliver`` (the sender's ``enqueue``) gets committed outbox rows."""

    def __init__(self, config: AppConfig, store: SessionStore, controls: ControlsCache, *,
                 hub: EventHub | None = None, deliver: OnCommitted | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store = store
        self.controls = controls
        self.hub = hub
        self.deliver = deliver
        self.clock = clock
        self.lifecycle = OrderLifecycle()

    def restaurant(self, restaurant_id: str) -> Restaurant:
        restaurant = self.config.restaurant(restaurant_id)
        if restaurant is None:
            raise NotFound(restaurant_id)
        return restaurant

    # Orders

    async def order(self, restaurant_id: str, reference: str) -> OrderRecord:
        order = await self.store.order(self.restaurant(restaurant_id).id, reference)
        if order is None:
            raise NotFound(reference)
        return order

    async def move_order(self, restaurant_id: str, reference: str, status: str,
                         reason: str | None, actor: str) -> tuple[OrderRecord, bool]:
        """Move the order and tell the customer, in one commit; ``(order, notified)``.

        :class:`Conflict` (with the allowed statuses) for an illegal move or
        one that lost a race; :class:`Invalid` for a cancellation without a reason.
        """
        restaurant = self.restaurant(restaurant_id)
        if status == OrderStatus.CANCELLED and not (reason and reason.strip()):
            raise Invalid("reason", "a cancellation needs a reason for the customer")
        order = await self.order(restaurant_id, reference)
        try:
            await self.lifecycle.move(order.status, order.order_type, status)
        except IllegalMove as exc:
            raise Conflict(str(exc), exc.allowed) from exc
        now = self.clock()
        key = SessionKey(restaurant.id, order.customer_id)
        moved = replace(order, status=status, updated_at=now)
        language = await self._customer_language(key, restaurant)
        news = order_news(moved, restaurant, reason, language=language)
        changes = Changes(key, now, order_moves=[
            OrderMove(reference, order.status, status, actor, now, reason)])
        record = await self.store.conversation(key)
        with i18n.speaking(language):
            notified = self._address(changes, record, news, NOTIFICATION_AUTHOR)
        try:
            rows = await self.store.commit(changes)
        except OrderStatusChanged as exc:
            allowed = await self.lifecycle.allowed(exc.current, order.order_type)
            raise Conflict(f"order {reference} is now {exc.current}", allowed) from exc
        self._committed(key, rows)
        stored = await self.store.order(restaurant.id, reference) or moved
        self._publish(restaurant.id, "order.updated", order_json(stored, restaurant))
        if notified:
            self._publish(restaurant.id, "message.created", {"customer": key.customer_id})
        return stored, notified

    # Conversations

    async def conversation(self, restaurant_id: str, customer: str) -> ConversationRecord:
        key = SessionKey(self.restaurant(restaurant_id).id, customer)
        record = await self.store.conversation(key)
        if record is None:
            raise NotFound(customer)
        return record

    async def conversation_view(self, record: ConversationRecord) -> Json:
        return conversation_json(record, snapshot_state(await self.store.load_snapshot(record.key)))

    async def conversation_views(self, records: Sequence[ConversationRecord]) -> list[Json]:
        """A page of conversations with their stored states, read in one query."""
        if not records:
            return []
        snapshots = await self.store.load_snapshots(
            records[0].key.restaurant_id, [record.key.customer_id for record in records])
        return [conversation_json(record, snapshot_state(snapshots.get(record.key.customer_id)))
                for record in records]

    async def set_paused(self, restaurant_id: str, customer: str, paused: bool) -> Json:
        """Take over (``paused``) or hand back; idempotent. Hand-back also clears a handoff."""
        record = await self.conversation(restaurant_id, customer)
        change = (ConversationChange(bot_paused=True) if paused else
                  ConversationChange(bot_paused=False, handoff_requested=False))
        await self.store.commit(Changes(record.key, self.clock(), conversation=change))
        return await self._conversation_updated(record.key)

    async def mark_read(self, restaurant_id: str, customer: str) -> Json:
        record = await self.conversation(restaurant_id, customer)
        await self.store.commit(Changes(record.key, self.clock(),
                                        conversation=ConversationChange(read=True)))
        return await self._conversation_updated(record.key)

    async def reply(self, restaurant_id: str, customer: str, body: str, author: str) -> int:
        """Queue a staff message to the customer; returns its outbox id.

        :class:`Conflict` when the customer never wrote or wrote last more than
        24 h ago (Meta refuses free-form messages then).
        """
        record = await self.conversation(restaurant_id, customer)
        now = self.clock()
        if record.last_inbound_at is None or record.phone_number_id is None:
            raise Conflict("the customer has never written to us on WhatsApp, so a free-form "
                           "message cannot be sent")
        if now - record.last_inbound_at > SERVICE_WINDOW_SECONDS:
            hours = (now - record.last_inbound_at) / 3600
            raise Conflict(f"the customer last wrote {hours:.0f} h ago: WhatsApp only allows "
                           "free-form replies within 24 h of the customer's last message")
        changes = Changes(record.key, now)
        self._address(changes, record, body, author)
        changes.conversation = ConversationChange(outbound_at=now, read=True)
        rows = await self.store.commit(changes)
        self._committed(record.key, rows)
        self._publish(record.key.restaurant_id, "message.created", {"customer": customer})
        await self._conversation_updated(record.key)
        return rows[0].id

    # Restaurant controls

    async def set_bot_enabled(self, restaurant_id: str, enabled: bool) -> Controls:
        controls = await self.store.set_bot_enabled(self.restaurant(restaurant_id).id, enabled,
                                                    self.clock())
        return self._controls_changed(controls)

    async def set_item_available(self, restaurant_id: str, item_id: str,
                                 available: bool) -> Controls:
        restaurant = self.restaurant(restaurant_id)
        if restaurant.item(item_id) is None:
            raise NotFound(item_id)
        controls = await self.store.set_item_available(restaurant.id, item_id, available,
                                                       self.clock())
        return self._controls_changed(controls)

    # Helpers

    def _address(self, changes: Changes, record: ConversationRecord | None, body: str,
                 author: str) -> bool:
        """Add ``body`` to ``changes`` as a text to the customer (outbox, log, activity).

        ``False`` (nothing added) when the conversation has no WhatsApp contact.
        """
        if record is None or record.phone_number_id is None or not (record.wa_id
                                                                     or record.user_id):
            return False
        payload = message_payload(text(body), wa_id=record.wa_id, user_id=record.user_id)
        index = len(changes.outbox)
        changes.outbox.append(OutboxMessage(changes.key, record.phone_number_id,
                                            payload_json(payload)))
        changes.log.append(LoggedMessage("out", "text", body, author, changes.updated_at,
                                         outbox_index=index))
        changes.conversation = ConversationChange(outbound_at=changes.updated_at)
        return True

    async def _customer_language(self, key: SessionKey, restaurant: Restaurant) -> str:
        """The language the customer chose in their conversation (stored in its snapshot),
        else the restaurant's default: what the order's news is written in."""
        blob = await self.store.load_snapshot(key)
        try:
            language = decode_snapshot(blob).get("lang") if blob else None
        except Exception:  # an unreadable snapshot: the conversation quarantines it
            language = None
        return language if language in restaurant.languages else restaurant.languages[0]

    def _committed(self, key: SessionKey, rows: list[OutboxRecord]) -> None:
        if rows and self.deliver is not None:
            self.deliver(key, rows)

    async def _conversation_updated(self, key: SessionKey) -> Json:
        record = await self.store.conversation(key)
        if record is None:  # pragma: no cover - committed just before
            raise NotFound(key.customer_id)
        view = await self.conversation_view(record)
        self._publish(key.restaurant_id, "conversation.updated", view)
        return view

    def _controls_changed(self, controls: Controls) -> Controls:
        self.controls.put(controls)
        self._publish(controls.restaurant_id, "controls.updated", controls_json(controls))
        return controls

    def _publish(self, restaurant_id: str, kind: str, data: Json) -> None:
        if self.hub is not None:
            self.hub.publish(restaurant_id, kind, data)


def controls_json(controls: Controls) -> Json:
    return {"bot_enabled": controls.bot_enabled, "sold_out": sorted(controls.sold_out)}
