"""The ``staff`` and ``orders`` commands of ``bot.py``; ``bot.py`` only parses and dispatches.

``staff add`` prints a new token once (only its SHA-256 is stored); ``staff
list`` and ``staff revoke`` manage them, and take effect at once, even on a
running ``serve`` (it looks tokens up in the database on every call).
``orders list`` and ``orders show`` read the database (a SQLite file, or
PostgreSQL beside running instances). ``orders move`` goes through the
running ``serve``'s API when given ``--url`` (and a token), so the
customer's notification is sent at once; without ``--url`` it writes a
SQLite file itself, which needs ``serve`` stopped (the move and its
notification are committed together, and the next ``serve`` sends it); on
PostgreSQL it always takes ``--url``. What customers typed is printed
through :func:`printable`.
"""

from __future__ import annotations

import json
import time
from typing import Final, TextIO

import aiohttp

from fsm.config import AppConfig, Restaurant
from fsm.order_lifecycle import OrderStatus
from routes.conversation.gate import ControlsCache
from routes.ops.views import local_time, printable
from routes.staff.auth import ADMIN, hash_token, new_token
from routes.staff.service import Conflict, Invalid, NotFound, StaffService
from storage.base import SessionStore
from storage.staff import StaffMember

NAME_MAX: Final = 64
HTTP_TIMEOUT: Final = aiohttp.ClientTimeout(total=30)


class CommandError(Exception):
    """What the operator asked for cannot be done: one line for stderr."""


def when(at: float | None) -> str:
    """Local date-time with the zone, as every command prints times (routes/ops/views.py)."""
    return local_time(at)


def restaurant_of(config: AppConfig, restaurant_id: str) -> Restaurant:
    restaurant = config.restaurant(restaurant_id)
    if restaurant is None:
        known = ", ".join(r.id for r in config.restaurants)
        raise CommandError(f"unknown restaurant {restaurant_id!r} (known: {known})")
    return restaurant


# Staff tokens

async def staff_add(store: SessionStore, config: AppConfig, restaurant_id: str, name: str,
                    out: TextIO) -> None:
    restaurant = restaurant_of(config, restaurant_id)
    name = name.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable() or name.lower() == ADMIN:
        raise CommandError(f"a staff name is 1 to {NAME_MAX} printable characters, "
                           f"not {ADMIN!r}")
    if any(member.name == name for member in await store.staff(restaurant.id)):
        raise CommandError(f"{restaurant.id} already has staff named {name!r} "
                           "(revoke it first to issue a new token)")
    token = new_token()
    await store.add_staff(StaffMember(restaurant.id, name, hash_token(token), time.time()))
    out.write(f"{token}\n")
    out.write(f"# token for {name} at {restaurant.id}: shown only now, store it safely\n")


async def staff_list(store: SessionStore, restaurant_id: str | None, out: TextIO) -> None:
    for member in await store.staff(restaurant_id):
        out.write(f"{member.restaurant_id}\t{member.name}\tadded {when(member.created_at)}\n")


async def staff_revoke(store: SessionStore, config: AppConfig, restaurant_id: str, name: str,
                       out: TextIO) -> None:
    restaurant = restaurant_of(config, restaurant_id)
    if not await store.revoke_staff(restaurant.id, name):
        raise CommandError(f"{restaurant.id} has no staff named {name!r}")
    out.write("revoked\n")


# Orders

async def orders_list(store: SessionStore, config: AppConfig, restaurant_id: str | None,
                      status: str | None, limit: int, out: TextIO) -> None:
    restaurants = ([restaurant_of(config, restaurant_id)] if restaurant_id
                   else list(config.restaurants))
    if status is not None and status not in OrderStatus.ALL:
        raise CommandError(f"unknown status {status!r} (one of {', '.join(OrderStatus.ALL)})")
    shown = 0
    for restaurant in restaurants:
        for order in await store.orders(restaurant.id, status=status, limit=limit):
            shown += 1
            out.write(f"{restaurant.id}\t{order.reference}\t{order.status}\t"
                      f"{order.order_type}\t{restaurant.format_money(order.total_minor)}\t"
                      f"{order.customer_id}\t{when(order.created_at)}\n")
    if not shown:
        out.write(f"no {status + ' ' if status else ''}orders\n")


async def orders_show(store: SessionStore, config: AppConfig, restaurant_id: str,
                      reference: str, out: TextIO) -> None:
    restaurant = restaurant_of(config, restaurant_id)
    order = await store.order(restaurant.id, reference)
    if order is None:
        raise CommandError(f"{restaurant.id} has no order {reference!r}")
    address = f" to {printable(order.address)}" if order.address else ""
    out.write(f"order {order.reference} at {restaurant.id}: {order.status}\n"
              f"customer: {order.customer_id}\n"
              f"type: {order.order_type}"
              f"{f' at {order.branch_id}' if order.branch_id else ''}{address}\n"
              f"payment: {order.payment_method}\n")
    for line in order.lines:
        quantity, unit = int(line.get("quantity", 0)), int(line.get("unit_price", 0))
        addons = ", ".join(str(addon) for addon in line.get("addons") or ())
        out.write(f"  {quantity} × {line.get('name')}{f' + {addons}' if addons else ''}"
                  f"  {restaurant.format_money(unit * quantity)}\n")
        if line.get("note"):
            out.write(f"      note: {printable(str(line['note']))}\n")
    out.write(f"total: {restaurant.format_money(order.total_minor)}\n")
    if order.note:
        out.write(f"note: {printable(order.note)}\n")
    for event in await store.order_history(restaurant.id, reference):
        reason = f" ({printable(event.reason)})" if event.reason else ""
        out.write(f"{when(event.at)}\t{event.from_status or '-'} → {event.to_status}\t"
                  f"by {event.actor}{reason}\n")


async def orders_move_local(store: SessionStore, config: AppConfig, restaurant_id: str,
                            reference: str, status: str, reason: str | None,
                            out: TextIO) -> None:
    """Move an order in the database itself (``serve`` must be stopped: the caller locks)."""
    service = StaffService(config, store, ControlsCache(store))
    try:
        order, notified = await service.move_order(restaurant_id, reference, status, reason,
                                                   ADMIN)
    except NotFound as exc:
        raise CommandError(f"{restaurant_id} has no order {reference!r}") from exc
    except (Invalid, Conflict) as exc:
        raise CommandError(str(exc)) from exc
    told = ("the customer's notification is queued; the next serve sends it" if notified
            else "no WhatsApp contact is stored for the customer: not notified")
    out.write(f"{order.reference}: {order.status} ({told})\n")


async def orders_move_remote(url: str, token: str, restaurant_id: str, reference: str,
                             status: str, reason: str | None, out: TextIO) -> None:
    """Move an order through a running ``serve``'s API, which tells the customer at once."""
    endpoint = (f"{url.rstrip('/')}/api/v1/restaurants/{restaurant_id}/orders/"
                f"{reference}/status")
    body: dict[str, str] = {"status": status}
    if reason:
        body["reason"] = reason
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http, \
                http.post(endpoint, json=body, headers=headers) as response:
            text = await response.text()
            status_code = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CommandError(f"{url}: {exc or type(exc).__name__}") from exc
    try:
        answer = json.loads(text)
    except ValueError:
        answer = {"error": text.strip()[:200]}
    if status_code != 200:
        allowed = answer.get("allowed") if isinstance(answer, dict) else None
        extra = f" (allowed: {', '.join(allowed) or 'none'})" if isinstance(allowed, list) else ""
        problem = answer.get("error") if isinstance(answer, dict) else answer
        raise CommandError(f"HTTP {status_code}: {problem}{extra}")
    told = "customer notified" if answer.get("customer_notified") else "customer not notified"
    out.write(f"{answer.get('reference')}: {answer.get('status')} ({told})\n")
