"""Error models of the simulator, vectorised over epochs x satellites (x signals).

Each function is pure: random draws come from the ``numpy.random.Generator`` passed in, and the
state of a time-correlated process is passed in and returned so that a long run can be simulated
in chunks with flat memory. Metres, seconds, radians; GPST int64 ns for time.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from ..constants import CLIGHT, GM
from ..gnss_time import NS
from ..models.ionosphere import klobuchar_gps
from ..models.troposphere import tropo_delay

EARTH_RADIUS_KM = 6371.0
IONO_SHELL_KM = 350.0
MS = 1e-3

# Klobuchar coefficients used when the navigation data carries none (a moderate, mid-cycle day)
DEFAULT_KLOBUCHAR_ALPHA = np.array([1.1176e-08, 7.4506e-09, -5.9605e-08, -5.9605e-08])
DEFAULT_KLOBUCHAR_BETA = np.array([9.0112e04, 4.9152e04, -1.3107e05, -3.2768e05])


# ----------------------------------------------------------------------------- signal strength
def cn0_dbhz(el_rad, cn0_zenith_dbhz: float, cn0_span_db: float) -> np.ndarray:
    """Carrier-to-noise density [dB-Hz]: ``cn0_zenith - span * (1 - sin el)^2``."""
    s = np.sin(np.clip(np.asarray(el_rad, float), 0.0, np.pi / 2))
    return cn0_zenith_dbhz - cn0_span_db * (1.0 - s) ** 2


def noise_scale(el_rad, cn0_zenith_dbhz: float, cn0_span_db: float) -> np.ndarray:
    """Factor by which noise and multipath grow from zenith: ``10^((cn0_zenith - cn0(el)) / 20)``
    (tracking-loop jitter is proportional to 1/sqrt(C/N0)); 1 at zenith, ~4.2 at 10 deg with the
    default 18 dB span."""
    return 10.0 ** ((cn0_zenith_dbhz - cn0_dbhz(el_rad, cn0_zenith_dbhz, cn0_span_db)) / 20.0)


# ----------------------------------------------------------------------------- random processes
def gauss_markov(rng: np.random.Generator, n_epochs: int, shape: tuple[int, ...], dt_s: float, tau_s: float,
                 state: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Unit-variance first-order Gauss-Markov process ``[n_epochs, *shape]`` with correlation time
    ``tau_s``, continuing from ``state`` (the last sample, or None to start stationary).
    Returns ``(samples, last_sample)``."""
    a = float(np.exp(-dt_s / tau_s)) if tau_s > 0 else 0.0
    if state is None:
        state = rng.standard_normal(shape)
    w = rng.standard_normal((n_epochs,) + tuple(shape))
    if n_epochs == 0:
        return w, state
    x, _ = lfilter([np.sqrt(1.0 - a * a)], [1.0, -a], w, axis=0, zi=(a * state)[None])
    return x, x[-1].copy()


def random_walk(rng: np.random.Generator, n_epochs: int, shape: tuple[int, ...], step_sigma: float,
                state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Random walk ``[n_epochs, *shape]`` with increments N(0, step_sigma) continuing from ``state``."""
    steps = rng.standard_normal((n_epochs,) + tuple(shape)) * step_sigma
    x = state + np.cumsum(steps, axis=0)
    return x, (x[-1].copy() if n_epochs else np.asarray(state, float))


def receiver_clock(rng: np.random.Generator, n_epochs: int, dt_s: float, drift_rw_per_sqrt_s: float,
                   state: tuple[float, float], ms_jumps: bool) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Receiver clock offset [s] and drift [s/s] at ``n_epochs`` epochs spaced ``dt_s``.

    ``state = (bias_s, drift_sps)`` at the first epoch. The drift follows a random walk
    (``drift_rw_per_sqrt_s`` per sqrt(s)); the free-running bias integrates it. With ``ms_jumps`` the
    receiver steers its clock like many OEM boards: whole milliseconds are removed so that the
    reported offset stays within +-0.5 ms. Returns ``(bias[E], drift[E], state for the next epoch)``.
    """
    bias0, drift0 = state
    if n_epochs == 0:
        return np.zeros(0), np.zeros(0), state
    steps = rng.standard_normal(n_epochs) * drift_rw_per_sqrt_s * np.sqrt(dt_s)
    drift = drift0 + np.concatenate([[0.0], np.cumsum(steps[:-1])])
    # trapezoidal integration: the bias change over an interval is the mean drift at its ends, so a
    # Doppler (instantaneous drift) averaged over two epochs matches the phase difference exactly
    mid = (drift[:-1] + drift[1:]) / 2 * dt_s
    bias = bias0 + np.concatenate([[0.0], np.cumsum(mid)])
    drift_next = drift[-1] + steps[-1]
    nxt = (float(bias[-1] + (drift[-1] + drift_next) / 2 * dt_s), float(drift_next))
    if ms_jumps:
        bias = bias - MS * np.round(bias / MS)
    return bias, drift, nxt


# ----------------------------------------------------------------------------- atmosphere
def troposphere_m(el_rad, lat_rad, h_m, t_gpst_ns, residual_zwd_m) -> np.ndarray:
    """True slant tropospheric delay [m]: Saastamoinen + Niell (``models.troposphere``) plus a
    residual zenith wet delay ``residual_zwd_m`` (broadcast to the elevations) times the wet mapping."""
    doy = (np.asarray(t_gpst_ns, np.int64) // (86_400 * NS) + 5) % 365.25 + 1.0  # GPS epoch is day 6
    el = np.asarray(el_rad, float)
    lat = np.broadcast_to(np.asarray(lat_rad, float), el.shape)  # Niell interpolates per element of lat
    delay, mw = tropo_delay(el, lat, h_m, doy)
    return delay + np.asarray(residual_zwd_m, float) * mw


def pierce_point(lat_rad, lon_rad, az_rad, el_rad, shell_km: float = IONO_SHELL_KM):
    """Ionospheric pierce point (lat, lon) [rad] on a spherical shell, and the obliquity factor."""
    r = EARTH_RADIUS_KM / (EARTH_RADIUS_KM + shell_km)
    el = np.asarray(el_rad, float)
    psi = np.pi / 2 - el - np.arcsin(r * np.cos(el))
    lat = np.asarray(lat_rad, float)
    lat_i = np.arcsin(np.clip(np.sin(lat) * np.cos(psi) + np.cos(lat) * np.sin(psi) * np.cos(az_rad), -1, 1))
    lon_i = np.asarray(lon_rad, float) + np.arcsin(np.clip(np.sin(psi) * np.sin(az_rad) / np.cos(lat_i), -1, 1))
    obliquity = 1.0 / np.sqrt(1.0 - (r * np.cos(el)) ** 2)
    return lat_i, lon_i, obliquity


def ionosphere_l1_m(t_gpst_ns, lat_rad, lon_rad, az_rad, el_rad, alpha, beta, scale: float,
                    centre_lat_rad: float, centre_lon_rad: float, gradient_per_1000km: float,
                    gradient_azimuth_rad: float) -> np.ndarray:
    """True slant ionospheric group delay on L1 (1575.42 MHz) [m].

    Klobuchar (GPS coefficients ``alpha``/``beta``) at the station, times ``scale``, times
    ``exp(k . d)`` where ``d`` is the pierce point's horizontal offset [km] from the network centre
    and ``k`` a relative gradient of ``gradient_per_1000km`` per 1000 km towards ``gradient_azimuth``.
    One field for every system and station, so nearby stations see a smooth residual. The delay of a
    signal at ``f`` is this times ``(1575.42 MHz / f)^2``; code is delayed, phase advanced.
    """
    klob = klobuchar_gps(alpha, beta, t_gpst_ns, lat_rad, lon_rad, az_rad, el_rad)
    if gradient_per_1000km == 0.0:
        return scale * klob
    lat_i, lon_i, _ = pierce_point(lat_rad, lon_rad, az_rad, el_rad)
    d_north = EARTH_RADIUS_KM * (lat_i - centre_lat_rad)
    d_east = EARTH_RADIUS_KM * np.cos(centre_lat_rad) * (np.mod(lon_i - centre_lon_rad + np.pi, 2 * np.pi) - np.pi)
    along = d_north * np.cos(gradient_azimuth_rad) + d_east * np.sin(gradient_azimuth_rad)
    return scale * klob * np.exp(gradient_per_1000km * along / 1000.0)


def shapiro_m(sat_ecef_m, rcv_ecef_m, gm: float = GM["G"]) -> np.ndarray:
    """Gravitational (Shapiro) signal delay [m]: ``2GM/c^2 ln((rs + rr + rho) / (rs + rr - rho))``."""
    rs = np.linalg.norm(sat_ecef_m, axis=-1)
    rr = np.linalg.norm(rcv_ecef_m, axis=-1)
    rho = np.linalg.norm(np.asarray(sat_ecef_m) - np.asarray(rcv_ecef_m), axis=-1)
    return 2.0 * gm / CLIGHT**2 * np.log((rs + rr + rho) / (rs + rr - rho))


# ----------------------------------------------------------------------------- events
def bernoulli_events(rng: np.random.Generator, shape: tuple[int, ...], rate_per_h: float, dt_s: float) -> np.ndarray:
    """Boolean events with probability ``rate_per_h * dt_s / 3600`` per element."""
    p = rate_per_h * dt_s / 3600.0
    if p <= 0.0:
        return np.zeros(shape, bool)
    return rng.random(shape) < min(p, 1.0)


def outage_mask(rng: np.random.Generator, n_epochs: int, n_sats: int, rate_per_h: float, dt_s: float,
                max_epochs: int, carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Short losses of lock ``[E, S]`` (True = not tracked) starting at random epochs and lasting
    1..``max_epochs`` epochs; ``carry[S]`` is the number of outage epochs still pending from the
    previous chunk. Returns ``(mask, carry for the next chunk)``."""
    starts = bernoulli_events(rng, (n_epochs, n_sats), rate_per_h, dt_s)
    length = np.where(starts, rng.integers(1, max(max_epochs, 1) + 1, (n_epochs, n_sats)), 0)
    length[0] = np.maximum(length[0], carry)
    # remaining outage length propagates forward: r[e] = max(length[e], r[e-1] - 1)
    idx = np.arange(n_epochs)[:, None]
    end = np.where(length > 0, idx + length, -1)  # first epoch after each outage
    reach = np.maximum.accumulate(end, axis=0)
    mask = reach > idx
    new_carry = np.maximum(reach[-1] - n_epochs, 0) if n_epochs else carry
    return mask, new_carry
