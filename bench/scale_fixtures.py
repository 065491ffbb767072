"""Realistic stored conversations for the scale benchmark, built with the product's objects.

Every stored conversation of the benchmark databases is one of a handful of
mid-order sessions of Luigi's demo restaurant: a delivery order with an
address and a cart of four lines (three with add-ons), in one of the
states a customer most often leaves a conversation in.  They are made
with :class:`~fsm.session.Session` and :class:`~fsm.cart.Cart` and encoded
with the product's codec, so a change to either changes the bytes (and
the database cache key) with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from fsm.cart import Cart
from fsm.config import AppConfig, Item, Restaurant, parse_config
from fsm.session import DELIVERY, Address, Session
from fsm.states import States
from routes.conversation.messages import Inbound
from storage.base import SessionKey
from storage.codec import encode_snapshot

REPO: Final = Path(__file__).resolve().parents[1]
CONFIG_PATH: Final = REPO / "config.yaml"
RESTAURANT_ID: Final = "luigis"
# Every stored snapshot was last active at this instant; the benchmark's
# clocks run a minute later so no conversation has expired (G7 is not what
# is measured here, and a fixed clock keeps every run identical).
SNAPSHOT_TIME: Final = 1_763_900_000.0
BENCH_NOW: Final = SNAPSHOT_TIME + 60.0

# Messages that are valid, and equally expensive, in every stored state, so a
# customer who writes twice costs what a customer writing once does.
WORKLOAD: Final[tuple[Inbound, ...]] = (
    Inbound.typed("cart"),
    Inbound.tapped("category:pizza", "Pizza"),
    Inbound.typed("menu"),
)


def demo_config() -> AppConfig:
    return parse_config(CONFIG_PATH.read_text(encoding="utf-8"), source=str(CONFIG_PATH))


def demo_restaurant(config: AppConfig) -> Restaurant:
    restaurant = config.restaurant(RESTAURANT_ID)
    if restaurant is None:
        raise LookupError(f"{CONFIG_PATH} has no restaurant {RESTAURANT_ID!r}")
    return restaurant


def customer_id(index: int) -> str:
    """A WhatsApp-like number; zero-padded so key order is index order (fast bulk insert)."""
    return f"4477{index:08d}"


def session_key(index: int) -> SessionKey:
    return SessionKey(RESTAURANT_ID, customer_id(index))


def _item(restaurant: Restaurant, item_id: str) -> Item:
    item = restaurant.item(item_id)
    if item is None:
        raise LookupError(f"{RESTAURANT_ID} has no item {item_id!r}")
    return item


def mid_order_cart(restaurant: Restaurant) -> Cart:
    """Four lines, three with add-ons: a family order, not a worst case."""
    cart = Cart()
    order = (("pepperoni", ("extra_cheese", "jalapenos"), 2), ("margherita", (), 1),
             ("calzone", ("chilli", "burrata"), 1), ("garlic_bread", ("cheese",), 2))
    for item_id, addon_ids, quantity in order:
        item = _item(restaurant, item_id)
        addons = [addon for addon in item.addons if addon.id in addon_ids]
        cart.add(item, addons, quantity)
    return cart


def mid_order_sessions(restaurant: Restaurant) -> list[Session]:
    """The same order caught in four states between browsing and confirming."""
    address = Address("Flat 3, 27 Frith Street, London W1D 5LE", 51.51359, -0.13176)
    stops = ((States.BROWSING_ITEMS, None), (States.REVIEWING_CART, None),
             (States.CHECKOUT_PAYMENT, None), (States.CHECKOUT_CONFIRMATION, "card"))
    return [
        Session(state=state, cart=mid_order_cart(restaurant), order_type=DELIVERY,
                address=address, payment_method=payment, welcomed=True,
                last_activity=SNAPSHOT_TIME, category_id="pizza", page=0)
        for state, payment in stops
    ]


def stored_snapshots(config: AppConfig) -> tuple[bytes, ...]:
    """The encoded snapshots; conversation ``i`` stores ``snapshots[i % len(snapshots)]``."""
    return tuple(encode_snapshot(session.to_snapshot())
                 for session in mid_order_sessions(demo_restaurant(config)))


def snapshot_of(index: int, snapshots: Sequence[bytes]) -> bytes:
    return snapshots[index % len(snapshots)]
