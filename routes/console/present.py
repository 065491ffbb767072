"""What the console shows, as plain dicts: the templates render them, the page's script gets them.

Everything here is data, never markup: the customer's words (names,
messages, addresses) stay strings for the template's autoescaping or the
script's ``textContent``. Money is formatted from integer minor units in
the restaurant's currency; a delivery address with a shared pin gets an
OpenStreetMap link (a link only: the console loads nothing from it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from fsm.config import Restaurant
from fsm.money import format_money
from fsm.order_lifecycle import OrderStatus
from routes.staff.service import SERVICE_WINDOW_SECONDS
from storage.records import OrderRecord
from storage.staff import ConversationRecord, MessageRecord, OrderEvent

Json = dict[str, Any]

COLUMNS: Final = OrderStatus.ALL
STATUS_LABELS: Final = {
    OrderStatus.CONFIRMED: "New", OrderStatus.PREPARING: "Preparing",
    OrderStatus.READY: "Ready for pickup", OrderStatus.OUT_FOR_DELIVERY: "Out for delivery",
    OrderStatus.COMPLETED: "Completed", OrderStatus.CANCELLED: "Cancelled"}
MOVE_LABELS: Final = {
    OrderStatus.PREPARING: "Start preparing", OrderStatus.READY: "Ready for pickup",
    OrderStatus.OUT_FOR_DELIVERY: "Out for delivery", OrderStatus.COMPLETED: "Complete",
    OrderStatus.CANCELLED: "Cancel"}
# Meta's delivery statuses of a message we sent, as the ticks WhatsApp users know.
TICKS: Final = {"sent": ("✓", "Sent"), "delivered": ("✓✓", "Delivered"),
                "read": ("✓✓", "Read"), "failed": ("!", "Failed")}
QUEUED: Final = ("…", "Queued")
# Address.describe() writes a shared pin as "📍 51.50730, -0.12770".
_PIN: Final = re.compile(r"📍\s*(-?\d{1,2}(?:\.\d+)?),\s*(-?\d{1,3}(?:\.\d+)?)")


def clock_time(at: float | None) -> Json:
    """A time as ``{"iso", "text"}``: ISO for ``<time datetime>``, ``HH:MM`` UTC as the fallback."""
    if at is None:
        return {"iso": "", "text": ""}
    moment = datetime.fromtimestamp(at, UTC)
    return {"iso": moment.isoformat(timespec="seconds"), "text": moment.strftime("%H:%M UTC")}


def map_link(address: str | None) -> str | None:
    """An OpenStreetMap link for the pin in a delivery address, if it has one."""
    match = _PIN.search(address or "")
    if match is None:
        return None
    lat, lon = float(match[1]), float(match[2])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=17/{lat:.5f}/{lon:.5f}"


def order_view(order: OrderRecord, restaurant: Restaurant, name: str | None,
               allowed: Sequence[str], history: Sequence[OrderEvent] | None = None) -> Json:
    """An order card (and, with ``history``, its detail page)."""
    currency = order.currency
    lines = []
    for line in order.lines:
        item_id = str(line.get("item_id", ""))
        item = restaurant.item(item_id)
        addons = []
        for addon_id in line.get("addons") or ():
            addon = item.addon(str(addon_id)) if item is not None else None
            addons.append(addon.name if addon is not None else str(addon_id))
        quantity = int(line.get("quantity", 0))
        unit = int(line.get("unit_price", 0))
        notes = line.get("note")
        lines.append({"quantity": quantity, "name": str(line.get("name", item_id)),
                      "addons": addons, "notes": str(notes) if notes else None,
                      "total": format_money(unit * quantity, currency)})
    branch = restaurant.branch(order.branch_id) if order.branch_id else None
    if order.order_type == "pickup":
        where = branch.name if branch is not None else (order.branch_id or "")
    else:
        where = order.address or ""
    view: Json = {
        "reference": order.reference,
        "status": order.status,
        "status_label": STATUS_LABELS.get(order.status, order.status),
        "customer": order.customer_id,
        "name": name or f"+{order.customer_id}",
        "type": "Delivery" if order.order_type == "delivery" else "Pickup",
        "where": where,
        "map_url": map_link(order.address) if order.order_type == "delivery" else None,
        "payment": restaurant.payment_title(order.payment_method),
        "note": order.note,
        "lines": lines,
        "summary": ", ".join(f"{line['quantity']}× {line['name']}" for line in lines),
        "delivery_fee": (format_money(order.delivery_fee_minor, currency)
                         if order.delivery_fee_minor else None),
        "total": format_money(order.total_minor, currency),
        "placed": clock_time(order.created_at),
        "url": f"/console/orders/{order.reference}",
        "moves": [{"status": status, "label": MOVE_LABELS.get(status, status)}
                  for status in allowed if status != OrderStatus.CANCELLED],
        "can_cancel": OrderStatus.CANCELLED in allowed,
    }
    if history is not None:
        view["history"] = [{
            "from": STATUS_LABELS.get(e.from_status, e.from_status) if e.from_status else None,
            "to": STATUS_LABELS.get(e.to_status, e.to_status), "actor": e.actor,
            "at": clock_time(e.at), "reason": e.reason} for e in history]
    return view


def window_open(record: ConversationRecord, now: float) -> bool:
    """Meta still lets us send free-form text: the customer wrote within the last 24 h."""
    return record.last_inbound_at is not None and record.phone_number_id is not None and \
        now - record.last_inbound_at <= SERVICE_WINDOW_SECONDS


def conversation_view(record: ConversationRecord, now: float) -> Json:
    customer = record.key.customer_id
    return {"customer": customer, "name": record.name or f"+{customer}",
            "bot_paused": record.bot_paused, "handoff_requested": record.handoff_requested,
            "unread": record.unread, "last": clock_time(record.last_message_at),
            "window_open": window_open(record, now),
            "url": f"/console/conversations/{customer}"}


def conversations_in_order(records: Sequence[ConversationRecord],
                           now: float) -> list[Json]:
    """Requests for a person first, then by last activity (newest first)."""
    ordered = sorted(records, key=lambda r: (not r.handoff_requested, -r.last_message_at))
    return [conversation_view(record, now) for record in ordered]


def message_view(message: MessageRecord) -> Json:
    view: Json = {"id": message.id, "direction": message.direction, "text": message.text,
                  "author": message.author, "at": clock_time(message.at),
                  "status": message.status, "tick": None, "tick_label": None}
    if message.direction == "out":
        view["tick"], view["tick_label"] = TICKS.get(message.status or "", QUEUED)
    return view


def menu_view(restaurant: Restaurant, sold_out: frozenset[str]) -> list[Json]:
    """The menu by category, each item with whether it is sold out."""
    return [{"id": category.id, "name": category.title,
             "entries": [{"id": item.id, "name": item.name, "sold_out": item.id in sold_out}
                       for item in category.items]}
            for category in restaurant.menu]
