"""The session as plain data: snapshot round trip, start_over and clear_order."""

from __future__ import annotations

import pytest

from fsm.cart import Cart
from fsm.config import Addon, Item
from fsm.errors import SnapshotError
from fsm.migrations import SCHEMA_VERSION
from fsm.session import DELIVERY, PICKUP, Address, PendingItem, Session
from fsm.states import States
from storage.codec import decode_snapshot, encode_snapshot

BURRATA = Addon(id="burrata", name="Burrata", price=250)
CALZONE = Item(id="calzone", name="Calzone", price=1100, addons=(BURRATA,))


def busy_session() -> Session:
    """A session with every field away from its default."""
    cart = Cart()
    cart.add(CALZONE, [BURRATA], quantity=2)
    return Session(state=States.CHECKOUT_CONFIRMATION, cart=cart, order_type=DELIVERY,
                   branch_id="soho", address=Address("1 Example Road", 51.5, -0.12),
                   payment_method="card", welcomed=True, last_activity=1_763_900_000.5,
                   category_id="pizza", page=1,
                   pending=PendingItem("calzone", ["burrata"], quantity=3))


def test_a_snapshot_round_trips_every_field() -> None:
    session = busy_session()
    snapshot = session.to_snapshot()
    assert snapshot["v"] == SCHEMA_VERSION
    assert Session.from_snapshot(snapshot) == session
    # And through the stored encoding.
    assert Session.from_snapshot(decode_snapshot(encode_snapshot(snapshot))) == session


def test_a_new_session_round_trips() -> None:
    assert Session.from_snapshot(Session().to_snapshot()) == Session()


def test_a_text_only_or_pin_only_address_round_trips() -> None:
    for address in (Address(text="221B Baker Street"), Address(latitude=1.0, longitude=2.0)):
        session = Session(state=States.CHECKOUT_PAYMENT, address=address)
        assert Session.from_snapshot(session.to_snapshot()).address == address


def test_a_two_field_pending_item_from_before_quantities_means_one() -> None:
    snapshot = Session(state=States.CHOOSING_ADDONS).to_snapshot()
    snapshot["pending"] = ["calzone", ["burrata"]]
    restored = Session.from_snapshot(snapshot)
    assert restored.pending == PendingItem("calzone", ["burrata"], 1)


@pytest.mark.parametrize(("field", "value"), [
    ("state", "teleporting"),
    ("order_type", 7),
    ("pending", ["calzone", [], 0]),
    ("cart", [["x", "X", [], [], 100]]),
    ("address", [1, 2]),
])
def test_a_snapshot_that_cannot_be_understood_is_a_snapshot_error(field: str,
                                                                  value: object) -> None:
    snapshot = busy_session().to_snapshot()
    snapshot[field] = value
    with pytest.raises(SnapshotError):
        Session.from_snapshot(snapshot)


def test_clear_order_forgets_the_order_but_not_the_step_or_the_customer() -> None:
    session = busy_session()
    session.clear_order()
    assert session.state == States.CHECKOUT_CONFIRMATION
    assert session.cart.is_empty
    assert (session.order_type, session.branch_id, session.address, session.payment_method,
            session.category_id, session.page, session.pending) == (
        None, None, None, None, None, 0, None)
    assert session.welcomed and session.last_activity == 1_763_900_000.5


def test_start_over_goes_back_to_the_first_step_with_nothing_chosen() -> None:
    session = busy_session()
    old_cart = session.cart
    session.start_over()
    assert session.state == States.CHOOSING_ORDER_TYPE
    assert session == Session(welcomed=True, last_activity=1_763_900_000.5)
    assert not old_cart.is_empty  # a new cart: a draft kept of the old one is not emptied


def test_guards_read_the_session() -> None:
    session = Session(order_type=PICKUP)
    assert (session.is_pickup, session.is_delivery, session.cart_not_empty,
            session.has_address) == (True, False, False, False)
    session.cart.add(CALZONE)
    session.address = Address("somewhere")
    assert session.cart_not_empty and session.has_address
