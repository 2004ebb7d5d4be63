"""Broadcast ionosphere models: Klobuchar for GPS (GPSA/GPSB, also QZSS) and BeiDou (BDSA/BDSB).

Both return the slant group delay [m] on the signal of frequency ``freq_hz`` (positive: add to the
geometric range), scaled from the model's reference frequency by ``(f_ref / f)^2``.

GPS (IS-GPS-200 20.3.3.5.2.5): thin shell at 350 km in the ICD's approximations; geomagnetic
latitude of the pierce point; GPS time of day; reference frequency L1 1575.42 MHz.

BeiDou (BDS-SIS-ICD-B1I 3.0, 5.2.4.7): the same eight-coefficient structure with BDS conventions:
shell at 375 km over a 6378 km sphere with the exact pierce-point geometry, *geographic* latitude
of the pierce point (absolute value, semicircles) in the amplitude and period polynomials, local
time from BDT (GPST - 14 s), period clipped to [72000, 172800] s, obliquity
``1/sqrt(1 - (R cos(el) / (R + h))^2)``; reference frequency B1I 1561.098 MHz.
"""
from __future__ import annotations

import numpy as np

from ..constants import CLIGHT
from ..gnss_time import BDT_OFFSET_S, NS

F_L1_HZ = 1575.42e6
F_B1I_HZ = 1561.098e6
_DAY_S = 86_400.0


def _seconds_of_day(t_ns) -> np.ndarray:
    t = np.asarray(t_ns, np.int64)
    return (t % (86_400 * NS)) / NS


def klobuchar_gps(alpha, beta, t_gpst_ns, lat_rad, lon_rad, az_rad, el_rad, freq_hz=F_L1_HZ) -> np.ndarray:
    """GPS Klobuchar slant delay [m] (vectorised over broadcastable inputs)."""
    alpha = np.asarray(alpha, float)
    beta = np.asarray(beta, float)
    el_sc = np.asarray(el_rad, float) / np.pi  # semicircles
    az = np.asarray(az_rad, float)
    psi = 0.0137 / (el_sc + 0.11) - 0.022
    phi_i = np.clip(np.asarray(lat_rad, float) / np.pi + psi * np.cos(az), -0.416, 0.416)
    lam_i = np.asarray(lon_rad, float) / np.pi + psi * np.sin(az) / np.cos(phi_i * np.pi)
    phi_m = phi_i + 0.064 * np.cos((lam_i - 1.617) * np.pi)
    t = np.mod(4.32e4 * lam_i + _seconds_of_day(t_gpst_ns), _DAY_S)
    f = 1.0 + 16.0 * (0.53 - el_sc) ** 3
    amp = np.maximum(alpha[0] + phi_m * (alpha[1] + phi_m * (alpha[2] + phi_m * alpha[3])), 0.0)
    per = np.maximum(beta[0] + phi_m * (beta[1] + phi_m * (beta[2] + phi_m * beta[3])), 72_000.0)
    x = 2.0 * np.pi * (t - 50_400.0) / per
    x2 = x * x
    night = 5e-9
    delay_s = f * np.where(np.abs(x) < 1.57, night + amp * (1.0 - x2 / 2.0 + x2 * x2 / 24.0), night)
    return CLIGHT * delay_s * (F_L1_HZ / np.asarray(freq_hz, float)) ** 2


def klobuchar_bds(alpha, beta, t_gpst_ns, lat_rad, lon_rad, az_rad, el_rad, freq_hz=F_B1I_HZ) -> np.ndarray:
    """BeiDou Klobuchar slant delay [m] (BDS-SIS-ICD-B1I conventions, see module docstring)."""
    alpha = np.asarray(alpha, float)
    beta = np.asarray(beta, float)
    el = np.asarray(el_rad, float)
    az = np.asarray(az_rad, float)
    lat = np.asarray(lat_rad, float)
    r_ratio = 6378.0 / (6378.0 + 375.0)
    psi = np.pi / 2.0 - el - np.arcsin(r_ratio * np.cos(el))  # Earth-central angle [rad]
    phi_m = np.arcsin(np.clip(np.sin(lat) * np.cos(psi) + np.cos(lat) * np.sin(psi) * np.cos(az), -1, 1))
    lam_m = np.asarray(lon_rad, float) + np.arcsin(np.clip(np.sin(psi) * np.sin(az) / np.cos(phi_m), -1, 1))
    t_bdt = _seconds_of_day(np.asarray(t_gpst_ns, np.int64) - BDT_OFFSET_S * NS)
    t = np.mod(t_bdt + lam_m * 43_200.0 / np.pi, _DAY_S)
    p = np.abs(phi_m) / np.pi  # |geographic latitude| in semicircles
    a2 = np.maximum(alpha[0] + p * (alpha[1] + p * (alpha[2] + p * alpha[3])), 0.0)
    a4 = np.clip(beta[0] + p * (beta[1] + p * (beta[2] + p * beta[3])), 72_000.0, 172_800.0)
    iz = np.where(np.abs(t - 50_400.0) < a4 / 4.0,
                  5e-9 + a2 * np.cos(2.0 * np.pi * (t - 50_400.0) / a4), 5e-9)
    slant_s = iz / np.sqrt(1.0 - (r_ratio * np.cos(el)) ** 2)
    return CLIGHT * slant_s * (F_B1I_HZ / np.asarray(freq_hz, float)) ** 2


def broadcast_iono_delay(iono: dict, systems, t_gpst_ns, lat_rad, lon_rad, az_rad, el_rad, freq_hz,
                         use_bds_model: bool = True) -> np.ndarray:
    """Slant delay [m] per element choosing the model by system letter (``systems`` broadcastable).

    BeiDou satellites use BDSA/BDSB when present (and ``use_bds_model``), GPS coefficients otherwise;
    all other systems use GPSA/GPSB (QZSS: QZSA/QZSB if present). Missing coefficients give NaN
    (the caller decides whether to fall back to no correction and a larger variance).
    """
    systems = np.asarray(systems)
    shape = np.broadcast_shapes(systems.shape, np.shape(el_rad), np.shape(freq_hz))
    out = np.full(shape, np.nan)
    gps = (iono.get("GPSA"), iono.get("GPSB"))
    bds = (iono.get("BDSA"), iono.get("BDSB"))
    qzs = (iono.get("QZSA"), iono.get("QZSB"))
    sys_b = np.broadcast_to(systems, shape)
    is_c = sys_b == "C"
    is_j = sys_b == "J"
    args = (t_gpst_ns, lat_rad, lon_rad, az_rad, el_rad, freq_hz)
    if gps[0] is not None and gps[1] is not None:
        out = np.broadcast_to(klobuchar_gps(*gps, *args), shape).copy()
    if use_bds_model and bds[0] is not None and bds[1] is not None and is_c.any():
        out = np.where(is_c, klobuchar_bds(*bds, *args), out)
    if qzs[0] is not None and qzs[1] is not None and is_j.any():
        out = np.where(is_j, klobuchar_gps(*qzs, *args), out)
    return out
