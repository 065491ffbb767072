"""The dispatcher: feeds one inbound message through middlewares to a handler.

Like aiogram's ``Dispatcher`` it is the root of the router tree and owns the
outer middlewares; unlike aiogram it returns the replies instead of sending
them, so the channel (terminal, WhatsApp outbox) decides how they leave.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Final

from fsm.config import AppConfig, Restaurant
from fsm.machine import ConversationMachine
from routes.conversation import i18n
from routes.conversation.channel import ReplyChannel
from routes.conversation.context import Context
from routes.conversation.gate import BotGate, ControlsCache
from routes.conversation.handlers.rating import look_for_rating
from routes.conversation.i18n import N_, _
from routes.conversation.messages import Inbound, Outgoing, text
from routes.conversation.middlewares import (
    Middleware,
    NextStep,
    Notices,
    SessionExpiry,
    SessionLifecycle,
    Update,
)
from routes.conversation.questions import QUESTIONS
from routes.conversation.router import Router
from storage.base import SessionKey
from storage.sessions import SessionRepository

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

FAILURE_REPLY: Final = N_("Sorry, something went wrong on our side. Your cart is safe — "
                          "please send your last message again.")
REFERENCE_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class Dispatcher:
    """Runs the conversation for every customer of every configured restaurant."""

    def __init__(self, config: AppConfig, repository: SessionRepository, router: Router, *,
                 machine: ConversationMachine | None = None, clock: Clock = time.time,
                 rng: random.Random | None = None,
                 controls: ControlsCache | None = None) -> None:
        self.config = config
        self.repository = repository
        self.router = router
        self.machine = machine or ConversationMachine()
        self.clock = clock
        self.rng = rng or random.SystemRandom()
        missing = set(self.machine.spec.state_names) - set(QUESTIONS)
        if missing:
            raise ValueError(f"states without a question: {sorted(missing)}")
        # A language without its compiled catalog fails here, at start-up, not mid-order.
        i18n.check_catalogs(tuple({language for restaurant in config.restaurants
                                   for language in restaurant.languages}))
        self.lifecycle = SessionLifecycle(repository)
        self.controls = controls or ControlsCache(repository.store)
        self.middlewares: list[Middleware] = [
            self.lifecycle,
            Notices(repository),  # before the gate: a number change moves even a paused chat
            BotGate(repository.store, self.controls),
            SessionExpiry(config.session.ttl_minutes * 60),
        ]

    async def feed(self, restaurant: Restaurant, customer_id: str, inbound: Inbound, *,
                   message_id: str | None = None, reply_via: ReplyChannel | None = None,
                   sent_at: float | None = None,
                   profile_name: str | None = None,
                   language: str | None = None) -> list[Outgoing]:
        """Handle one customer message; return the replies, once they are committed.

        ``message_id`` names the inbox row this message came from: it is
        marked processed in the same commit as the new snapshot. ``reply_via``
        turns the replies into outbox rows of that commit and is told of them
        once durable. ``sent_at`` is when the customer sent it (Unix seconds),
        if the channel says; a message older than the session TTL is answered
        but not applied. ``profile_name`` is the customer's name as their
        channel shows it (kept for staff). ``language`` is the one to speak to a
        customer who has not chosen one (``chat --lang ar``), if the restaurant
        speaks it; their own choice, once made, wins.

        The caller owns per-customer order (G5): one message of a customer
        at a time (:class:`~routes.conversation.queues.CustomerQueues`).
        Raises :class:`~storage.errors.AlreadyProcessed` if ``message_id``
        was processed before (nothing committed), and
        :class:`~storage.errors.StorageError` if the commit failed (the
        cached session is dropped; the stored one stands). A handler that
        raises is not an error here: the customer gets an apology and the
        stored conversation is left as it was.
        """
        update = Update(SessionKey(restaurant.id, customer_id), restaurant, inbound, self.clock(),
                        message_id=message_id, reply_via=reply_via, sent_at=sent_at,
                        profile_name=profile_name, language=language)
        await self._chain(self.middlewares)(update)
        assert update.effects is not None
        return update.effects.replies

    async def apologise(self, restaurant: Restaurant, customer_id: str, *, message_id: str,
                        reply_via: ReplyChannel | None = None) -> None:
        """Answer a message whose handling failed outside any handler, and mark it handled.

        For what :meth:`feed` could not even start on or finish (an inbox row
        this build cannot read, say): the customer gets the same apology as
        for a failing handler, with their conversation left as stored, rather
        than silence and a message retried for ever.
        """
        update = Update(SessionKey(restaurant.id, customer_id), restaurant,
                        Inbound("unsupported"), self.clock(), message_id=message_id,
                        reply_via=reply_via)

        with i18n.speaking(restaurant.languages[0]):
            apology = text(_(FAILURE_REPLY))
        await self.lifecycle.commit_failed(update, [apology])

    def _chain(self, middlewares: Sequence[Middleware]) -> NextStep:
        step: NextStep = self._handle
        for middleware in reversed(middlewares):
            step = partial(middleware, step)
        return step

    async def _handle(self, update: Update) -> None:
        assert update.session is not None
        if (update.language in update.restaurant.languages
                and update.session.language is None):
            update.session.language = update.language
        with i18n.speaking(i18n.language_of(update.session, update.restaurant)):
            await self._handle_in_language(update)

    async def _handle_in_language(self, update: Update) -> None:
        assert update.session is not None
        store = self.repository.store
        ctx = Context(key=update.key, restaurant=update.restaurant, session=update.session,
                      inbound=update.inbound, machine=self.machine, now=update.now,
                      new_reference=self.new_reference,
                      latest_order=partial(store.latest_order, update.key),
                      sold_out=update.sold_out,
                      past_orders=partial(store.list_orders, update.key),
                      order_history=partial(store.order_history, update.key.restaurant_id),
                      router=self.router)
        ctx.effects.drafts.extend(update.drafts)
        if not update.session.welcomed:
            update.session.welcomed = True
            ctx.say(_("Welcome to {restaurant}!", restaurant=ctx.local.name))
        for note in update.notes:
            ctx.say(note)
        try:
            # The one place a stored cart meets the current menu: every message,
            # before any handler reads a price or writes an order.
            await ctx.reconcile()
            if update.late:
                ctx.ask()
                update.effects = ctx.finish()
                return
            await look_for_rating(ctx)
            handler = self.router.resolve(ctx)
            if handler is None:
                raise LookupError(f"no handler for {update.inbound!r} in {update.session.state}")
            ctx.close_side_question()
            await handler.callback(ctx)
            effects = ctx.finish()
            if not effects.replies:  # G2: never silence
                ctx.ask()
                effects = ctx.finish()
        except Exception:
            logger.exception("handler failed restaurant=%s customer=%s state=%s",
                             update.key.restaurant_id, update.key.customer_id,
                             update.session.state)
            update.failed = True
            update.effects = ctx.finish()
            update.effects.replies[:] = [text(_(FAILURE_REPLY))]
            update.effects.orders.clear()
            update.effects.order_moves.clear()
            return
        update.effects = effects

    async def new_reference(self, restaurant_id: str) -> str:
        """A short order reference such as ``LU-7K2F``, unused in this restaurant."""
        prefix = "".join(ch for ch in restaurant_id.upper() if ch.isalnum())[:2] or "OR"
        length = 4
        while True:
            for _attempt in range(8):
                code = "".join(self.rng.choice(REFERENCE_ALPHABET) for _letter in range(length))
                reference = f"{prefix}-{code}"
                if not await self.repository.store.reference_exists(restaurant_id, reference):
                    return reference
            length += 1
