"""Satellite-receiver geometry in ECEF: range with Earth rotation during signal travel, line of
sight, azimuth/elevation. Metres, seconds, radians; vectorised over leading dimensions."""
from __future__ import annotations

import numpy as np

from ..constants import CLIGHT, OMEGA_E_DEFAULT
from ..geodesy.ellipsoid import azimuth_elevation, ecef_to_geodetic, enu_rotation

__all__ = ["geometric_range", "rotate_for_travel_time", "range_rate", "azimuth_elevation", "az_el_from_los"]


def geometric_range(sat_ecef_m, rcv_ecef_m, omega_e: float = OMEGA_E_DEFAULT):
    """Range [m] from receiver to satellite including Earth rotation during signal travel, and the
    unit line-of-sight vector receiver -> satellite [..., 3].

    The satellite position is the ECEF position at transmission time (in the ECEF frame of that
    instant); the Sagnac term ``omega/c (xs yr - ys xr)`` moves it into the frame of the reception
    instant to first order (error < 1 mm for GNSS orbits).
    """
    rs = np.asarray(sat_ecef_m, float)
    rr = np.asarray(rcv_ecef_m, float)
    d = rs - rr
    r = np.sqrt(np.add.reduce(d * d, axis=-1))  # np.linalg.norm(d, axis=-1)'s own formula, without its overhead
    with np.errstate(invalid="ignore", divide="ignore"):
        los = d / r[..., None]
    sagnac = omega_e / CLIGHT * (rs[..., 0] * rr[..., 1] - rs[..., 1] * rr[..., 0])
    return r + sagnac, los


def rotate_for_travel_time(sat_ecef_m, tau_s, omega_e: float = OMEGA_E_DEFAULT) -> np.ndarray:
    """Rotate satellite ECEF positions at transmission into the ECEF frame at reception (exact
    rotation by ``omega_e * tau_s`` about z); an alternative to the Sagnac term."""
    rs = np.asarray(sat_ecef_m, float)
    a = omega_e * np.asarray(tau_s, float)
    c, s = np.cos(a), np.sin(a)
    return np.stack([c * rs[..., 0] + s * rs[..., 1], -s * rs[..., 0] + c * rs[..., 1], rs[..., 2]], axis=-1)


def range_rate(sat_ecef_m, sat_vel_mps, rcv_ecef_m, rcv_vel_mps, los, omega_e: float = OMEGA_E_DEFAULT):
    """Geometric range rate [m/s] with the time derivative of the Sagnac term."""
    rs, vs = np.asarray(sat_ecef_m, float), np.asarray(sat_vel_mps, float)
    rr, vr = np.asarray(rcv_ecef_m, float), np.asarray(rcv_vel_mps, float)
    rate = np.einsum("...i,...i->...", vs - vr, los)
    # time derivative of the Sagnac term omega/c (xs yr - ys xr) of :func:`geometric_range`
    sagnac = omega_e / CLIGHT * (vs[..., 0] * rr[..., 1] + rs[..., 0] * vr[..., 1]
                                 - vs[..., 1] * rr[..., 0] - rs[..., 1] * vr[..., 0])
    return rate + sagnac


def az_el_from_los(los, rcv_ecef_m):
    """Azimuth and elevation [rad] from unit line-of-sight vectors [..., 3] at receivers [..., 3]
    (cheaper than :func:`azimuth_elevation` when the LOS is already known). ``los`` may carry one
    more axis than the receivers (``[E, S, 3]`` with receivers ``[E, 3]``). Also returns the
    receiver geodetic (lat, lon, h) ``[..., 3]`` in the receivers' shape."""
    rcv = np.asarray(rcv_ecef_m, float)
    los = np.asarray(los, float)
    llh = ecef_to_geodetic(rcv)
    r = enu_rotation(llh[..., 0], llh[..., 1])
    if los.ndim == rcv.ndim + 1:
        r = r[..., None, :, :]
    enu = np.einsum("...ij,...j->...i", r, los)
    el = np.arcsin(np.clip(enu[..., 2], -1.0, 1.0))
    az = np.arctan2(enu[..., 0], enu[..., 1]) % (2.0 * np.pi)
    return az, el, llh
