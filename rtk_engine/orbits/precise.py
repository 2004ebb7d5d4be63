"""Satellite positions and clocks from precise products (SP3 orbits, RINEX clock files).

Positions: Lagrange interpolation (default 11 nodes, degree 10) of the SP3 ECEF positions
(satellite centre of mass, the product's frame), vectorised over N queries; velocities are the
exact derivative of the same polynomial. Queries outside the product span, or whose
interpolation window holds a missing value or a time gap, are ``valid = False`` (no silent
extrapolation).

Clocks: linear interpolation of the RINEX clock file (e.g. 30 s) between two consecutive
samples, or of the SP3 clock column when no clock file is given; a query between samples more
than one interval apart is invalid.

Relativity: IGS precise clocks *exclude* the periodic relativistic effect. ``sat_states``
adds ``dt_rel = -2 r.v / c^2`` (see :func:`relativistic_clock_s`) by default so that its clock
means the same as the broadcast one (the Kepler clock with its ``F e sqrt(A) sin E`` term);
pass ``relativity=False`` for the product's raw clock.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.constants import CLIGHT
from rtk_engine.formats.rinex_clk import Clk
from rtk_engine.formats.sp3 import Sp3

NS = gnss_time.NS
DEFAULT_NODES = 11  # Lagrange nodes (polynomial degree 10), the usual choice for 5-15 min SP3 grids

try:  # one SatStates type for broadcast and precise orbits
    from rtk_engine.orbits.broadcast import SatStates  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - until the broadcast module lands
    @dataclass
    class SatStates:  # type: ignore[no-redef]  # mirrors orbits.broadcast.SatStates
        """Satellite states for N requests (ECEF metres, m/s; clock seconds, s/s)."""

        pos_ecef_m: np.ndarray
        vel_ecef_mps: np.ndarray
        clock_s: np.ndarray
        clock_drift_sps: np.ndarray
        valid: np.ndarray
        eph_index: np.ndarray
        accuracy_m: np.ndarray


def relativistic_clock_s(pos_ecef_m, vel_ecef_mps) -> np.ndarray:
    """Periodic relativistic clock correction ``-2 r.v / c^2`` [s] (add to a precise clock)."""
    r = np.asarray(pos_ecef_m, float)
    v = np.asarray(vel_ecef_mps, float)
    return -2.0 * np.einsum("...i,...i->...", r, v) / CLIGHT**2


def lagrange_weights(x: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lagrange basis values and derivatives at ``x[N]`` for ``nodes[n]`` (shared) or ``nodes[N, n]``.

    Returns ``(w[N, n], dw[N, n])`` with ``p(x) = sum w_k y_k`` and ``p'(x) = sum dw_k y_k``.
    Uses prefix/suffix products, so it is exact at the nodes themselves.
    """
    n = nodes.shape[-1]
    d = np.ascontiguousarray((x[:, None] - nodes).T)  # [n, N]: node-major rows for cache-friendly sweeps
    N = x.shape[0]
    pre = np.empty((n + 1, N))
    dpre = np.empty((n + 1, N))
    pre[0], dpre[0] = 1.0, 0.0
    for k in range(n):
        np.multiply(pre[k], d[k], out=pre[k + 1])
        dpre[k + 1] = dpre[k] * d[k] + pre[k]
    suf = np.empty((n + 1, N))
    dsuf = np.empty((n + 1, N))
    suf[n], dsuf[n] = 1.0, 0.0
    for k in range(n - 1, -1, -1):
        np.multiply(suf[k + 1], d[k], out=suf[k])
        dsuf[k] = dsuf[k + 1] * d[k] + suf[k + 1]
    num = (pre[:n] * suf[1:]).T
    dnum = (dpre[:n] * suf[1:] + pre[:n] * dsuf[1:]).T
    diff = nodes[..., :, None] - nodes[..., None, :]  # [(N,) n, n]
    idx = np.arange(n)
    diff[..., idx, idx] = 1.0
    den = np.prod(diff, axis=-1)
    return num / den, dnum / den


def _interp_positions(sp3: Sp3, si: np.ndarray, t: np.ndarray, n_nodes: int):
    T = sp3.time_ns.size
    N = t.size
    pos = np.full((N, 3), np.nan)
    vel = np.full((N, 3), np.nan)
    valid = (si >= 0) & (T >= 2)
    if T < 2:
        return pos, vel, valid
    n = min(n_nodes, T)
    t0, t1 = sp3.time_ns[0], sp3.time_ns[-1]
    valid &= (t >= t0) & (t <= t1)
    i = np.clip(np.searchsorted(sp3.time_ns, t, side="right") - 1, 0, T - 1)
    s = np.clip(i - (n - 1) // 2, 0, T - n)
    win = s[:, None] + np.arange(n)[None, :]  # [N, n] epoch indices
    step = float(sp3.interval_s) * NS if sp3.interval_s > 0 else float(np.median(np.diff(sp3.time_ns)))
    tw = sp3.time_ns[win]
    valid &= np.all(np.diff(tw, axis=1) <= 1.5 * step, axis=1)  # no gap inside the window
    q = np.flatnonzero(valid)
    if q.size == 0:
        return pos, vel, valid
    S = sp3.sats.size
    y = np.take(sp3.pos_ecef_m.reshape(-1, 3), win[q] * S + si[q][:, None], axis=0)  # [Q, n, 3]
    ok = np.all(np.isfinite(y), axis=(1, 2))
    q, y = q[ok], y[ok]
    valid[:] = False
    valid[q] = True
    # work in units of the grid step around the window start for conditioning
    x = (t[q] - tw[q, 0]) / step
    offs = tw[q] - tw[q, :1]
    grid = np.arange(n, dtype=np.int64) * np.int64(round(step))
    uniform = np.all(offs == grid, axis=1)
    w = np.empty((q.size, n))
    dw = np.empty((q.size, n))
    if uniform.any():  # the usual case: one set of denominators for all queries
        w[uniform], dw[uniform] = lagrange_weights(x[uniform], np.arange(n, dtype=float))
    if not uniform.all():
        w[~uniform], dw[~uniform] = lagrange_weights(x[~uniform], offs[~uniform] / step)
    pos[q] = np.einsum("qk,qkc->qc", w, y)
    vel[q] = np.einsum("qk,qkc->qc", dw, y) / (step / NS)
    return pos, vel, valid


def _interp_linear(time_ns: np.ndarray, values: np.ndarray, interval_s: float, si: np.ndarray, t: np.ndarray):
    """Linear interpolation of ``values[T, S]`` at (column ``si``, time ``t``); NaN across gaps."""
    N = t.size
    out = np.full(N, np.nan)
    rate = np.full(N, np.nan)
    T = time_ns.size
    if T == 0:
        return out, rate
    step = interval_s * NS if interval_s > 0 else (float(np.min(np.diff(time_ns))) if T > 1 else 1.0)
    i = np.searchsorted(time_ns, t, side="right") - 1
    inside = (si >= 0) & (i >= 0) & (t <= time_ns[-1])
    ic = np.clip(i, 0, T - 1)
    sc = np.clip(si, 0, None)
    exact = inside & (time_ns[ic] == t)
    out[exact] = values[ic[exact], sc[exact]]
    j = np.minimum(ic + 1, T - 1)
    between = inside & ~exact & (j > ic)
    between &= (time_ns[j] - time_ns[ic]) <= 1.5 * step
    b = np.flatnonzero(between)
    v0, v1 = values[ic[b], sc[b]], values[j[b], sc[b]]
    dt = (time_ns[j[b]] - time_ns[ic[b]]) / NS
    a = (t[b] - time_ns[ic[b]]) / NS / dt
    out[b] = v0 + (v1 - v0) * a
    rate[b] = (v1 - v0) / dt
    # rate at exact samples from the following (or preceding) interval
    e = np.flatnonzero(exact)
    nxt = np.minimum(ic[e] + 1, T - 1)
    prv = np.maximum(ic[e] - 1, 0)
    use = np.where(nxt > ic[e], nxt, prv)
    dte = (time_ns[use] - time_ns[ic[e]]) / NS
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (values[use, sc[e]] - values[ic[e], sc[e]]) / dte
    rate[e] = np.where((dte != 0) & (np.abs(dte) <= 1.5 * step / NS), r, np.nan)
    return out, rate


def sat_states(sp3: Sp3, sats, t_gpst_ns, clk: Clk | None = None, *, n_nodes: int = DEFAULT_NODES,
               relativity: bool = True) -> SatStates:
    """Precise satellite states at GPST instants.

    ``sats`` and ``t_gpst_ns`` broadcast against each other and are flattened (N queries,
    every output is 1-D of length N like the broadcast ``sat_states``). Positions are the
    SP3's (centre of mass, ECEF); ``clock_s`` comes from ``clk`` if given, else from the SP3
    clock column, and includes the relativistic term unless ``relativity=False``.
    ``valid`` requires both a position and a clock.
    """
    sats_b, t_b = np.broadcast_arrays(np.atleast_1d(np.asarray(sats, dtype="<U3")),
                                      np.atleast_1d(np.asarray(t_gpst_ns, dtype=np.int64)))
    sat = sats_b.reshape(-1).copy()
    t = t_b.reshape(-1).copy()
    pos, vel, ok_pos = _interp_positions(sp3, sp3.sat_index(sat), t, n_nodes)
    if clk is not None:
        clock, drift = _interp_linear(clk.time_ns, clk.bias_s, clk.interval_s, clk.sat_index(sat), t)
    else:
        clock, drift = _interp_linear(sp3.time_ns, sp3.clock_s, sp3.interval_s, sp3.sat_index(sat), t)
    if relativity:
        clock = clock + relativistic_clock_s(pos, vel)
    valid = ok_pos & np.isfinite(clock)
    return _make_states(sat, t, pos, vel, clock, drift, valid)


def _make_states(sat, t, pos, vel, clock, drift, valid) -> SatStates:
    """Fill whichever SatStates fields the shared type defines."""
    import dataclasses

    values = {"sat": sat, "sats": sat, "t_ns": t, "time_ns": t, "t_gpst_ns": t, "pos_ecef_m": pos, "pos_m": pos,
              "vel_ecef_mps": vel, "vel_mps": vel, "clock_s": clock, "clk_s": clock, "clock_drift": drift,
              "clock_drift_sps": drift, "clk_drift": drift, "valid": valid}
    kwargs = {}
    for f in dataclasses.fields(SatStates):
        if f.name in values:
            kwargs[f.name] = values[f.name]
        elif f.name == "eph_index":  # no broadcast record behind a precise state
            kwargs[f.name] = np.full(np.shape(valid), -1, np.int64)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kwargs[f.name] = np.full(np.shape(valid), np.nan)  # e.g. accuracy_m: unknown
    return SatStates(**kwargs)


# ------------------------------------------------------------------------------ attitude & PCO
def sun_position_ecef(t_gpst_ns) -> np.ndarray:
    """Approximate Sun position, ECEF metres (low-precision almanac formulas, ~0.01 deg).

    Good enough for nominal satellite attitude (yaw steering) and antenna offsets.
    """
    t = np.asarray(t_gpst_ns, dtype=np.int64)
    # days since J2000.0 (2000-01-01 12:00 TT); UT1 ~ GPST - leap seconds is below the accuracy here
    j2000 = gnss_time.from_calendar(2000, 1, 1, 12)
    n = (gnss_time.gpst_to_utc(t) - j2000) / NS / 86_400.0
    L = np.radians(280.460 + 0.9856474 * n)
    g = np.radians(357.528 + 0.9856003 * n)
    lam = L + np.radians(1.915) * np.sin(g) + np.radians(0.020) * np.sin(2 * g)
    eps = np.radians(23.439 - 4e-7 * n)
    r = (1.00014 - 0.01671 * np.cos(g) - 0.00014 * np.cos(2 * g)) * 149_597_870_700.0
    x_eci = np.stack([r * np.cos(lam), r * np.cos(eps) * np.sin(lam), r * np.sin(eps) * np.sin(lam)], axis=-1)
    gmst = np.radians(np.mod(280.46061837 + 360.98564736629 * n, 360.0))
    c, s = np.cos(gmst), np.sin(gmst)
    return np.stack([c * x_eci[..., 0] + s * x_eci[..., 1], -s * x_eci[..., 0] + c * x_eci[..., 1],
                     x_eci[..., 2]], axis=-1)


def satellite_body_axes(pos_ecef_m, vel_ecef_mps, sun_ecef_m, orbit_normal=None) -> np.ndarray:
    """Nominal IGS body-frame unit axes ``[..., 3 (x, y, z), 3 (ECEF)]``.

    Yaw-steering: z towards the Earth's centre, y = z x (unit vector to the Sun), x = y x z.
    Where ``orbit_normal`` is True (e.g. BeiDou GEO, which fly orbit-normal attitude) the y axis
    is the negative orbit normal instead (ECEF velocity is corrected for Earth rotation first).
    """
    r = np.asarray(pos_ecef_m, float)
    ez = -r / np.linalg.norm(r, axis=-1, keepdims=True)
    es = np.asarray(sun_ecef_m, float) - r
    es = es / np.linalg.norm(es, axis=-1, keepdims=True)
    ey = np.cross(ez, es)
    if orbit_normal is not None:
        v_inertial = np.asarray(vel_ecef_mps, float) + np.cross([0.0, 0.0, 7.2921151467e-5], r)
        ey_on = -np.cross(r, v_inertial)
        ey = np.where(np.asarray(orbit_normal)[..., None], ey_on, ey)
    ey = ey / np.linalg.norm(ey, axis=-1, keepdims=True)
    ex = np.cross(ey, ez)
    return np.stack([ex, ey, ez], axis=-2)


def pco_ecef(pco_body_m, axes) -> np.ndarray:
    """Satellite PCO body-frame X/Y/Z [m] -> ECEF vector [m] (add to the centre of mass for the APC)."""
    return np.einsum("...i,...ij->...j", np.asarray(pco_body_m, float), axes)


def iono_free_pco(pco1_m, pco2_m, f1_hz: float, f2_hz: float) -> np.ndarray:
    """PCO of the ionosphere-free combination of two frequencies [m]."""
    a = f1_hz**2 / (f1_hz**2 - f2_hz**2)
    return a * np.asarray(pco1_m) + (1 - a) * np.asarray(pco2_m)


def satellite_apc_offset_ecef(atx, sats, t_gpst_ns, pos_ecef_m, vel_ecef_mps, freqs: dict[str, tuple],
                              ) -> np.ndarray:
    """ECEF vector [m] from the centre of mass to the antenna phase centre, per (sat, time) row.

    ``atx`` is an :class:`rtk_engine.formats.antex.Antex`; ``freqs`` maps a system letter to
    ``(antex_code,)`` for one frequency or ``(code1, code2, f1_hz, f2_hz)`` for the
    ionosphere-free combination (e.g. ``{"C": ("C02", "C06", 1561.098e6, 1268.52e6)}``).
    Rows whose satellite, epoch or frequency the ANTEX file lacks are NaN. Attitude is the
    nominal one (yaw steering; orbit-normal for BeiDou GEOs).
    """
    sats = np.atleast_1d(np.asarray(sats, dtype="<U3"))
    t = np.broadcast_to(np.asarray(t_gpst_ns, dtype=np.int64), sats.shape)
    pco = np.full((sats.size, 3), np.nan)
    for s in np.unique(sats):
        spec = freqs.get(s[0])
        if spec is None:
            continue
        rows = np.flatnonzero(sats == s)
        for tt in np.unique(t[rows]):  # validity periods: usually one per satellite and day
            sel = rows[t[rows] == tt]
            try:
                if len(spec) == 1:
                    v = atx.satellite_pco(s, int(tt), spec[0])
                else:
                    v = iono_free_pco(atx.satellite_pco(s, int(tt), spec[0]), atx.satellite_pco(s, int(tt), spec[1]),
                                      spec[2], spec[3])
            except KeyError:
                continue
            pco[sel] = v
    from rtk_engine.satellites import is_bds_geo

    axes = satellite_body_axes(pos_ecef_m, vel_ecef_mps, sun_position_ecef(t), orbit_normal=is_bds_geo(sats))
    return pco_ecef(pco, axes)
