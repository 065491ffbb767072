"""Declared migrations for stored snapshots.

A snapshot carries the schema version it was written with (key ``"v"``).
Restoring one upgrades it step by step with :data:`UPGRADES`, then maps
renamed or removed states through :data:`RENAMED_STATES`.  A snapshot from
a newer build, or one naming a state that is neither current nor declared
here, is refused with :class:`~fsm.errors.SnapshotError` (the caller
quarantines it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from fsm.errors import SnapshotError

SCHEMA_VERSION: Final = 2

# Old state name -> state it lives on as.  Keep entries for as long as
# snapshots written with the old name may exist (sessions expire after the
# TTL, abandoned ones are never resumed, so a few months is plenty).
RENAMED_STATES: Final[Mapping[str, str]] = {
    # A single "checkout" step was split into address / payment / confirmation;
    # the cart is shown again so the customer re-enters checkout with the new steps.
    "checkout": "reviewing_cart",
    # "browsing_menu" became "choosing_category".
    "browsing_menu": "choosing_category",
    # "choosing_payment" moved inside the checkout group.
    "choosing_payment": "checkout_payment",
}

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]



def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v2 adds ``"lang"``, the language the customer chose; ``None``: the restaurant's
    default, which is what every v1 conversation was spoken in (English)."""
    return {**data, "lang": data.get("lang")}


# UPGRADES[n] turns a version-n snapshot into a version-(n+1) one.
UPGRADES: Final[Mapping[int, Upgrade]] = {1: _v1_to_v2}


def migrate_snapshot(snapshot: Mapping[str, Any],
                     renamed: Mapping[str, str] = RENAMED_STATES,
                     upgrades: Mapping[int, Upgrade] = UPGRADES,
                     current: int = SCHEMA_VERSION) -> dict[str, Any]:
    """Bring ``snapshot`` to the current schema and state names."""
    data = dict(snapshot)
    version = data.get("v")
    if not isinstance(version, int) or version < 1:
        raise SnapshotError(f"snapshot has no valid schema version: {version!r}")
    if version > current:
        raise SnapshotError(f"snapshot schema v{version} is newer than this build (v{current})")
    while version < current:
        upgrade = upgrades.get(version)
        if upgrade is None:
            raise SnapshotError(f"no upgrade declared from schema v{version}")
        data = upgrade(data)
        version += 1
        data["v"] = version
    state = data.get("state")
    if isinstance(state, str) and state in renamed:
        data["state"] = renamed[state]
    return data
