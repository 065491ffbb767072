"""Snapshot migrations: step-by-step upgrades, renamed states, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from fsm.errors import SnapshotError
from fsm.migrations import RENAMED_STATES, SCHEMA_VERSION, UPGRADES, migrate_snapshot
from fsm.session import Session
from fsm.states import States


def step(log: list[int], version: int) -> Any:
    def upgrade(data: dict[str, Any]) -> dict[str, Any]:
        assert data["v"] == version, "each step sees the version it upgrades from"
        log.append(version)
        return {**data, f"added_in_v{version + 1}": True}
    return upgrade


def test_an_old_snapshot_is_upgraded_one_version_at_a_time() -> None:
    log: list[int] = []
    upgrades = {1: step(log, 1), 2: step(log, 2), 3: step(log, 3)}
    original = {"v": 1, "state": "choosing_category"}

    data = migrate_snapshot(original, upgrades=upgrades, current=4)

    assert log == [1, 2, 3]
    assert data == {"v": 4, "state": "choosing_category", "added_in_v2": True,
                    "added_in_v3": True, "added_in_v4": True}
    assert original == {"v": 1, "state": "choosing_category"}  # not modified in place


def test_a_snapshot_part_way_along_runs_only_the_remaining_steps() -> None:
    log: list[int] = []
    upgrades = {1: step(log, 1), 2: step(log, 2), 3: step(log, 3)}
    assert migrate_snapshot({"v": 3, "state": "x"}, upgrades=upgrades, current=4)["v"] == 4
    assert log == [3]


def test_a_missing_step_is_refused() -> None:
    upgrades = {1: step([], 1)}
    with pytest.raises(SnapshotError, match="no upgrade declared from schema v2"):
        migrate_snapshot({"v": 1, "state": "x"}, upgrades=upgrades, current=3)


def test_the_shipped_chain_reaches_the_current_version() -> None:
    for version in range(1, SCHEMA_VERSION):
        assert version in UPGRADES, f"no upgrade from v{version}"
    assert max(UPGRADES, default=0) < SCHEMA_VERSION
    current = Session(state=States.REVIEWING_CART).to_snapshot()
    assert migrate_snapshot(current) == current


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 99])
def test_a_snapshot_from_a_newer_build_is_refused(version: int) -> None:
    snapshot = {**Session().to_snapshot(), "v": version}
    with pytest.raises(SnapshotError, match=f"v{version} is newer than this build"):
        migrate_snapshot(snapshot)
    with pytest.raises(SnapshotError):
        Session.from_snapshot(snapshot)


@pytest.mark.parametrize("version", [None, 0, -1, "1", 1.0])
def test_a_snapshot_without_a_valid_version_is_refused(version: object) -> None:
    snapshot: dict[str, Any] = {**Session().to_snapshot(), "v": version}
    with pytest.raises(SnapshotError, match="no valid schema version"):
        migrate_snapshot(snapshot)


# What each retired name meant (see the comments in fsm/migrations.py).
RETIRED = {"checkout": States.REVIEWING_CART, "browsing_menu": States.CHOOSING_CATEGORY,
           "choosing_payment": States.CHECKOUT_PAYMENT}


def test_every_retired_state_name_lives_on_as_the_step_it_became() -> None:
    assert dict(RENAMED_STATES) == RETIRED
    assert not set(RETIRED) & set(States)


@pytest.mark.parametrize(("old", "new"), sorted(RETIRED.items()))
def test_renamed_states_are_restored_under_their_new_name(old: str, new: str) -> None:
    snapshot = {**Session(welcomed=True).to_snapshot(), "state": old}
    assert migrate_snapshot(snapshot)["state"] == new
    assert snapshot["state"] == old  # the stored copy is not modified in place
    assert Session.from_snapshot(snapshot).state == new


def test_renames_apply_after_the_upgrades() -> None:
    def rename_in_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "state": "old_name"}

    data = migrate_snapshot({"v": 1, "state": "older"}, renamed={"old_name": "new_name"},
                            upgrades={1: rename_in_v2}, current=2)
    assert data["state"] == "new_name"


def test_an_unknown_state_is_refused() -> None:
    snapshot = {**Session().to_snapshot(), "state": "teleporting"}
    assert migrate_snapshot(snapshot)["state"] == "teleporting"  # not the migrations' call
    with pytest.raises(SnapshotError, match="unknown state 'teleporting'"):
        Session.from_snapshot(snapshot)
