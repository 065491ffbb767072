"""The restaurant's side of the store: orders by status, the message log, controls, staff.

Records here are what staff read and change; roles are what a backend
implements for them. Everything a *conversation* changes still arrives as one
:class:`~storage.records.Changes` (its ``log``, ``conversation`` and
``order_moves`` fields, re-exported here) and is committed by
:meth:`~storage.roles.UnitOfWork.commit`: a staff reply, a takeover or an
order move is committed the same way, so it is ordered with the bot's own
replies to that customer and is exactly-once with them.

Units as everywhere in :mod:`storage`: times are Unix seconds (``float``),
money integer minor units. Statuses of orders are plain strings; which moves
are legal is the order lifecycle's business (``fsm``), not the store's: the
store only refuses a move whose ``from_status`` is no longer the order's
status (:class:`~storage.errors.OrderStatusChanged`), atomically.

Roles:

* :class:`OrderBoard` — orders of a restaurant, newest first, and each one's history;
* :class:`ConversationLog` — conversations by last activity and their messages;
* :class:`RestaurantControls` — the bot switch and sold-out items, persisted;
* :class:`StaffDirectory` — staff tokens (stored as hashes only).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from storage.records import (
    ConversationChange,
    LoggedMessage,
    OrderMove,
    OrderRecord,
    SessionKey,
)

__all__ = [
    "Controls",
    "ConversationChange",
    "ConversationLog",
    "ConversationRecord",
    "GateFlags",
    "LoggedMessage",
    "MessageRecord",
    "OrderBoard",
    "OrderEvent",
    "OrderMove",
    "RestaurantControls",
    "StaffDirectory",
    "StaffMember",
]


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One entry of an order's history; ``from_status`` is ``None`` for its creation."""

    from_status: str | None
    to_status: str
    actor: str
    at: float
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A logged message as staff see it.

    ``id`` ascends in commit order. ``status`` is, for an outgoing message,
    ``"pending"`` (not yet accepted by Meta), ``"sent"``, ``"delivered"``,
    ``"read"`` or ``"failed"`` (Meta's latest, never backwards); ``None`` for
    an incoming one.
    """

    id: int
    key: SessionKey
    direction: str
    kind: str
    text: str
    author: str
    at: float
    status: str | None


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """One conversation's staff-facing record (its state and cart are in the snapshot).

    ``last_inbound_at`` is ``None`` until the customer wrote; ``unread``
    counts customer messages since staff last read the thread;
    ``away_epoch`` is the last switch-off whose away message went out here
    (0: none).
    """

    key: SessionKey
    name: str | None
    bot_paused: bool
    handoff_requested: bool
    last_message_at: float
    last_inbound_at: float | None
    unread: int
    phone_number_id: str | None
    wa_id: str | None
    user_id: str | None
    away_epoch: int


@dataclass(frozen=True, slots=True)
class GateFlags:
    """What decides, for each message, whether the bot answers in a conversation.

    The three fields of :class:`ConversationRecord` with the same names; a
    conversation without a record has the defaults.
    """

    bot_paused: bool = False
    handoff_requested: bool = False
    away_epoch: int = 0


@dataclass(frozen=True, slots=True)
class Controls:
    """A restaurant's switch and sold-out items, as last set by staff.

    ``off_epoch`` counts switch-offs (1 after the first): the away message
    goes out at most once per conversation per epoch. ``sold_out`` holds item
    ids. A restaurant staff never touched is on, epoch 0, nothing sold out.
    """

    restaurant_id: str
    bot_enabled: bool = True
    off_epoch: int = 0
    sold_out: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A staff token of one restaurant: ``token_hash`` is a SHA-256 hex digest, never the token."""

    restaurant_id: str
    name: str
    token_hash: str
    created_at: float


class OrderBoard(ABC):
    """Orders as the restaurant works them. Errors: ``StoreClosed``, ``StorageError``."""

    @abstractmethod
    async def orders(self, restaurant_id: str, *, status: str | None = None, limit: int = 50,
                     before: float | None = None) -> list[OrderRecord]:
        """Orders of ``restaurant_id``, newest ``created_at`` first, at most ``limit``.

        ``status`` keeps only orders in that status; ``before`` only orders
        created strictly before that time (the next page).
        """

    @abstractmethod
    async def order(self, restaurant_id: str, reference: str) -> OrderRecord | None:
        """The order with ``reference`` of ``restaurant_id``, or ``None``."""

    @abstractmethod
    async def order_history(self, restaurant_id: str, reference: str) -> list[OrderEvent]:
        """Every move of the order, oldest first, starting with its creation; ``[]`` if none."""

    @abstractmethod
    async def latest_order(self, key: SessionKey) -> OrderRecord | None:
        """The conversation's most recently created order, or ``None``."""


class ConversationLog(ABC):
    """Conversations and their messages. Errors: ``StoreClosed``, ``StorageError``."""

    @abstractmethod
    async def conversation(self, key: SessionKey) -> ConversationRecord | None:
        """The staff-facing record of one conversation, or ``None`` if it never had one."""

    async def gate_flags(self, key: SessionKey) -> GateFlags:
        """The conversation's :class:`GateFlags`, as of every commit that has returned.

        Read once per customer message, so a backend that sees every write (one
        process on its file) may answer from memory; this default reads the record.
        """
        record = await self.conversation(key)
        if record is None:
            return GateFlags()
        return GateFlags(record.bot_paused, record.handoff_requested, record.away_epoch)

    @abstractmethod
    async def conversations(self, restaurant_id: str, *, limit: int = 50,
                            before: float | None = None) -> list[ConversationRecord]:
        """Conversations by ``last_message_at``, most recent first; ``before`` pages."""

    @abstractmethod
    async def messages(self, key: SessionKey, *, limit: int = 50,
                       before: int | None = None) -> list[MessageRecord]:
        """The newest ``limit`` logged messages with ``id`` below ``before``, oldest first."""


class RestaurantControls(ABC):
    """The bot switch and sold-out items; durable on return. Errors as the other roles."""

    @abstractmethod
    async def controls(self, restaurant_id: str) -> Controls:
        """The restaurant's controls (the defaults if never set)."""

    @abstractmethod
    async def set_bot_enabled(self, restaurant_id: str, enabled: bool, at: float) -> Controls:
        """Switch the bot on or off; switching off (from on) starts a new ``off_epoch``."""

    @abstractmethod
    async def set_item_available(self, restaurant_id: str, item_id: str, available: bool,
                                 at: float) -> Controls:
        """Mark ``item_id`` sold out (``available=False``) or back; idempotent."""


class StaffDirectory(ABC):
    """Staff tokens, one restaurant each, kept as hashes. Errors as the other roles."""

    @abstractmethod
    async def add_staff(self, member: StaffMember) -> None:
        """Store ``member``; :class:`~storage.errors.StorageError` if the name is taken there."""

    @abstractmethod
    async def staff(self, restaurant_id: str | None = None) -> list[StaffMember]:
        """Staff of one restaurant (or all), by restaurant then name."""

    @abstractmethod
    async def revoke_staff(self, restaurant_id: str, name: str) -> bool:
        """Remove the token of ``name``; ``True`` if there was one."""

    @abstractmethod
    async def staff_by_token_hash(self, token_hash: str) -> StaffMember | None:
        """The staff member whose token hashes to ``token_hash``, or ``None``."""
