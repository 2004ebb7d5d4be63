"""CGCS2000 geodetic coordinates and Gauss-Krüger projections (3-degree and 6-degree zones).

pyproj is imported lazily, only when these edge conversions are used. Inputs are ECEF metres
(ITRF/WGS84-aligned; CGCS2000 agrees with ITRF at the cm level, so no datum shift is applied).
Outputs: degrees and metres. EPSG codes: 4479 CGCS2000 geocentric, 4490 CGCS2000 geographic.

Gauss-Krüger grid coordinates follow the Chinese convention: ``northing`` from the equator,
``easting`` with a 500 km false easting, optionally prefixed by the zone number
(``easting + zone * 1e6``), scale factor 1 on the central meridian.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..constants import CGCS2000_A, CGCS2000_F
from .ellipsoid import ecef_to_geodetic


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str):
    from pyproj import Transformer  # lazy: only the edges need pyproj

    return Transformer.from_crs(src, dst, always_xy=True)


def ecef_to_cgcs2000(ecef_m) -> np.ndarray:
    """ECEF [..., 3] -> CGCS2000 (lat_deg, lon_deg, h_m) [..., 3] via pyproj (EPSG:4479 -> 4490)."""
    xyz = np.asarray(ecef_m, float)
    t = _transformer("EPSG:4479", "EPSG:4490")
    # EPSG:4490 is 2D; use the ellipsoidal height from our own exact conversion on the CGCS2000 ellipsoid
    lon, lat = t.transform(xyz[..., 0], xyz[..., 1], xyz[..., 2])[:2]
    h = ecef_to_geodetic(xyz, CGCS2000_A, CGCS2000_F)[..., 2]
    return np.stack([np.asarray(lat, float), np.asarray(lon, float), h], axis=-1)


def gk_zone(lon_deg, width_deg: int = 3) -> np.ndarray:
    """Gauss-Krüger zone number: 3-degree zones centred on 3n deg, 6-degree zones on 6n-3 deg."""
    lon = np.asarray(lon_deg, float) % 360.0
    if width_deg == 3:
        return np.floor((lon + 1.5) / 3.0).astype(int)
    if width_deg == 6:
        return np.floor(lon / 6.0).astype(int) + 1
    raise ValueError(f"Gauss-Krüger zone width must be 3 or 6 degrees, not {width_deg}")


def central_meridian_deg(zone: int, width_deg: int = 3) -> float:
    return 3.0 * zone if width_deg == 3 else 6.0 * zone - 3.0


def gauss_kruger(ecef_m, width_deg: int = 3, zone: int | None = None, zone_prefix: bool = False):
    """ECEF [..., 3] -> (northing_m, easting_m, zone) on CGCS2000 Gauss-Krüger.

    ``zone`` defaults to the zone of the first point, so a track stays on one grid. Easting has a
    500 km false easting (plus ``zone * 1e6`` when ``zone_prefix``).
    """
    llh = ecef_to_cgcs2000(ecef_m)
    lat, lon = llh[..., 0], llh[..., 1]
    if zone is None:
        zone = int(np.ravel(gk_zone(lon, width_deg))[0])
    cm = central_meridian_deg(zone, width_deg)
    proj = (f"+proj=tmerc +lat_0=0 +lon_0={cm} +k=1 +x_0=500000 +y_0=0 "
            f"+a={CGCS2000_A} +rf={1.0 / CGCS2000_F} +units=m +no_defs")
    t = _transformer("EPSG:4490", proj)
    e, n = t.transform(lon, lat)
    e = np.asarray(e, float) + (zone * 1e6 if zone_prefix else 0.0)
    return np.asarray(n, float), e, zone
