"""Middlewares around every inbound message, outermost first.

Each is called as ``await middleware(call_next, update)``, like aiogram's
outer middlewares: it may do work before and after ``call_next``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from fsm.config import Restaurant
from fsm.session import Session
from routes.conversation import i18n
from routes.conversation.channel import ReplyChannel
from routes.conversation.context import Effects
from routes.conversation.i18n import N_, _
from routes.conversation.log import log_inbound, log_replies
from routes.conversation.messages import Inbound, Outgoing
from storage.base import (
    Changes,
    DraftRecord,
    OutboxRecord,
    QuarantineRecord,
    SessionKey,
)
from storage.errors import DuplicateOrderReference
from storage.records import ConversationChange
from storage.sessions import SessionRepository

logger = logging.getLogger(__name__)

REFERENCE_ATTEMPTS: Final = 3

EXPIRED_NOTICE = N_("It's been a while since your last message, so we've started a fresh "
                    "order.")
LATE_NOTICE = N_("Your message from {sent} only reached us now, so we haven't acted on it. "
                 "Here is where we are:")
QUARANTINE_NOTICE = N_("Sorry, we couldn't restore your previous conversation after an "
                       "update, so we've started a new order.")


@dataclass(slots=True)
class Update:
    """One inbound message on its way through the middlewares to a handler."""

    key: SessionKey
    restaurant: Restaurant
    inbound: Inbound
    now: float
    session: Session | None = None
    notes: list[str] = field(default_factory=list)  # in the conversation's language
    drafts: list[DraftRecord] = field(default_factory=list)
    quarantine: QuarantineRecord | None = None
    effects: Effects | None = None
    failed: bool = False
    # Set when the message came through the durable inbox (WhatsApp): its id is
    # marked processed in the session's commit, and the replies are queued
    # there as the channel's outbox rows.
    message_id: str | None = None
    reply_via: ReplyChannel | None = None
    # When the customer sent it (the channel's timestamp), if known; a message
    # older than the session TTL is answered but not acted on (``late``).
    sent_at: float | None = None
    late: bool = False
    # The customer's profile name, if the channel knows it (shown to staff).
    profile_name: str | None = None
    # The language to speak if the customer has not chosen one (the channel's choice).
    language: str | None = None
    # Set by the bot gate: items sold out now, and the switch-off whose away
    # message this update sends (recorded so it goes once per conversation).
    sold_out: frozenset[str] = frozenset()
    away_epoch: int | None = None

    def restart(self) -> None:
        """Forget what a failed attempt at handling this message produced."""
        self.session = None
        self.notes.clear()
        self.drafts.clear()
        self.quarantine = None
        self.effects = None
        self.failed = False
        self.late = False
        self.away_epoch = None


NextStep = Callable[[Update], Awaitable[None]]
Middleware = Callable[[NextStep, Update], Awaitable[None]]


class SessionLifecycle:
    """Load the session before the handler; commit everything after it, once.

    The snapshot, orders, drafts, quarantine, the inbox mark and the outbox
    rows of one message go into one :class:`Changes`: one transaction.
    """

    def __init__(self, repository: SessionRepository) -> None:
        self.repository = repository

    async def __call__(self, call_next: NextStep, update: Update) -> None:
        for attempt in range(1, REFERENCE_ATTEMPTS + 1):
            try:
                await self._once(call_next, update)
                return
            except DuplicateOrderReference:
                # Two confirmations drew the same reference in one batch; the
                # commit failed and the cached session was dropped. Run the
                # message again from the stored state: it draws a new one.
                if attempt == REFERENCE_ATTEMPTS:
                    raise
                logger.info("order reference clash restaurant=%s customer=%s: retrying",
                            update.key.restaurant_id, update.key.customer_id)
                update.restart()

    async def _once(self, call_next: NextStep, update: Update) -> None:
        session, quarantine = await self.repository.load(update.key, update.now)
        update.session = session
        if quarantine is not None:
            update.quarantine = quarantine
            with i18n.speaking(i18n.language_of(session, update.restaurant)):
                update.notes.append(_(QUARANTINE_NOTICE))
        await call_next(update)
        assert update.effects is not None
        if update.failed:
            await self.commit_failed(update, update.effects.replies)
            return
        changes = self._changes(update, update.effects.replies)
        session.last_activity = update.now
        changes.orders = list(update.effects.orders)
        changes.drafts = list(update.effects.drafts)
        changes.order_moves = list(update.effects.order_moves)
        changes.quarantine = update.quarantine
        self._queued(update, await self.repository.save(session, changes))

    async def commit_failed(self, update: Update, replies: Sequence[Outgoing]) -> None:
        """Answer ``update`` with ``replies`` and mark it handled; keep the stored snapshot.

        For a message whose handling failed: it is not retried for ever, and
        the conversation stays as stored (the cached copy, perhaps half
        changed by the failed attempt, is dropped).
        """
        self.repository.forget(update.key)
        if update.message_id is None:
            return
        self._queued(update, await self.repository.store.commit(self._changes(update, replies)))

    @staticmethod
    def _changes(update: Update, replies: Sequence[Outgoing]) -> Changes:
        """The commit of one message: inbox mark, replies queued, log and conversation record."""
        changes = Changes(key=update.key, updated_at=update.now,
                          inbox_processed=update.message_id)
        first_reply: int | None = None
        contact = None
        if update.reply_via is not None:
            changes.outbox = update.reply_via.outbox_rows(update.key, replies)
            first_reply = len(changes.outbox) - len(replies)  # the replies' rows come last
            contact = update.reply_via.contact
        changes.log = [log_inbound(update.inbound, update.now, update.message_id),
                       *log_replies(replies, update.now, first_index=first_reply)]
        handoff = update.effects is not None and update.effects.handoff_requested
        changes.conversation = ConversationChange(
            name=update.profile_name, inbound_at=update.now,
            outbound_at=update.now if replies else None,
            handoff_requested=True if handoff else None, contact=contact,
            away_epoch=update.away_epoch)
        return changes

    @staticmethod
    def _queued(update: Update, rows: list[OutboxRecord]) -> None:
        if rows and update.reply_via is not None:
            update.reply_via.committed(update.key, rows)


class SessionExpiry:
    """After ``ttl_seconds`` of silence the conversation starts over and says so.

    The stale cart is kept as an abandoned draft for the restaurant's records.
    A message that was itself sent more than ``ttl_seconds`` ago (Meta retries
    for days after an outage) is marked ``late``: the customer is told and
    asked the current question, and the message is not applied.
    """

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds

    async def __call__(self, call_next: NextStep, update: Update) -> None:
        session = update.session
        assert session is not None
        idle = update.now - session.last_activity
        if session.last_activity and idle > self.ttl_seconds:
            if not session.cart.is_empty:
                update.drafts.append(DraftRecord(update.key, "expired",
                                                 session.cart.describe(), update.now))
            logger.info("session expired restaurant=%s customer=%s idle=%.0fs",
                        update.key.restaurant_id, update.key.customer_id, idle)
            session.start_over()
            with i18n.speaking(i18n.language_of(session, update.restaurant)):
                update.notes.append(_(EXPIRED_NOTICE))
        if update.sent_at is not None and update.now - update.sent_at > self.ttl_seconds:
            update.late = True
            with i18n.speaking(i18n.language_of(session, update.restaurant)):
                update.notes.append(_(LATE_NOTICE, sent=i18n.day_and_time(update.sent_at)))
            logger.info("late message restaurant=%s customer=%s sent %.0fs ago: not applied",
                        update.key.restaurant_id, update.key.customer_id,
                        update.now - update.sent_at)
        await call_next(update)


NUMBER_CHANGED: Final = "system:user_changed_number"


class Notices:
    """Notices nobody typed (WhatsApp's ``system`` messages, ``request_welcome``…): no reply,
    no change to the cart; a number change moves the conversation to the new number.

    Runs just inside :class:`SessionLifecycle`, so the notice is still marked
    processed and logged in the old conversation's commit. The move comes
    first, in the store (:meth:`~storage.roles.SessionStorage.move_conversation`):
    the old number's state, cart and choices (unless the new number already
    has a conversation, which is kept), its message history, its staff record,
    its orders (so ``status``, ``same again`` and the staff's order
    notifications follow the new number) and its abandoned carts. Then the
    new number's contact is committed for staff replies, and the old
    conversation starts over. A crash in between processes the notice again:
    the second move finds nothing left to move, so the move happens once.
    """

    def __init__(self, repository: SessionRepository) -> None:
        self.repository = repository

    async def __call__(self, call_next: NextStep, update: Update) -> None:
        if update.inbound.kind != "notice":
            await call_next(update)
            return
        update.effects = Effects()  # never answered
        new_id = update.inbound.text
        if update.inbound.choice_id == NUMBER_CHANGED and new_id \
                and new_id != update.key.customer_id:
            await self._move(update, SessionKey(update.key.restaurant_id, new_id))

    async def _move(self, update: Update, new_key: SessionKey) -> None:
        session = update.session
        assert session is not None
        store = self.repository.store
        moved = await store.move_conversation(update.key, new_key)
        self.repository.forget(update.key)
        self.repository.forget(new_key)
        contact = update.reply_via.contact if update.reply_via is not None else None
        if contact is not None or update.profile_name is not None:
            await store.commit(Changes(key=new_key, updated_at=update.now,
                                       conversation=ConversationChange(
                name=update.profile_name,
                contact=None if contact is None else (contact[0], new_key.customer_id, None))))
        logger.info("number change restaurant=%s: conversation of %s moved to %s (%s)",
                    update.key.restaurant_id, update.key.customer_id, new_key.customer_id,
                    "moved" if moved else "nothing to move")
        session.start_over()
