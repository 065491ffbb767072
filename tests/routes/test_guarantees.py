"""G1 restart in-process, G2 always answered, G5 ordering, G6 migrations/quarantine, G7 expiry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fsm.config import AppConfig, Restaurant
from fsm.machine import ORDER_FLOW
from fsm.session import Session
from fsm.states import States
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.messages import Inbound, Location, options_of
from routes.conversation.middlewares import EXPIRED_NOTICE, QUARANTINE_NOTICE
from routes.conversation.questions import question_for
from routes.conversation.queues import CustomerQueues
from storage.base import Changes, OutboxRecord, SessionKey, SessionStore
from storage.codec import decode_snapshot, encode_snapshot
from storage.memory import MemoryStore
from storage.sqlite import SQLiteStore
from tests.conftest import Customer, FakeClock, make_dispatcher

KEY = SessionKey("luigis", "447700900123")

# How to reach every state of the machine from a new conversation.
PATHS: dict[str, list[str]] = {
    States.CHOOSING_ORDER_TYPE: ["text:hello"],
    States.CHOOSING_BRANCH: ["order_type:pickup"],
    States.CHOOSING_CATEGORY: ["order_type:delivery"],
    States.BROWSING_ITEMS: ["order_type:delivery", "category:pizza"],
    States.CHOOSING_ADDONS: ["order_type:delivery", "category:pizza", "item:calzone"],
    States.REVIEWING_CART: ["order_type:delivery", "item:margherita"],
    States.CHECKOUT_ADDRESS: ["order_type:delivery", "item:margherita", "action:checkout"],
    States.CHECKOUT_PAYMENT: ["order_type:delivery", "item:margherita", "action:checkout",
                              "text:1 Example Road, London E1 6AN"],
    States.CHECKOUT_CONFIRMATION: ["order_type:delivery", "item:margherita",
                                   "action:checkout", "text:1 Example Road, London E1 6AN",
                                   "payment:cash"],
}


async def reach(customer: Customer, state: str) -> None:
    for step in PATHS[state]:
        if step.startswith("text:"):
            await customer.type(step.removeprefix("text:"))
        else:
            await customer.tap(step)
    assert (await stored_session(customer)).state == state


async def stored_session(customer: Customer) -> Session:
    blob = await customer.dispatcher.repository.store.load_snapshot(
        SessionKey(customer.restaurant.id, customer.customer_id))
    assert blob is not None
    return Session.from_snapshot(decode_snapshot(blob))


def test_every_state_has_a_path() -> None:
    assert set(PATHS) == set(ORDER_FLOW.state_names)


UNKNOWN_INPUTS = [
    Inbound.typed("xyzzy"),
    Inbound.typed("42"),
    Inbound.tapped("action:bogus"),
    Inbound.tapped("addon:no-such-addon"),
    Inbound("unsupported"),
    Inbound.pin(Location(51.5, -0.12)),
]


@pytest.mark.parametrize("state", list(PATHS))
@pytest.mark.parametrize("inbound", UNKNOWN_INPUTS,
                         ids=lambda i: f"{i.kind}:{i.text or i.choice_id}")
async def test_every_state_answers_unknown_input(amira: Customer, luigis: Restaurant,
                                                 state: str, inbound: Inbound) -> None:
    await reach(amira, state)
    before = await stored_session(amira)
    if state == States.CHECKOUT_ADDRESS and inbound.kind == "location":
        pytest.skip("a pin is the answer in this state")

    replies = await amira.send(inbound)

    assert replies, "the customer got no answer"
    after = await stored_session(amira)
    assert after.state == state
    assert after.cart == before.cart
    # The reply ends with the current step's question again.
    question = question_for(after, luigis)
    last = replies[-1]
    assert type(last) is type(question)
    assert last.body.endswith(question.body), f"{last.body!r} lacks {question.body!r}"
    assert options_of(last) == options_of(question)


@pytest.mark.parametrize("state", list(PATHS))
async def test_help_and_cancel_work_in_every_state(amira: Customer, state: str) -> None:
    await reach(amira, state)
    await amira.type("HELP")
    assert "menu — show the menu" in amira.text
    assert (await stored_session(amira)).state == state
    await amira.type("cancel")
    session = await stored_session(amira)
    assert session.state == States.CHOOSING_ORDER_TYPE
    assert session.cart.is_empty


async def test_restart_in_process_restores_state_and_cart(
        config: AppConfig, luigis: Restaurant, tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "orderbot.db"
    async with SQLiteStore(path) as store:
        customer = Customer(make_dispatcher(config, store, clock), luigis, "447700900123")
        await customer.tap("order_type:pickup")
        await customer.tap("branch:camden")
        await customer.tap("item:calzone")
        await customer.tap("addon:burrata")
        assert "Any extras" in customer.text

    async with SQLiteStore(path) as store:
        dispatcher = make_dispatcher(config, store, clock)
        assert len(dispatcher.repository) == 0  # nothing loaded at start-up
        customer = Customer(dispatcher, luigis, "447700900123")
        await customer.tap("action:no_addons")
        assert "Added Calzone with Burrata (£13.50)" in customer.text
        await customer.type("checkout")
        await customer.type("card")
        assert "Pickup at: Camden" in customer.text
        assert "Welcome" not in customer.text
        assert len(dispatcher.repository) == 1


async def test_burst_of_twenty_is_applied_in_order_while_others_are_served(
        config: AppConfig, luigis: Restaurant, clock: FakeClock) -> None:
    store = SlowCommitStore(delay=0.005)
    await store.open()
    dispatcher = make_dispatcher(config, store, clock)
    amira = Customer(dispatcher, luigis, "447700900123")
    tom = Customer(dispatcher, luigis, "14155550142")
    await amira.tap("order_type:pickup")
    await amira.tap("branch:soho")
    plain = [item for category in luigis.menu for item in category.items if not item.addons]
    taps = [plain[i % len(plain)] for i in range(20)]
    finished: list[str] = []
    bodies: dict[str, str] = {}

    async def tap(job: tuple[Customer, str, str]) -> bool:
        customer, choice_id, label = job
        replies = await dispatcher.feed(luigis, customer.customer_id, Inbound.tapped(choice_id))
        finished.append(label)
        bodies[label] = "\n".join(getattr(reply, "body", "") for reply in replies)
        return True

    # The one owner of per-customer order, as the inbox processor uses it.
    queues: CustomerQueues[tuple[Customer, str, str]] = CustomerQueues(
        tap, lambda job: job[0].customer_id)
    for n, item in enumerate(taps):
        queues.submit((amira, f"item:{item.id}", f"amira{n}"))
    queues.submit((tom, "order_type:delivery", "tom"))
    await queues.drain()

    # Each reply shows the running subtotal of the taps before it, in order.
    running = 0
    for n, item in enumerate(taps):
        running += item.price
        assert f"Subtotal: {luigis.format_money(running)}" in bodies[f"amira{n}"]
    assert finished.index("tom") < 3, finished
    assert len(queues) == 0  # idle queues are freed
    await store.close()


class SlowCommitStore(MemoryStore):
    """A memory store whose commits take a while, as a disk would."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        await asyncio.sleep(self.delay)
        return await super().commit(changes)


async def test_session_expires_after_ttl(amira: Customer, clock: FakeClock,
                                         store: SessionStore) -> None:
    await amira.tap("order_type:delivery")
    await amira.tap("item:margherita")
    clock.advance(29 * 60)
    await amira.type("cart")
    assert "1 × Margherita" in amira.text

    clock.advance(30 * 60 + 1)
    await amira.type("cart")
    assert EXPIRED_NOTICE in amira.text
    assert "Your cart is empty" in amira.text
    [draft] = await store.list_drafts(KEY)
    assert draft.reason == "expired"
    assert draft.cart["lines"][0]["item_id"] == "margherita"
    assert (await stored_session(amira)).state == States.CHOOSING_ORDER_TYPE


async def test_snapshot_under_an_old_state_name_is_migrated(amira: Customer,
                                                           store: SessionStore,
                                                           clock: FakeClock) -> None:
    old = Session(welcomed=True, order_type="delivery", last_activity=clock.now).to_snapshot()
    old["state"] = "browsing_menu"  # the name choosing_category had before
    await store.commit(Changes(KEY, clock.now, snapshot=encode_snapshot(old)))

    await amira.type("pizza")

    assert "Pizza (page 1 of 2)" in amira.text
    assert QUARANTINE_NOTICE not in amira.text
    assert await store.list_quarantine() == []


@pytest.mark.parametrize("blob", [
    b"\xc1 definitely not msgpack",
    encode_snapshot({"v": 1, "state": "teleporting", "cart": []}),
    encode_snapshot({"v": 99, "state": "choosing_category"}),
    encode_snapshot({"v": 1, "state": "reviewing_cart", "cart": [["x"]]}),
    encode_snapshot({"v": 1, "state": "reviewing_cart", "cart": [], "pending": {"a": 1}}),
], ids=["garbage", "unknown-state", "newer-schema", "malformed-cart", "malformed-pending"])
async def test_corrupt_snapshot_is_quarantined_and_customer_restarted(
        amira: Customer, dispatcher: Dispatcher, luigis: Restaurant, store: SessionStore,
        clock: FakeClock, blob: bytes) -> None:
    await store.commit(Changes(KEY, clock.now, snapshot=blob))
    tom = Customer(dispatcher, luigis, "14155550142")
    await tom.tap("order_type:delivery")

    await amira.type("hi")

    assert QUARANTINE_NOTICE in amira.text
    assert amira.option_ids == ["order_type:delivery", "order_type:pickup"]
    [record] = await store.list_quarantine(KEY)
    assert record.snapshot == blob
    assert (await stored_session(amira)).state == States.CHOOSING_ORDER_TYPE
    # The customer carries on normally; everyone else was never affected.
    await amira.tap("order_type:pickup")
    assert "branch:soho" in amira.option_ids
    await tom.tap("category:pizza")
    assert "item:margherita" in tom.option_ids
    assert len(await store.list_quarantine()) == 1
