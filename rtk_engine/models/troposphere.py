"""Tropospheric delay: Saastamoinen zenith delays on a standard atmosphere, Niell mapping.

* Zenith delays: Saastamoinen (1972) with pressure, temperature and humidity from the standard
  atmosphere at the receiver's ellipsoidal height (geoid undulation neglected: <1 cm effect in SPP).
* Mapping: Niell (1996) hydrostatic and wet mapping functions (NMF): latitude-interpolated
  continued-fraction coefficients, a seasonal term for the hydrostatic part and a height correction.
  NMF is chosen over ``1/sin(el)`` because it stays within a few mm of ray tracing down to 3 degrees.

Units: radians for angles, metres for heights and delays; ``doy`` is the day of year (fractional ok).
"""
from __future__ import annotations

import math

import numpy as np

# Niell (1996) coefficient tables at latitudes 15, 30, 45, 60, 75 degrees
_NMF_LAT_DEG = np.array([15.0, 30.0, 45.0, 60.0, 75.0])
_NMF_H_AVG = np.array([[1.2769934e-3, 1.2683230e-3, 1.2465397e-3, 1.2196049e-3, 1.2045996e-3],
                       [2.9153695e-3, 2.9152299e-3, 2.9288445e-3, 2.9022565e-3, 2.9024912e-3],
                       [62.610505e-3, 62.837393e-3, 63.721774e-3, 63.824265e-3, 64.258455e-3]])
_NMF_H_AMP = np.array([[0.0, 1.2709626e-5, 2.6523662e-5, 3.4000452e-5, 4.1202191e-5],
                       [0.0, 2.1414979e-5, 3.0160779e-5, 7.2562722e-5, 11.723375e-5],
                       [0.0, 9.0128400e-5, 4.3497037e-5, 84.795348e-5, 170.37206e-5]])
_NMF_W = np.array([[5.8021897e-4, 5.6794847e-4, 5.8118019e-4, 5.9727542e-4, 6.1641693e-4],
                   [1.4275268e-3, 1.5138625e-3, 1.4572752e-3, 1.5007428e-3, 1.7599082e-3],
                   [4.3472961e-2, 4.6729510e-2, 4.3908931e-2, 4.4626982e-2, 5.4736038e-2]])
_NMF_HT = (2.53e-5, 5.49e-3, 1.14e-3)


def standard_atmosphere(h_m, humidity: float = 0.7):
    """Pressure [hPa], temperature [K] and water-vapour partial pressure [hPa] at height ``h_m``.

    Standard atmosphere (1013.25 hPa, 15 degC at sea level, lapse 6.5 K/km), heights clipped to
    [-100 m, 11 km] as the model is meaningless outside.
    """
    h = np.clip(np.asarray(h_m, float), -100.0, 11_000.0)
    pres = 1013.25 * (1.0 - 2.2557e-5 * h) ** 5.2568
    temp_c = 15.0 - 6.5e-3 * h
    temp = temp_c + 273.16
    e = 6.108 * humidity * np.exp((17.15 * temp - 4684.0) / (temp - 38.45))
    return pres, temp, e


def saastamoinen_zenith(lat_rad, h_m, humidity: float = 0.7):
    """Zenith hydrostatic and wet delays [m] (Saastamoinen, standard atmosphere)."""
    lat = np.asarray(lat_rad, float)
    h = np.asarray(h_m, float)
    pres, temp, e = standard_atmosphere(h, humidity)
    zhd = 0.0022768 * pres / (1.0 - 0.00266 * np.cos(2.0 * lat) - 0.00028 * np.clip(h, -100, 11_000) / 1e3)
    zwd = 0.002277 * (1255.0 / temp + 0.05) * e
    return zhd, zwd


def _marini(sin_el, a, b, c, top=None):
    """Marini continued fraction; ``top`` (its value at sin_el = 1) may be given, computed alike."""
    if top is None:
        top = 1.0 + a / (1.0 + b / (1.0 + c))
    return top / (sin_el + a / (sin_el + b / (sin_el + c)))


def _interp_lat(table, alat_deg):
    return np.stack([np.interp(alat_deg, _NMF_LAT_DEG, row) for row in table])


def niell_mapping(el_rad, lat_rad, h_m, doy):
    """Niell hydrostatic and wet mapping functions (dimensionless) for elevations ``el_rad``."""
    el = np.maximum(np.asarray(el_rad, float), np.deg2rad(1.0))
    lat = np.asarray(lat_rad, float)
    alat = np.abs(np.rad2deg(lat))
    # seasonal phase: reference day 28, shifted by half a year south of the equator
    phase = np.asarray(doy, float) - 28.0 + np.where(lat < 0.0, 365.25 / 2.0, 0.0)
    cos_t = np.cos(2.0 * np.pi * phase / 365.25)
    avg = _interp_lat(_NMF_H_AVG, alat)
    amp = _interp_lat(_NMF_H_AMP, alat)
    ah, bh, ch = avg - amp * cos_t
    sin_el = np.sin(el)
    mh = _marini(sin_el, ah, bh, ch)
    # height correction (per km of height above the sea)
    dm = (1.0 / sin_el - _marini(sin_el, *_NMF_HT)) * np.asarray(h_m, float) / 1e3
    mh = mh + dm
    aw, bw, cw = _interp_lat(_NMF_W, alat)
    mw = _marini(sin_el, aw, bw, cw)
    return mh, mw


def _coeffs_at(alat_deg: float) -> list[float]:
    """The nine Niell coefficients (hydrostatic average, amplitude, wet) at one |latitude| [deg],
    linearly interpolated in the tables as :func:`np.interp` does (held constant outside)."""
    xp = _NMF_LAT_LIST
    if alat_deg <= xp[0]:
        return [row[0] for row in _NMF_ROWS]
    if alat_deg >= xp[-1]:
        return [row[-1] for row in _NMF_ROWS]
    j = min(int((alat_deg - xp[0]) // 15.0), len(xp) - 2)
    j = j + 1 if alat_deg >= xp[j + 1] else j  # floor division rounding at a node
    dx = xp[j + 1] - xp[j]
    return [(row[j + 1] - row[j]) / dx * (alat_deg - xp[j]) + row[j] for row in _NMF_ROWS]


_NMF_LAT_LIST = _NMF_LAT_DEG.tolist()
_NMF_ROWS = np.vstack([_NMF_H_AVG, _NMF_H_AMP, _NMF_W]).tolist()


def _saastamoinen_point(lat_rad: float, h_m: float, humidity: float) -> tuple[float, float]:
    """:func:`saastamoinen_zenith` for one site in float arithmetic (a quarter of the cost), the same
    numbers: the same operations in the same order; ``exp`` and ``cos`` stay numpy's (its SIMD
    transcendental functions may differ from libm's in the last bit), ``**`` is libm's ``pow`` in both."""
    h = min(max(h_m, -100.0), 11_000.0)  # np.clip, NaN kept
    pres = 1013.25 * (1.0 - 2.2557e-5 * h) ** 5.2568
    temp = (15.0 - 6.5e-3 * h) + 273.16
    e = 6.108 * humidity * float(np.exp((17.15 * temp - 4684.0) / (temp - 38.45)))
    zhd = 0.0022768 * pres / (1.0 - 0.00266 * float(np.cos(2.0 * lat_rad)) - 0.00028 * h / 1e3)
    return zhd, 0.002277 * (1255.0 / temp + 0.05) * e


def tropo_delay_site(el_rad: np.ndarray, lat_rad: float, h_m: float, doy: float, humidity: float = 0.7):
    """:func:`tropo_delay` for one receiver (scalar latitude [rad], height [m], day of year) and
    elevations ``el_rad`` [S]: the site terms (zenith delays, Niell coefficients) in scalar
    arithmetic, once; the same model and the same numbers. Returns (delay_m, wet_mapping)."""
    zhd, zwd = _saastamoinen_point(float(lat_rad), float(h_m), humidity)
    phase = doy - 28.0 + (365.25 / 2.0 if lat_rad < 0.0 else 0.0)
    cos_t = math.cos(2.0 * math.pi * phase / 365.25)
    c = _coeffs_at(abs(math.degrees(lat_rad)))
    el = np.asarray(el_rad, float)
    sin_el = np.sin(np.maximum(el, _EL_MIN))
    # the three continued fractions (hydrostatic, its height term, wet) in one broadcast call; their
    # numerators (the same float operations as _marini's) in scalar arithmetic
    coef = ((c[0] - c[3] * cos_t, c[1] - c[4] * cos_t, c[2] - c[5] * cos_t), _NMF_HT, (c[6], c[7], c[8]))
    top = [1.0 + a / (1.0 + b / (1.0 + cc)) for a, b, cc in coef]
    abct = np.array([[f[0] for f in coef], [f[1] for f in coef], [f[2] for f in coef], top])[:, :, None]
    m_hyd, m_ht, mw = _marini(sin_el, abct[0], abct[1], abct[2], abct[3])
    mh = m_hyd + (1.0 / sin_el - m_ht) * h_m / 1e3
    return np.where(el > 0.0, zhd * mh + zwd * mw, np.nan), mw


_EL_MIN = float(np.deg2rad(1.0))


def tropo_delay(el_rad, lat_rad, h_m, doy, humidity: float = 0.7):
    """Slant tropospheric delay [m]: Saastamoinen zenith delays mapped with Niell.

    Returns ``(delay_m, wet_mapping)``; the wet mapping function is what an estimator of a
    zenith wet delay would use as partial derivative. Elevations <= 0 give NaN.
    """
    zhd, zwd = saastamoinen_zenith(lat_rad, h_m, humidity)
    mh, mw = niell_mapping(el_rad, lat_rad, h_m, doy)
    d = zhd * mh + zwd * mw
    return np.where(np.asarray(el_rad) > 0.0, d, np.nan), mw
