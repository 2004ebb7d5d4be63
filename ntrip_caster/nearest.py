"""Nearest-base selection from a rover's GGA, with hysteresis so a rover near the midpoint between
two bases does not flip back and forth. Distances are great-circle metres on a sphere of the
WGS84 mean radius (good to ~0.5 %, ample for choosing a base); inputs in degrees."""
from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Haversine great-circle distance in metres."""
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp, dl = p2 - p1, math.radians(lon2_deg - lon1_deg)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def choose(lat_deg: float, lon_deg: float, bases: dict[str, tuple[float, float]], current: str | None,
           hysteresis_m: float) -> str | None:
    """Name of the base to serve: the closest one, unless ``current`` is still available and the
    closest is not at least ``hysteresis_m`` nearer than it. ``bases``: name -> (lat_deg, lon_deg)
    of the bases that currently have a live source. None when there is none."""
    if not bases:
        return None
    dists = {n: distance_m(lat_deg, lon_deg, la, lo) for n, (la, lo) in bases.items()}
    best = min(dists, key=dists.__getitem__)
    if current in dists and dists[current] - dists[best] < hysteresis_m:
        return current
    return best
