"""Synthesis of code, phase, Doppler and C/N0 for one or several stations from broadcast ephemerides.

Signal model for satellite s, signal f of frequency f_f (wavelength lambda_f), receiver epoch tag
t_r (GPST on the receiver's clock) and true reception time t = t_r - dt_r:

    tau       solves  c tau = | R3(omega_e tau) x_s(t - tau) - x_r |           (light time, Earth rotation)
    rho       = c tau                                                           (geometric range)
    P_f       = rho + c (dt_r - dt_s(t - tau)) + c TGD_f + T + I_1 (f_1/f_f)^2 + S + MP_P + e_P
    L_f lam_f = rho + c (dt_r - dt_s(t - tau))          + T - I_1 (f_1/f_f)^2 + S + MP_L + e_L + lam_f N_f
    D_f       = -(d rho/dt + c (ddt_r - ddt_s)) / lam_f + e_D

with ``x_s``, ``dt_s`` (polynomial + periodic relativistic term) and the group delay ``TGD_f`` exactly
as the broadcast model gives them (``orbits.broadcast``), so a receiver applying the same broadcast
model sees no orbit or clock error. ``T`` troposphere, ``I_1`` the L1 ionospheric delay, ``S`` the
Shapiro delay, ``MP`` multipath, ``e`` white noise, ``N`` an integer drawn per tracking arc.
Everything is vectorised over epochs x satellites x signals; a run proceeds in chunks of
``SimConfig.chunk_epochs`` epochs carrying the random processes forward, so memory stays flat.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from typing import Iterator, Mapping, NamedTuple

import numpy as np

from ..constants import CLIGHT, GM, OMEGA_E_DEFAULT
from ..geodesy.ellipsoid import ecef_to_geodetic, enu_rotation
from .. import gnss_time as gt
from ..gnss_time import NS
from ..models.geometry import az_el_from_los, rotate_for_travel_time
from ..nav import NavData
from ..obs import ObsBlock, ObsHeader
from ..satellites import is_bds_geo, is_bds_igso, systems_of
from ..signals import frequencies_hz
from . import errors as err
from .scenario import SimConfig, satellite_transmits

F_L1_HZ = 1575.42e6
_GUESS_TAU_MEO_S = 0.075
_GUESS_TAU_GEO_S = 0.125


class SimulationError(ValueError):
    """Bad simulation input (no satellites, empty span, ...)."""


@dataclass
class StationSim:
    """Simulated observations of one station with their truth.

    ``rcv_clock_s[E]`` is the true receiver clock offset (epoch tag minus true GPST, including ms jumps).
    ``components`` (only when asked for) holds the truth terms: ``geometric_range_m``, ``sat_clock_m``,
    ``tropo_m``, ``iono_l1_m``, ``shapiro_m``, ``elevation_rad`` ``[E, S]`` and ``group_delay_m``,
    ``code_noise_m``, ``code_multipath_m``, ``phase_noise_m``, ``phase_multipath_m``, ``ambiguity_cyc``
    ``[E, S, F]``, all NaN where not observed.
    """

    name: str
    block: ObsBlock
    truth_ecef_m: np.ndarray
    rcv_clock_s: np.ndarray
    components: dict[str, np.ndarray] = field(default_factory=dict)


class StationResult(NamedTuple):
    """What :func:`simulate_network` returns per station: unpack as ``block, truth_ecef_m = result``."""

    block: ObsBlock
    truth_ecef_m: np.ndarray


# ----------------------------------------------------------------------------- geometry
def _sat_states(nav: NavData, sats: np.ndarray, t_ns: np.ndarray, eph_index: np.ndarray | None = None):
    from ..orbits.broadcast import sat_states

    return sat_states(nav, sats, t_ns, eph_index=eph_index)  # default choice, as a receiver-side SPP makes it


def _select(nav: NavData, sats: np.ndarray, t_ns: np.ndarray) -> np.ndarray:
    from ..orbits.ephemeris_select import select

    return select(nav, sats, t_ns)


@dataclass
class _States:
    pos: np.ndarray
    vel: np.ndarray
    clock_s: np.ndarray
    drift_sps: np.ndarray
    valid: np.ndarray
    eph_index: np.ndarray


def _changeover_times(nav: NavData, sats: np.ndarray, ea: np.ndarray, eb: np.ndarray, lo: np.ndarray,
                      hi: np.ndarray) -> np.ndarray:
    """GPST ns at which the ephemeris choice changes from record ``ea`` to ``eb`` (bisection on the
    selection rule itself, once per distinct pair, to 1 ms)."""
    key = ea.astype(np.int64) * (len(nav.kepler) + 1) + eb
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    a, b = lo[first].copy(), hi[first].copy()
    sat_u, ea_u = sats[first], ea[first]
    for _ in range(40):
        if np.all(b - a <= 1_000_000):
            break
        mid = a + (b - a) // 2
        still_a = _select(nav, sat_u, mid) == ea_u
        a = np.where(still_a, mid, a)
        b = np.where(still_a, b, mid)
    return b[inv.ravel()]


def smooth_states(nav: NavData, sats: np.ndarray, t_ns: np.ndarray, window_s: float) -> _States:
    """Broadcast states with ephemeris changeovers blended over ``window_s`` (0: plain broadcast).

    A receiver switching to a new ephemeris sees the orbit and clock step by cm to dm (Galileo every
    10 min, BeiDou every hour); a real signal has no such step. Where the records chosen at
    ``t -+ window/2`` differ, position, velocity and clock are blended with a smoothstep weight centred
    on the changeover (found by bisection on the selection rule), and the
    blend's time derivative is added to velocity and clock drift so Doppler stays consistent.
    """
    if window_s <= 0:
        st = _sat_states(nav, sats, t_ns)
        return _States(st.pos_ecef_m, st.vel_ecef_mps, st.clock_s, st.clock_drift_sps, np.asarray(st.valid, bool),
                       np.asarray(st.eph_index))
    half = np.int64(round(window_s / 2 * NS))
    ea = _select(nav, sats, t_ns - half)
    eb = _select(nav, sats, t_ns + half)
    base = np.where(ea >= 0, ea, eb)
    st = _sat_states(nav, sats, t_ns, eph_index=base)
    pos, vel = st.pos_ecef_m.copy(), st.vel_ecef_mps.copy()
    clk, drift = st.clock_s.copy(), st.clock_drift_sps.copy()
    mix = np.flatnonzero((ea >= 0) & (eb >= 0) & (ea != eb) & np.asarray(st.valid, bool))
    if mix.size:
        sb = _sat_states(nav, sats[mix], t_ns[mix], eph_index=eb[mix])
        ok = np.asarray(sb.valid, bool)
        mix, ia = mix[ok], np.flatnonzero(ok)
        t_sw = _changeover_times(nav, sats[mix], ea[mix], eb[mix], t_ns[mix] - half, t_ns[mix] + half)
        x = np.clip((t_ns[mix] - t_sw) / NS / window_s + 0.5, 0.0, 1.0)
        w = x * x * (3.0 - 2.0 * x)
        dw = 6.0 * x * (1.0 - x) / window_s
        dp = sb.pos_ecef_m[ia] - pos[mix]
        dv = sb.vel_ecef_mps[ia] - vel[mix]
        dc = sb.clock_s[ia] - clk[mix]
        dd = sb.clock_drift_sps[ia] - drift[mix]
        vel[mix] += w[:, None] * dv + dw[:, None] * dp
        pos[mix] += w[:, None] * dp
        drift[mix] += w * dd + dw * dc
        clk[mix] += w * dc
    return _States(pos, vel, clk, drift, np.asarray(st.valid, bool), np.asarray(st.eph_index))


def group_delay_table_m(nav: NavData, codes_by_system: Mapping[str, tuple[str, ...]]) -> np.ndarray:
    """True code group delay ``c T`` [m] per (Kepler record, slot) ``[N, F]``, T as ``orbits.broadcast.group_delay_s``.

    Where the record's message type does not carry the value (B1C/B2a with a D1/D2 record, GPS L5), the
    median of the satellite's other records is used (TGD/ISC change rarely), else 0.
    """
    from ..orbits.broadcast import group_delay_s

    k = nav.kepler
    n_f = max(len(v) for v in codes_by_system.values())
    table = np.full((len(k), n_f), np.nan)
    sysc = k.sat.astype("<U1")
    for sys_, codes in codes_by_system.items():
        rows = np.flatnonzero(sysc == sys_)
        if rows.size == 0:
            continue
        for f, code in enumerate(codes):
            table[rows, f] = group_delay_s(nav, rows, sys_, code)
    sat_u, inv = np.unique(k.sat, return_inverse=True)
    per_sat = np.zeros((sat_u.size, n_f))
    for i in range(sat_u.size):  # once per satellite, not per epoch
        vals = table[inv == i]
        fin = np.isfinite(vals)
        per_sat[i] = [np.median(vals[fin[:, f], f]) if fin[:, f].any() else np.nan for f in range(n_f)]
    filled = np.where(np.isfinite(table), table, per_sat[inv])
    return np.nan_to_num(filled, nan=0.0) * CLIGHT


@dataclass
class _Geometry:
    """Light-time geometry of one station over a chunk, ``[E, S]`` (NaN where not computed)."""

    rho_m: np.ndarray
    range_rate_mps: np.ndarray
    az_rad: np.ndarray
    el_rad: np.ndarray
    sat_clock_s: np.ndarray
    sat_clock_drift_sps: np.ndarray
    shapiro_m: np.ndarray
    eph_index: np.ndarray
    ok: np.ndarray  # computed and valid


def _split_time(t_ns: np.ndarray, offset_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact instant ``t_ns + offset_s`` as (int64 ns, remainder in s with |remainder| <= 0.5 ns)."""
    off_ns = np.rint(offset_s * NS)
    return t_ns + off_ns.astype(np.int64), offset_s - off_ns / NS


def _range_rate_exact(p_tx: np.ndarray, v_tx: np.ndarray, tau_s: np.ndarray, los: np.ndarray) -> np.ndarray:
    """d rho / dt [m/s] for a static receiver, differentiating ``rho = |R3(w rho/c) x_s(t - rho/c) - x_r|``:
    with ``a = los . R3 v`` and ``b = los . (dR3/dtheta x_s) w / c``, ``rho' = a / (1 + a / c - b)``."""
    th = OMEGA_E_DEFAULT * tau_s
    c, s = np.cos(th), np.sin(th)
    rv = np.stack([c * v_tx[:, 0] + s * v_tx[:, 1], -s * v_tx[:, 0] + c * v_tx[:, 1], v_tx[:, 2]], axis=-1)
    dp = np.stack([-s * p_tx[:, 0] + c * p_tx[:, 1], -c * p_tx[:, 0] - s * p_tx[:, 1], np.zeros_like(th)], axis=-1)
    a = np.einsum("ij,ij->i", los, rv)
    b = np.einsum("ij,ij->i", los, dp) * OMEGA_E_DEFAULT / CLIGHT
    return a / (1.0 + a / CLIGHT - b)


def light_time_geometry(nav: NavData, sats: np.ndarray, rcv_ecef_m: np.ndarray, t_ns: np.ndarray,
                        t_frac_s: np.ndarray, min_el_rad: float, smooth_window_s: float = 0.0) -> _Geometry:
    """Solve the transmission time for every epoch x satellite and return the geometry.

    The true reception instant is ``t_ns[E] + t_frac_s[E]``. A first broadcast evaluation at a fixed
    travel-time guess finds the satellites above ``min_el_rad``; only those are evaluated again at
    ``t - tau1``, and a velocity step of <200 ns moves them to the converged ``t - tau2`` (the
    residual error is far below a micrometre). Positions are rotated by ``omega_e tau`` into the ECEF
    frame of the reception instant.
    """
    n_e, n_s = t_ns.size, sats.size
    rr = np.asarray(rcv_ecef_m, float)
    guess = np.where(is_bds_geo(sats) | is_bds_igso(sats), _GUESS_TAU_GEO_S, _GUESS_TAU_MEO_S)
    sat_flat = np.broadcast_to(sats[None, :], (n_e, n_s)).ravel()
    frac = np.broadcast_to(t_frac_s[:, None], (n_e, n_s))
    tt, rem = _split_time(np.broadcast_to(t_ns[:, None], (n_e, n_s)), frac - guess[None, :])
    st = _sat_states(nav, sat_flat, tt.ravel())
    p1 = st.pos_ecef_m.reshape(n_e, n_s, 3) + st.vel_ecef_mps.reshape(n_e, n_s, 3) * rem[..., None]
    tau0 = np.broadcast_to(guess[None, :], (n_e, n_s))
    p1r = rotate_for_travel_time(p1, tau0)
    d1 = p1r - rr
    r1 = np.linalg.norm(d1, axis=-1)
    up = rr / np.linalg.norm(rr)  # geocentric up: within 0.2 deg of the ellipsoidal normal
    with np.errstate(invalid="ignore"):
        el_rough = np.arcsin(np.clip((d1 @ up) / r1, -1, 1))
    cand = st.valid.reshape(n_e, n_s) & np.isfinite(r1) & (el_rough > min_el_rad - np.deg2rad(1.0))
    ie, is_ = np.nonzero(cand)

    out = {k: np.full((n_e, n_s), np.nan) for k in ("rho", "rate", "az", "el", "clk", "drift", "shap")}
    eph = np.full((n_e, n_s), -1, np.int64)
    if ie.size:
        tau1 = r1[ie, is_] / CLIGHT
        t2, rem2 = _split_time(t_ns[ie], t_frac_s[ie] - tau1)
        st2 = smooth_states(nav, sats[is_], t2, smooth_window_s)
        v2 = st2.vel
        p2 = st2.pos + v2 * rem2[:, None]
        tau2 = np.linalg.norm(rotate_for_travel_time(p2, tau1) - rr, axis=-1) / CLIGHT
        p = p2 + v2 * (tau1 - tau2)[:, None]  # satellite at t - tau2, ECEF of the transmission instant
        pr = rotate_for_travel_time(p, tau2)
        d = pr - rr
        rho = np.linalg.norm(d, axis=-1)
        los = d / rho[:, None]
        az, el, _ = az_el_from_los(los, np.broadcast_to(rr, los.shape))
        rate = _range_rate_exact(p, v2, tau2, los)
        clk = st2.clock_s + st2.drift_sps * (rem2 + tau1 - tau2)
        gm = np.where(systems_of(sats[is_]) == "G", GM["G"], GM["E"])
        for k, v in (("rho", rho), ("rate", rate), ("az", az), ("el", el), ("clk", clk),
                     ("drift", st2.drift_sps), ("shap", err.shapiro_m(pr, rr, gm))):
            out[k][ie, is_] = v
        ok2 = np.asarray(st2.valid, bool)
        eph[ie, is_] = np.where(ok2, st2.eph_index, -1)
    ok = (eph >= 0) & np.isfinite(out["rho"])
    return _Geometry(out["rho"], out["rate"], out["az"], out["el"], out["clk"], out["drift"], out["shap"], eph, ok)


# ----------------------------------------------------------------------------- station process
class _StationProcess:
    """Random processes and tracking state of one station, advanced chunk by chunk."""

    def __init__(self, name: str, ecef_m: np.ndarray, sats: np.ndarray, n_slots: int, config: SimConfig,
                 seed: int, rate_s: float, zwd_network_m: float):
        self.name = name
        self.ecef = np.asarray(ecef_m, float).reshape(3)
        self.llh = ecef_to_geodetic(self.ecef)
        self.cfg = config
        self.em = config.errors
        self.dt = rate_s
        self.rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]))
        em, rng = self.em, self.rng
        n_s = sats.size
        self.clock_state = (float(rng.uniform(-1, 1) * em.rcv_clock_bias_s), float(em.rcv_clock_drift_sps))
        self.zwd = np.array(zwd_network_m + rng.standard_normal() * em.tropo_station_zwd_m)
        self.mp_code_state = None
        self.mp_phase_state = None
        self.tracked = np.zeros(n_s, bool)
        self.ambiguity = np.zeros((n_s, n_slots), np.int64)
        self.outage_carry = np.zeros(n_s, np.int64)
        self.epoch_count = 0

    def receiver_clock(self, n_e: int):
        bias, drift, self.clock_state = err.receiver_clock(self.rng, n_e, self.dt, self.em.rcv_clock_drift_rw_per_sqrt_s,
                                                          self.clock_state, self.em.rcv_clock_ms_jumps)
        return bias, drift

    def residual_zwd(self, n_e: int) -> np.ndarray:
        step = self.em.tropo_zwd_random_walk_m_per_sqrt_h * np.sqrt(self.dt / 3600.0)
        x, self.zwd = err.random_walk(self.rng, n_e, (), step, self.zwd)
        return x

    def multipath(self, n_e: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        em = self.em
        code = phase = np.zeros((n_e,) + shape)
        if em.multipath_code_m > 0:
            code, self.mp_code_state = err.gauss_markov(self.rng, n_e, shape, self.dt, em.multipath_tau_s,
                                                        self.mp_code_state)
            code = code * em.multipath_code_m
        if em.multipath_phase_m > 0:
            phase, self.mp_phase_state = err.gauss_markov(self.rng, n_e, shape, self.dt, em.multipath_tau_s,
                                                          self.mp_phase_state)
            phase = phase * em.multipath_phase_m
        return code, phase

    def arcs(self, tracked: np.ndarray, n_slots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer ambiguities ``[E, S, F]``, arc starts and cycle-slip epochs ``[E, S]``."""
        em, rng = self.em, self.rng
        n_e, n_s = tracked.shape
        prev = np.vstack([self.tracked[None, :], tracked[:-1]])
        start = tracked & ~prev
        slip = err.bernoulli_events(rng, (n_e, n_s), em.cycle_slips_per_h, self.dt) & tracked & ~start
        m = em.cycle_slip_max_cycles
        jump = rng.integers(1, m + 1, (n_e, n_s, n_slots)) * rng.choice([-1, 1], (n_e, n_s, n_slots))
        c = np.cumsum(np.where(slip[..., None], jump, 0), axis=0)
        draws = rng.integers(-em.ambiguity_max_cycles, em.ambiguity_max_cycles + 1, (n_e, n_s, n_slots))
        idx = np.arange(n_e)[:, None]
        last = np.maximum.accumulate(np.where(start, idx, -1), axis=0)  # last arc start at or before e
        li = np.clip(last, 0, None)[..., None]
        d_at = np.take_along_axis(draws, li, axis=0)
        c_at = np.take_along_axis(c, li, axis=0)
        n = np.where(last[..., None] >= 0, d_at + c - c_at, self.ambiguity[None] + c)
        self.tracked = tracked[-1].copy() if n_e else self.tracked
        self.ambiguity = n[-1].copy() if n_e else self.ambiguity
        return n, start, slip


# ----------------------------------------------------------------------------- network
def candidate_satellites(nav: NavData, config: SimConfig) -> np.ndarray:
    """Sorted satellites of the configured systems that the navigation data has and that transmit at
    least one configured signal."""
    sats = np.unique(nav.kepler.sat.astype("<U3"))
    sats = sats[np.isin(systems_of(sats), list(config.systems))]
    sig = config.active_signals()
    keep = [any(satellite_transmits(s, c) for c in sig[s[0]]) for s in sats.tolist()]
    return sats[np.asarray(keep, bool)] if sats.size else sats


def _slot_table(sats: np.ndarray, signals: dict[str, tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes ``[S, F]`` ("" unused), availability ``[S, F]`` and F."""
    n_f = max(len(v) for v in signals.values())
    codes = np.full((sats.size, n_f), "", "<U2")
    for i, s in enumerate(sats.tolist()):
        for f, c in enumerate(signals[s[0]]):
            codes[i, f] = c
    avail = np.array([[c != "" and satellite_transmits(s, c) for c in row] for s, row in zip(sats.tolist(), codes)],
                     bool).reshape(sats.size, n_f)
    return codes, avail, n_f


def _klobuchar(nav: NavData) -> tuple[np.ndarray, np.ndarray, bool]:
    a, b = nav.iono.get("GPSA"), nav.iono.get("GPSB")
    if a is None or b is None or len(a) < 4 or len(b) < 4:
        return err.DEFAULT_KLOBUCHAR_ALPHA, err.DEFAULT_KLOBUCHAR_BETA, False
    return np.asarray(a, float)[:4], np.asarray(b, float)[:4], True


def iter_network(nav: NavData, stations_ecef: Mapping[str, np.ndarray], start_gpst_ns: int, duration_s: float,
                 rate_s: float, config: SimConfig | None = None, seed: int = 0, centre_ecef_m=None,
                 keep_components: bool = False) -> Iterator[dict[str, StationSim]]:
    """Simulate chunk by chunk; yields ``{name: StationSim}`` for each chunk of epochs (flat memory for
    long runs). Every chunk block has the same satellites (all candidates, absent ones all-NaN)."""
    config = config or SimConfig()
    if rate_s <= 0 or duration_s <= 0:
        raise SimulationError(f"duration {duration_s} s and rate {rate_s} s must be positive")
    if not stations_ecef:
        raise SimulationError("no stations given")
    rate_ns = int(round(rate_s * NS))
    n_epochs = int(np.floor(duration_s / rate_s + 1e-9))
    if n_epochs < 1:
        raise SimulationError(f"duration {duration_s} s is shorter than the rate {rate_s} s")
    sats = candidate_satellites(nav, config)
    if sats.size == 0:
        raise SimulationError(f"navigation data has no satellites of systems {config.systems!r}")
    signals = config.active_signals()
    signals = {s: v for s, v in signals.items() if s in set(systems_of(sats).tolist())}
    codes, avail, n_f = _slot_table(sats, signals)
    freq = frequencies_hz(systems_of(sats)[:, None], codes)  # [S, F]
    lam = CLIGHT / freq
    em = config.errors
    alpha, beta, iono_from_nav = _klobuchar(nav)
    pos = {k: np.asarray(v, float).reshape(3) for k, v in stations_ecef.items()}
    centre = (np.mean(list(pos.values()), axis=0) if centre_ecef_m is None else np.asarray(centre_ecef_m, float))
    c_llh = ecef_to_geodetic(centre)
    # network-wide random parts: common residual zenith wet delay and its horizontal gradient
    net_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x4E4554]))
    zwd_common = net_rng.standard_normal() * em.tropo_residual_zwd_m
    grad_az = net_rng.uniform(0.0, 2.0 * np.pi)
    rot = enu_rotation(c_llh[0], c_llh[1])
    zwd_net = {}
    for k, v in pos.items():
        e_, n_, _ = rot @ (v - centre)
        zwd_net[k] = zwd_common + em.tropo_zwd_gradient_mm_per_km * 1e-6 * (e_ * np.sin(grad_az) + n_ * np.cos(grad_az))
    procs = {k: _StationProcess(k, v, sats, n_f, config, seed, rate_s, zwd_net[k]) for k, v in pos.items()}
    mask_rad = np.deg2rad(config.elevation_mask_deg)
    comments = [f"simulated by rtk_engine.simulate, seed {seed}",
                "ionosphere: Klobuchar from " + ("the navigation data" if iono_from_nav else "default coefficients")]

    gd_table = group_delay_table_m(nav, signals)

    def group_delay_m(eph: np.ndarray) -> np.ndarray:
        out = np.zeros(eph.shape + (n_f,))
        ok = eph >= 0
        out[ok] = gd_table[eph[ok]]
        return out

    for c0 in range(0, n_epochs, config.chunk_epochs):
        n_e = min(config.chunk_epochs, n_epochs - c0)
        t_rx = np.int64(start_gpst_ns) + (c0 + np.arange(n_e, dtype=np.int64)) * rate_ns
        result = {}
        for name, pr in procs.items():
            result[name] = _simulate_chunk(nav, pr, sats, signals, codes, avail, freq, lam, t_rx, mask_rad,
                                           alpha, beta, c_llh, group_delay_m, comments, rate_s, keep_components)
        yield result


def _simulate_chunk(nav, pr: _StationProcess, sats, signals, codes, avail, freq, lam, t_rx, mask_rad,
                    alpha, beta, c_llh, group_delay_m, comments, rate_s, keep_components) -> StationSim:
    em = pr.em
    n_e, n_s, n_f = t_rx.size, sats.size, codes.shape[1]
    bias, drift = pr.receiver_clock(n_e)
    t_true, t_frac = _split_time(t_rx, -bias)
    g = light_time_geometry(nav, sats, pr.ecef, t_true, t_frac, mask_rad, pr.cfg.ephemeris_blend_s)
    tracked = g.ok & (g.el_rad >= mask_rad)
    if em.outages_per_h > 0:
        lost, pr.outage_carry = err.outage_mask(pr.rng, n_e, n_s, em.outages_per_h, rate_s, em.outage_max_epochs,
                                                pr.outage_carry)
        tracked &= ~lost
    el = np.where(tracked, g.el_rad, np.nan)
    lat, lon, h = pr.llh
    # atmosphere [E, S]
    tropo = np.zeros((n_e, n_s))
    zwd = pr.residual_zwd(n_e)
    if em.troposphere:
        with np.errstate(invalid="ignore"):
            tropo = err.troposphere_m(el, lat, h, t_true[:, None], zwd[:, None])
    iono1 = np.zeros((n_e, n_s))
    if em.ionosphere:
        iono1 = err.ionosphere_l1_m(t_true[:, None], lat, lon, g.az_rad, el, alpha, beta, em.iono_scale,
                                    c_llh[0], c_llh[1], em.iono_gradient_per_1000km,
                                    np.deg2rad(em.iono_gradient_azimuth_deg))
    shap = g.shapiro_m if em.shapiro else np.zeros((n_e, n_s))
    iono = iono1[..., None] * (F_L1_HZ / freq[None]) ** 2  # [E, S, F]
    # noise and multipath scaled by C/N0
    cn0 = err.cn0_dbhz(el, em.cn0_zenith_dbhz, em.cn0_span_db)
    scale = err.noise_scale(el, em.cn0_zenith_dbhz, em.cn0_span_db)[..., None]
    shape3 = (n_e, n_s, n_f)
    rng = pr.rng
    mp_code, mp_phase = pr.multipath(n_e, (n_s, n_f))
    mp_code, mp_phase = mp_code * scale, mp_phase * scale
    e_code = rng.standard_normal(shape3) * em.code_noise_m * scale
    e_phase = rng.standard_normal(shape3) * em.phase_noise_m * scale
    e_dop = rng.standard_normal(shape3) * em.doppler_noise_hz * scale
    n_amb, start, slip = pr.arcs(tracked, n_f)
    gd = group_delay_m(g.eph_index)
    # assemble
    common = g.rho_m + CLIGHT * (bias[:, None] - g.sat_clock_s) + tropo + shap  # [E, S]
    code = common[..., None] + gd + iono + mp_code + e_code
    phase_cyc = (common[..., None] - iono + mp_phase + e_phase) / lam[None] + n_amb
    rate = g.range_rate_mps + CLIGHT * (drift[:, None] - g.sat_clock_drift_sps)
    dop = -rate[..., None] / lam[None] + e_dop
    present = tracked[..., None] & avail[None]
    lli = np.zeros(shape3, np.uint8)
    first_epoch = np.zeros((n_e, 1), bool)
    if pr.epoch_count == 0:
        first_epoch[0] = True
    lost_lock = (start & ~first_epoch) | (slip if em.cycle_slips_flagged else np.zeros_like(slip))
    lli[lost_lock[..., None] & present] = 1
    pr.epoch_count += n_e
    nan = np.nan
    header = ObsHeader(marker_name=pr.name, marker_number=pr.name, receiver_type="RTK_ENGINE SIMULATOR",
                       antenna_type="", approx_pos_ecef_m=pr.ecef.copy(), interval_s=float(rate_s),
                       rinex_version=3.04, comments=list(comments))
    block = ObsBlock(time_ns=t_rx.copy(), sats=sats.copy(), signals=dict(signals),
                     code_m=np.where(present, code, nan), phase_cyc=np.where(present, phase_cyc, nan),
                     doppler_hz=np.where(present, dop, nan),
                     snr_dbhz=np.where(present, cn0[..., None], nan).astype(np.float32), lli=lli, header=header)
    comps: dict[str, np.ndarray] = {}
    if keep_components:
        def m2(a):
            return np.where(tracked, a, nan)

        def m3(a):
            return np.where(present, a, nan)

        comps = {"geometric_range_m": m2(g.rho_m), "sat_clock_m": m2(CLIGHT * g.sat_clock_s), "tropo_m": m2(tropo),
                 "iono_l1_m": m2(iono1), "shapiro_m": m2(shap), "elevation_rad": el, "azimuth_rad": m2(g.az_rad),
                 "group_delay_m": m3(gd), "code_noise_m": m3(e_code), "code_multipath_m": m3(mp_code),
                 "phase_noise_m": m3(e_phase), "phase_multipath_m": m3(mp_phase),
                 "ambiguity_cyc": m3(n_amb.astype(float)), "noise_scale": m3(np.broadcast_to(scale, shape3))}
    return StationSim(pr.name, block, pr.ecef.copy(), bias.copy(), comps)


def _concat(parts: list[StationSim], drop_empty: bool = True) -> StationSim:
    first = parts[0]
    cat = {k: np.concatenate([getattr(p.block, k) for p in parts]) for k in
           ("time_ns", "code_m", "phase_cyc", "doppler_hz", "snr_dbhz", "lli")}
    block = replace(first.block, **cat)
    comps = {k: np.concatenate([p.components[k] for p in parts]) for k in first.components}
    sim = StationSim(first.name, block, first.truth_ecef_m, np.concatenate([p.rcv_clock_s for p in parts]), comps)
    if drop_empty:
        seen = np.isfinite(block.code_m).any(axis=(0, 2))
        sim.block = block.select_sats(seen)
        sim.components = {k: v[:, seen] for k, v in comps.items()}
    return sim


def simulate_network_detailed(nav: NavData, stations_ecef: Mapping[str, np.ndarray], start_gpst_ns: int,
                              duration_s: float, rate_s: float, config: SimConfig | None = None, seed: int = 0,
                              centre_ecef_m=None, keep_components: bool = False) -> dict[str, StationSim]:
    """Simulate every station over the whole span; satellites never observed at a station are dropped
    from its block. See :func:`iter_network` for chunked (streaming) use."""
    parts: dict[str, list[StationSim]] = {k: [] for k in stations_ecef}
    for chunk in iter_network(nav, stations_ecef, start_gpst_ns, duration_s, rate_s, config, seed, centre_ecef_m,
                              keep_components):
        for k, v in chunk.items():
            parts[k].append(v)
    out = {k: _concat(v) for k, v in parts.items()}
    for k, v in out.items():
        if v.block.n_sats == 0:
            raise SimulationError(f"station {k}: no satellite observed from {gt.to_iso(start_gpst_ns)} for "
                                  f"{duration_s} s (navigation data without ephemerides for that span?)")
    return out


def simulate_network(nav: NavData, stations_ecef: Mapping[str, np.ndarray], start_gpst_ns: int, duration_s: float,
                     rate_s: float, config: SimConfig | None = None, seed: int = 0,
                     centre_ecef_m=None) -> dict[str, StationResult]:
    """Simulated observations for several stations: ``{name: (ObsBlock, truth_ecef_m)}``.

    ``stations_ecef`` maps a station name (used as RINEX marker name, and to seed its random
    processes) to its true ECEF position [m]. Epochs are ``start_gpst_ns + k * rate_s`` on each
    receiver's clock for ``k < duration_s / rate_s``. All stations share one ionosphere field
    (gradient around ``centre_ecef_m``, default their mean position). Deterministic for a given seed,
    station names and ``config`` (including ``chunk_epochs``).
    """
    sims = simulate_network_detailed(nav, stations_ecef, start_gpst_ns, duration_s, rate_s, config, seed,
                                     centre_ecef_m)
    return {k: StationResult(v.block, v.truth_ecef_m) for k, v in sims.items()}


def simulate_station(nav: NavData, ecef_m, start_gpst_ns: int, duration_s: float, rate_s: float,
                     config: SimConfig | None = None, seed: int = 0, name: str = "SIM1",
                     keep_components: bool = False) -> StationSim:
    """One station (see :func:`simulate_network`)."""
    return simulate_network_detailed(nav, {name: ecef_m}, start_gpst_ns, duration_s, rate_s, config, seed,
                                     keep_components=keep_components)[name]
