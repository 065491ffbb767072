"""Delivery zones: where a branch delivers, as a radius around it or a polygon.

Written on a branch in ``config.yaml``: ``latitude``/``longitude`` with
``delivery_radius_km``, and/or ``delivery_area``, a polygon of ``[latitude,
longitude]`` corners (at least 3). A pin is deliverable when it lies in any
branch's zone; a restaurant with no zone at all delivers anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import asin, cos, radians, sin, sqrt
from typing import Final

EARTH_RADIUS_KM: Final = 6371.0088


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two points (haversine), in kilometres."""
    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    h = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


def in_polygon(latitude: float, longitude: float,
               corners: Sequence[tuple[float, float]]) -> bool:
    """Whether the point lies inside the polygon of ``(latitude, longitude)`` corners (even-odd
    rule, on the flat map: fine for a town's delivery area, not across the antimeridian)."""
    inside = False
    previous = corners[-1]
    for corner in corners:
        (lat_a, lon_a), (lat_b, lon_b) = previous, corner
        if (lat_a > latitude) != (lat_b > latitude):
            crossing = lon_a + (latitude - lat_a) * (lon_b - lon_a) / (lat_b - lat_a)
            if longitude < crossing:
                inside = not inside
        previous = corner
    return inside
