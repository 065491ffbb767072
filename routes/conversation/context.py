"""What a handler gets: the conversation, the message, and ways to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from fsm.cart import CartChange
from fsm.config import Restaurant
from fsm.machine import ConversationMachine
from fsm.session import Session
from fsm.states import States
from routes.conversation import i18n
from routes.conversation.i18n import _
from routes.conversation.matching import Resolution, normalize, resolve_choice
from routes.conversation.messages import Inbound, Outgoing, text, with_preamble
from routes.conversation.questions import question_messages
from routes.conversation.summary import line_title, money
from storage.base import DraftRecord, OrderRecord, SessionKey
from storage.records import OrderMove
from storage.staff import OrderEvent

if TYPE_CHECKING:
    from routes.conversation.router import Router


@dataclass(slots=True)
class Effects:
    """What handling one message produced, besides the session itself."""

    replies: list[Outgoing] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    drafts: list[DraftRecord] = field(default_factory=list)
    order_moves: list[OrderMove] = field(default_factory=list)  # a rating, on its order
    handoff_requested: bool = False  # the customer asked for a person


async def _no_order() -> OrderRecord | None:
    return None


async def _no_orders() -> list[OrderRecord]:
    return []


async def _no_history(reference: str) -> list[OrderEvent]:
    return []


class Context:
    """The conversation of one customer while one of their messages is handled."""

    def __init__(self, *, key: SessionKey, restaurant: Restaurant, session: Session,
                 inbound: Inbound, machine: ConversationMachine, now: float,
                 new_reference: Callable[[str], Awaitable[str]],
                 latest_order: Callable[[], Awaitable[OrderRecord | None]] = _no_order,
                 sold_out: frozenset[str] = frozenset(),
                 past_orders: Callable[[], Awaitable[list[OrderRecord]]] = _no_orders,
                 order_history: Callable[[str], Awaitable[list[OrderEvent]]] = _no_history,
                 router: Router | None = None) -> None:
        self.key = key
        self.new_reference = new_reference
        self.latest_order = latest_order  # the customer's most recent order, from the store
        self.past_orders = past_orders  # all the customer's orders, oldest first
        self.order_history = order_history  # an order's moves by reference, oldest first
        self.router = router  # the whole conversation, to hand a choice on (replay)
        # The side question this message answers (session.asking when it arrived).
        self.asked: str | None = None
        # The completed order this message rates, if it is a rating (see handlers.rating).
        self.rating_for: OrderRecord | None = None
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
        # Whether reconcile() changed the cart for this message: nothing is
        # confirmed before the customer has seen the order as the menu now has it.
        self.cart_changed = False

    @property
    def language(self) -> str:
        """The language this conversation is spoken in now."""
        return i18n.language_of(self.session, self.restaurant)

    @property
    def local(self) -> Restaurant:
        """The restaurant as the customer sees it: names in their language."""
        return self.restaurant.in_language(self.language)

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

    def close_side_question(self) -> None:
        """Take the open side question off the session (into :attr:`asked`), once the
        message was matched against it."""
        _ = self._resolution  # matched while the side question was still the one shown
        self.asked, self.session.asking = self.session.asking, None

    async def replay(self, choice_id: str, quantity: int = 1) -> None:
        """Handle ``choice_id`` as if the customer had tapped it now (a deferred choice)."""
        assert self.router is not None
        self.inbound = Inbound.tapped(choice_id)
        self.normalized_text = ""
        self.asked = None
        self.__dict__["_resolution"] = Resolution(choice_id, quantity)
        handler = self.router.resolve(self)
        if handler is None:
            self.ask()
            return
        await handler.callback(self)

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
        for message in question_messages(self.session, self.menu):
            self.send(message)

    async def reconcile(self) -> bool:
        """Bring the stored cart and the item being added in line with the menu, once per message.

        Run by the dispatcher before any handler, against the restaurant as
        configured now and the items sold out now: removed items and add-ons
        are dropped and changed prices applied, each told to the customer
        (:func:`describe_change`). ``True`` (and :attr:`cart_changed`) if the
        cart changed; a cart emptied at checkout goes back to the menu.
        """
        session = self.session
        changes = session.cart.reconcile(self.restaurant, self.sold_out)
        for change in changes:
            self.say(describe_change(change, self.local))
        pending = session.pending
        if pending is not None:
            item = self.restaurant.item(pending.item_id)
            if item is None or item.id in self.sold_out:
                self.say(_("Sorry, the item you were choosing extras for is no longer on "
                           "the menu.") if item is None else
                         _("Sorry, the item you were choosing extras for is sold out."))
                session.pending = None
                if session.state == States.CHOOSING_ADDONS:
                    await self.fire("show_menu")
            else:
                pending.addon_ids = [addon_id for addon_id in pending.addon_ids
                                     if item.addon(addon_id) is not None]
        if changes and session.cart.is_empty and session.state in (
                States.REVIEWING_CART, *States.CHECKOUT):
            self.say(_("Your cart is now empty."))
            await self.fire("show_menu")
        self.cart_changed = bool(changes)
        return self.cart_changed

    def finish(self) -> Effects:
        """Everything produced; notes never followed by a message go out as text."""
        if self._notes:
            self.effects.replies.append(text("\n\n".join(self._notes)))
            self._notes.clear()
        return self.effects


def describe_change(change: CartChange, restaurant: Restaurant) -> str:
    """One line telling the customer what :meth:`Context.reconcile` did to a cart line.

    ``restaurant`` is the menu in the customer's language; the current language writes it.
    """
    before, after = change.before, change.after
    if change.kind == "removed":
        return _("Sorry, {item} is no longer on our menu, so we've taken it out of your cart.",
                 item=line_title(before, restaurant))
    if change.kind == "sold_out":
        return _("Sorry, {item} sold out since you added it, so we've taken it out of your "
                 "cart.", item=line_title(before, restaurant))
    assert after is not None
    price = money(restaurant, after.unit_price)
    title = line_title(after, restaurant)
    if change.kind == "addons_removed":
        item = restaurant.item(after.item_id)
        return _("Sorry, {extras} is no longer offered with {item}, so we've taken it off: "
                 "{line} is {price} each now.", extras=", ".join(change.addons),
                 item=item.name if item else after.name, line=title, price=price)
    was = money(restaurant, before.unit_price)
    return _("The price of {item} has changed: {price} each now (was {was}).",
             item=title, price=price, was=was)
