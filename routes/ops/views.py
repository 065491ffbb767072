"""What ``sessions list|show`` and ``orders list|show`` print: for people, or ``--json``.

For people: times as local date-time with the zone (``TZ`` decides, as for
``date``), money as the restaurant writes it (``£9.50``), states by name.
``--json`` is for scripts: one JSON document, times as Unix seconds and ISO
8601 with the offset, money in integer minor units beside its currency.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Final, TextIO

from fsm.config import AppConfig, Restaurant
from fsm.errors import FsmError
from fsm.migrations import migrate_snapshot
from fsm.money import format_money
from fsm.session import Session
from routes.staff.serialize import event_json, order_json
from storage.base import SessionKey, SessionStore
from storage.codec import decode_snapshot
from storage.records import SessionRow

Json = dict[str, Any]


# What a customer types may carry terminal control sequences (ESC [2K erases a
# line, OSC sets the title) and bidirectional overrides that reorder what is shown.
_UNPRINTABLE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control and direction-override characters
    shown as escapes (``\\x1b``, ``\\u202e``) instead of acted on."""
    return _UNPRINTABLE.sub(lambda match: ascii(match.group())[1:-1], text)


def local_time(at: float | None) -> str:
    """``2025-11-23 12:13:20 CET`` (``-`` for none), in the local zone."""
    if at is None:
        return "-"
    moment = datetime.fromtimestamp(at).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.strftime("%Z")
                                                    or moment.strftime("%z"))


def iso_time(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at).astimezone().isoformat()


def state_name(state: object) -> str:
    """``reviewing_cart`` as people read it: ``reviewing cart``."""
    return str(state).replace("_", " ") if state else "-"


def dump(document: object, out: TextIO) -> None:
    out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def _money(restaurant: Restaurant | None, minor: int) -> str:
    return restaurant.format_money(minor) if restaurant is not None else format_money(minor, "")


def _session(snapshot: dict[str, Any]) -> Session | None:
    try:
        return Session.from_snapshot(snapshot)
    except FsmError:
        return None  # unreadable by this build: shown raw


def session_json(row_key: SessionKey, snapshot: dict[str, Any], updated_at: float | None,
                 restaurant: Restaurant | None) -> Json:
    session = _session(snapshot)
    body: Json = {"restaurant": row_key.restaurant_id, "customer": row_key.customer_id,
                  "state": snapshot.get("state"), "updated_at": updated_at,
                  "updated": iso_time(updated_at),
                  "currency": restaurant.currency if restaurant is not None else None}
    if session is None:
        body["snapshot"] = snapshot
        return body
    body.update({
        "order_type": session.order_type, "branch": session.branch_id,
        "address": session.address.describe() if session.address else None,
        "payment": session.payment_method, "order_note": session.order_note,
        "last_activity_at": session.last_activity or None,
        "cart": [{"item_id": line.item_id, "name": line.name, "addons": list(line.addon_names),
                  "quantity": line.quantity, "unit_minor": line.unit_price,
                  "line_total_minor": line.total, "note": line.note}
                 for line in session.cart.lines],
        "subtotal_minor": session.cart.subtotal,
    })
    return body


async def sessions_list(store: SessionStore, config: AppConfig, restaurant_id: str | None,
                        limit: int, as_json: bool, out: TextIO) -> None:
    rows: list[SessionRow] = await store.list_sessions(restaurant_id, limit=limit)
    documents = [session_json(row.key, migrate_snapshot(decode_snapshot(row.snapshot)),
                              row.updated_at, config.restaurant(row.key.restaurant_id))
                 for row in rows]
    if as_json:
        dump(documents, out)
        return
    for document in documents:
        restaurant = config.restaurant(document["restaurant"])
        cart = document.get("cart") or []
        items = sum(line["quantity"] for line in cart)
        contents = (f"{items} item{'' if items == 1 else 's'}, "
                    f"{_money(restaurant, document.get('subtotal_minor', 0))}"
                    if cart else "empty cart")
        out.write(f"{document['restaurant']}\t{document['customer']}\t"
                  f"{state_name(document['state'])}\t{contents}\t"
                  f"updated {local_time(document['updated_at'])}\n")


async def sessions_show(store: SessionStore, config: AppConfig, key: SessionKey,
                        as_json: bool, out: TextIO) -> bool:
    """``False`` if nothing is stored for ``key``."""
    blob = await store.load_snapshot(key)
    if blob is None:
        return False
    restaurant = config.restaurant(key.restaurant_id)
    snapshot = migrate_snapshot(decode_snapshot(blob))
    document = session_json(key, snapshot, None, restaurant)
    del document["updated_at"], document["updated"]
    if as_json:
        dump(document, out)
        return True
    name = restaurant.name if restaurant is not None else "(not in the config)"
    out.write(f"customer {key.customer_id} at {key.restaurant_id} ({name})\n"
              f"state: {state_name(document['state'])}\n")
    if "snapshot" in document:
        out.write("(this build cannot read the rest; stored as:)\n")
        for field, value in snapshot.items():
            out.write(f"  {field}: {printable(str(value))}\n")
        return True
    out.write(f"last message: {local_time(document['last_activity_at'])}\n")
    for label, field in (("order type", "order_type"), ("branch", "branch"),
                         ("address", "address"), ("payment", "payment"),
                         ("note", "order_note")):
        if document[field]:
            out.write(f"{label}: {printable(str(document[field]))}\n")
    if not document["cart"]:
        out.write("cart: empty\n")
        return True
    out.write("cart:\n")
    for line in document["cart"]:
        addons = f" + {', '.join(line['addons'])}" if line["addons"] else ""
        note = f" ({printable(line['note'])})" if line["note"] else ""
        out.write(f"  {line['quantity']} × {line['name']}{addons}{note}  "
                  f"{_money(restaurant, line['line_total_minor'])}\n")
    out.write(f"subtotal: {_money(restaurant, document['subtotal_minor'])}\n")
    return True


async def orders_list_json(store: SessionStore, restaurants: list[Restaurant],
                           status: str | None, limit: int, out: TextIO) -> None:
    documents = []
    for restaurant in restaurants:
        for order in await store.orders(restaurant.id, status=status, limit=limit):
            documents.append({"restaurant": restaurant.id, **_timed(order_json(order, restaurant))})
    dump(documents, out)


async def order_show_json(store: SessionStore, restaurant: Restaurant, reference: str,
                          out: TextIO) -> bool:
    order = await store.order(restaurant.id, reference)
    if order is None:
        return False
    history = await store.order_history(restaurant.id, reference)
    document = _timed(order_json(order, restaurant, None))
    document["history"] = [{**event_json(event), "at_iso": iso_time(event.at)}
                           for event in history]
    dump({"restaurant": restaurant.id, **document}, out)
    return True


def _timed(document: Json) -> Json:
    document["created"] = iso_time(document["created_at"])
    document["updated"] = iso_time(document["updated_at"])
    return document
