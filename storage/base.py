"""The storage interface every backend implements.

A backend persists plain data: the latest snapshot of each conversation
(opaque ``bytes`` produced by :mod:`storage.codec`), the orders a
conversation confirmed, records kept for people rather than for the bot
(abandoned carts, quarantined snapshots), and the durable mail of the bot:
the *inbox* of customer messages acknowledged to Meta, the *outbox* of
requests to send, the delivery status of what was sent, and the pairing of
Meta's user ids with phone numbers.  Everything one inbound message changes
— including its processed mark and its replies — arrives as one
:class:`Changes` and is applied atomically and durably by
:meth:`SessionStore.commit` (issue 3; ARCHITECTURE.md G3, G4).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Identifies one conversation: a customer talking to one restaurant."""

    restaurant_id: str
    customer_id: str


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A confirmed order, in integer minor units of ``currency``."""

    reference: str
    restaurant_id: str
    customer_id: str
    status: str
    order_type: str
    branch_id: str | None
    address: str | None
    payment_method: str
    currency: str
    total_minor: int
    delivery_fee_minor: int
    lines: tuple[Mapping[str, Any], ...]
    created_at: float


@dataclass(frozen=True, slots=True)
class DraftRecord:
    """A cart the customer left behind (expired session or cancelled order)."""

    key: SessionKey
    reason: str
    cart: Mapping[str, Any]
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
    """One stored conversation, as listed by :meth:`SessionStore.list_sessions`."""

    key: SessionKey
    snapshot: bytes
    updated_at: float


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
    """A stored :class:`OutboxMessage` and how sending it went."""

    id: int                  # ascending: the send order
    key: SessionKey
    phone_number_id: str
    body: str
    kind: str
    state: str               # "pending", "sent", "failed"
    attempts: int
    not_before: float        # do not try before this time (backoff)
    wamid: str | None
    error: str | None
    created_at: float


@dataclass(slots=True)
class Changes:
    """Everything one inbound message changed, committed in one transaction.

    ``snapshot`` replaces the stored snapshot of ``key`` (``None`` leaves it
    alone).  ``quarantine`` moves the stored snapshot of ``key`` aside before
    the new one is written.  ``inbox_processed`` is the id of the inbox
    message these changes answer: it is marked processed (at ``updated_at``)
    in the same transaction, which fails with
    :class:`~storage.errors.AlreadyProcessed` if it already was.  ``outbox``
    is queued for sending, in order, pending from ``updated_at`` on.
    """

    key: SessionKey
    updated_at: float
    snapshot: bytes | None = None
    orders: list[OrderRecord] = field(default_factory=list)
    drafts: list[DraftRecord] = field(default_factory=list)
    quarantine: QuarantineRecord | None = None
    inbox_processed: str | None = None
    outbox: list[OutboxMessage] = field(default_factory=list)


class SessionStore(ABC):
    """A durable home for conversations and what they produce.

    Backends must be safe to call from many coroutines at once. ``commit``
    returns only once its changes are durable; a backend may batch the
    changes of many concurrent callers into one physical commit, but each
    caller's changes are applied all together or not at all.
    """

    @abstractmethod
    async def open(self) -> None:
        """Prepare the backend (create or upgrade the schema). Loads no sessions."""

    @abstractmethod
    async def close(self) -> None:
        """Finish pending commits and release every resource."""

    @abstractmethod
    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        """Return the last committed snapshot of ``key``, or ``None``."""

    @abstractmethod
    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        """Apply ``changes`` atomically; return once they are durable.

        Returns the outbox rows it queued, with their ids, in order: the
        sender can start on them without reading them back.

        With ``changes.inbox_processed`` set, the commit is the one and only
        processing of that inbox message: if the message is already marked
        processed it raises :class:`~storage.errors.AlreadyProcessed`, if it
        was never accepted :class:`~storage.errors.StorageError`, and in both
        cases nothing of ``changes`` is written.
        """

    @abstractmethod
    async def delete_session(self, key: SessionKey) -> bool:
        """Forget the conversation of ``key``; ``True`` if there was one."""

    @abstractmethod
    async def list_sessions(self, restaurant_id: str | None = None,
                            limit: int = 100) -> list[SessionRow]:
        """Stored conversations, most recently updated first."""

    @abstractmethod
    async def list_orders(self, key: SessionKey | None = None) -> list[OrderRecord]:
        """Confirmed orders, oldest first; all of them or one conversation's."""

    @abstractmethod
    async def reference_exists(self, restaurant_id: str, reference: str) -> bool:
        """Whether ``reference`` is already used by an order of this restaurant."""

    @abstractmethod
    async def list_drafts(self, key: SessionKey) -> list[DraftRecord]:
        """Abandoned carts of one conversation, oldest first."""

    @abstractmethod
    async def list_quarantine(self, key: SessionKey | None = None) -> list[QuarantineRecord]:
        """Quarantined snapshots, oldest first."""

    # -- inbox: customer messages acknowledged to Meta (G3, G4) ---------------

    @abstractmethod
    async def accept_inbound(self, records: Sequence[InboxRecord],
                             identities: Sequence[tuple[str, str]] = ()) -> list[str]:
        """Store ``records`` durably; return the ids of those not seen before.

        A record whose ``message_id`` is already stored — processed or not,
        until :meth:`prune_inbox` removes it — is a duplicate delivery and is
        ignored, as is a repeat within ``records``.  ``identities`` are
        ``(user_id, wa_id)`` pairs remembered for :meth:`resolve_customer`
        (a newer pair replaces an older one).  Everything is written in one
        durable transaction; only then is it safe to answer Meta ``200``.
        The new ids come back in input order, each once.  Of concurrent calls
        carrying the same id, exactly one gets it back as new.
        """

    @abstractmethod
    async def pending_inbound(self, limit: int = 1000) -> list[InboxRecord]:
        """Accepted but not yet processed messages, oldest accepted first.

        After a crash these are the acknowledged messages still owed an answer.
        """

    @abstractmethod
    async def inbox_state(self, message_id: str) -> str | None:
        """``"pending"``, ``"processed"``, or ``None`` for an id not stored."""

    @abstractmethod
    async def prune_inbox(self, processed_before: float) -> int:
        """Forget messages processed before ``processed_before``; return how many.

        Unprocessed messages are never removed.  A pruned id is no longer
        recognised as a duplicate, so the caller keeps at least the 7 days
        Meta may re-deliver for (CONTRACT.md §4).
        """

    @abstractmethod
    async def prune_outbox(self, finished_before: float) -> int:
        """Forget replies sent or given up on before ``finished_before``; return how many.

        Their delivery statuses go with them; pending replies are never removed.
        """

    @abstractmethod
    async def resolve_customer(self, user_id: str) -> str | None:
        """The ``wa_id`` last paired with Meta's ``user_id``, if one is known."""

    # -- outbox: requests to send, in per-conversation order -------------------

    @abstractmethod
    async def pending_outbound(self, now: float, limit: int = 1000) -> list[OutboxRecord]:
        """Pending sends that may be tried at ``now``, by ascending ``id``.

        A conversation's messages must arrive in order, so a pending row
        whose ``not_before`` is after ``now`` (waiting for a retry) holds back
        itself *and every later row of its conversation*; rows of other
        conversations are not held up.  The result mixes conversations: the
        caller sends each conversation's rows one at a time in the order
        given, and stops that conversation at the first row that is not sent.
        """

    @abstractmethod
    async def pending_keys(self) -> set[SessionKey]:
        """Every conversation with a pending outbox row (what a sender must finish first)."""

    @abstractmethod
    async def outbox_sent(self, outbox_id: int, wamid: str | None, at: float) -> None:
        """Record that the pending row ``outbox_id`` was accepted by Meta as ``wamid``.

        Like :meth:`outbox_retry` and :meth:`outbox_failed`, it is durable on
        return and has no effect on a row that is no longer pending.
        """

    @abstractmethod
    async def outbox_retry(self, outbox_id: int, not_before: float, error: str) -> None:
        """Record a failed attempt: one more ``attempts``, try again at ``not_before``."""

    @abstractmethod
    async def outbox_failed(self, outbox_id: int, error: str, at: float) -> None:
        """Give up on the pending row ``outbox_id`` (the failed attempt is counted)."""

    @abstractmethod
    async def list_outbox(self, key: SessionKey | None = None) -> list[OutboxRecord]:
        """Outbox rows in every state, by ``id``; all of them or one conversation's."""

    # -- delivery statuses of sent messages ------------------------------------

    @abstractmethod
    async def record_status(self, wamid: str, status: str, rank: int, at: float) -> bool:
        """Store ``status`` of the sent message ``wamid`` unless it would go backwards.

        The status is replaced only by one of strictly higher ``rank`` (so a
        late ``delivered`` never overwrites ``read``), which makes concurrent
        and re-delivered status updates safe in any order.  Returns whether
        the stored status changed; durable on return.
        """

    @abstractmethod
    async def message_status(self, wamid: str) -> str | None:
        """The last recorded status of the sent message ``wamid``, if any."""

    async def __aenter__(self) -> SessionStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def order_lines(lines: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    """Freeze order lines into the tuple an :class:`OrderRecord` holds."""
    return tuple(dict(line) for line in lines)
