"""Opening hours: when a restaurant takes orders, in its own time zone.

Written in ``config.yaml`` as ``timezone: Europe/London`` (an IANA zone name,
read with :mod:`zoneinfo`) and ``hours: {mon: ["11:00-15:00", "18:00-23:00"], …}``:
a day missing from ``hours`` is closed; a span ending at or before its start
(``"18:00-02:00"``) runs past midnight into the next day; ``24:00`` ends a day.
No ``hours`` at all means always open. Times are wall-clock times in the zone,
so a restaurant opening at 11:00 opens at 11:00 in summer and in winter.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from fsm.frozen import Frozen

DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
MINUTES_PER_DAY: Final = 24 * 60
_SPAN: Final = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")


def _span(value: object) -> tuple[int, int]:
    """``"11:00-22:00"`` as minutes after midnight: ``(660, 1320)``."""
    found = _SPAN.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise PydanticCustomError("opening_span",
                                  'expected opening times such as "11:00-22:00", got {value}',
                                  {"value": repr(value)})
    start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or end > MINUTES_PER_DAY:
        raise PydanticCustomError("opening_span", "not a time of day: {value}",
                                  {"value": repr(value)})
    if start == end % MINUTES_PER_DAY and end != MINUTES_PER_DAY:
        raise PydanticCustomError("opening_span", "opens and closes at the same time: {value}",
                                  {"value": repr(value)})
    return start, end


# Minutes after midnight (start, end); end <= start runs past midnight.
Span = Annotated[tuple[int, int], BeforeValidator(_span)]


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "timezone", "unknown time zone {value}: expected a name such as Europe/London",
            {"value": repr(value)}) from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_zone)]


class WeeklyHours(Frozen):
    """The opening spans of each day of the week; a day not given is closed."""

    mon: tuple[Span, ...] = ()
    tue: tuple[Span, ...] = ()
    wed: tuple[Span, ...] = ()
    thu: tuple[Span, ...] = ()
    fri: tuple[Span, ...] = ()
    sat: tuple[Span, ...] = ()
    sun: tuple[Span, ...] = ()

    def spans(self, weekday: int) -> tuple[tuple[int, int], ...]:
        spans: tuple[tuple[int, int], ...] = getattr(self, DAYS[weekday])
        return spans

    def is_open(self, local: datetime) -> bool:
        """Whether ``local`` (a wall-clock time in the restaurant's zone) is in a span."""
        minute = local.hour * 60 + local.minute
        for start, end in self.spans(local.weekday()):
            if start <= minute < (end if end > start else MINUTES_PER_DAY):
                return True
        yesterday = (local.weekday() - 1) % 7
        return any(end <= start and minute < end for start, end in self.spans(yesterday))

    def next_opening(self, local: datetime) -> datetime | None:
        """The first opening after ``local`` (aware, in the restaurant's zone), or ``None``
        when no day has a span."""
        zone = local.tzinfo
        for days in range(8):
            day = local.date() + timedelta(days=days)
            starts = sorted(start for start, _ in self.spans(day.weekday()))
            for start in starts:
                moment = datetime.combine(day, time(start // 60, start % 60), tzinfo=zone)
                if moment > local:
                    return moment
        return None


def local_time(timestamp: float, zone: str) -> datetime:
    """``timestamp`` (Unix seconds) as an aware wall-clock time in ``zone``."""
    return datetime.fromtimestamp(timestamp, ZoneInfo(zone))
