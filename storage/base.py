"""The storage interface every backend implements: the composite of the role interfaces.

A backend persists plain data: the latest snapshot of each conversation
(opaque ``bytes`` produced by :mod:`storage.codec`), the orders a
conversation confirmed, records kept for people rather than for the bot
(abandoned carts, quarantined snapshots), and the durable mail of the bot:
the *inbox* of customer messages acknowledged to Meta, the *outbox* of
requests to send, the delivery status of what was sent, and the pairing of
Meta's user ids with phone numbers.  Everything one inbound message changes
— including its processed mark and its replies — arrives as one
:class:`Changes` and is applied atomically and durably by
:meth:`SessionStore.commit` (guarantees G3 and G4 in the README).

Where things live:

* :mod:`storage.records` — the records (:class:`SessionKey`,
  :class:`OrderRecord`, :class:`Changes`, …) and their units;
* :mod:`storage.roles` — :class:`~storage.roles.UnitOfWork` (open, close,
  commit), :class:`~storage.roles.SessionStorage` (snapshots) and
  :class:`~storage.roles.RecordStorage` (orders, drafts, quarantine);
* :mod:`storage.mail` — :class:`~storage.mail.InboxStorage`,
  :class:`~storage.mail.OutboxStorage`, :class:`~storage.mail.StatusStorage`;
* :mod:`storage.staff` — the restaurant's side: :class:`~storage.staff.OrderBoard`
  (orders by status, their history), :class:`~storage.staff.ConversationLog`
  (conversations by activity, the message log), :class:`~storage.staff.RestaurantControls`
  (the bot switch, sold-out items), :class:`~storage.staff.StaffDirectory` (staff
  tokens, as hashes); a commit writes the moves, log rows and conversation
  changes (``Changes.order_moves``, ``.log``, ``.conversation``);
* :mod:`storage.console_sessions` — :class:`~storage.console_sessions.ConsoleSessionStorage`,
  the staff console's sign-in sessions (by the hash of the cookie's id);
* here — :class:`SessionStore`, all the roles at once, which the backends
  (:mod:`storage.memory`, :mod:`storage.sqlite`) implement and the rest of
  the bot is written against.  Every name this module exported before the
  split is still importable from it.
"""

from __future__ import annotations

from storage.console_sessions import ConsoleSessionStorage
from storage.mail import InboxStorage, OutboxStorage, StatusStorage
from storage.records import (
    ORDER_NOTE_FIELD,
    Changes,
    DraftRecord,
    InboxRecord,
    OrderRecord,
    OutboxMessage,
    OutboxRecord,
    QuarantineRecord,
    SessionKey,
    SessionRow,
    order_lines,
)
from storage.roles import RecordStorage, SessionStorage, UnitOfWork
from storage.staff import ConversationLog, OrderBoard, RestaurantControls, StaffDirectory

__all__ = [
    "ORDER_NOTE_FIELD",
    "Changes",
    "ConsoleSessionStorage",
    "ConversationLog",
    "DraftRecord",
    "InboxRecord",
    "InboxStorage",
    "OrderBoard",
    "OrderRecord",
    "OutboxMessage",
    "OutboxRecord",
    "OutboxStorage",
    "QuarantineRecord",
    "RecordStorage",
    "RestaurantControls",
    "SessionKey",
    "SessionRow",
    "SessionStorage",
    "SessionStore",
    "StaffDirectory",
    "StatusStorage",
    "UnitOfWork",
    "order_lines",
]


class SessionStore(UnitOfWork, SessionStorage, RecordStorage,
                   InboxStorage, OutboxStorage, StatusStorage,
                   OrderBoard, ConversationLog, RestaurantControls, StaffDirectory,
                   ConsoleSessionStorage):
    """A durable home for conversations and what they produce: every role at once.

    Adds nothing to the roles it combines; see each for shapes, units and
    errors.  In short: every method is a coroutine safe to call from many
    coroutines at once; each raises :class:`~storage.errors.StoreClosed`
    when the store is not open and :class:`~storage.errors.StorageError`
    when the backend fails; ``commit`` returns only once its changes are
    durable and applies each caller's changes all together or not at all,
    even when it batches many callers into one physical commit.  Outbox ids
    are the database's, not a counter the caller may predict.
    """
