"""Rough edges of the conversation: issue 14, item 5."""

from __future__ import annotations

import pytest

from fsm.session import Session
from storage.base import SessionKey, SessionStore
from storage.codec import decode_snapshot
from tests.conftest import Customer


async def stored(store: SessionStore) -> Session:
    blob = await store.load_snapshot(SessionKey("luigis", "447700900123"))
    assert blob is not None
    return Session.from_snapshot(decode_snapshot(blob))


async def at_pepperoni_extras(customer: Customer) -> None:
    await customer.tap("order_type:delivery")
    await customer.tap("category:pizza")
    await customer.tap("item:pepperoni")
    assert "Any extras?" in customer.text


@pytest.mark.parametrize(("typed", "addon"), [
    ("jalapenos", "jalapenos"),      # without the tilde
    ("JALAPEÑOS!", "jalapenos"),
    ("cheese", "extra_cheese"),      # part of the title
    ("extra", "extra_cheese"),
])
async def test_an_addon_matches_by_a_normalised_or_partial_title(
        amira: Customer, store: SessionStore, typed: str, addon: str) -> None:
    await at_pepperoni_extras(amira)
    await amira.type(typed)
    pending = (await stored(store)).pending
    assert pending is not None and pending.addon_ids == [addon]
