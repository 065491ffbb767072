"""What staff read of a conversation: each message as one line of display text.

Every inbound message and every reply is logged in the same commit as the
conversation (:class:`~storage.records.LoggedMessage`), so the log can
neither miss a message the bot acted on nor show one it did not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from routes.conversation.messages import (
    ButtonsMessage,
    Inbound,
    ListMessage,
    LocationRequest,
    Outgoing,
    options_of,
)
from storage.records import LoggedMessage

CUSTOMER: Final = "customer"
BOT: Final = "bot"


def inbound_text(inbound: Inbound) -> str:
    """A customer message as staff read it: the text, the tapped title, the pin."""
    if inbound.kind == "text":
        return inbound.text
    if inbound.kind == "choice":
        return inbound.text or inbound.choice_id or ""
    if inbound.kind == "location" and inbound.location is not None:
        pin = inbound.location
        label = ", ".join(part for part in (pin.name, pin.address) if part)
        where = f"📍 {pin.latitude:.5f}, {pin.longitude:.5f}"
        return f"{where} {label}" if label else where
    if inbound.kind == "notice":
        return f"(WhatsApp notice: {inbound.choice_id or 'unknown'} {inbound.text})".replace(
            " )", ")")
    if inbound.text:
        return f"(a {inbound.text} message the bot cannot read)"
    return "(a message the bot cannot read: media or another type)"


def outgoing_kind(message: Outgoing) -> str:
    """``text``, ``buttons``, ``list`` or ``location_request``."""
    if isinstance(message, ButtonsMessage):
        return "buttons"
    if isinstance(message, ListMessage):
        return "list"
    if isinstance(message, LocationRequest):
        return "location_request"
    return "text"


def outgoing_text(message: Outgoing) -> str:
    """A reply as staff read it: the body, then its options in brackets."""
    titles = [option.title for option in options_of(message)]
    return f"{message.body} [{' | '.join(titles)}]" if titles else message.body


def log_inbound(inbound: Inbound, at: float, wamid: str | None) -> LoggedMessage:
    return LoggedMessage("in", inbound.kind, inbound_text(inbound), CUSTOMER, at, wamid=wamid)


def log_replies(replies: Sequence[Outgoing], at: float, *, author: str = BOT,
                first_index: int | None = None) -> list[LoggedMessage]:
    """One entry per reply; ``first_index`` is the outbox row of the first reply, if queued."""
    return [LoggedMessage("out", outgoing_kind(reply), outgoing_text(reply), author, at,
                          outbox_index=None if first_index is None else first_index + n)
            for n, reply in enumerate(replies)]
