"""Records as the JSON the API answers and the events carry.

Times are Unix seconds (``float``), money integer minor units, statuses the
stored strings. An order line's add-ons are shown by name when the menu
still has them (by id otherwise); ``note`` is the customer's note, on a
line for that item, on the order for the whole order (``None`` without).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fsm.config import Restaurant
from fsm.migrations import migrate_snapshot
from storage.codec import decode_snapshot
from storage.records import OrderRecord
from storage.staff import ConversationRecord, MessageRecord, OrderEvent

Json = dict[str, Any]


def order_json(order: OrderRecord, restaurant: Restaurant | None,
               history: Sequence[OrderEvent] | None = None) -> Json:
    """An order as staff see it; with ``history`` (oldest first) when one order is asked for."""
    body: Json = {
        "reference": order.reference,
        "status": order.status,
        "customer": order.customer_id,
        "items": [_line_json(line, restaurant) for line in order.lines],
        "total_minor": order.total_minor,
        "delivery_fee_minor": order.delivery_fee_minor,
        "currency": order.currency,
        "order_type": order.order_type,
        "branch": order.branch_id,
        "address": order.address,
        "payment": order.payment_method,
        "note": order.note,
        "created_at": order.created_at,
        "updated_at": order.updated_at if order.updated_at is not None else order.created_at,
    }
    if history is not None:
        body["history"] = [event_json(event) for event in history]
    return body


def event_json(event: OrderEvent) -> Json:
    return {"from": event.from_status, "to": event.to_status, "actor": event.actor,
            "at": event.at, "reason": event.reason}


def _line_json(line: Mapping[str, Any], restaurant: Restaurant | None) -> Json:
    item_id = str(line.get("item_id", ""))
    quantity = int(line.get("quantity", 0))
    unit = int(line.get("unit_price", 0))
    item = restaurant.item(item_id) if restaurant is not None else None
    addons = []
    for addon_id in line.get("addons") or ():
        addon = item.addon(str(addon_id)) if item is not None else None
        addons.append(addon.name if addon is not None else str(addon_id))
    note = line.get("note")
    return {"item_id": item_id, "name": str(line.get("name", item_id)), "quantity": quantity,
            "addons": addons, "note": str(note) if note else None, "unit_minor": unit,
            "line_total_minor": unit * quantity}


def conversation_json(record: ConversationRecord, state: str | None) -> Json:
    return {
        "customer": record.key.customer_id,
        "name": record.name,
        "state": state,
        "bot_paused": record.bot_paused,
        "handoff_requested": record.handoff_requested,
        "last_message_at": record.last_message_at,
        "last_inbound_at": record.last_inbound_at,
        "unread": record.unread,
    }


def message_json(message: MessageRecord) -> Json:
    return {"id": message.id, "direction": message.direction, "kind": message.kind,
            "text": message.text, "at": message.at, "author": message.author,
            "status": message.status}


def snapshot_state(blob: bytes | None) -> str | None:
    """The step a stored conversation is at (migrated as the bot would resume it), if readable."""
    if blob is None:
        return None
    try:
        state = migrate_snapshot(decode_snapshot(blob)).get("state")
    except Exception:  # an unreadable snapshot is the bot's business (quarantine), not staff's
        return None
    return state if isinstance(state, str) else None
