"""What Graph's answer to a send means: accepted, worth retrying, or final.

Meta's error codes for the Cloud API (the "Error codes" page of the WhatsApp
Cloud API documentation) decide: throughput and pair rate limits and
transient failures are retried with backoff, everything else is final. Read
with :func:`classify_send_result`; a request that got no answer at all is
:func:`transport_failure`.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from typing import Any, Final

from routes.retry import Backoff

PAIR_RATE_LIMIT_CODE: Final = 131056
# Meta advises 4**n seconds after 131056 (about one message per 6 s to a customer).
PAIR_RATE_LIMIT_BACKOFF: Final = Backoff(first=4.0, factor=4.0, cap=3600.0)
SEND_BACKOFF: Final = Backoff(first=2.0, cap=300.0)


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

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry).

        With ``rng``, up to a quarter more at random (jitter).
        """
        seconds = backoff_seconds(self.code, attempt)
        return seconds * (1 + rng.random() / 4) if rng is not None else seconds


@dataclass(frozen=True, slots=True)
class Permanent(SendFailure):
    """Do not send again: the same request would be refused the same way."""


SendOutcome = Accepted | Retryable | Permanent


def classify_send_result(http_status: int, body: object) -> SendOutcome:
    """Read Graph's answer to a send: accepted, worth retrying, or final.

    Any 2xx is Accepted, even without a wamid: Meta took the message, and
    sending it again would reach the customer twice. Otherwise Meta's error
    code decides (Meta: Cloud API error codes); without a known code, HTTP 5xx and 429 are
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

    131056 (pair rate limit) waits 4**attempt s, up to an hour; anything
    else 2**attempt s, up to 300 s.
    """
    policy = PAIR_RATE_LIMIT_BACKOFF if code == PAIR_RATE_LIMIT_CODE else SEND_BACKOFF
    return policy.delay(attempt)


def _wamid(body: object) -> str | None:
    messages = body.get("messages") if isinstance(body, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    return wamid if isinstance(wamid, str) and wamid else None
