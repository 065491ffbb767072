"""The storage interface every backend implements.

A backend persists three kinds of plain data: the latest snapshot of each
conversation (opaque ``bytes`` produced by :mod:`storage.codec`), the orders a
conversation confirmed, and records kept for people rather than for the bot
(abandoned carts, quarantined snapshots).  Everything one inbound message
changes arrives as one :class:`Changes` and is applied atomically and
durably by :meth:`SessionStore.commit`.
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


@dataclass(slots=True)
class Changes:
    """Everything one inbound message changed, committed in one transaction.

    ``snapshot`` replaces the stored snapshot of ``key`` (``None`` leaves it
    alone).  ``quarantine`` moves the stored snapshot of ``key`` aside before
    the new one is written.
    """

    key: SessionKey
    updated_at: float
    snapshot: bytes | None = None
    orders: list[OrderRecord] = field(default_factory=list)
    drafts: list[DraftRecord] = field(default_factory=list)
    quarantine: QuarantineRecord | None = None


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
    async def commit(self, changes: Changes) -> None:
        """Apply ``changes`` atomically; return once they are durable."""

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

    async def __aenter__(self) -> SessionStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def order_lines(lines: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    """Freeze order lines into the tuple an :class:`OrderRecord` holds."""
    return tuple(dict(line) for line in lines)
