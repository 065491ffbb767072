"""The conversation under staff control: the message log, handoff, takeover, the bot
switch, sold-out items and the customer's `status` — on every store backend."""

from __future__ import annotations

import asyncio

from fsm.config import AppConfig, Restaurant
from fsm.order_lifecycle import OrderStatus
from fsm.states import States
from routes.conversation.dispatcher import Dispatcher
from storage.base import OutboxRecord, SessionKey, SessionStore
from storage.memory import MemoryStore
from storage.records import Changes, ConversationChange, OrderMove
from tests.conftest import Customer, FakeClock, make_dispatcher
from tests.routes.conversation.test_ordering_flow import walk_order
from tests.routes.test_guarantees import stored_session


def key_of(customer: Customer) -> SessionKey:
    return SessionKey(customer.restaurant.id, customer.customer_id)


async def test_every_message_and_reply_is_logged_with_its_author(
        amira: Customer, store: SessionStore) -> None:
    await amira.type("hello there")
    await amira.tap("order_type:pickup")

    key = key_of(amira)
    log = await store.messages(key)
    assert [(m.direction, m.author) for m in log][:2] == [("in", "customer"), ("out", "bot")]
    assert log[0].text == "hello there" and log[0].kind == "text"
    assert "Welcome to Luigi's Pizzeria" in log[1].text
    inbound = [m for m in log if m.direction == "in"]
    assert [m.kind for m in inbound] == ["text", "choice"]
    record = await store.conversation(key)
    assert record is not None and record.unread == 2
    assert record.last_inbound_at == record.last_message_at


async def test_asking_for_a_person_silences_the_bot_until_handback(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    key = key_of(amira)
    await amira.tap("order_type:pickup")
    await amira.type("human")
    assert "will answer you here shortly" in amira.text
    record = await store.conversation(key)
    assert record is not None and record.handoff_requested

    clock.advance(5)
    assert await amira.tap("branch:soho") == []  # a person answers now, not the bot
    assert (await stored_session(amira)).state == States.CHOOSING_BRANCH
    assert (await store.messages(key))[-1].text == "branch:soho"  # still logged for staff

    await store.commit(Changes(key, clock(), conversation=ConversationChange(
        handoff_requested=False, bot_paused=False)))
    await amira.tap("branch:soho")
    assert (await stored_session(amira)).state == States.CHOOSING_CATEGORY


async def test_a_takeover_silences_the_bot_and_keeps_the_cart(
        amira: Customer, store: SessionStore, clock: FakeClock) -> None:
    key = key_of(amira)
    await amira.tap("order_type:delivery")
    await amira.tap("category:pizza")
    await amira.tap("item:margherita")
    await store.commit(Changes(key, clock(), conversation=ConversationChange(bot_paused=True)))

    assert await amira.tap("item:margherita") == []
    assert (await stored_session(amira)).cart.item_count == 1

    await store.commit(Changes(key, clock(), conversation=ConversationChange(bot_paused=False)))
    await amira.type("cart")
    assert "Margherita" in amira.text


async def test_switched_off_the_away_message_goes_once_per_switch_off(
        amira: Customer, store: SessionStore, dispatcher: Dispatcher, luigis: Restaurant,
        clock: FakeClock) -> None:
    dispatcher.controls.put(await store.set_bot_enabled(luigis.id, False, clock()))
    await amira.type("hi")
    assert amira.text == luigis.away_message
    await amira.type("hello?")
    assert amira.replies == []
    assert (await stored_session(amira)).state == States.CHOOSING_ORDER_TYPE

    dispatcher.controls.put(await store.set_bot_enabled(luigis.id, True, clock()))
    await amira.type("hi")
    assert "Welcome" in amira.text
    dispatcher.controls.put(await store.set_bot_enabled(luigis.id, False, clock()))
    await amira.type("anyone?")
    assert amira.text == luigis.away_message  # a new switch-off: told again, once


async def test_a_sold_out_item_leaves_the_lists_and_says_so_when_asked_for(
        amira: Customer, store: SessionStore, dispatcher: Dispatcher, luigis: Restaurant,
        clock: FakeClock) -> None:
    await amira.tap("order_type:delivery")
    await amira.tap("category:pizza")
    assert "item:margherita" in amira.option_ids
    dispatcher.controls.put(
        await store.set_item_available(luigis.id, "margherita", False, clock()))

    await amira.tap("category:pizza")
    assert "item:margherita" not in amira.option_ids
    await amira.tap("item:margherita")  # an old button
    assert "Margherita is sold out" in amira.text
    await amira.type("margherita")
    assert "Margherita is sold out" in amira.text
    assert (await stored_session(amira)).cart.is_empty


async def test_a_cart_holding_a_sold_out_item_is_told_at_checkout(
        amira: Customer, store: SessionStore, dispatcher: Dispatcher, luigis: Restaurant,
        clock: FakeClock) -> None:
    await walk_order(amira, luigis, "pickup", "tap")  # confirms one order
    await amira.tap("order_type:pickup")
    await amira.tap("branch:soho")
    await amira.tap("category:pizza")
    await amira.tap("item:margherita")
    await amira.tap("action:add_more")
    await amira.tap("category:pizza")
    await amira.tap("item:marinara")
    await amira.tap("action:checkout")
    await amira.tap("payment:cash")
    dispatcher.controls.put(
        await store.set_item_available(luigis.id, "margherita", False, clock()))

    await amira.tap("action:confirm")
    assert "Margherita sold out since you added it" in amira.text
    session = await stored_session(amira)
    assert [line.item_id for line in session.cart] == ["marinara"]
    assert session.state == States.CHECKOUT_CONFIRMATION
    orders = await store.list_orders(key_of(amira))
    assert len(orders) == 1  # only the first order: nothing confirmed with the sold-out item


async def test_status_answers_from_the_stored_order(
        amira: Customer, store: SessionStore, dispatcher: Dispatcher, luigis: Restaurant,
        clock: FakeClock) -> None:
    newcomer = Customer(dispatcher, luigis, "447700900999")
    await newcomer.type("status")
    assert "haven't ordered" in newcomer.text
    await walk_order(amira, luigis, "delivery", "tap")
    key = key_of(amira)
    [order] = await store.list_orders(key)
    await amira.type("track")
    assert f"Your order {order.reference} is confirmed" in amira.text

    await store.commit(Changes(key, clock(), order_moves=[OrderMove(
        order.reference, OrderStatus.CONFIRMED, OrderStatus.PREPARING, "Sam", clock())]))
    await amira.type("status")
    assert f"Your order {order.reference} is being prepared." in amira.text


class HeldCommits(MemoryStore):
    """A memory store that can hold a customer message's commit until told to go on."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        if self.holding and any(entry.direction == "in" for entry in changes.log):
            self.entered.set()
            await self.release.wait()
        return await super().commit(changes)


async def test_a_takeover_racing_an_in_flight_message_lets_at_most_that_reply_through(
        config: AppConfig, luigis: Restaurant, clock: FakeClock) -> None:
    store = HeldCommits()
    await store.open()
    customer = Customer(make_dispatcher(config, store, clock), luigis, "447700900123")
    key = key_of(customer)
    await customer.type("hi")

    store.holding = True
    in_flight = asyncio.create_task(customer.tap("order_type:delivery"))
    await store.entered.wait()  # handled, past the gate, its commit not yet landed
    await store.commit(Changes(key, clock(), conversation=ConversationChange(bot_paused=True)))
    store.release.set()
    assert await in_flight, "the message already in flight is answered"

    store.holding = False
    assert await customer.type("menu") == []
    assert await customer.tap("category:pizza") == []
    log = await store.messages(key)
    assert [entry.direction for entry in log[-2:]] == ["in", "in"]  # logged, not answered
    await store.close()
