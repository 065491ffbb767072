"""The cart: lines, add-ons, quantities, totals in integer minor units, the line limit."""

from __future__ import annotations

import pytest

from fsm.cart import MAX_LINES, MAX_QUANTITY, Cart, CartLine
from fsm.config import Addon, Item, Restaurant
from fsm.errors import CartFull
from tests.conftest import load_demo_config


def menu_item(item_id: str) -> Item:
    restaurant = load_demo_config().restaurant("luigis")
    assert restaurant is not None
    item = restaurant.item(item_id)
    assert item is not None
    return item


def addon(item: Item, addon_id: str) -> Addon:
    found = item.addon(addon_id)
    assert found is not None
    return found


# Luigi's: Margherita £9.50; Diavola £12.00 with extra cheese £1.50 or nduja £2.00.
MARGHERITA = menu_item("margherita")
DIAVOLA = menu_item("diavola")
CHEESE, NDUJA = addon(DIAVOLA, "extra_cheese"), addon(DIAVOLA, "nduja")


def items(n: int) -> list[Item]:
    """``n`` distinct items (their prices do not matter here)."""
    return [Item(id=f"item{i}", name=f"Item {i}", price=1) for i in range(n)]


def test_a_new_cart_is_empty_and_costs_nothing() -> None:
    cart = Cart()
    assert cart.is_empty and len(cart) == 0
    assert (cart.subtotal, cart.item_count, cart.total(delivery_fee=250)) == (0, 0, 0)


def test_adding_the_same_item_merges_into_one_line() -> None:
    cart = Cart()
    cart.add(MARGHERITA)
    line = cart.add(MARGHERITA, quantity=2)
    assert len(cart) == 1
    assert (line.key, line.quantity, line.total) == ("margherita", 3, 2850)
    assert cart.item_count == 3


def test_addons_are_priced_into_the_unit_and_make_their_own_line() -> None:
    cart = Cart()
    plain = cart.add(DIAVOLA)
    fancy = cart.add(DIAVOLA, [NDUJA, CHEESE, NDUJA])  # a repeated add-on counts once
    assert len(cart) == 2
    assert plain.unit_price == 1200
    assert fancy.unit_price == 1200 + 200 + 150
    assert fancy.addon_ids == ("nduja", "extra_cheese")
    assert fancy.title == "Diavola + Nduja, Extra cheese"
    assert fancy.key == "diavola+extra_cheese+nduja"  # sorted: the order chosen is irrelevant
    again = cart.add(DIAVOLA, [CHEESE, NDUJA])
    assert again.key == fancy.key and again.quantity == 2
    assert len(cart) == 2


def test_totals_are_integer_minor_units_with_the_fee_only_for_a_non_empty_cart() -> None:
    assert (MARGHERITA.price, DIAVOLA.price, CHEESE.price, NDUJA.price) == (950, 1200, 150, 200)
    cart = Cart()
    cart.add(MARGHERITA, quantity=2)
    cart.add(DIAVOLA, [CHEESE])
    assert cart.subtotal == 2 * 950 + 1350
    assert cart.total(delivery_fee=250) == 2 * 950 + 1350 + 250
    assert isinstance(cart.total(250), int)
    assert cart.describe() == {
        "lines": [{"item_id": "margherita", "name": "Margherita", "addons": [],
                   "addon_names": [], "unit_price": 950, "quantity": 2},
                  {"item_id": "diavola", "name": "Diavola", "addons": ["extra_cheese"],
                   "addon_names": ["Extra cheese"], "unit_price": 1350, "quantity": 1}],
        "subtotal": 3250}


def test_quantities_are_capped() -> None:
    cart = Cart()
    assert cart.add(MARGHERITA, quantity=MAX_QUANTITY + 5).quantity == MAX_QUANTITY
    assert cart.add(MARGHERITA, quantity=10).quantity == MAX_QUANTITY


def test_set_quantity_changes_or_removes_a_line() -> None:
    cart = Cart()
    cart.add(MARGHERITA, quantity=3)
    line = cart.set_quantity("margherita", 1)
    assert line is not None and line.quantity == 1
    assert cart.set_quantity("margherita", 0) is None
    assert cart.is_empty
    assert cart.set_quantity("nothing-here", 2) is None


def test_remove_and_clear() -> None:
    cart = Cart()
    cart.add(MARGHERITA)
    cart.add(DIAVOLA, [NDUJA])
    assert not cart.remove("diavola")  # the line with nduja is another line
    assert cart.remove("diavola+nduja")
    assert [line.key for line in cart] == ["margherita"]
    cart.clear()
    assert cart.is_empty


def test_a_full_cart_refuses_a_new_line_and_is_left_unchanged() -> None:
    cart = Cart()
    for item in items(MAX_LINES):
        cart.add(item)
    before = list(cart.lines)

    with pytest.raises(CartFull) as caught:
        cart.add(MARGHERITA)

    assert caught.value.limit == MAX_LINES == 30
    assert str(MAX_LINES) in str(caught.value)
    assert cart.lines == before


def test_a_full_cart_still_takes_more_of_a_line_it_has() -> None:
    cart = Cart()
    first, *rest = items(MAX_LINES)
    for item in (first, *rest):
        cart.add(item)
    line = cart.add(first, quantity=2)
    assert line.quantity == 3
    assert len(cart) == MAX_LINES


def test_plain_round_trip_and_range_checks() -> None:
    cart = Cart()
    cart.add(MARGHERITA, quantity=2)
    cart.add(DIAVOLA, [CHEESE])
    assert Cart.from_plain(cart.to_plain()) == cart
    with pytest.raises(ValueError, match="out of range"):
        CartLine.from_plain(["x", "X", [], [], 100, MAX_QUANTITY + 1])
    with pytest.raises(ValueError, match="out of range"):
        CartLine.from_plain(["x", "X", [], [], -1, 1])


# --- reconciling with the menu (issue 14, item 1) ------------------------------------

def luigis_with(diavola: Item | None, *,
                sold_out: bool = False) -> tuple[Restaurant, frozenset[str]]:
    """Luigi's with Diavola replaced (or removed), and the sold-out set."""
    restaurant = load_demo_config().restaurant("luigis")
    assert restaurant is not None
    menu = tuple(category.model_copy(update={"items": tuple(
        diavola if item.id == "diavola" else item for item in category.items
        if item.id != "diavola" or diavola is not None)}) for category in restaurant.menu)
    changed = restaurant.model_copy(update={"menu": menu})
    # model_copy keeps cached lookups: rebuild them for the new menu.
    for cached in ("_items", "_categories"):
        changed.__dict__.pop(cached, None)
    return changed, frozenset({"margherita"} if sold_out else ())


def test_reconcile_against_an_unchanged_menu_changes_nothing() -> None:
    cart = Cart()
    cart.add(MARGHERITA, quantity=2)
    cart.add(DIAVOLA, [CHEESE, NDUJA])
    before = list(cart.lines)
    restaurant, sold_out = luigis_with(DIAVOLA)
    assert cart.reconcile(restaurant, sold_out) == []
    assert cart.lines == before


def test_reconcile_drops_removed_and_sold_out_items_and_reprices() -> None:
    cart = Cart()
    cart.add(MARGHERITA)
    cart.add(DIAVOLA, [NDUJA], quantity=3)
    dearer = DIAVOLA.model_copy(update={"price": 1300})
    restaurant, sold_out = luigis_with(dearer, sold_out=True)
    changes = cart.reconcile(restaurant, sold_out)
    assert [(change.kind, change.before.item_id) for change in changes] == [
        ("sold_out", "margherita"), ("price", "diavola")]
    [line] = cart.lines
    assert (line.unit_price, line.quantity) == (1300 + 200, 3)


def test_reconcile_drops_a_removed_addon_and_merges_the_lines_that_become_one() -> None:
    cart = Cart()
    cart.add(DIAVOLA, quantity=2)
    cart.add(DIAVOLA, [NDUJA], quantity=MAX_QUANTITY)
    without_nduja = DIAVOLA.model_copy(update={"addons": (CHEESE,)})
    restaurant, _ = luigis_with(without_nduja)
    changes = cart.reconcile(restaurant)
    assert [(change.kind, change.addons) for change in changes] == [
        ("addons_removed", ("Nduja",))]
    [line] = cart.lines
    assert (line.key, line.unit_price, line.quantity) == ("diavola", 1200, MAX_QUANTITY)
