"""Carrier-phase wind-up (Wu et al. 1993) for right-hand circularly polarised GNSS signals.

The measured phase of an RHCP signal changes by one cycle when the satellite or the receiving
antenna turns once about the line of sight. With the satellite body axes ``x_s, y_s`` (nominal
attitude, see :func:`rtk_engine.orbits.precise.satellite_body_axes`) and the receiver's local
north/east (antenna pointing north), the effective dipoles are

    D_s = x_s - k (k . x_s) - k x y_s,        D_r = x_r - k (k . x_r) + k x y_r

with ``k`` the unit vector from the satellite to the receiver and the receiving antenna's axes
``x_r`` = north, ``y_r`` = west (antenna oriented to north). The wind-up angle is the signed angle
between the two dipoles (sign of ``k . (D_s x D_r)``); it is made continuous along each
satellite's arc by :func:`unwrap_cycles`. Units: cycles (multiply by the wavelength, or by
``c / (f1 + f2)`` for the ionosphere-free combination). Yaw manoeuvres (noon/midnight turns,
eclipses) are not modelled: the nominal attitude flips there while the satellite turns slowly.
"""
from __future__ import annotations

import numpy as np

from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic, enu_rotation


def windup_fraction(sat_ecef_m, sat_axes, rcv_ecef_m) -> np.ndarray:
    """Wind-up angle in cycles, in (-0.5, 0.5], for each satellite [...].

    ``sat_ecef_m`` [..., 3], ``sat_axes`` [..., 3, 3] (rows x, y, z body axes in ECEF) and
    receivers ``rcv_ecef_m`` [..., 3] (broadcast against the satellites).
    """
    rs = np.asarray(sat_ecef_m, float)
    rr = np.asarray(rcv_ecef_m, float)
    k = rr - rs
    k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    llh = ecef_to_geodetic(rr)
    rot = enu_rotation(llh[..., 0], llh[..., 1])  # rows: east, north, up in ECEF
    east = np.broadcast_to(rot[..., 0, :], k.shape)
    north = np.broadcast_to(rot[..., 1, :], k.shape)
    xs, ys = sat_axes[..., 0, :], sat_axes[..., 1, :]
    dot = lambda a, b: np.einsum("...i,...i->...", a, b)  # noqa: E731
    ds = xs - k * dot(k, xs)[..., None] - np.cross(k, ys)
    xr, yr = north, -east  # receiver antenna: x north, y west
    dr = xr - k * dot(k, xr)[..., None] + np.cross(k, yr)
    cosp = dot(ds, dr) / (np.linalg.norm(ds, axis=-1) * np.linalg.norm(dr, axis=-1))
    ang = np.arccos(np.clip(cosp, -1.0, 1.0))
    ang = np.where(dot(k, np.cross(ds, dr)) < 0.0, -ang, ang)
    return ang / (2.0 * np.pi)


def unwrap_cycles(frac: np.ndarray) -> np.ndarray:
    """Make wind-up fractions ``[E, S]`` continuous along the epoch axis (NaN gaps are bridged).

    Each satellite's finite values are unwrapped in one numpy call; the loop is over satellites.
    """
    out = np.full(frac.shape, np.nan)
    for s in range(frac.shape[1]):
        ok = np.isfinite(frac[:, s])
        if ok.any():
            out[ok, s] = np.unwrap(frac[ok, s] * 2.0 * np.pi) / (2.0 * np.pi)
    return out
