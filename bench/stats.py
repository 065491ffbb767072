"""Latency percentiles and the result of a closed-loop blast, shared by every generator."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (any order); NaN when there are none.

    Nearest rank, not interpolation: a p99 is then a latency a request really had.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class BlastResult:
    """What a closed-loop generator (wrk or the aiohttp fallback) measured.

    ``ok`` counts 2xx answers only: a 503 from the webhook is not ingest.
    ``wrapped`` counts how often a generator ran past the end of its pool of
    bodies and resent one (a duplicate message id: cheaper for the webhook).
    """

    generator: str
    requests: int
    ok: int
    errors: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    wrapped: int

    @property
    def rps(self) -> float:
        return self.ok / self.duration_s if self.duration_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rps": self.rps}

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> BlastResult:
        return cls(generator=str(fields["generator"]), requests=int(fields["requests"]),
                   ok=int(fields["ok"]), errors=int(fields["errors"]),
                   duration_s=float(fields["duration_s"]), p50_ms=float(fields["p50_ms"]),
                   p99_ms=float(fields["p99_ms"]), wrapped=int(fields["wrapped"]))
