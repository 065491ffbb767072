"""Role interfaces of the bot's durable mail: the inbox, the outbox, delivery statuses.

* :class:`InboxStorage` — customer messages acknowledged to Meta, and the
  pairing of Meta's user ids with phone numbers (guarantees G3 and G4 in the README);
* :class:`OutboxStorage` — requests to send, in per-conversation order;
* :class:`StatusStorage` — the delivery status of what was sent.

Marking an inbox message processed and queueing outbox rows are not here:
both happen in :meth:`storage.roles.UnitOfWork.commit`, together with the
conversation changes they belong to.  The common errors
(:class:`~storage.errors.StoreClosed`, :class:`~storage.errors.StorageError`),
the units (Unix seconds as ``float``) and the rule that every guarantee
holds across processes sharing one database are in :mod:`storage.roles`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

from storage.records import InboxRecord, OutboxRecord, SessionKey

__all__ = ["InboxStorage", "OutboxStorage", "StatusStorage"]


class SentMark(NamedTuple):
    """That Meta accepted outbox row ``outbox_id`` as ``wamid`` (``None``: a read
    receipt) at ``at`` (Unix seconds): the arguments of ``outbox_sent``."""

    outbox_id: int
    wamid: str | None
    at: float


class InboxStorage(ABC):
    """Customer messages stored before Meta gets its ``200``, each processed once.

    A message is *pending* from :meth:`accept_inbound` until the commit
    naming it in ``Changes.inbox_processed`` marks it *processed*; it is
    kept, as a duplicate guard, until :meth:`prune_inbox` forgets it.
    ``message_id`` (Meta's wamid) is the key; deduplication is the
    database's (a unique key), so it holds across processes.  Every process
    may see every pending message: which one answers is not decided here —
    the processed mark lets exactly one outcome commit.
    Errors: :class:`~storage.errors.StoreClosed`,
    :class:`~storage.errors.StorageError` (see :mod:`storage.roles`).
    """

    @abstractmethod
    async def accept_inbound(self, records: Sequence[InboxRecord],
                             identities: Sequence[tuple[str, str]] = ()) -> list[str]:
        """Store ``records`` durably; return the ids of those not seen before.

        A record whose ``message_id`` is already stored — processed or not,
        until :meth:`prune_inbox` removes it — is a duplicate delivery and is
        ignored, as is a repeat within ``records`` (the first one is kept).
        ``identities`` are ``(user_id, wa_id)`` pairs remembered for
        :meth:`resolve_customer` (a newer pair replaces an older one).
        Everything is written in one durable transaction; only then is it
        safe to answer Meta ``200``.  The new ids come back in input order,
        each once.  Of concurrent calls carrying the same id — from one
        process or several — exactly one gets it back as new.
        """

    @abstractmethod
    async def pending_inbound(self, limit: int = 1000) -> list[InboxRecord]:
        """Accepted but not yet processed messages, oldest accepted first; at most ``limit``.

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
        Meta may re-deliver for (Meta retries a webhook for up to 7 days).
        """

    @abstractmethod
    async def resolve_customer(self, user_id: str) -> str | None:
        """The ``wa_id`` last paired with Meta's ``user_id``, if one is known."""


class OutboxStorage(ABC):
    """Requests to send, queued by :meth:`storage.roles.UnitOfWork.commit`, and their progress.

    A row (:class:`~storage.records.OutboxRecord`) is ``"pending"`` until it
    is ``"sent"`` or ``"failed"``, and never changes after that.  Its ``id``
    is chosen by the database, ascends within its conversation in commit
    order, and is the send order of that conversation; callers use it as an
    opaque handle and must not assume ids are dense or start anywhere.
    Rows of different conversations are independent.  Progress updates
    (:meth:`outbox_sent`, :meth:`outbox_retry`, :meth:`outbox_failed`) are
    durable on return and ignore a row that is no longer pending or does not
    exist.  The store does not claim rows for a sender: two processes
    reading :meth:`pending_outbound` would both send them, so the one sender
    per conversation is arranged outside the store.
    Errors: :class:`~storage.errors.StoreClosed`,
    :class:`~storage.errors.StorageError` (see :mod:`storage.roles`).
    """

    @abstractmethod
    async def pending_outbound(self, now: float, limit: int = 1000) -> list[OutboxRecord]:
        """Pending sends that may be tried at ``now``, by ascending ``id``; at most ``limit``.

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
        """Record that the pending row ``outbox_id`` was accepted by Meta as ``wamid`` at ``at``.

        ``wamid`` is ``None`` for a read receipt.  The row's ``attempts`` is
        left as it is (it counts failed attempts).
        """

    async def outbox_sent_many(self, marks: Sequence[SentMark]) -> None:
        """:meth:`outbox_sent` for each of ``marks``, all durable on return.

        Raises as :meth:`outbox_sent` does; some of the marks may have been
        recorded then (marking a row already sent changes nothing, so writing
        them all again is safe).  Stores override it to write them together.
        """
        await asyncio.gather(*(self.outbox_sent(*mark) for mark in marks))

    @abstractmethod
    async def outbox_retry(self, outbox_id: int, not_before: float, error: str) -> None:
        """Record a failed attempt: one more ``attempts``, try again at ``not_before``."""

    @abstractmethod
    async def outbox_failed(self, outbox_id: int, error: str, at: float) -> None:
        """Give up on the pending row ``outbox_id`` at ``at`` (the failed attempt is counted)."""

    @abstractmethod
    async def list_outbox(self, key: SessionKey | None = None) -> list[OutboxRecord]:
        """Outbox rows in every state, by ``id``; all of them or one conversation's."""

    @abstractmethod
    async def prune_outbox(self, finished_before: float) -> int:
        """Forget rows sent or given up on before ``finished_before``; return how many.

        Their delivery statuses (:class:`StatusStorage`) go with them;
        pending rows are never removed.
        """


class StatusStorage(ABC):
    """The delivery status of each sent message, keyed by Meta's ``wamid``.

    Statuses arrive from Meta's webhooks out of order and more than once;
    each carries a ``rank`` (an ``int``, higher is further along, e.g.
    sent 1 < delivered 2 < read 3) and the stored status only moves up.
    The comparison is made by the database in the write, so it holds for
    concurrent updates from any number of processes.  A status is forgotten
    with its outbox row (:meth:`OutboxStorage.prune_outbox`).
    Errors: :class:`~storage.errors.StoreClosed`,
    :class:`~storage.errors.StorageError` (see :mod:`storage.roles`).
    """

    @abstractmethod
    async def record_status(self, wamid: str, status: str, rank: int, at: float) -> bool:
        """Store ``status`` of the sent message ``wamid`` unless it would go backwards.

        The status is replaced only by one of strictly higher ``rank`` (so a
        late ``delivered`` never overwrites ``read``), which makes concurrent
        and re-delivered status updates safe in any order.  Returns whether
        the stored status changed; durable on return.  ``at`` is when it was
        recorded.
        """

    @abstractmethod
    async def message_status(self, wamid: str) -> str | None:
        """The last recorded status of the sent message ``wamid``, if any."""
