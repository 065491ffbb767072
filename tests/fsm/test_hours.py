"""Opening hours in config.yaml (fsm.hours): spans, midnight, time zones, error paths."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fsm.config import Restaurant, parse_config
from fsm.errors import ConfigError
from tests.conftest import REPO

LONDON = ZoneInfo("Europe/London")


def luigis_with(settings: str) -> Restaurant:
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    restaurant = parse_config(yaml.replace("    currency: GBP\n",
                                           f"    currency: GBP\n{settings}", 1)).restaurants[0]
    return restaurant


def moment(when: str) -> float:
    return datetime.fromisoformat(when).replace(tzinfo=LONDON).timestamp()


def test_without_hours_it_is_always_open() -> None:
    restaurant = luigis_with("")
    assert restaurant.hours is None and restaurant.is_open(moment("2025-11-24 03:00"))
    assert restaurant.next_opening(moment("2025-11-24 03:00")) is None


def test_spans_split_days_and_run_past_midnight() -> None:
    restaurant = luigis_with('    timezone: Europe/London\n    hours: {mon: ["11:00-15:00", '
                             '"18:00-23:00"], fri: ["18:00-02:00"], sun: ["12:00-24:00"]}\n')
    checks = {"2025-11-24 10:59": False, "2025-11-24 11:00": True, "2025-11-24 15:00": False,
              "2025-11-24 18:30": True, "2025-11-24 23:00": False,
              "2025-11-28 23:30": True, "2025-11-29 01:59": True, "2025-11-29 02:00": False,
              "2025-11-30 23:59": True, "2025-12-01 00:00": False}
    assert {when: restaurant.is_open(moment(when)) for when in checks} == checks
    opening = restaurant.next_opening(moment("2025-11-24 15:30"))
    assert opening is not None and opening.isoformat() == "2025-11-24T18:00:00+00:00"
    opening = restaurant.next_opening(moment("2025-11-29 03:00"))  # Saturday: next is Sunday
    assert opening is not None and opening.isoformat() == "2025-11-30T12:00:00+00:00"


def test_hours_are_wall_clock_time_in_the_zone_across_summer_time() -> None:
    restaurant = luigis_with('    timezone: Europe/London\n    hours: {sun: ["11:00-22:00"]}\n')
    opening = restaurant.next_opening(moment("2026-03-28 12:00"))  # BST starts that Sunday
    assert opening is not None and opening.isoformat() == "2026-03-29T11:00:00+01:00"
    assert restaurant.is_open(datetime(2026, 3, 29, 10, 30, tzinfo=ZoneInfo("UTC")).timestamp())


def test_bad_hours_and_zones_are_reported_with_their_paths() -> None:
    with pytest.raises(ConfigError) as raised:
        luigis_with('    timezone: Mars/Olympus\n    hours: {mon: ["11:00-22:00", "9-5", '
                    '"25:00-26:00", "10:00-10:00"], monday: ["11:00-22:00"]}\n')
    problems = dict(raised.value.problems)
    assert "unknown time zone 'Mars/Olympus'" in problems["restaurants[0].timezone"]
    assert 'expected opening times such as "11:00-22:00"' in problems["restaurants[0].hours.mon[1]"]
    assert "not a time of day" in problems["restaurants[0].hours.mon[2]"]
    assert "opens and closes at the same time" in problems["restaurants[0].hours.mon[3]"]
    assert problems["restaurants[0].hours.monday"] == "unknown key"
    assert "restaurants[0].hours.mon[0]" not in problems
