"""One backoff policy for every retry loop: inbox commits, Graph sends, outbox marks.

A :class:`Backoff` waits ``first * factor ** (attempt - 1)`` seconds before
retry number ``attempt`` (counted from 1), never more than ``cap``, plus up to
``jitter`` of that at random so that many customers failing together do not
retry together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

_MAX_EXPONENT: Final = 64  # past this every policy is at its cap; avoids float overflow


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff in seconds; see the module docstring."""

    first: float
    cap: float
    factor: float = 2.0
    jitter: float = 0.0  # a fraction: 0.25 adds up to a quarter at random

    def __post_init__(self) -> None:
        if not (0 < self.first <= self.cap) or self.factor < 1 or self.jitter < 0:
            raise ValueError(f"not a usable backoff: {self!r}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt``; 0 and below count as 1."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        seconds = min(self.first * self.factor**exponent, self.cap)
        if self.jitter and rng is not None:
            seconds *= 1 + rng.random() * self.jitter
        return seconds
