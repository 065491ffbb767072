"""Outbox rows for WhatsApp: what one processed message queues for the sender.

:class:`ReplyAddress` is the :class:`~routes.conversation.channel.ReplyChannel`
of a message that came through the webhook: its replies become Graph request
bodies (a read receipt for the message, then each reply, in order), stored in
the same commit as the conversation, and the sender is told once they are
durable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from routes.conversation.messages import Outgoing
from routes.whatsapp.payloads import message_payload, read_receipt_payload
from storage.base import InboxRecord, OutboxMessage, OutboxRecord, SessionKey

# Told of the rows a commit queued, once durable (the sender's ``enqueue``).
OnCommitted = Callable[[SessionKey, list[OutboxRecord]], None]

# One encoder for every body: json.dumps with options builds a new one per call.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def payload_json(payload: dict[str, Any]) -> str:
    """A Graph request body as the outbox stores it and the sender posts it."""
    return _ENCODER.encode(payload)


@dataclass(frozen=True, slots=True)
class ReplyAddress:
    """Where the replies to one inbound WhatsApp message go.

    ``wa_id`` (the phone number) is preferred; ``user_id`` (Meta's
    business-scoped id) addresses a customer whose number is not known.
    ``message_id`` is the inbound wamid the read receipt marks.
    """

    phone_number_id: str
    wa_id: str | None
    user_id: str | None
    message_id: str
    on_committed: OnCommitted | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, record: InboxRecord, on_committed: OnCommitted | None = None) -> ReplyAddress:
        """The reply address of an inbox row."""
        return cls(record.phone_number_id, record.wa_id, record.user_id, record.message_id,
                   on_committed)

    @property
    def contact(self) -> tuple[str, str | None, str | None]:
        return (self.phone_number_id, self.wa_id, self.user_id)

    def outbox_rows(self, key: SessionKey, replies: Sequence[Outgoing]) -> list[OutboxMessage]:
        """A read receipt for the message, then one row per reply."""
        rows = [OutboxMessage(key, self.phone_number_id,
                              payload_json(read_receipt_payload(self.message_id)), kind="read")]
        rows.extend(
            OutboxMessage(key, self.phone_number_id,
                          payload_json(message_payload(reply, wa_id=self.wa_id,
                                                       user_id=self.user_id)))
            for reply in replies)
        return rows

    def committed(self, key: SessionKey, rows: list[OutboxRecord]) -> None:
        if self.on_committed is not None:
            self.on_committed(key, rows)
