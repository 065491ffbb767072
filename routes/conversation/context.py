"""What a handler gets: the conversation, the message, and ways to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property

from fsm.config import Restaurant
from fsm.machine import ConversationMachine
from fsm.session import Session
from routes.conversation.matching import Resolution, normalize, resolve_choice
from routes.conversation.messages import Inbound, Outgoing, text, with_preamble
from routes.conversation.questions import question_for
from storage.base import DraftRecord, OrderRecord, SessionKey


@dataclass(slots=True)
class Effects:
    """What handling one message produced, besides the session itself."""

    replies: list[Outgoing] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    drafts: list[DraftRecord] = field(default_factory=list)
    handoff_requested: bool = False  # the customer asked for a person


async def _no_order() -> OrderRecord | None:
    return None


class Context:
    """The conversation of one customer while one of their messages is handled."""

    def __init__(self, *, key: SessionKey, restaurant: Restaurant, session: Session,
                 inbound: Inbound, machine: ConversationMachine, now: float,
                 new_reference: Callable[[str], Awaitable[str]],
                 latest_order: Callable[[], Awaitable[OrderRecord | None]] = _no_order,
                 sold_out: frozenset[str] = frozenset()) -> None:
        self.key = key
        self.new_reference = new_reference
        self.latest_order = latest_order  # the customer's most recent order, from the store
        self.sold_out = sold_out  # item ids the restaurant marked sold out
        self.menu = restaurant.without(sold_out)  # the restaurant as customers see it now
        self.restaurant = restaurant
        self.session = session
        self.inbound = inbound
        self.machine = machine
        self.now = now
        self.effects = Effects()
        self.normalized_text = normalize(inbound.text) if inbound.kind == "text" else ""
        self._notes: list[str] = []

    @property
    def choice(self) -> str | None:
        """The interactive id this message selects, if any: tapped, or typed as a number or title.

        Resolved on first use — by a filter, before any handler changes the
        session — because matching typed text builds the current question, and
        most messages (taps, commands) never need that.
        """
        return self._resolution.choice

    @property
    def quantity(self) -> int:
        """How many of the selected item were asked for: "2 margherita", "margherita x2"."""
        return self._resolution.quantity

    @property
    def number_hint(self) -> str | None:
        """What to tell a customer whose typed number could not be used ("1.5", "²")."""
        return self._resolution.hint

    @cached_property
    def _resolution(self) -> Resolution:
        return resolve_choice(self.inbound, self.normalized_text, self.session, self.menu,
                              catalogue=self.restaurant)

    def arg(self, prefix: str) -> str:
        """The part of the selected id after ``prefix`` (``item:calzone`` → ``calzone``)."""
        assert self.choice is not None and self.choice.startswith(prefix)
        return self.choice[len(prefix):]

    async def fire(self, trigger: str) -> bool:
        """Fire an FSM trigger for this conversation; ``False`` when not allowed now."""
        return await self.machine.fire(self.session, trigger)

    def say(self, note: str) -> None:
        """A line to put before the next message sent (merged into it when it fits)."""
        self._notes.append(note)

    def send(self, message: Outgoing) -> None:
        if self._notes:
            preamble = "\n\n".join(self._notes)
            self._notes.clear()
            try:
                message = with_preamble(preamble, message)
            except ValueError:
                self.effects.replies.append(text(preamble))
        self.effects.replies.append(message)

    def ask(self) -> None:
        """Send the question of the current state."""
        self.send(question_for(self.session, self.menu))

    def drop_sold_out(self) -> bool:
        """Take sold-out items out of the cart, telling the customer; ``True`` if any went."""
        gone = [line for line in self.session.cart if line.item_id in self.sold_out]
        for line in gone:
            self.session.cart.remove(line.key)
        if gone:
            names = ", ".join(line.title for line in gone)
            self.say(f"Sorry, {names} sold out since you added it, so we've taken it out of "
                     "your cart.")
        return bool(gone)

    def finish(self) -> Effects:
        """Everything produced; notes never followed by a message go out as text."""
        if self._notes:
            self.effects.replies.append(text("\n\n".join(self._notes)))
            self._notes.clear()
        return self.effects
