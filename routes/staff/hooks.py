"""What the conversation commits, told to the live events and the metrics.

The conversation layer is not changed for this: :meth:`ConversationHooks.install`
adds two middlewares to the dispatcher — the outermost times each message
(commit included) and counts it; the innermost notes the orders a message
confirmed — and :meth:`ConversationHooks.on_committed` replaces the inbox
processor's ``on_committed`` (the sender's ``enqueue``): once a message's
commit is durable it hands the rows to the sender, then publishes
``message.created`` and ``conversation.updated`` for that customer, and
``order.updated`` for each order the commit carried.
"""

from __future__ import annotations

import time

from fsm.config import AppConfig
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.middlewares import NextStep, Update
from routes.staff.events import EventHub
from routes.staff.metrics import Metrics
from routes.staff.serialize import order_json
from routes.whatsapp.outbox import OnCommitted
from storage.base import OrderRecord, OutboxRecord, SessionKey


class ConversationHooks:
    """Publishes the conversation's committed changes; see the module docstring."""

    def __init__(self, config: AppConfig, hub: EventHub, metrics: Metrics,
                 deliver: OnCommitted) -> None:
        self.config = config
        self.hub = hub
        self.metrics = metrics
        self.deliver = deliver
        # Orders confirmed by the message being handled, until its commit is durable.
        # Each customer's messages are handled one at a time, so one entry per key.
        self._orders: dict[SessionKey, list[OrderRecord]] = {}

    def install(self, dispatcher: Dispatcher) -> None:
        dispatcher.middlewares.insert(0, self.timed)
        dispatcher.middlewares.append(self.note_orders)

    async def timed(self, call_next: NextStep, update: Update) -> None:
        started = time.perf_counter()
        await call_next(update)
        self.metrics.processing.observe(time.perf_counter() - started)
        self.metrics.child(self.metrics.messages, update.key.restaurant_id).inc()

    async def note_orders(self, call_next: NextStep, update: Update) -> None:
        await call_next(update)
        orders = list(update.effects.orders) if update.effects is not None else []
        if orders:
            self._orders[update.key] = orders
        else:
            self._orders.pop(update.key, None)

    def on_committed(self, key: SessionKey, rows: list[OutboxRecord]) -> None:
        self.deliver(key, rows)
        restaurant_id, customer = key.restaurant_id, key.customer_id
        self.hub.publish(restaurant_id, "message.created", {"customer": customer})
        self.hub.publish(restaurant_id, "conversation.updated", {"customer": customer})
        restaurant = self.config.restaurant(restaurant_id)
        for order in self._orders.pop(key, []):
            self.hub.publish(restaurant_id, "order.updated", order_json(order, restaurant))
