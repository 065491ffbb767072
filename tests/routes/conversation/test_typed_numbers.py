"""Every typed number goes through one reader: Unicode decimal digits, whole, positive, bounded.

Issue 14, item 2: ``1.5 margherita`` added 15, ``1-2 cola`` added 12, ``-1 margherita``
added 1, and ``²`` (a key on French keyboards) or ``②`` answered the crash apology.
"""

from __future__ import annotations

import pytest

from fsm.session import Session
from routes.conversation.dispatcher import FAILURE_REPLY
from routes.conversation.matching import Number, read_number, split_quantity
from storage.base import SessionKey, SessionStore
from storage.codec import decode_snapshot
from tests.conftest import Customer


@pytest.mark.parametrize(("typed", "expected"), [
    ("3", Number(3)),
    ("٣", Number(3)),        # Arabic-Indic three
    ("۳", Number(3)),        # Persian three
    ("١٢", Number(12)),
    ("007", Number(7)),
    ("²", Number(problem="digits")),   # superscript two: isdigit() but not a decimal digit
    ("②", Number(problem="digits")),
    ("½", Number(problem="digits")),
    ("1.5", Number(problem="decimal")),
    ("2,5", Number(problem="decimal")),
    ("-1", Number(problem="negative")),
    ("\u22121", Number(problem="negative")),  # U+2212 minus sign
    ("1-2", Number(problem="range")),
    ("1–2", Number(problem="range")),
    ("9" * 13, Number(problem="long")),
    ("9" * 5000, Number(problem="long")),  # int() would refuse over 4300 digits
    ("+3", Number(problem="other")),
])
def test_the_number_reader(typed: str, expected: Number) -> None:
    assert read_number(typed) == expected


@pytest.mark.parametrize(("typed", "expected"), [
    ("2 margherita", ("2", "margherita")),
    ("2x margherita", ("2", "margherita")),
    ("margherita x2", ("2", "margherita")),
    ("1.5 margherita", ("1.5", "margherita")),   # read as typed, not "15"
    ("1 - 2 cola", ("1-2", "cola")),
    ("-1 margherita", ("-1", "margherita")),
    ("margherita", None),
])
def test_a_quantity_is_split_from_the_text_as_typed(
        typed: str, expected: tuple[str, str] | None) -> None:
    assert split_quantity(typed) == expected


async def browse_pizza(customer: Customer) -> None:
    await customer.tap("order_type:delivery")
    await customer.tap("category:pizza")


async def stored(store: SessionStore) -> Session:
    blob = await store.load_snapshot(SessionKey("luigis", "447700900123"))
    assert blob is not None
    return Session.from_snapshot(decode_snapshot(blob))


@pytest.mark.parametrize(("typed", "hint"), [
    ("1.5 margherita", "not a decimal"),
    ("2.5 cola", "not a decimal"),
    ("1-2 cola", "not a range"),
    ("1 - 2 cola", "not a range"),
    ("-1 margherita", "not a negative"),
    ("² margherita", "ordinary digits"),
    ("100 margherita", "1 to 99"),
    ("99999999999999999999 margherita", "whole number"),
])
async def test_a_quantity_that_is_not_a_whole_positive_number_adds_nothing_and_says_why(
        amira: Customer, store: SessionStore, typed: str, hint: str) -> None:
    await browse_pizza(amira)
    await amira.type(typed)
    assert hint in amira.text
    assert "Pizza" in amira.text  # and the question again
    assert (await stored(store)).cart.is_empty


@pytest.mark.parametrize("typed", ["²", "②", "½", "1.5", "-1", "1-2", "9" * 5000])
async def test_an_unusable_option_number_gets_a_hint_never_the_apology(
        amira: Customer, store: SessionStore, typed: str) -> None:
    await amira.type("hi")
    for _ in range(2):  # and again on a resend
        await amira.type(typed)
        assert FAILURE_REPLY not in amira.text
        assert "How would you like to get your order?" in amira.text
        assert "number" in amira.text.lower() or "digits" in amira.text
    assert (await stored(store)).state == "choosing_order_type"


@pytest.mark.parametrize("typed", ["٢", "۲", "2", "2!"])
async def test_option_numbers_in_any_decimal_digits(amira: Customer, store: SessionStore,
                                                    typed: str) -> None:
    await amira.type("hi")
    await amira.type(typed)  # 2: Pickup
    assert (await stored(store)).order_type == "pickup"


@pytest.mark.parametrize("typed", ["٣ margherita", "margherita x۳", "3 margherita"])
async def test_quantities_in_any_decimal_digits(amira: Customer, store: SessionStore,
                                                typed: str) -> None:
    await browse_pizza(amira)
    await amira.type(typed)
    [line] = (await stored(store)).cart.lines
    assert (line.item_id, line.quantity) == ("margherita", 3)


async def test_a_number_past_the_options_says_which_numbers_there_are(
        amira: Customer) -> None:
    await amira.type("hi")
    await amira.type("7")
    assert "from 1 to 2" in amira.text


async def test_a_forged_page_in_a_tap_is_read_by_the_same_reader(
        amira: Customer, store: SessionStore) -> None:
    await amira.tap("order_type:delivery")
    await amira.tap("category:pizza:²")
    assert FAILURE_REPLY not in amira.text
    assert (await stored(store)).page == 0
