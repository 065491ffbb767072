"""Whether Graph accepts our access token: the operator's problem, not a message's.

A rejected access token (HTTP 401 or Meta's code 190) would fail every reply
the same way, so no reply is marked failed for it: sending stops with every
reply left pending, :attr:`TokenGate.problem` says why (``/healthz`` answers
503 with it) and one error line is logged. Every ``TOKEN_RECHECK_SECONDS`` one
customer's replies are tried again (the *probe*); the first reply Graph
accepts lifts the gate. After a restart with a working token the replies go
out in order, none twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, TypeGuard

from routes.whatsapp.errors import Permanent, SendOutcome, SendProblem
from storage.base import SessionKey

logger = logging.getLogger(__name__)

TOKEN_RECHECK_SECONDS: Final = 300.0
TOKEN_PROBLEM: Final = "Graph rejected the access token"


def token_rejected(outcome: SendOutcome) -> TypeGuard[Permanent]:
    """Graph refused the access token, not the message (HTTP 401 or code 190)."""
    return isinstance(outcome, Permanent) and (
        outcome.problem is SendProblem.TOKEN_EXPIRED or outcome.http_status == 401)


class TokenGate:
    """The sender's view of the token; ``wake`` asks the sender to scan now."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self.problem: str | None = None
        self.probe: SessionKey | None = None  # the customer whose send rechecks the token
        self._recheck = 0.0  # loop time of the next recheck while refused

    def refused(self, key: SessionKey) -> bool:
        """Whether ``key``'s sends wait for a working token (all but the probe's)."""
        return self.problem is not None and key != self.probe

    def scan_may_run(self) -> bool:
        """Whether a scan may start sends: always, unless refused and no recheck is due."""
        return self.problem is None or (
            self.probe is None and asyncio.get_running_loop().time() >= self._recheck)

    def choose_probe(self, keys: list[SessionKey]) -> list[SessionKey]:
        """While refused, the one customer (of ``keys``) whose send rechecks the token."""
        if self.problem is None:
            return keys
        self.probe = keys[0] if keys else None
        if self.probe is None:
            self._later()
        return keys[:1]

    def ended(self, key: SessionKey) -> None:
        """``key``'s sending ended; a probe that got no answer about the token waits again."""
        if key == self.probe:
            self.probe = None
            self._later()

    def refuse(self, outcome: Permanent) -> None:
        if self.problem is None:
            logger.critical("%s (%s): sending stopped, every reply is kept pending; fix "
                            "WHATSAPP_ACCESS_TOKEN and restart (a reply is tried again every "
                            "%.0f s)", TOKEN_PROBLEM, outcome.describe(), TOKEN_RECHECK_SECONDS)
        self.problem = TOKEN_PROBLEM
        self.probe = None
        self._later()

    def works(self) -> None:
        if self.problem is not None:
            logger.warning("Graph accepts the access token again: sending resumes")
            self.problem = self.probe = None
            self._wake()

    def refusal(self) -> Permanent:
        """What a send is taken to answer while the token is refused."""
        return Permanent(SendProblem.TOKEN_EXPIRED, None, None, TOKEN_PROBLEM)

    def _later(self) -> None:
        self._recheck = asyncio.get_running_loop().time() + TOKEN_RECHECK_SECONDS
