"""ECEF <-> geodetic and local ENU, vectorised. Metres and radians unless a name says _deg."""
from __future__ import annotations

import math

import numpy as np

from ..constants import WGS84_A, WGS84_F


def _latitude(p, z, a: float, e2: float, atan2, sin, sqrt):
    """Geodetic latitude [rad] by fixed-point iteration from the distance to the axis ``p`` and ``z``
    [m], and the prime-vertical radius [m] there; numpy (arrays) or math (scalars) functions."""
    lat = atan2(z, p * (1.0 - e2))
    for _ in range(6):
        sin_lat = sin(lat)
        n = a / sqrt(1.0 - e2 * sin_lat**2)
        lat = atan2(z + e2 * n * sin_lat, p)
    sin_lat = sin(lat)
    return lat, a / sqrt(1.0 - e2 * sin_lat**2)


def ecef_to_geodetic(xyz_m, a: float = WGS84_A, f: float = WGS84_F) -> np.ndarray:
    """ECEF [..., 3] -> (lat_rad, lon_rad, h_m) [..., 3]; iterative, mm-exact at any height."""
    xyz = np.asarray(xyz_m, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    e2 = f * (2.0 - f)
    p = np.hypot(x, y)
    lat, n = _latitude(p, z, a, e2, np.arctan2, np.sin, np.sqrt)
    cos_lat = np.cos(lat)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = np.where(np.abs(cos_lat) > 1e-9, p / cos_lat - n, np.abs(z) - n * (1 - e2))
    return np.stack([lat, np.arctan2(y, x), h], axis=-1)


def ecef_to_geodetic_point(x: float, y: float, z: float, a: float = WGS84_A,
                           f: float = WGS84_F) -> tuple[float, float, float]:
    """One ECEF point [m] -> (lat_rad, lon_rad, h_m) in scalar arithmetic: :func:`ecef_to_geodetic`'s
    iteration without the array overhead (for the rover in a per-epoch loop); same to rounding."""
    e2 = f * (2.0 - f)
    p = math.hypot(x, y)
    lat, n = _latitude(p, z, a, e2, math.atan2, math.sin, math.sqrt)
    cos_lat = math.cos(lat)
    h = p / cos_lat - n if abs(cos_lat) > 1e-9 else abs(z) - n * (1 - e2)
    return lat, math.atan2(y, x), h


def enu_rotation_point(lat_rad: float, lon_rad: float) -> np.ndarray:
    """:func:`enu_rotation` for one point (scalar angles): the 3 x 3 ECEF -> east/north/up matrix."""
    sl, cl = math.sin(lat_rad), math.cos(lat_rad)
    so, co = math.sin(lon_rad), math.cos(lon_rad)
    return np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])


def geodetic_to_ecef(llh, a: float = WGS84_A, f: float = WGS84_F) -> np.ndarray:
    """(lat_rad, lon_rad, h_m) [..., 3] -> ECEF [..., 3]."""
    llh = np.asarray(llh, dtype=float)
    lat, lon, h = llh[..., 0], llh[..., 1], llh[..., 2]
    e2 = f * (2.0 - f)
    n = a / np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
    return np.stack([(n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon),
                     (n * (1 - e2) + h) * np.sin(lat)], axis=-1)


def enu_rotation(lat_rad, lon_rad) -> np.ndarray:
    """Rotation matrix [..., 3, 3] from ECEF difference vectors to local east, north, up."""
    sl, cl = np.sin(lat_rad), np.cos(lat_rad)
    so, co = np.sin(lon_rad), np.cos(lon_rad)
    zero = np.zeros_like(sl)
    return np.stack([np.stack([-so, co, zero], -1),
                     np.stack([-sl * co, -sl * so, cl], -1),
                     np.stack([cl * co, cl * so, sl], -1)], -2)


def ecef_to_enu(xyz_m, ref_ecef_m) -> np.ndarray:
    """ECEF positions [..., 3] -> ENU [..., 3] relative to a reference ECEF point."""
    ref = np.asarray(ref_ecef_m, dtype=float)
    llh = ecef_to_geodetic(ref)
    r = enu_rotation(llh[0], llh[1])
    return (np.asarray(xyz_m, float) - ref) @ r.T


def azimuth_elevation(rcv_ecef_m, sat_ecef_m) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and elevation [rad] of satellites [..., 3] seen from receivers [..., 3] (broadcast)."""
    rcv = np.asarray(rcv_ecef_m, float)
    llh = ecef_to_geodetic(rcv)
    r = enu_rotation(llh[..., 0], llh[..., 1])
    los = np.asarray(sat_ecef_m, float) - rcv
    enu = np.einsum("...ij,...j->...i", np.broadcast_to(r, los.shape[:-1] + (3, 3)), los)
    rng = np.linalg.norm(enu, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        el = np.arcsin(np.clip(enu[..., 2] / rng, -1.0, 1.0))
    az = np.arctan2(enu[..., 0], enu[..., 1]) % (2 * np.pi)
    return az, el
