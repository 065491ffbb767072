"""The plain records a store keeps and hands back: frozen dataclasses, no behaviour.

Units, everywhere in :mod:`storage`:

* times are Unix seconds as ``float`` (``created_at``, ``updated_at``,
  ``received_at``, ``not_before``, ``at``), except :attr:`InboxRecord.sent_at`,
  which is Meta's own timestamp in whole Unix seconds (``int``);
* money is an ``int`` in the minor unit of the record's currency (pence for
  GBP): ``total_minor``, ``delivery_fee_minor``, ``unit_minor`` in lines;
* snapshots are opaque ``bytes`` produced by :mod:`storage.codec`; message
  payloads are opaque ``bytes`` encoded by the caller; outbox bodies are the
  JSON text of a Graph API request body;
* JSON-like fields (order lines, a draft's cart) come back as JSON decoded
  them: a tuple stored comes back as a list.

:class:`Changes` is what one inbound message changed; the role interfaces
that read and write these records are in :mod:`storage.roles` (the
conversations and what they produce) and :mod:`storage.mail` (inbox,
outbox, delivery statuses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "Changes",
    "ConversationChange",
    "DraftRecord",
    "InboxRecord",
    "LoggedMessage",
    "OrderMove",
    "OrderRecord",
    "OutboxMessage",
    "OutboxRecord",
    "QuarantineRecord",
    "SessionKey",
    "SessionRow",
    "order_lines",
]


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Identifies one conversation: a customer talking to one restaurant."""

    restaurant_id: str
    customer_id: str


# The key of the order's own note in its first stored line (OrderRecord.note).
ORDER_NOTE_FIELD: Final = "order_note"


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A confirmed order, in integer minor units of ``currency``."""

    reference: str           # unique within ``restaurant_id``
    restaurant_id: str
    customer_id: str
    status: str
    order_type: str
    branch_id: str | None
    address: str | None
    payment_method: str
    currency: str            # ISO 4217 code, e.g. "GBP"
    total_minor: int
    delivery_fee_minor: int
    lines: tuple[Mapping[str, Any], ...]  # JSON-able mappings; see :func:`order_lines`
    created_at: float
    updated_at: float | None = None  # the last status move; None until the first one

    @property
    def note(self) -> str | None:
        """The customer's note for the whole order (allergies, "ring twice"), if any.

        Stored as :data:`ORDER_NOTE_FIELD` of the first line (a line's own note
        is its ``note``), so that no backend's orders table needed a column.
        """
        note = self.lines[0].get(ORDER_NOTE_FIELD) if self.lines else None
        return note if isinstance(note, str) and note else None


@dataclass(frozen=True, slots=True)
class DraftRecord:
    """A cart the customer left behind (expired session or cancelled order)."""

    key: SessionKey
    reason: str              # e.g. "expired", "cancelled"
    cart: Mapping[str, Any]  # JSON-able
    created_at: float


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """A snapshot that could not be restored, kept for inspection."""

    key: SessionKey
    snapshot: bytes
    reason: str
    created_at: float


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One stored conversation, as listed by :meth:`~storage.roles.SessionStorage.list_sessions`."""

    key: SessionKey
    snapshot: bytes
    updated_at: float        # ``Changes.updated_at`` of the commit that wrote ``snapshot``


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """A customer message acknowledged to Meta: stored before the 200."""

    message_id: str          # Meta's wamid; the dedup key
    key: SessionKey          # restaurant + resolved customer id
    phone_number_id: str
    wa_id: str | None
    user_id: str | None
    sent_at: int             # Meta's timestamp, Unix seconds
    received_at: float
    payload: bytes           # the message, encoded by the caller (opaque here)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A request to send, written in the same commit as the change that caused it."""

    key: SessionKey
    phone_number_id: str
    body: str                # JSON text of the Graph API request body
    kind: str = "message"    # "message" or "read" (a read receipt)


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A stored :class:`OutboxMessage` and how sending it went.

    ``id`` is chosen by the database when the row is committed and comes
    back from :meth:`~storage.roles.UnitOfWork.commit`.  It is a positive
    ``int``, unique in the store, and ascending within one conversation in
    commit order: that is the send order.  Nothing outside the store may
    assume ids are dense (a refused commit leaves a gap), start at any
    particular value, or order rows of *different* conversations by time.
    """

    id: int                  # chosen by the database; the send order within ``key``
    key: SessionKey
    phone_number_id: str
    body: str
    kind: str
    state: str               # "pending", "sent", "failed"
    attempts: int            # failed attempts so far
    not_before: float        # do not try before this time (backoff)
    wamid: str | None        # Meta's id of the sent message (None for read receipts)
    error: str | None        # why the last attempt failed
    created_at: float


@dataclass(frozen=True, slots=True)
class OrderMove:
    """Move one order of the commit's restaurant from ``from_status`` to ``to_status``.

    ``actor`` is who moved it: a staff name, ``"admin"``, ``"customer"`` or
    ``"bot"``; ``reason`` is given for a cancellation. The commit fails with
    :class:`~storage.errors.OrderStatusChanged` (nothing of it written) when
    the order's status is no longer ``from_status``, and with
    :class:`~storage.errors.StorageError` when there is no such order.
    """

    reference: str
    from_status: str
    to_status: str
    actor: str
    at: float
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """A message to add to the conversation's log in the commit.

    ``direction`` is ``"in"`` (from the customer) or ``"out"``. ``kind`` is
    what it was (``text``, ``button``, ``list``, ``location``, ``choice``,
    ``unsupported``…), ``text`` what a person reads of it, ``author`` is
    ``"customer"``, ``"bot"`` or a staff name. An outgoing message names the
    row of the commit's ``outbox`` that sends it (``outbox_index``) so its
    delivery status can be followed; an incoming one carries its ``wamid``.
    """

    direction: str
    kind: str
    text: str
    author: str
    at: float
    wamid: str | None = None
    outbox_index: int | None = None


@dataclass(frozen=True, slots=True)
class ConversationChange:
    """What a commit changes of the conversation's staff-facing record (``None``: unchanged).

    ``inbound_at`` records a customer message (last activity, last inbound
    time — the start of Meta's 24-hour window — and one more unread);
    ``outbound_at`` a message sent to them (last activity). ``read`` sets
    unread to 0. ``contact`` is ``(phone_number_id, wa_id, user_id)`` — how
    to address the customer later (a staff reply). ``away_epoch`` records
    that the away message of that switch-off was sent.
    """

    name: str | None = None
    inbound_at: float | None = None
    outbound_at: float | None = None
    handoff_requested: bool | None = None
    bot_paused: bool | None = None
    read: bool = False
    contact: tuple[str, str | None, str | None] | None = None
    away_epoch: int | None = None


@dataclass(slots=True)
class Changes:
    """Everything one inbound message changed, committed in one transaction.

    ``snapshot`` replaces the stored snapshot of ``key`` (``None`` leaves it
    alone).  ``quarantine`` moves the stored snapshot of ``key`` aside before
    the new one is written; its ``key`` must be ``key`` (else ``ValueError``).
    ``inbox_processed`` is the id of the inbox message these changes answer:
    it is marked processed (at ``updated_at``) in the same transaction, which
    fails with :class:`~storage.errors.AlreadyProcessed` if it already was.
    ``outbox`` is queued for sending, in order, pending from ``updated_at``
    on; the database numbers the rows (see :class:`OutboxRecord`).
    ``log`` adds to the message log, ``conversation`` changes the
    conversation's staff-facing record, and ``order_moves`` move orders of
    ``key.restaurant_id`` (:class:`OrderMove`: refused as a whole with
    :class:`~storage.errors.OrderStatusChanged` if one's status moved on).
    """

    key: SessionKey
    updated_at: float
    snapshot: bytes | None = None
    orders: list[OrderRecord] = field(default_factory=list)
    drafts: list[DraftRecord] = field(default_factory=list)
    quarantine: QuarantineRecord | None = None
    inbox_processed: str | None = None
    outbox: list[OutboxMessage] = field(default_factory=list)
    log: list[LoggedMessage] = field(default_factory=list)
    conversation: ConversationChange | None = None
    order_moves: list[OrderMove] = field(default_factory=list)


def order_lines(lines: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    """Freeze order lines into the tuple an :class:`OrderRecord` holds."""
    return tuple(dict(line) for line in lines)
