"""Notes per line and per order, bounded, shown before confirming and stored on the order
(issue 14 item 8)."""

from __future__ import annotations

from fsm.cart import NOTE_MAX
from storage.base import SessionStore
from tests.conftest import Customer
from tests.routes.conversation.orders_support import check_out, confirm


async def fill(customer: Customer) -> None:
    for typed in ("hi", "delivery", "pizza", "margherita", "add more items", "drinks", "cola"):
        await customer.type(typed)
    assert "Added Coca-Cola" in customer.text


async def test_line_and_order_notes_are_shown_and_stored_on_the_order(
        amira: Customer, store: SessionStore) -> None:
    await fill(amira)
    await amira.type("cart")
    await amira.type("change margherita")
    await amira.type("note")  # the line's option, typed
    assert "Type your note for Margherita" in amira.text
    await amira.type("No onions please — nut allergy")
    assert "Note for Margherita: No onions please — nut allergy" in amira.text
    await amira.type("note ring the bell twice")
    assert "Note for your order: ring the bell twice" in amira.text

    await check_out(amira)
    assert "1 × Margherita — £9.50\n    Note: No onions please — nut allergy" in amira.text
    assert "Note for the order: ring the bell twice" in amira.text
    order = await confirm(amira, store)
    notes = {line["item_id"]: line.get("note") for line in order.lines}
    assert notes == {"margherita": "No onions please — nut allergy", "cola": None}
    assert order.note == "ring the bell twice"


async def test_the_note_command_asks_for_the_order_note_at_confirmation(
        amira: Customer, store: SessionStore) -> None:
    await fill(amira)
    await check_out(amira)
    assert 'Type "note"' in amira.text
    await amira.type("note")
    assert "Type your note for your order" in amira.text
    await amira.type("1")  # a note is free text: not the number of an option (Skip)
    assert "Note for your order: 1" in amira.text and "Please check your order" in amira.text
    assert (await confirm(amira, store)).note == "1"


async def test_a_note_over_the_limit_is_refused_and_asked_again(
        amira: Customer, store: SessionStore) -> None:
    await fill(amira)
    await amira.type("note")
    await amira.type("x" * (NOTE_MAX + 1))
    assert f"please keep it to {NOTE_MAX}" in amira.text
    assert "Type your note for your order" in amira.text
    await amira.type("y" * NOTE_MAX)
    assert "Note for your order: yyy" in amira.text
    await check_out(amira)
    assert (await confirm(amira, store)).note == "y" * NOTE_MAX
