"""Simulated customers: each walks a whole order and waits for every answer, like a person.

A walk is the list of what the customer sends.  Taps are interactive ids
(``order_type:pickup``, ``action:confirm``), ``PIN`` shares a location, and
anything else is typed.  What the customer waits for after a message is
derived from the walk itself: the reply that offers the next tap, the
location request before a pin, and the confirmation after the last step.
A reply only counts once the bot's read receipt for *this* message arrived
(the outbox sends it before that message's replies), so a late answer to an
earlier message can never be taken for the current one.

A customer made with ``any_answer`` takes any reply after its POST as the
answer to its current step: against ``bench.relay``, which answers every
message with the same text and offers nothing to walk on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bench.payloads import encode, location_message, notification, tap_message, text_message

PIN: Final = "PIN"
CONFIRMED: Final = "is confirmed"

# Luigi's (config.yaml): one pickup order with an add-on and a second category,
# and one delivery order to a shared pin.  Together they visit every state.
PICKUP_WALK: Final = (
    "hi", "order_type:pickup", "branch:soho", "category:pizza", "item:pepperoni",
    "addon:extra_cheese", "action:no_addons", "action:add_more", "category:sides",
    "item:bruschetta", "action:checkout", "payment:cash", "action:confirm",
)
DELIVERY_WALK: Final = (
    "hi", "order_type:delivery", "category:pizza", "item:margherita", "action:checkout",
    PIN, "payment:card", "action:confirm",
)
WALKS: Final = (PICKUP_WALK, DELIVERY_WALK)


def is_tap(step: str) -> bool:
    return ":" in step


@dataclass(frozen=True, slots=True)
class Expectation:
    """The reply that ends a turn: it offers ``option``, is of ``interactive_type``,
    or is a text containing ``text``; all three None means any reply."""

    option: str | None = None
    interactive_type: str | None = None
    text: str | None = None

    def met_by(self, message: dict[str, Any]) -> bool:
        if self.text is not None:
            return message.get("type") == "text" and self.text in message["text"]["body"]
        interactive = message.get("interactive") or {}
        if self.interactive_type is not None:
            return bool(interactive.get("type") == self.interactive_type)
        return self.option is None or self.option in offered_options(message)


ANY_REPLY: Final = Expectation()


def expectation_after(walk: Sequence[str], position: int) -> Expectation:
    """What the customer waits for after sending ``walk[position]``."""
    if position == len(walk) - 1:
        return Expectation(text=CONFIRMED)
    following = walk[position + 1]
    if following == PIN:
        return Expectation(interactive_type="location_request_message")
    if is_tap(following):
        return Expectation(option=following)
    return Expectation()


def offered_options(message: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """``id -> (reply kind, title)`` for every button or list row of a message."""
    interactive = message.get("interactive") or {}
    action = interactive.get("action") or {}
    options = {button["reply"]["id"]: ("button_reply", button["reply"]["title"])
               for button in action.get("buttons", ())}
    options.update((row["id"], ("list_reply", row["title"]))
                   for section in action.get("sections", ()) for row in section["rows"])
    return options


class SimulatedCustomer:
    """One customer's place in its walk, and the turn it is waiting on."""

    def __init__(self, wa_id: str, walk: Sequence[str], *, any_answer: bool = False) -> None:
        self.wa_id = wa_id
        self.walk = walk
        self.any_answer = any_answer
        self.position = 0
        self.options: dict[str, tuple[str, str]] = {}
        self.wamid: str | None = None
        self._answer: asyncio.Future[float] | None = None
        self.read_at: float | None = None  # when the current message's read receipt came
        self.unexpected = 0
        self.last_unexpected: dict[str, Any] | None = None

    @property
    def recipient(self) -> str:
        """The ``to`` of the bot's replies to this customer."""
        return "+" + self.wa_id

    def compose(self, wamid: str) -> bytes:
        """The webhook body for the current step, as message ``wamid``."""
        step = self.walk[self.position]
        if step == PIN:
            message = location_message(wamid, self.wa_id, 51.507351, -0.127758,
                                       "Trafalgar Sq, London WC2N 5DN")
        elif is_tap(step):
            # A tap carries the title and kind of the option it was offered as.
            kind, title = self.options.get(step, ("button_reply", step))
            message = tap_message(wamid, self.wa_id, step, title, kind)
        else:
            message = text_message(wamid, self.wa_id, step)
        return encode(notification(message, self.wa_id, f"Customer {self.wa_id[-6:]}"))

    def begin(self, wamid: str) -> asyncio.Future[float]:
        """Start waiting for the answer to ``wamid``: resolves with its arrival time."""
        self.wamid = wamid
        self.read_at = None
        self._answer = asyncio.get_running_loop().create_future()
        return self._answer

    def on_read(self, message_id: str, at: float) -> None:
        if message_id == self.wamid:
            self.read_at = at

    def on_reply(self, message: dict[str, Any], at: float) -> None:
        answer = self._answer
        # The bot's replies reach Graph in order and one message is in flight,
        # so an answer after the POST that offers what the step expects is the
        # answer to it (the read receipt travels beside it, in either order).
        if answer is None or answer.done():
            return
        if self.expectation().met_by(message):
            self.options = offered_options(message)
            answer.set_result(at)
        else:
            self.unexpected += 1
            self.last_unexpected = message

    def expectation(self) -> Expectation:
        """What ends the current turn: any reply with ``any_answer``, else the walk's."""
        if self.any_answer:
            return ANY_REPLY
        return expectation_after(self.walk, self.position)

    def advance(self) -> None:
        """The turn was answered: the next step (a new order after the last one)."""
        self.position = (self.position + 1) % len(self.walk)
        self._answer = None

    def start_over(self, wa_id: str) -> None:
        """After an unanswered turn, continue as a new customer from the walk's start.

        The old conversation's state is unknown, so resuming it could wait
        forever for an option the bot will not offer.
        """
        self.wa_id = wa_id
        self.position = 0
        self.options = {}
        self._answer = None
