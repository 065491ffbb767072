"""Where the replies to one inbound message go: a channel's side of the commit.

The conversation produces channel-neutral replies (:mod:`routes.conversation.messages`).
A channel that keeps an outbox (WhatsApp) passes a :class:`ReplyChannel` with
each message: it turns the replies into outbox rows, which are committed in
the same transaction as the conversation, and is told of the stored rows once
they are durable. A caller that passes none (the terminal) gets the replies
back from :meth:`~routes.conversation.dispatcher.Dispatcher.feed` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from routes.conversation.messages import Outgoing
from storage.base import OutboxMessage, OutboxRecord, SessionKey


class ReplyChannel(Protocol):
    """The reply address of one inbound message, as its channel understands it."""

    @property
    def contact(self) -> tuple[str, str | None, str | None] | None:
        """How to write to this customer later (staff replies): ``(phone_number_id, wa_id,
        user_id)``, or ``None`` if the channel cannot."""
        ...

    def outbox_rows(self, key: SessionKey, replies: Sequence[Outgoing]) -> list[OutboxMessage]:
        """The rows to commit for ``replies``, in order: any the channel adds of its own (a
        read receipt) first, then exactly one row per reply, last."""
        ...

    def committed(self, key: SessionKey, rows: list[OutboxRecord]) -> None:
        """``rows`` (with the ids the store chose) are durable: they may be sent now."""
        ...
