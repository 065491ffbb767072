"""Whether the bot answers at all: staff took over, the customer asked for a person, the
restaurant switched the bot off, or it is closed (outside its opening hours: the
customer is told when it opens next; orders for later are not taken).

:class:`BotGate` runs inside the unit of work that loaded the session, after
the load: a takeover committed before that point silences the bot for this
message; one committed while the message is being handled lets at most that
one reply through. Messages the bot does not answer are still committed —
logged, counted unread, shown to staff.
"""

from __future__ import annotations

from typing import Final

from routes.conversation import i18n
from routes.conversation.context import Context, Effects
from routes.conversation.i18n import N_, _
from routes.conversation.messages import Outgoing, text
from routes.conversation.middlewares import NextStep, Update
from storage.staff import Controls, ConversationLog, RestaurantControls

DEFAULT_AWAY_MESSAGE: Final = N_("Sorry, we're not taking orders on WhatsApp right now. "
                                 "Please try again later.")


class ControlsCache:
    """Each restaurant's bot switch and sold-out items, read once, then kept current.

    Staff change them through this process (the API calls :meth:`put` after
    the store has the change), so the cache never serves a stale value here.
    """

    def __init__(self, store: RestaurantControls) -> None:
        self._store = store
        self._controls: dict[str, Controls] = {}

    async def get(self, restaurant_id: str) -> Controls:
        """The restaurant's controls; raises ``StorageError`` if they cannot be read."""
        controls = self._controls.get(restaurant_id)
        if controls is None:
            controls = self._controls[restaurant_id] = await self._store.controls(restaurant_id)
        return controls

    def put(self, controls: Controls) -> None:
        """Record controls just committed by staff."""
        self._controls[controls.restaurant_id] = controls


class BotGate:
    """The middleware that keeps the bot quiet where a person answers or it is off."""

    def __init__(self, conversations: ConversationLog, controls: ControlsCache) -> None:
        self.conversations = conversations
        self.controls = controls

    async def __call__(self, call_next: NextStep, update: Update) -> None:
        controls = await self.controls.get(update.restaurant.id)
        update.sold_out = controls.sold_out
        flags = await self.conversations.gate_flags(update.key)
        if flags.bot_paused or flags.handoff_requested:
            update.effects = Effects()  # a person answers in this conversation
            return
        if not controls.bot_enabled:
            update.effects = Effects()
            if flags.away_epoch < controls.off_epoch:
                update.effects.replies.append(away_message(update))
                update.away_epoch = controls.off_epoch
            return
        if not update.restaurant.is_open(update.now):
            # Closed: the customer is told when we open; the message changes nothing.
            update.effects = Effects()
            update.effects.replies.append(closed_message(update))
            return
        await call_next(update)


def away_message(update: Update) -> Outgoing:
    """The restaurant's away message in the customer's language: its own text for that
    language if it wrote one, else ours translated."""
    restaurant = update.restaurant
    language = (i18n.language_of(update.session, restaurant) if update.session is not None
                else restaurant.languages[0])
    with i18n.speaking(language):
        away = restaurant.in_language(language).away_message
        if not away or away == DEFAULT_AWAY_MESSAGE:
            away = _(DEFAULT_AWAY_MESSAGE)
        return text(away)


def closed_message(update: Update) -> Outgoing:
    """We're closed, and when we open next (the restaurant's local time), in the customer's
    language."""
    restaurant = update.restaurant
    language = (i18n.language_of(update.session, restaurant) if update.session is not None
                else restaurant.languages[0])
    opening = restaurant.next_opening(update.now)
    with i18n.speaking(language):
        name = restaurant.in_language(language).name
        if opening is None:
            return text(_("Sorry, {restaurant} is closed, so we can't take orders right now.",
                          restaurant=name))
        return text(_("Sorry, {restaurant} is closed right now, so we can't take your order. "
                      "We open again on {when}.",
                      restaurant=name, when=i18n.weekday_and_time(opening)))


def branch_closed(ctx: Context, branch_id: str) -> str:
    """A pickup branch is closed now (its own hours), and when it opens, in the customer's
    language: the closed-restaurant sentence, naming the branch."""
    local = ctx.local.branch(branch_id)
    name = f"{ctx.local.name} — {local.name if local is not None else branch_id}"
    opening = ctx.restaurant.branch_next_opening(branch_id, ctx.now)
    if opening is None:
        return _("Sorry, {restaurant} is closed, so we can't take orders right now.",
                 restaurant=name)
    return _("Sorry, {restaurant} is closed right now, so we can't take your order. "
             "We open again on {when}.", restaurant=name, when=i18n.weekday_and_time(opening))
