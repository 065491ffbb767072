"""Graph API requests for outbound messages, and what to do with each answer.

``message_payload`` turns a channel-neutral ``Outgoing`` into the JSON body of
``POST {graph_url}/{phone_number_id}/messages``; the limits were already
applied by the constructors in ``routes.conversation.messages``. ``classify_send_result``
reads the answer into ``Accepted``, ``Retryable`` or ``Permanent`` following
the error-code table of CONTRACT.md §5; ``backoff_seconds`` says how long to
wait before a retry (the caller adds jitter and bounds the attempts).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from routes.conversation.messages import (
    ButtonsMessage,
    ListMessage,
    LocationRequest,
    Option,
    Outgoing,
    Section,
    TextMessage,
)

MESSAGING_PRODUCT: Final = "whatsapp"
PAIR_RATE_LIMIT_CODE: Final = 131056
BACKOFF_CAP_SECONDS: Final = 300


class SendProblem(enum.StrEnum):
    """Why a send did not succeed; the first three are worth retrying."""

    PAIR_RATE_LIMIT = "pair_rate_limit"  # too many messages to one customer
    THROUGHPUT = "throughput"
    TRANSIENT = "transient"
    WINDOW_CLOSED = "window_closed"  # 24-hour window over: only a template may be sent
    UNDELIVERABLE = "undeliverable"
    BAD_REQUEST = "bad_request"  # our bug: log loudly
    TOKEN_EXPIRED = "token_expired"  # alert: every send will fail until it is renewed
    REJECTED = "rejected"  # any other refusal
    UNEXPECTED_RESPONSE = "unexpected_response"


_PROBLEM_BY_CODE: Final[dict[int, SendProblem]] = {
    PAIR_RATE_LIMIT_CODE: SendProblem.PAIR_RATE_LIMIT,
    **dict.fromkeys((130429, 80007, 4, 131048), SendProblem.THROUGHPUT),
    **dict.fromkeys((131000, 131016, 1, 2), SendProblem.TRANSIENT),
    131047: SendProblem.WINDOW_CLOSED,
    **dict.fromkeys((131026, 131062), SendProblem.UNDELIVERABLE),
    **dict.fromkeys((100, 131008, 131009), SendProblem.BAD_REQUEST),
    190: SendProblem.TOKEN_EXPIRED,
}
RETRYABLE: Final = frozenset(
    {SendProblem.PAIR_RATE_LIMIT, SendProblem.THROUGHPUT, SendProblem.TRANSIENT})


@dataclass(frozen=True, slots=True)
class Accepted:
    """Meta accepted the request (not yet delivered). ``wamid`` is None for a read receipt."""

    wamid: str | None


@dataclass(frozen=True, slots=True)
class SendFailure:
    """A refused send: Meta's error ``code`` (None without an error body) and why."""

    problem: SendProblem
    code: int | None
    http_status: int | None
    message: str
    details: str | None = None
    fbtrace_id: str | None = None

    def describe(self) -> str:
        """One log line: problem, code, HTTP status, Meta's message and trace id."""
        details = f" ({self.details})" if self.details else ""
        trace = f" fbtrace_id={self.fbtrace_id}" if self.fbtrace_id else ""
        return (f"{self.problem} code={self.code} http={self.http_status}: "
                f"{self.message}{details}{trace}")


@dataclass(frozen=True, slots=True)
class Retryable(SendFailure):
    """Send again later, after ``delay(attempt)`` seconds plus jitter."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        return backoff_seconds(self.code, attempt)


@dataclass(frozen=True, slots=True)
class Permanent(SendFailure):
    """Do not send again: the same request would be refused the same way."""


SendOutcome = Accepted | Retryable | Permanent


def message_payload(message: Outgoing, *, wa_id: str | None,
                    user_id: str | None) -> dict[str, Any]:
    """The JSON body sending ``message`` to a customer.

    Addressed ``"to": "+<wa_id>"`` when the phone number is known, else
    ``"recipient": "<user_id>"`` (business-scoped ids, CONTRACT.md §3).
    Raises ValueError when neither is given.
    """
    payload: dict[str, Any] = {"messaging_product": MESSAGING_PRODUCT,
                               "recipient_type": "individual"}
    if wa_id:
        payload["to"] = "+" + wa_id.removeprefix("+")
    elif user_id:
        payload["recipient"] = user_id
    else:
        raise ValueError("a message needs a wa_id or a user_id to be sent to")
    if isinstance(message, TextMessage):
        # Links in menus and receipts would otherwise grow preview cards.
        payload.update(type="text", text={"body": message.body, "preview_url": False})
    else:
        payload.update(type="interactive", interactive=_interactive(message))
    return payload


def read_receipt_payload(message_id: str) -> dict[str, Any]:
    """The JSON body marking an inbound message (its wamid) as read."""
    return {"messaging_product": MESSAGING_PRODUCT, "status": "read", "message_id": message_id}


def classify_send_result(http_status: int, body: object) -> SendOutcome:
    """Read Graph's answer to a send: accepted, worth retrying, or final.

    Any 2xx is Accepted, even without a wamid: Meta took the message, and
    sending it again would reach the customer twice. Otherwise Meta's error
    code decides (CONTRACT.md §5); without a known code, HTTP 5xx and 429 are
    transient and any other status is permanent.
    """
    if 200 <= http_status < 300:
        return Accepted(_wamid(body))
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    message = error.get("message")
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    trace = error.get("fbtrace_id")
    problem = _PROBLEM_BY_CODE.get(code) if code is not None else None
    if problem is None:
        if http_status >= 500 or http_status == 429:
            problem = SendProblem.TRANSIENT
        elif 400 <= http_status < 500:
            problem = SendProblem.REJECTED
        else:
            problem = SendProblem.UNEXPECTED_RESPONSE
    fields: dict[str, Any] = {
        "problem": problem,
        "code": code,
        "http_status": http_status,
        "message": message if isinstance(message, str) else f"HTTP {http_status}",
        "details": details if isinstance(details, str) else None,
        "fbtrace_id": trace if isinstance(trace, str) else None,
    }
    return Retryable(**fields) if problem in RETRYABLE else Permanent(**fields)


def transport_failure(error: BaseException) -> Retryable:
    """A send that got no answer (timeout, connection reset): transient."""
    return Retryable(problem=SendProblem.TRANSIENT, code=None, http_status=None,
                     message=f"{type(error).__name__}: {error}")


def backoff_seconds(code: int | None, attempt: int) -> float:
    """Seconds before retry number ``attempt`` (counted from 1), without jitter.

    131056 (pair rate limit, about one message per 6 s to a customer) waits
    4**attempt s as Meta advises; anything else 2**attempt s, capped at 300 s.
    """
    attempt = max(attempt, 1)
    if code == PAIR_RATE_LIMIT_CODE:
        return float(4**attempt)
    return float(min(2**attempt, BACKOFF_CAP_SECONDS))


def _interactive(message: ButtonsMessage | ListMessage | LocationRequest) -> dict[str, Any]:
    if isinstance(message, LocationRequest):
        return {"type": "location_request_message", "body": {"text": message.body},
                "action": {"name": "send_location"}}
    interactive: dict[str, Any] = {}
    if isinstance(message, ButtonsMessage):
        interactive["type"] = "button"
        action: dict[str, Any] = {"buttons": [
            {"type": "reply", "reply": {"id": option.id, "title": option.title}}
            for option in message.buttons]}
    else:
        interactive["type"] = "list"
        action = {"button": message.button,
                  "sections": [_section(section) for section in message.sections]}
    if message.header is not None:
        interactive["header"] = {"type": "text", "text": message.header}
    interactive["body"] = {"text": message.body}
    if message.footer is not None:
        interactive["footer"] = {"text": message.footer}
    interactive["action"] = action
    return interactive


def _section(section: Section) -> dict[str, Any]:
    rendered: dict[str, Any] = {} if section.title is None else {"title": section.title}
    rendered["rows"] = [_row(row) for row in section.rows]
    return rendered


def _row(option: Option) -> dict[str, str]:
    row = {"id": option.id, "title": option.title}
    if option.description is not None:
        row["description"] = option.description
    return row


def _wamid(body: object) -> str | None:
    messages = body.get("messages") if isinstance(body, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    return wamid if isinstance(wamid, str) and wamid else None
