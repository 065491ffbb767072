"""What one WhatsApp webhook body carries, once read: messages, statuses, errors.

:func:`routes.whatsapp.parser.parse_notification` builds these from Meta's JSON;
the webhook stores and acts on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from routes.conversation.messages import Inbound

# A stored status is only ever replaced by one of higher rank, since receipts
# arrive out of order and repeated (Meta's webhook reference). "failed" ranks highest:
# Meta sends it once it has given up, so a late "sent" or "delivered" must not
# hide the failure. Statuses Meta may add later rank 0 and never overwrite.
STATUS_RANK: Final[Mapping[str, int]] = {
    "sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 5,
}


def status_rank(status: str) -> int:
    """Rank of a delivery status: ``sent`` < ``delivered`` < ``read`` < ``played`` < ``failed``.

    Keep the stored status unless the new one ranks higher. Unknown statuses
    rank 0.
    """
    return STATUS_RANK.get(status, 0)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message, with the ids needed to answer and deduplicate it.

    ``message_id`` is Meta's ``wamid``, the deduplication key.
    ``phone_number_id`` names the restaurant's number that received it.
    At least one of ``wa_id`` (phone digits) and ``user_id`` (business-scoped
    user id) is set. ``type`` is Meta's message type as sent.
    """

    message_id: str
    phone_number_id: str
    wa_id: str | None
    user_id: str | None
    timestamp: int
    type: str
    inbound: Inbound
    context_id: str | None
    profile_name: str | None

    def __post_init__(self) -> None:
        if not (self.wa_id or self.user_id):
            raise ValueError(f"message {self.message_id} has neither wa_id nor user_id")

    @property
    def customer_id(self) -> str:
        """The conversation's customer: the wa_id when known, else the user_id."""
        customer = self.wa_id or self.user_id
        assert customer is not None  # __post_init__ enforces one of them
        return customer


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery receipt for a message we sent (``message_id`` is our outbound wamid)."""

    message_id: str
    phone_number_id: str
    status: str
    timestamp: int
    recipient_id: str | None
    error_codes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class WebhookError:
    """An error Meta reported in a notification, at value level or inside a message."""

    phone_number_id: str | None
    code: int | None
    title: str
    details: str | None


@dataclass(frozen=True, slots=True)
class Notification:
    """Everything usable in one webhook body.

    ``identities`` holds ``(user_id, wa_id)`` pairs seen together in contacts,
    messages or statuses, so that one person keeps one conversation whichever
    id a later message carries. ``ignored`` says, one note per element, what
    was skipped and why; ``rejected`` names the messages, statuses and
    contacts dropped because a value in them could not be stored (an id
    that is not valid Unicode or too long, a timestamp out of range).
    """

    messages: tuple[InboundMessage, ...]
    statuses: tuple[StatusUpdate, ...]
    errors: tuple[WebhookError, ...]
    identities: tuple[tuple[str, str], ...]
    ignored: tuple[str, ...]
    rejected: tuple[str, ...] = ()
