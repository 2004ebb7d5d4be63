"""Solid-earth tide displacement of a ground station (IERS Conventions 2010, ch. 7.1.1, simplified).

Step 1 (frequency independent): degree-2 and degree-3 Love/Shida numbers for the Sun and the
Moon, with the latitude dependence of h2/l2. Step 2: only the dominant diurnal K1 correction to
the radial displacement (about 1.2 cm amplitude at mid latitudes); the other step-2 terms are
below 5 mm and are neglected. The result is in the conventional *tide-free* system, which is the
system of ITRF/IGS coordinates, so the displacement is simply added to the station's ITRF position.

Sun: :func:`rtk_engine.orbits.precise.sun_position_ecef`. Moon: low-precision analytical series
(Montenbruck & Gill, *Satellite Orbits*, 3.3.2: ~10 arcsec, ~1000 km in distance, giving < 1 mm
of tide error). Units: metres, ECEF; time GPST int64 ns.
"""
from __future__ import annotations

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.orbits.precise import sun_position_ecef

NS = gnss_time.NS
GM_EARTH = 3.986004418e14  # [m^3/s^2]
GM_SUN = 1.32712442076e20
GM_MOON = 4.9028e12
R_EARTH = 6_378_136.6  # [m] IERS equatorial radius
ARCSEC = np.pi / 180.0 / 3600.0


def _days_since_j2000(t_gpst_ns) -> np.ndarray:
    """Days since J2000.0 in UTC (UT1 ~ UTC within a second: negligible for tides)."""
    j2000 = gnss_time.from_calendar(2000, 1, 1, 12)
    return (gnss_time.gpst_to_utc(np.asarray(t_gpst_ns, np.int64)) - j2000) / NS / 86_400.0


def _gmst_rad(n_days) -> np.ndarray:
    return np.radians(np.mod(280.46061837 + 360.98564736629 * n_days, 360.0))


def moon_position_ecef(t_gpst_ns) -> np.ndarray:
    """Approximate Moon position [..., 3], ECEF metres (mean equinox of date rotated by GMST)."""
    n = _days_since_j2000(t_gpst_ns)
    T = n / 36_525.0
    L0 = np.radians(218.31617 + 481267.88088 * T)  # mean longitude, equinox of date
    lm = np.radians(134.96292 + 477198.86753 * T)  # Moon mean anomaly
    ls = np.radians(357.52543 + 35999.04944 * T)  # Sun mean anomaly
    F = np.radians(93.27283 + 483202.01873 * T)  # argument of latitude
    D = np.radians(297.85027 + 445267.11135 * T)  # elongation
    lam = L0 + ARCSEC * (22640 * np.sin(lm) + 769 * np.sin(2 * lm) - 4586 * np.sin(lm - 2 * D)
                         + 2370 * np.sin(2 * D) - 668 * np.sin(ls) - 412 * np.sin(2 * F)
                         - 212 * np.sin(2 * lm - 2 * D) - 206 * np.sin(lm + ls - 2 * D)
                         + 192 * np.sin(lm + 2 * D) - 165 * np.sin(ls - 2 * D) + 148 * np.sin(lm - ls)
                         - 125 * np.sin(D) - 110 * np.sin(lm + ls) - 55 * np.sin(2 * F - 2 * D))
    beta = ARCSEC * (18520 * np.sin(F + lam - L0 + ARCSEC * (412 * np.sin(2 * F) + 541 * np.sin(ls)))
                     - 526 * np.sin(F - 2 * D) + 44 * np.sin(lm + F - 2 * D) - 31 * np.sin(-lm + F - 2 * D)
                     - 25 * np.sin(-2 * lm + F) - 23 * np.sin(ls + F - 2 * D) + 21 * np.sin(-lm + F)
                     + 11 * np.sin(-ls + F - 2 * D))
    r = 1e3 * (385000.0 - 20905 * np.cos(lm) - 3699 * np.cos(2 * D - lm) - 2956 * np.cos(2 * D)
               - 570 * np.cos(2 * lm) + 246 * np.cos(2 * lm - 2 * D) - 205 * np.cos(ls - 2 * D)
               - 171 * np.cos(lm + 2 * D) - 152 * np.cos(lm + ls - 2 * D))
    eps = np.radians(23.43929111 - 0.0130042 * T)
    xe = r * np.cos(beta) * np.cos(lam)
    ye = r * np.cos(beta) * np.sin(lam)
    ze = r * np.sin(beta)
    x, y, z = xe, np.cos(eps) * ye - np.sin(eps) * ze, np.sin(eps) * ye + np.cos(eps) * ze
    g = _gmst_rad(n)
    c, s = np.cos(g), np.sin(g)
    return np.stack([c * x + s * y, -s * x + c * y, z], axis=-1)


def _body_term(r_hat, body, gm_ratio, h2, l2, h3, l3):
    """Degree-2 and -3 displacement [..., 3] caused by one body at ECEF ``body`` [..., 3]."""
    dist = np.linalg.norm(body, axis=-1)
    b_hat = body / dist[..., None]
    c = np.einsum("...i,...i->...", b_hat, r_hat)
    perp = b_hat - c[..., None] * r_hat
    k2 = gm_ratio * R_EARTH**4 / dist**3
    k3 = gm_ratio * R_EARTH**5 / dist**4
    d2 = k2[..., None] * (h2[..., None] * r_hat * (1.5 * c**2 - 0.5)[..., None] + 3.0 * l2[..., None] * c[..., None] * perp)
    d3 = k3[..., None] * (h3 * r_hat * (2.5 * c**3 - 1.5 * c)[..., None] + l3 * (7.5 * c**2 - 1.5)[..., None] * perp)
    return d2 + d3


def solid_earth_tide_ecef(t_gpst_ns, rcv_ecef_m) -> np.ndarray:
    """Solid-earth tide displacement [..., 3] (ECEF metres) of stations ``rcv_ecef_m`` at GPST times.

    ``t_gpst_ns`` [...] and ``rcv_ecef_m`` [..., 3] broadcast against each other. Add the result to
    the (tide-free) station coordinate to get its instantaneous position.
    """
    t = np.asarray(t_gpst_ns, np.int64)
    r = np.asarray(rcv_ecef_m, float)
    r, _ = np.broadcast_arrays(r, np.empty(t.shape + (3,)))
    t = np.broadcast_to(t, r.shape[:-1])
    r_hat = r / np.linalg.norm(r, axis=-1, keepdims=True)
    sin_lat = r_hat[..., 2]  # geocentric latitude (the IERS formula's phi)
    p2 = (3.0 * sin_lat**2 - 1.0) / 2.0
    h2 = 0.6078 - 0.0006 * p2
    l2 = 0.0847 + 0.0002 * p2
    h3, l3 = 0.292, 0.015
    d = (_body_term(r_hat, sun_position_ecef(t), GM_SUN / GM_EARTH, h2, l2, h3, l3)
         + _body_term(r_hat, moon_position_ecef(t), GM_MOON / GM_EARTH, h2, l2, h3, l3))
    # step 2, K1 in-phase radial term: -0.0253 * sin(phi) cos(phi) sin(theta_g + lambda) [m]
    lon = np.arctan2(r[..., 1], r[..., 0])
    cos_lat = np.sqrt(np.maximum(0.0, 1.0 - sin_lat**2))
    du = -0.0253 * sin_lat * cos_lat * np.sin(_gmst_rad(_days_since_j2000(t)) + lon)
    return d + du[..., None] * r_hat
