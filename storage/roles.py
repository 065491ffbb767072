"""Role interfaces of a store: the unit of work, the conversations, what they produce.

A backend implements small roles rather than one giant class, the way
aiogram keeps ``BaseStorage`` apart from ``BaseEventIsolation``:

* :class:`UnitOfWork` — ``open``/``close`` and :meth:`~UnitOfWork.commit`,
  the one atomic write of everything an inbound message changed;
* :class:`SessionStorage` — the latest snapshot of each conversation;
* :class:`RecordStorage` — orders, abandoned carts, quarantined snapshots;
* the durable mail, in :mod:`storage.mail`: :class:`~storage.mail.InboxStorage`,
  :class:`~storage.mail.OutboxStorage`, :class:`~storage.mail.StatusStorage`.

:class:`storage.base.SessionStore` is all of them together.  Records, units
(Unix seconds as ``float``, money in integer minor units) and ids are
described in :mod:`storage.records`; errors come from :mod:`storage.errors`.

Every method of every role is a coroutine that is safe to call from many
coroutines at once, and raises :class:`~storage.errors.StoreClosed` when the
store is not open and :class:`~storage.errors.StorageError` when the backend
fails (I/O, a locked or unreadable database); the errors each method adds
are named on it.  A role's guarantees hold when *several processes* share
one database (a future PostgreSQL backend): they rest on the database's
transactions and constraints, never on state kept in one process.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Self

from storage.records import (
    Changes,
    DraftRecord,
    OrderRecord,
    OutboxRecord,
    QuarantineRecord,
    SessionKey,
    SessionRow,
)

__all__ = ["RecordStorage", "SessionStorage", "UnitOfWork"]


class UnitOfWork(ABC):
    """Opens and closes the store, and commits a :class:`~storage.records.Changes` atomically.

    :meth:`commit` is the only write of sessions, orders (and their moves),
    drafts, quarantine records, processed marks, outbox rows, the message log
    and conversation records (:mod:`storage.staff`).  It returns only once its
    changes are durable; a backend may batch the changes of many concurrent
    callers into one physical transaction, but each caller's changes are
    applied all together or not at all.  Within one process, the commits of
    one conversation are applied in the order they were called (a commit
    sees every earlier commit of its key, even one still in flight); across
    processes the database serialises them.

    Outbox ids are chosen by the database, not by a counter in the process:
    they come back from :meth:`commit`, ascending within a conversation in
    commit order, and may have gaps (see :class:`~storage.records.OutboxRecord`).
    A backend that numbers rows in process memory (SQLite, whose file one
    process holds) must not let that show.

    Used as an async context manager, the store is opened on entry and
    closed on exit.
    """

    @abstractmethod
    async def open(self) -> None:
        """Prepare the backend (create or upgrade the schema). Loads no sessions.

        Raises :class:`~storage.errors.StorageError` when the backend cannot
        be used: already open, unreachable, a schema newer than this build,
        an engine too old.
        """

    @abstractmethod
    async def close(self) -> None:
        """Finish pending commits and release every resource; closing twice is harmless."""

    @abstractmethod
    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        """Apply ``changes`` atomically; return once they are durable.

        Returns the outbox rows it queued, with the ids the database gave
        them, in ``changes.outbox`` order (``[]`` when it queued none): the
        sender can start on them without reading them back.  Each row is
        ``"pending"`` with ``attempts == 0`` and ``not_before == created_at
        == changes.updated_at``.

        Raises, and then writes nothing of ``changes``:

        * :class:`~storage.errors.AlreadyProcessed` if ``changes.inbox_processed``
          names a message already marked processed — the commit is the one and
          only processing of that message, even against a commit racing it from
          another coroutine or process;
        * :class:`~storage.errors.StorageError` (not ``AlreadyProcessed``) if
          ``changes.inbox_processed`` names a message never accepted;
        * :class:`~storage.errors.DuplicateOrderReference` if an order's
          reference is already used in its restaurant, or twice in ``changes``;
        * :class:`~storage.errors.SnapshotTooLarge` if ``changes.snapshot`` is
          over :data:`storage.codec.MAX_SNAPSHOT_BYTES`;
        * :class:`~storage.errors.OrderStatusChanged` if an order move's
          ``from_status`` is no longer its order's status (moves of one order
          decide in the order they were made, within a commit and across
          concurrent commits), :class:`~storage.errors.StorageError` if it
          names no order of ``changes.key.restaurant_id``;
        * ``ValueError`` if ``changes.quarantine`` is for another key, or a
          ``changes.log`` entry's ``outbox_index`` names no row of ``changes.outbox``.

        A caller cancelled while waiting does not withdraw its changes.
        """

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class SessionStorage(ABC):
    """The latest snapshot of each conversation, keyed by :class:`~storage.records.SessionKey`.

    A snapshot is opaque ``bytes`` (:mod:`storage.codec`) written only by
    :meth:`UnitOfWork.commit`; this role reads, lists and deletes them.
    Errors: :class:`~storage.errors.StoreClosed`,
    :class:`~storage.errors.StorageError` (see :mod:`storage.roles`).
    """

    @abstractmethod
    async def load_snapshot(self, key: SessionKey) -> bytes | None:
        """Return the last committed snapshot of ``key``, or ``None``."""

    async def load_snapshots(self, restaurant_id: str,
                             customer_ids: Sequence[str]) -> dict[str, bytes]:
        """The last committed snapshots of several conversations of one restaurant.

        Keyed by customer id; customers without a stored conversation are
        absent. A backend answers in one query (a staff page of 50
        conversations must not cost 50 round trips); this default reads
        them one by one.
        """
        found: dict[str, bytes] = {}
        for customer_id in dict.fromkeys(customer_ids):
            blob = await self.load_snapshot(SessionKey(restaurant_id, customer_id))
            if blob is not None:
                found[customer_id] = blob
        return found

    @abstractmethod
    async def delete_session(self, key: SessionKey) -> bool:
        """Forget the conversation of ``key``; ``True`` if there was one.

        Ordered after every commit that has already returned.  Orders,
        drafts, quarantine records and mail of the conversation are kept.
        """

    @abstractmethod
    async def move_conversation(self, old: SessionKey, new: SessionKey) -> bool:
        """Make ``old``'s conversation ``new``'s (the customer changed number); ``True`` if
        anything moved.

        In one transaction: the snapshot and the staff-facing record move
        unless ``new`` has its own (then ``old``'s are deleted); the message log
        (rows keep their ids), the orders (their ``customer_id`` becomes
        ``new``'s, so :meth:`~storage.staff.OrderBoard.latest_order` of ``new``
        finds them) and the abandoned carts always move. Quarantine records,
        inbox and outbox rows stay with ``old``. Running it again moves nothing.
        Ordered after every commit that has already returned. ``ValueError``
        if the keys are of different restaurants.
        """

    @abstractmethod
    async def list_sessions(self, restaurant_id: str | None = None,
                            limit: int = 100) -> list[SessionRow]:
        """Stored conversations, most recently updated first; at most ``limit`` of them.

        All restaurants', or only those of ``restaurant_id``.  Ties of
        ``updated_at`` are broken by restaurant id, then customer id; a
        negative ``limit`` counts as ``0``.
        """


class RecordStorage(ABC):
    """What conversations produce for people: orders, abandoned carts, quarantined snapshots.

    All three are written only by :meth:`UnitOfWork.commit` and never
    changed; this role reads them.  Money in an
    :class:`~storage.records.OrderRecord` is in integer minor units, times
    are Unix seconds.  An order's reference is unique within its restaurant:
    the database enforces it, so a commit racing another — in this process
    or another — fails with :class:`~storage.errors.DuplicateOrderReference`
    and :meth:`reference_exists` is only a hint for choosing one.
    Errors: :class:`~storage.errors.StoreClosed`,
    :class:`~storage.errors.StorageError` (see :mod:`storage.roles`).
    """

    @abstractmethod
    async def list_orders(self, key: SessionKey | None = None) -> list[OrderRecord]:
        """Confirmed orders, oldest ``created_at`` first; all of them or one conversation's.

        Each comes back equal to the record committed (its ``lines`` as JSON
        decodes them).
        """

    @abstractmethod
    async def reference_exists(self, restaurant_id: str, reference: str) -> bool:
        """Whether ``reference`` is already used by an order of this restaurant."""

    @abstractmethod
    async def list_drafts(self, key: SessionKey) -> list[DraftRecord]:
        """Abandoned carts of one conversation, oldest ``created_at`` first."""

    @abstractmethod
    async def list_quarantine(self, key: SessionKey | None = None) -> list[QuarantineRecord]:
        """Quarantined snapshots, oldest ``created_at`` first; all or one conversation's.

        A record's ``snapshot`` is what was stored when its commit moved it
        aside (or the record's own bytes if nothing was stored).
        """
