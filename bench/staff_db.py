"""A SQLite file holding a restaurant's history: many logged messages, orders of every status.

For :mod:`bench.staff_reads`.  The schema is the product's: the file is
created by opening and closing a :class:`~storage.sqlite.SQLiteStore` (its
migrations), then every table the staff API reads is filled by bulk
``INSERT``s in one transaction with the journal off: a million messages take
seconds, not the hours a million webhooks would.

What is stored, spread over the :data:`SPAN_DAYS` before generation (so that
nothing is past the outbox's 30-day retention and ``serve`` prunes nothing):

* ``conversations`` conversations, alternating between the two restaurants
  of ``config.yaml``, each with its staff record and a stored snapshot (the
  conversations page reads one per row);
* ``messages`` log rows in commit (= time) order, a third from the customer
  and two thirds from the bot, drawn over conversations with a heavy tail
  (a few conversations hold thousands, so deep pages exist).  Every outgoing
  one has its sent outbox row and Meta's latest status, the rows the
  message page joins;
* ``orders`` orders with the product's line format (carts described by
  :class:`~fsm.cart.Cart`), each with its status history: those placed in
  the last two hours in the open statuses by age, older ones completed or
  cancelled.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.scale_fixtures import demo_config, stored_snapshots
from fsm.cart import Cart
from fsm.config import AppConfig, Restaurant
from fsm.order_lifecycle import OrderStatus
from fsm.session import DELIVERY, PICKUP
from storage.sqlite import SQLiteStore

SPAN_DAYS: Final = 20.0
OPEN_WINDOW_S: Final = 2 * 3600.0  # orders younger than this are still open
CANCELLED_SHARE: Final = 0.07
LONG_SHARE: Final = 0.001  # conversations with a very long log
LONG_WEIGHT: Final = 400.0  # ... each holding this many times an ordinary one's messages
REFERENCE_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

INBOUND_TEXTS: Final = ("Hi", "menu", "Pizza", "Margherita", "2", "Add to cart",
                        "Checkout", "Delivery", "Flat 3, 27 Frith Street, London W1D 5LE",
                        "Card", "Confirm", "Is my order on its way?", "Thanks!")
OUTBOUND_TEXTS: Final = (
    "Welcome to the restaurant! What would you like to do?\n[Browse the menu] [My orders]",
    "Our menu:\n• Pizza\n• Sides\n• Drinks\n• Desserts\n[Choose a category]",
    "Margherita — £9.50\nTomato, mozzarella, basil\nHow many would you like?",
    "Added 2 × Margherita to your cart. Cart total: £19.00.\n[Checkout] [Keep browsing]",
    "Delivery or pickup?\n[Delivery] [Pickup]",
    "Please send your delivery address or share your location.",
    "How would you like to pay?\n[Cash] [Card]",
    "Your order:\n2 × Margherita  £19.00\n1 × Garlic bread + Cheese  £5.00\n"
    "Delivery £2.50\nTotal £26.50\n[Confirm] [Edit]",
    "Thank you! Your order LU-7K2F is confirmed. Total: £26.50.\n"
    "We'll let you know when it's on its way.",
    "Your order LU-7K2F is on its way!",
)
STATUSES: Final = (("read", 4), ("delivered", 3))

INSERT_SESSION: Final = ("INSERT INTO sessions (restaurant_id, customer_id, snapshot, updated_at)"
                         " VALUES (?, ?, ?, ?)")
INSERT_CONVERSATION: Final = """INSERT INTO conversations (restaurant_id, customer_id, name,
    last_message_at, last_inbound_at, unread, phone_number_id, wa_id) VALUES
    (?, ?, ?, ?, ?, ?, ?, ?)"""
INSERT_MESSAGE: Final = """INSERT INTO messages (id, restaurant_id, customer_id, direction, kind,
    text, author, at, wamid, outbox_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
INSERT_OUTBOX: Final = """INSERT INTO outbox (id, restaurant_id, customer_id, phone_number_id,
    body, kind, state, attempts, not_before, wamid, error, created_at, finished_at) VALUES
    (?, ?, ?, ?, ?, 'message', 'sent', 0, ?, ?, NULL, ?, ?)"""
INSERT_STATUS: Final = ("INSERT INTO message_status (wamid, status, rank, updated_at)"
                        " VALUES (?, ?, ?, ?)")
INSERT_ORDER: Final = """INSERT INTO orders (id, reference, restaurant_id, customer_id, status,
    order_type, branch_id, address, payment_method, currency, total_minor, delivery_fee_minor,
    lines, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
INSERT_EVENT: Final = """INSERT INTO order_events (restaurant_id, reference, from_status,
    to_status, actor, at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"""


@dataclass(frozen=True, slots=True)
class LongConversation:
    """A conversation with more than a page of messages: ids of its first and last."""

    restaurant_id: str
    customer_id: str
    first_id: int
    last_id: int
    count: int


@dataclass(slots=True)
class StaffHistory:
    """A generated file and what a client needs to ask it realistic questions."""

    path: Path
    messages: int
    orders: int
    conversations: int
    generated_s: float = 0.0
    restaurants: tuple[str, ...] = ()
    # (restaurant, customer) of every conversation, (restaurant, reference) of every order
    customers: list[tuple[str, str]] = field(default_factory=list)
    references: list[tuple[str, str]] = field(default_factory=list)
    long_conversations: list[LongConversation] = field(default_factory=list)
    first_order_at: float = 0.0
    last_order_at: float = 0.0


def generate(path: Path, *, messages: int, orders: int, conversations: int,
             seed: int = 20_251_126) -> StaffHistory:
    """Write a new file at ``path`` (replacing any); what is in it."""
    started = time.perf_counter()
    for leftover in (path, path.with_name(path.name + "-wal"),
                     path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    asyncio.run(_create_schema(path))
    config = demo_config()
    rng = random.Random(seed)
    now = time.time()
    history = StaffHistory(path, messages, orders, conversations,
                           restaurants=tuple(r.id for r in config.restaurants[:2]))
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -524288")  # 512 MiB while building
        connection.execute("BEGIN")
        _conversations_and_messages(connection, config, history, rng, now)
        _orders(connection, config, history, rng, now)
        connection.execute("COMMIT")
        connection.execute("ANALYZE")  # as a file that has lived a while would have
        connection.execute("PRAGMA journal_mode = WAL")  # as the product leaves its files
    history.generated_s = time.perf_counter() - started
    return history


async def _create_schema(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.close()


def customer_id(restaurant_index: int, index: int) -> str:
    return f"{4915 + restaurant_index * 10}{index:08d}"


def _conversations_and_messages(connection: sqlite3.Connection, config: AppConfig,
                                history: StaffHistory, rng: random.Random, now: float) -> None:
    restaurants = [_restaurant(config, rid) for rid in history.restaurants]
    count = history.conversations
    keys = [(restaurants[i % 2].id, customer_id(i % 2, i // 2)) for i in range(count)]
    history.customers = keys
    weights = [LONG_WEIGHT if rng.random() < LONG_SHARE else rng.paretovariate(2.0)
               for _ in range(count)]
    owners = rng.choices(range(count), weights=weights, k=history.messages)
    start = now - SPAN_DAYS * 86400
    step = SPAN_DAYS * 86400 / max(history.messages, 1)
    seen = [0] * count
    first_id = [0] * count
    last_at = [0.0] * count
    last_in = [0.0] * count
    phone = {r.id: r.phone_number_id for r in restaurants}

    def rows() -> Iterator[tuple[Any, ...]]:
        for message_id, owner in enumerate(owners, start=1):
            rid, customer = keys[owner]
            at = start + message_id * step
            position = seen[owner]
            seen[owner] += 1
            if not position:
                first_id[owner] = message_id
            last_at[owner] = at
            if position % 3 == 0:
                last_in[owner] = at
                yield ("in", message_id, rid, customer, "text",
                       INBOUND_TEXTS[message_id % len(INBOUND_TEXTS)], "customer", at)
            else:
                yield ("out", message_id, rid, customer, "text",
                       OUTBOUND_TEXTS[message_id % len(OUTBOUND_TEXTS)], "bot", at)

    message_rows: list[tuple[Any, ...]] = []
    outbox_rows: list[tuple[Any, ...]] = []
    status_rows: list[tuple[Any, ...]] = []
    for row in rows():
        direction, message_id, rid, customer, kind, text, author, at = row
        if direction == "in":
            message_rows.append((message_id, rid, customer, "in", kind, text, author, at,
                                 f"wamid.IN{message_id}", None))
        else:
            wamid = f"wamid.OUT{message_id}"
            message_rows.append((message_id, rid, customer, "out", kind, text, author, at,
                                 None, message_id))
            body = json.dumps({"messaging_product": "whatsapp", "recipient_type": "individual",
                               "to": customer, "type": "text", "text": {"body": text}})
            outbox_rows.append((message_id, rid, customer, phone[rid], body, at, wamid, at,
                                at + 0.2))
            status, rank = STATUSES[message_id % 2]
            status_rows.append((wamid, status, rank, at + 5.0))
        if len(message_rows) >= 50_000:
            _flush(connection, message_rows, outbox_rows, status_rows)
    _flush(connection, message_rows, outbox_rows, status_rows)
    snapshots = stored_snapshots(config)
    connection.executemany(INSERT_SESSION, (
        (rid, customer, snapshots[index % len(snapshots)], last_at[index] or start)
        for index, (rid, customer) in enumerate(keys)))
    connection.executemany(INSERT_CONVERSATION, (
        (rid, customer, f"Customer {index}", last_at[index] or start, last_in[index] or None,
         rng.choice((0, 0, 0, 1, 2)), phone[rid], customer)
        for index, (rid, customer) in enumerate(keys)))
    history.long_conversations = [
        LongConversation(keys[index][0], keys[index][1], first_id[index], 0, seen[index])
        for index in range(count) if seen[index] > 200]
    for position, long in enumerate(history.long_conversations):
        [(last,)] = connection.execute(
            "SELECT max(id) FROM messages WHERE restaurant_id = ? AND customer_id = ?",
            (long.restaurant_id, long.customer_id)).fetchall()
        history.long_conversations[position] = LongConversation(
            long.restaurant_id, long.customer_id, long.first_id, int(last), long.count)


def _flush(connection: sqlite3.Connection, messages: list[tuple[Any, ...]],
           outbox: list[tuple[Any, ...]], statuses: list[tuple[Any, ...]]) -> None:
    connection.executemany(INSERT_MESSAGE, messages)
    connection.executemany(INSERT_OUTBOX, outbox)
    connection.executemany(INSERT_STATUS, statuses)
    for rows in (messages, outbox, statuses):
        rows.clear()


def _restaurant(config: AppConfig, restaurant_id: str) -> Restaurant:
    restaurant = config.restaurant(restaurant_id)
    if restaurant is None:  # pragma: no cover - ids come from the config itself
        raise LookupError(restaurant_id)
    return restaurant


def _carts(restaurant: Restaurant, rng: random.Random) -> list[Mapping[str, Any]]:
    """A few carts of the restaurant's own items, described as orders store them."""
    items = [item for category in restaurant.menu for item in category.items]
    carts = []
    for _ in range(16):
        cart = Cart()
        for item in rng.sample(items, k=min(len(items), rng.randint(1, 4))):
            addons = list(item.addons[:rng.randint(0, min(2, len(item.addons)))])
            cart.add(item, addons, rng.randint(1, 3))
        carts.append(cart.describe())
    return carts


def _orders(connection: sqlite3.Connection, config: AppConfig, history: StaffHistory,
            rng: random.Random, now: float) -> None:
    restaurants = [_restaurant(config, rid) for rid in history.restaurants]
    carts = {r.id: _carts(r, rng) for r in restaurants}
    by_restaurant: dict[str, list[str]] = {r.id: [] for r in restaurants}
    for rid, customer in history.customers:
        by_restaurant[rid].append(customer)
    start = now - SPAN_DAYS * 86400
    step = (now - 60 - start) / max(history.orders, 1)
    history.first_order_at, history.last_order_at = start + step, start + history.orders * step
    order_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    for order_id in range(1, history.orders + 1):
        restaurant = restaurants[order_id % 2]
        rid = restaurant.id
        reference = f"{rid[:2].upper()}-{_code(order_id // 2)}"
        history.references.append((rid, reference))
        created = start + order_id * step + rng.uniform(0, step / 2)
        kind = DELIVERY if rng.random() < 0.6 else PICKUP
        path = _path(kind, now - created, rng)
        moments = [created + 300.0 * n for n in range(len(path))]
        cart = rng.choice(carts[rid])
        fee = 250 if kind == DELIVERY else 0
        branch = None if kind == DELIVERY else restaurant.branches[0].id
        address = "Flat 3, 27 Frith Street, London W1D 5LE" if kind == DELIVERY else None
        order_rows.append((
            order_id, reference, rid, rng.choice(by_restaurant[rid]), path[-1], kind, branch,
            address, rng.choice(("cash", "card")), restaurant.currency,
            int(cart["subtotal"]) + fee, fee, json.dumps(cart["lines"]), created,
            moments[-1] if len(path) > 1 else None))
        event_rows.append((rid, reference, None, path[0], "customer", created, None))
        for before, after, at in zip(path, path[1:], moments[1:], strict=False):
            reason = "Out of dough, sorry" if after == OrderStatus.CANCELLED else None
            event_rows.append((rid, reference, before, after, "alice", at, reason))
        if len(order_rows) >= 20_000:
            _flush_orders(connection, order_rows, event_rows)
    _flush_orders(connection, order_rows, event_rows)


def _flush_orders(connection: sqlite3.Connection, orders: list[tuple[Any, ...]],
                  events: list[tuple[Any, ...]]) -> None:
    connection.executemany(INSERT_ORDER, orders)
    connection.executemany(INSERT_EVENT, events)
    orders.clear()
    events.clear()


def _code(number: int) -> str:
    digits = []
    for _ in range(5):
        number, digit = divmod(number, len(REFERENCE_ALPHABET))
        digits.append(REFERENCE_ALPHABET[digit])
    return "".join(reversed(digits))


def _path(kind: str, age_s: float, rng: random.Random) -> Sequence[str]:
    """The statuses an order of this age went through, its current one last."""
    full = ([OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.OUT_FOR_DELIVERY,
             OrderStatus.COMPLETED] if kind == DELIVERY else
            [OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY,
             OrderStatus.COMPLETED])
    if age_s >= OPEN_WINDOW_S:
        if rng.random() < CANCELLED_SHARE:
            return [*full[:rng.randint(1, 3)], OrderStatus.CANCELLED]
        return full
    # Open: the younger, the earlier in its life (3 steps over the window).
    steps = min(2, int(age_s / OPEN_WINDOW_S * 3))
    return full[:steps + 1]
