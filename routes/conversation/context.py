"""What a handler gets: the conversation, the message, and ways to answer."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Final

from fsm.cart import MAX_QUANTITY
from fsm.config import Restaurant
from fsm.machine import ConversationMachine
from fsm.session import Session
from fsm.states import States
from routes.conversation.messages import Inbound, Outgoing, options_of, text, with_preamble
from routes.conversation.questions import question_for
from storage.base import DraftRecord, OrderRecord, SessionKey

_NOT_WORD: Final = re.compile(r"[^\w\s]+")
_SPACES: Final = re.compile(r"\s+")
# States in which a typed item or category name anywhere on the menu is understood.
_CATALOGUE_STATES: Final = frozenset((*States.ORDERING, States.CHECKOUT_CONFIRMATION))
# Typed quantities, on normalized text: "2 margherita", "2x margherita", "margherita x2".
_QUANTITY_FIRST: Final = re.compile(r"(?P<n>\d{1,2})(?:\s*x)?\s+(?P<name>.+)")
_QUANTITY_LAST: Final = re.compile(r"(?P<name>.+?)\s+(?:x\s*)?(?P<n>\d{1,2})")


@lru_cache(maxsize=4096)  # option titles recur on every typed message
def normalize(raw: str) -> str:
    """Lower case, punctuation and repeated spaces removed: how typed text is compared."""
    return _SPACES.sub(" ", _NOT_WORD.sub("", raw.lower())).strip()


@dataclass(slots=True)
class Effects:
    """What handling one message produced, besides the session itself."""

    replies: list[Outgoing] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    drafts: list[DraftRecord] = field(default_factory=list)


class Context:
    """The conversation of one customer while one of their messages is handled."""

    def __init__(self, *, key: SessionKey, restaurant: Restaurant, session: Session,
                 inbound: Inbound, machine: ConversationMachine, now: float,
                 new_reference: Callable[[str], Awaitable[str]]) -> None:
        self.key = key
        self.new_reference = new_reference
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
        return self._resolution[0]

    @property
    def quantity(self) -> int:
        """How many of the selected item were asked for: "2 margherita", "margherita x2"."""
        return self._resolution[1]

    @cached_property
    def _resolution(self) -> tuple[str | None, int]:
        choice = self._resolve_choice(self.normalized_text)
        if choice is not None or self.inbound.kind != "text":
            return choice, 1
        # Not an option as typed: perhaps an item with a quantity.
        match = (_QUANTITY_FIRST.fullmatch(self.normalized_text)
                 or _QUANTITY_LAST.fullmatch(self.normalized_text))
        if match is None or match.group("name").isdigit():  # "2 3" is not an item
            return None, 1
        quantity = int(match.group("n"))
        choice = self._resolve_choice(match.group("name"))
        if choice is None or not choice.startswith("item:") or not 1 <= quantity <= MAX_QUANTITY:
            return None, 1
        return choice, quantity

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
        self.send(question_for(self.session, self.restaurant))

    def finish(self) -> Effects:
        """Everything produced; notes never followed by a message go out as text."""
        if self._notes:
            self.effects.replies.append(text("\n\n".join(self._notes)))
            self._notes.clear()
        return self.effects

    def _resolve_choice(self, typed: str) -> str | None:
        if self.inbound.kind == "choice":
            return self.inbound.choice_id
        if not typed:
            return None
        options = options_of(question_for(self.session, self.restaurant))
        if typed.isdigit():
            number = int(typed)
            return options[number - 1].id if 1 <= number <= len(options) else None
        for option in options:
            names = (option.title, *option.keywords)
            if any(normalize(name) == typed for name in names):
                return option.id
        if self.session.state in _CATALOGUE_STATES:
            return self._catalogue_choice(typed)
        return None

    def _catalogue_choice(self, typed: str) -> str | None:
        for category in self.restaurant.menu:
            if normalize(category.title) == typed or category.id == typed:
                return f"category:{category.id}"
        for category in self.restaurant.menu:
            for item in category.items:
                if normalize(item.name) == typed or item.id == typed:
                    return f"item:{item.id}"
        return None
