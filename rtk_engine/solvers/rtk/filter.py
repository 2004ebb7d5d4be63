"""The RTK Kalman filter: one epoch in, one solution out (batch and streaming share it).

Design
------
* Observation model: double differences (DD) of carrier phase and pseudorange between rover and
  base and between a satellite and a reference satellite of the same (system, band) group, the
  reference being the highest satellite (at the base) in that group at this epoch. Receiver
  clocks, satellite clocks, hardware biases and, over short baselines, orbit and atmosphere
  errors cancel. Tropospheric delays are modelled (Saastamoinen + Niell) at both ends.
* States: rover position (ECEF m) and one single-differenced (rover - base) carrier ambiguity
  [cycles] per (satellite, band slot). Single-difference ambiguity states make a change of reference
  satellite free: the DD ambiguities are formed from them when needed (as RTKLIB does).
  Kinematic: the position is re-estimated every epoch from a prior (last position + last velocity
  * dt, sigma ``kinematic_pos_std_m``), no dynamics model. Static: one constant position.
  Long baselines (``iono``): single-difference ionosphere states (per satellite, a common vertical
  and its east/north gradients over the pierce points); optionally (``tropo``) a relative zenith
  wet delay.
* Everything inside an epoch is vectorised over satellites x signals; the epoch loop is the only
  Python loop. Matrix work uses the active subset of states only.
* Ambiguity resolution (``ambiguity.py``): DD ambiguities of eligible signals -> LAMBDA/MLAMBDA,
  partial AR by dropping the lowest satellites until the bootstrapped success rate and an
  n-dependent ratio threshold pass, then false-fix gates (fixed-vs-float position consistency and
  DD phase residuals of the fixed solution). Fix-and-hold feeds the fixed DD ambiguities back as
  tight pseudo-measurements after ``hold_min_fix`` consecutive fixes.
* Outliers: DD innovations beyond ``innovation_sigma`` sigma are rejected; a rejected phase resets
  the satellite's ambiguity; a group whose reference looks bad gets its reference ambiguity reset.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from .linalg import LinAlgError, chol, chol_solve, put_sub, sub

from ...arrays import sorted_unique, unique
from ...geodesy.ellipsoid import ecef_to_geodetic_point, enu_rotation_point
from ...models.geometry import geometric_range
from ...models.troposphere import tropo_delay_site
from ...satellites import is_bds_geo
from ...solution import Quality
from .ambiguity import ArResult, dd_transform, group_refs, resolve
from .cycle_slip import SlipDetector
from .options import RtkOptions
from .prepare import EpochArrays, _day_of_year
from .snr_weight import SnrDropWeights

NP = 3  # position states
_POS_IX = np.arange(NP)
_EL_FLOOR = float(np.radians(1.0))  # elevation floor of the variance model
R_EARTH_M, IONO_H_M = 6_371_000.0, 350_000.0


def iono_mapping(el_rad: np.ndarray) -> np.ndarray:
    """Single-layer (350 km) ionospheric mapping function: slant / vertical delay."""
    c = R_EARTH_M / (R_EARTH_M + IONO_H_M) * np.cos(el_rad)
    return 1.0 / np.sqrt(1.0 - c * c)


def pierce_offset_1000km(az_rad: np.ndarray, el_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East and north offset [1000 km] of the single-layer (350 km) pierce point from the station,
    along the surface: R * psi (sin az, cos az), psi the Earth-central angle to the pierce point."""
    psi = 0.5 * np.pi - el_rad - np.arcsin(R_EARTH_M / (R_EARTH_M + IONO_H_M) * np.cos(el_rad))
    d = R_EARTH_M * 1e-6 * psi
    return d * np.sin(az_rad), d * np.cos(az_rad)


@dataclass
class EpochResult:
    """One epoch's output (ECEF m, covariance m^2)."""

    time_ns: int
    pos: np.ndarray
    cov: np.ndarray
    quality: int
    n_sats: int
    ratio: float
    age_s: float
    n_fixed: int = 0


@dataclass
class DdRows:
    """The DD measurement rows of the last update (used by the AR residual gate)."""

    v: np.ndarray  # innovations at the linearisation point [m]
    H: np.ndarray  # [m, n_active]
    R_diag: np.ndarray
    is_phase: np.ndarray
    amb_cols: np.ndarray  # [m, 2] active-subset columns of the two SD ambiguities (-1 for code rows)
    x_prior: np.ndarray  # prior state on ix; v is the innovation about it
    ix: np.ndarray  # state indices of the active subset


@dataclass
class _DdLayout:
    """One epoch's DD structure (see :meth:`RtkFilter._layout`): pairs i - j as (satellite, slot)
    indices, their SD ambiguity state indices, the active state subset ``ix`` and ``col`` (state ->
    subset column), H [2m, ix.size] without the position columns, the SD phase variances [m^2] of
    both ends and R (None: rebuilt per outlier round, it depends on the lock counts)."""

    i_s: np.ndarray
    i_f: np.ndarray
    j_s: np.ndarray
    j_f: np.ndarray
    amb_i: np.ndarray
    amb_j: np.ndarray
    gn: np.ndarray  # group id per pair
    ix: np.ndarray
    col: np.ndarray
    H: np.ndarray
    vi: np.ndarray
    vj: np.ndarray
    iono_on: bool
    vert_on: bool
    ion: tuple | None  # (iono state i, j, mu i, mu j) when iono_on
    h_vert: np.ndarray | None
    h_grad: np.ndarray | None = None  # [m, 2] d(DD delay) / d(gradient east, north) when on
    R: np.ndarray | None = None


class RtkFilter:
    """Sequential DD-RTK filter over a fixed satellite x slot layout."""

    def __init__(self, sats: np.ndarray, wavelength_m: np.ndarray, group: np.ndarray, fixable: np.ndarray,
                 base_pos: np.ndarray, opts: RtkOptions):
        self.opts = opts
        self.sats = sats
        self.wl = wavelength_m
        self.group = group
        self.fixable = fixable
        self.base_pos = np.asarray(base_pos, float)
        s, f = wavelength_m.shape
        self.shape = (s, f)
        self.nx = NP + s * f + s + 4
        self.amb_idx = (NP + np.arange(s * f)).reshape(s, f)
        # single-difference slant ionospheric delay at 1575.42 MHz [m], one per satellite (used when
        # ionosphere estimation is on); mu scales it to each signal: (f_L1 / f)^2
        self.iono_idx = NP + s * f + np.arange(s)
        # optional common state: rover - base vertical delay [m at L1]; a satellite's SD delay is then
        # M(el) * vertical + its own residual state (M: single-layer mapping at 350 km)
        self.ivert_idx = NP + s * f + s
        self.ivert_on = False
        # optional horizontal gradient of that vertical delay over the pierce points [m at L1 per 1000 km,
        # east and north]: vertical at a satellite's pierce point = vertical + g . (pierce point - station)
        self.igrad_idx = NP + s * f + s + 1 + np.arange(2)
        # optional relative zenith wet delay (rover - base) [m], Niell wet mapping at the rover
        self.trop_idx = NP + s * f + s + 3
        self.use_trop: bool | None = None if opts.tropo == "auto" else opts.tropo == "estimate"
        self.trop_on = False
        self.iono_active = np.zeros(s, bool)
        self.iono_outage = np.zeros(s, int)
        self.mu = (wavelength_m / (299_792_458.0 / 1575.42e6)) ** 2
        self.is_glo = np.char.startswith(np.asarray(sats, "<U3"), "R")
        self.use_iono: bool | None = None if opts.iono == "auto" else opts.iono == "estimate"
        if self.use_iono:
            self._geo_ar_with_iono()
        self.x = np.zeros(self.nx)
        self.P = np.zeros((self.nx, self.nx))
        self.active = np.zeros((s, f), bool)
        self.lock = np.zeros((s, f), int)
        self.outage = np.zeros((s, f), int)
        self.t_prev: int | None = None
        self.dt = 0.0  # seconds since the previous epoch
        self.t_base_prev: int | None = None
        self.pos_prev: np.ndarray | None = None
        self.vel = np.zeros(3)
        self.n_consecutive_fix = 0
        self.det_r = SlipDetector(wavelength_m, opts.slip)
        self.det_b = SlipDetector(wavelength_m, opts.slip)
        self.n_rejected = 0
        self._trop_llh = None
        self._epoch_terms = (None, None, 0, None)  # (arrays, (index, time), day of year, base model) of the last epoch
        self._doy: tuple = (None, None)  # (arrays, day of year of each epoch)
        nz = opts.noise
        self.snr_w_r = SnrDropWeights((s, f), nz.snr_drop_decay_db_per_s, nz.snr_drop_free_db,
                                      nz.snr_drop_db_per_decade, nz.snr_drop_max_factor)
        self.snr_w_b = SnrDropWeights((s, f), nz.snr_drop_decay_db_per_s, nz.snr_drop_free_db,
                                      nz.snr_drop_db_per_decade, nz.snr_drop_max_factor)
        self.var_factor_r = np.ones((s, f))
        self.var_factor_b = np.ones((s, f))
        self._wl_ok = np.isfinite(wavelength_m)
        lat_b, lon_b, _ = ecef_to_geodetic_point(*self.base_pos.tolist())
        self._base_rot = enu_rotation_point(lat_b, lon_b)  # ECEF -> east/north/up at the base
        self._el_mask_rad = np.radians(opts.elevation_mask_deg)
        self._kin_pos_P = np.eye(3) * opts.noise.kinematic_pos_std_m ** 2  # kinematic position prior [m^2]

    # ------------------------------------------------------------------ helpers
    def _geo_ar_with_iono(self) -> None:
        """With ionosphere states, BeiDou GEO ambiguities join AR (``ar.bds_geo_with_iono``): a float GEO
        ambiguity is degenerate with the satellite's own ionosphere state and, its geometry never
        changing, keeps the position error of the epochs that determined it."""
        if self.opts.ar.bds_geo_with_iono:
            self.fixable = self.fixable | is_bds_geo(self.sats)

    def _amb(self, x: np.ndarray) -> np.ndarray:
        """The ambiguity states of a state vector as an [S, F] view (``x[self.amb_idx]`` without a copy)."""
        return x[NP:NP + self.amb_idx.size].reshape(self.shape)

    def _reset_amb(self, mask: np.ndarray) -> None:
        idx = self.amb_idx[mask]
        self.x[idx] = 0.0
        self.P[idx, :] = 0.0
        self.P[:, idx] = 0.0
        self.active[mask] = False
        self.lock[mask] = 0

    def _init_amb(self, mask: np.ndarray, sd_phase: np.ndarray, sd_code: np.ndarray) -> None:
        idx = self.amb_idx[mask]
        self.x[idx] = sd_phase[mask] - sd_code[mask] / self.wl[mask]
        self.P[idx, :] = 0.0
        self.P[:, idx] = 0.0
        self.P[idx, idx] = self.opts.noise.amb_init_std_cyc ** 2
        self.active[mask] = True
        self.lock[mask] = 0

    def _iono_time_update(self, ok: np.ndarray, dt: float) -> None:
        """Activate ionosphere states of observed satellites, random-walk them, drop long-lost ones."""
        n = self.opts.noise
        seen = ok.any(axis=1)
        self.iono_outage = np.where(seen, 0, self.iono_outage + 1)
        drop = self.iono_active & (self.iono_outage > self.opts.slip.max_outage_epochs)
        if drop.any():
            idx = self.iono_idx[drop]
            self.x[idx] = 0.0
            self.P[idx, :] = 0.0
            self.P[:, idx] = 0.0
            self.iono_active[drop] = False
        act = self.iono_idx[self.iono_active]
        if act.size and dt:
            self.P[act, act] += n.iono_process_m_per_sqrt_s ** 2 * abs(dt)
        base_km = max(np.linalg.norm(self.x[:NP] - self.base_pos) / 1e3, 1.0)
        vert = n.iono_vertical_std_m_per_10km > 0
        if vert and not self.ivert_on:
            v = self.ivert_idx
            self.x[v] = 0.0
            self.P[v, :] = 0.0
            self.P[:, v] = 0.0
            self.P[v, v] = (n.iono_vertical_std_m_per_10km * base_km / 10.0) ** 2
            self.ivert_on = True
            if n.iono_gradient_std_m_per_10km > 0:
                g = self.igrad_idx
                self.x[g] = 0.0
                self.P[g, :] = 0.0
                self.P[:, g] = 0.0
                self.P[g, g] = (n.iono_gradient_std_m_per_10km * base_km / 10.0) ** 2
        elif self.ivert_on and dt:
            self.P[self.ivert_idx, self.ivert_idx] += n.iono_vertical_process_m_per_sqrt_s ** 2 * abs(dt)
            if n.iono_gradient_std_m_per_10km > 0:
                self.P[self.igrad_idx, self.igrad_idx] += n.iono_gradient_process_m_per_sqrt_s ** 2 * abs(dt)
        new = seen & ~self.iono_active
        if new.any():
            idx = self.iono_idx[new]
            self.x[idx] = 0.0
            self.P[idx, :] = 0.0
            self.P[:, idx] = 0.0
            std = n.iono_residual_std_m_per_10km if vert else n.iono_std_m_per_10km
            self.P[idx, idx] = (std * base_km / 10.0) ** 2
            self.iono_active[new] = True

    def _sd_var(self, el: np.ndarray) -> np.ndarray:
        """Single-difference phase variance [m^2] per (satellite, slot): rover + base, each the
        elevation model times its C/N0-drop factor (``snr_weight.py``)."""
        n = self.opts.noise
        s = np.sin(np.maximum(el, _EL_FLOOR))
        und = n.phase_a_m ** 2 + (n.phase_b_m / s) ** 2
        return und[:, None] * (self.var_factor_r + self.var_factor_b)

    # --------------------------------------------------------------------- step
    def step(self, A: EpochArrays, k: int) -> EpochResult:
        opts = self.opts
        t = int(A.time_ns[k])
        first = self.pos_prev is None  # no position yet (also after epochs without a solution at the start)
        dt = 0.0 if first else (t - self.t_prev) * 1e-9
        self.dt = dt
        phr, phb, cr, cb = A.phase_r[k], A.phase_b[k], A.code_r[k], A.code_b[k]
        el = A.el_b_rad[k]
        sat_ok = np.isfinite(el) & (el >= self._el_mask_rad)
        ok = (np.isfinite(phr) & np.isfinite(phb) & np.isfinite(cr) & np.isfinite(cb)
              & sat_ok[:, None] & self._wl_ok)

        # ---- cycle slips (both receivers), outages, instantaneous mode
        slip = self.det_r.detect(t, phr, cr, A.doppler_r[k], A.lli_r[k])
        t_b = t - int(round(A.age_s[k] * 1e9))
        if t_b != self.t_base_prev:
            slip |= self.det_b.detect(t_b, phb, cb, A.doppler_b[k], A.lli_b[k])
            self.var_factor_b = self.snr_w_b.factor(t_b, None if A.snr_b is None else A.snr_b[k])
            self.t_base_prev = t_b
        self.var_factor_r = self.snr_w_r.factor(t, None if A.snr_r is None else A.snr_r[k])
        self.outage = np.where(ok, 0, self.outage + 1)
        reset = self.active & ((slip & ok) | (self.outage > opts.slip.max_outage_epochs))
        if opts.ar.mode == "instantaneous":
            reset = self.active.copy()
        if reset.any():
            self._reset_amb(reset)

        # ---- time update
        act_idx = self.amb_idx[self.active]
        if act_idx.size and dt:
            self.P[act_idx, act_idx] += opts.noise.amb_process_cyc_per_sqrt_s ** 2 * abs(dt)
        if first:
            seed = self.base_pos
            self.x[:NP] = seed
            self.P[:NP, :] = 0.0
            self.P[:, :NP] = 0.0
            self.P[:NP, :NP] = np.eye(3) * 1e4 ** 2
        elif opts.mode == "kinematic":
            self.x[:NP] = self.pos_prev + self.vel * dt
            self.P[:NP, :] = 0.0
            self.P[:, :NP] = 0.0
            self.P[:NP, :NP] = self._kin_pos_P
        else:
            q = opts.noise.static_pos_process_m_per_sqrt_s ** 2 * abs(dt)
            self.P[:NP, :NP] += np.eye(3) * q

        if self.use_iono and not first:
            self._iono_time_update(ok, dt)
        if self.trop_on and dt:
            self.P[self.trop_idx, self.trop_idx] += opts.noise.tropo_process_m_per_sqrt_s ** 2 * abs(dt)

        sd_phase = phr - phb
        sd_code = cr - cb
        new = ok & ~self.active
        if new.any():
            self._init_amb(new, sd_phase, sd_code)

        if first:
            # the base position is the only seed: iterate to the rover, then restart the
            # update from there with the ordinary kinematic prior (avoids 1e8 m^2 cancellation)
            seed = self._seed_position(A, k, ok, sd_phase, sd_code, el)
            if seed is not None:
                self.x[:NP] = seed
                self.P[:NP, :NP] = self._kin_pos_P
            base_km = np.linalg.norm((seed if seed is not None else self.base_pos) - self.base_pos) / 1e3
            if self.use_iono is None:  # "auto": decided on the first epoch's baseline length
                self.use_iono = bool(base_km > opts.iono_auto_baseline_km)
                if self.use_iono:
                    self._geo_ar_with_iono()
            if self.use_iono:
                self._iono_time_update(ok, 0.0)
            if self.use_trop is None:  # "auto": with ionosphere states or beyond tropo_auto_baseline_km
                self.use_trop = bool(self.use_iono or base_km > opts.tropo_auto_baseline_km)
            if self.use_trop and not self.trop_on:
                t_ = self.trop_idx
                self.x[t_] = 0.0
                self.P[t_, :] = 0.0
                self.P[:, t_] = 0.0
                self.P[t_, t_] = opts.noise.tropo_std_m ** 2
                self.trop_on = True

        # ---- measurement update, iterated (IEKF) only when the position moves far from the prior:
        # relinearising after a step d changes the ranges by ~d^2 / (2 * 20,000 km), 2.5 um at d = 10 m,
        # so a vehicle's metre-level prediction error needs one update, the base-seeded first epoch several
        rows = None
        x_lin = self.x.copy()
        lay = self._layout(A, k, ok, el)
        for _ in range(6):
            upd = self._update(A, k, lay, sd_phase, sd_code, x_lin)
            if upd is None:
                rows = None
                break
            rows, x_new, P_new = upd
            d = x_new[:NP] - x_lin[:NP]
            moved = math.sqrt(d.dot(d))  # np.linalg.norm's own formula
            x_lin = x_new
            if moved < 10.0:  # metres; see above
                break
        if rows is not None:
            self.x[rows.ix] = x_new[rows.ix]
            put_sub(self.P, rows.ix, P_new)
        n_dd_sats = int(np.count_nonzero(ok.any(axis=1))) if rows is not None else 0
        self.lock[self.active & ok] += 1

        quality = Quality.NONE
        ratio = 0.0
        n_fixed = 0
        if rows is None:
            pos = np.full(3, np.nan)
            cov = np.full((3, 3), np.nan)
        else:
            quality = Quality.FLOAT
            pos = self.x[:NP].copy()
            cov = self.P[:NP, :NP].copy()
            if opts.ar.mode != "off":
                ar = resolve(self, ok, el, rows)
                ratio = ar.ratio
                if ar.fixed:
                    if ar.precise:
                        quality = Quality.FIX
                        pos, cov = ar.pos, ar.cov
                        n_fixed = ar.n_fixed
                    self.n_consecutive_fix += 1
                    if opts.ar.mode == "fix-and-hold" and self.n_consecutive_fix >= opts.ar.hold_min_fix:
                        self._hold(ar)
                else:
                    self.n_consecutive_fix = 0
        if rows is not None:
            if self.pos_prev is not None and dt and opts.mode == "kinematic":
                self.vel = (pos - self.pos_prev) / dt if abs(dt) <= 5 else np.zeros(3)
            self.pos_prev = pos.copy()
        self.t_prev = t
        return EpochResult(time_ns=t, pos=pos, cov=cov, quality=int(quality), n_sats=n_dd_sats,
                           ratio=float(ratio), age_s=float(A.age_s[k]), n_fixed=n_fixed)

    def _seed_position(self, A, k, ok, sd_phase, sd_code, el) -> np.ndarray | None:
        """Rover position from iterated updates starting at the base (first epoch only)."""
        x_lin = self.x.copy()
        P_save, x_save = self.P.copy(), self.x.copy()
        lay = self._layout(A, k, ok, el)
        for _ in range(8):
            upd = self._update(A, k, lay, sd_phase, sd_code, x_lin)
            if upd is None:
                break
            _, x_new, _ = upd
            moved = float(np.linalg.norm(x_new[:NP] - x_lin[:NP]))
            x_lin = x_new
            if moved < 0.5:
                break
        self.P, self.x = P_save, x_save
        seed = x_lin[:NP]
        return seed if np.all(np.isfinite(seed)) and np.linalg.norm(seed - self.base_pos) > 0 else None

    def _geometry(self, A: EpochArrays, k: int, pos: np.ndarray):
        """Single-difference modelled range [S, F] (m; [S, 1] without antenna models): geometry,
        satellite clock, troposphere and, when antenna models are given, ARP + PCO + PCV of both
        receivers; the rover LOS [S, 3]; and the rover's Niell wet mapping [S] (the relative
        troposphere state's partial)."""
        rng, los = geometric_range(A.sat_pos_r[k], pos[None, :])
        lat, lon, h = ecef_to_geodetic_point(*pos.tolist())
        enu = los @ enu_rotation_point(lat, lon).T
        el_r = np.arcsin(np.minimum(np.maximum(enu[:, 2], -1.0), 1.0))
        cache, t = self._epoch_terms, int(A.time_ns[k])
        if cache[0] is not A or cache[1] != (k, t):  # once per epoch, not per iteration (streaming: new A, k = 0)
            if self._doy[0] is not A:  # days of year of all the epochs of A, once
                self._doy = (A, _day_of_year(A.time_ns))
            cache = self._epoch_terms = (A, (k, t), int(self._doy[1][k]),
                                         A.range_b_m[k] - A.sat_clk_b_m[k] + A.trop_b_m[k])
        doy, base_model = cache[2], cache[3]
        trop, wet_map = tropo_delay_site(el_r, lat, h, doy)  # NaN below the horizon and for NaN LOS
        geo = ((rng - A.sat_clk_r_m[k] + trop) - base_model)[:, None]  # [S, 1]: broadcasts over the slots
        if A.ant_r is not None:
            az_r = np.arctan2(enu[:, 0], enu[:, 1]) % (2.0 * np.pi)
            geo = geo + A.ant_r.correction(az_r, el_r)
        if A.ant_b_m is not None:
            geo = geo - A.ant_b_m[k]
        return geo, los, wet_map

    def _layout(self, A: EpochArrays, k: int, ok: np.ndarray, el: np.ndarray) -> _DdLayout | None:
        """The epoch's DD structure (pairs, state subset, H without the position columns, R), or None
        if under-determined. Valid while ``ok``, ``active`` and the ionosphere states stay as they are:
        built once per epoch, not per IEKF iteration (outlier rounds only re-initialise active states)."""
        opts = self.opts
        ss, ff = np.nonzero(ok & self.active)
        if ss.size < 2:
            return None
        # a position needs 3 independent satellite pairs (one reference per system)
        u = sorted_unique(ss)
        if u.size - len(set((self.group[u, 0] // 16).tolist())) < 3 and opts.mode == "kinematic":
            return None
        g = self.group[ss, ff]
        ref = group_refs(g, el[ss])
        nonref = np.flatnonzero(ref != np.arange(ss.size))
        if nonref.size < 1:
            return None
        i_s, i_f = ss[nonref], ff[nonref]
        j = ref[nonref]
        j_s, j_f = ss[j], ff[j]
        wl = self.wl
        amb_i = self.amb_idx[i_s, i_f]
        amb_j = self.amb_idx[j_s, j_f]
        iono_on = bool(self.use_iono) and self.iono_active[i_s].all() and self.iono_active[j_s].all()
        vert_on = iono_on and self.ivert_on
        grad_on = vert_on and opts.noise.iono_gradient_std_m_per_10km > 0
        h_vert = h_grad = None
        if iono_on:
            ion_i, ion_j = self.iono_idx[i_s], self.iono_idx[j_s]
            mu_i, mu_j = self.mu[i_s, i_f], self.mu[j_s, j_f]
            if vert_on:
                mf = iono_mapping(el)
                if A.iono_map_b is not None:
                    mb = A.iono_map_b[k]
                    mf = np.where(np.isfinite(mb), mb, mf)
                h_vert = mu_i * mf[i_s] - mu_j * mf[j_s]  # d(DD delay) / d(vertical)
                if grad_on:  # d(DD delay) / d(gradient east, north): the pierce points seen from the base
                    enu = (A.sat_pos_r[k] - self.base_pos) @ self._base_rot.T
                    az = np.arctan2(enu[:, 0], enu[:, 1])
                    de, dn = pierce_offset_1000km(az, el)
                    h_grad = np.stack((mu_i * mf[i_s] * de[i_s] - mu_j * mf[j_s] * de[j_s],
                                       mu_i * mf[i_s] * dn[i_s] - mu_j * mf[j_s] * dn[j_s]), axis=1)
            ix = np.concatenate((_POS_IX, self.amb_idx[self.active], self.iono_idx[self.iono_active]))
            if vert_on:
                ix = np.append(ix, self.ivert_idx)
            if grad_on:
                ix = np.append(ix, self.igrad_idx)
        else:
            ix = np.concatenate((_POS_IX, self.amb_idx[self.active]))
        if self.trop_on:
            ix = np.append(ix, self.trop_idx)
        col = np.full(self.nx, -1)
        col[ix] = np.arange(ix.size)
        m = nonref.size
        H = np.zeros((2 * m, ix.size))  # the position columns are filled per iteration
        r = np.arange(m)
        H[r, col[amb_i]] = wl[i_s, i_f]
        H[r, col[amb_j]] = -wl[j_s, j_f]
        if iono_on:
            H[r, col[ion_i]] = -mu_i
            H[r, col[ion_j]] = mu_j
            H[m + r, col[ion_i]] = mu_i
            H[m + r, col[ion_j]] = -mu_j
        if vert_on:
            H[r, col[self.ivert_idx]] = -h_vert
            H[m + r, col[self.ivert_idx]] = h_vert
        if grad_on:
            H[np.ix_(r, col[self.igrad_idx])] = -h_grad
            H[np.ix_(m + r, col[self.igrad_idx])] = h_grad
        var_sd = self._sd_var(el)
        lay = _DdLayout(i_s=i_s, i_f=i_f, j_s=j_s, j_f=j_f, amb_i=amb_i, amb_j=amb_j, gn=g[nonref], ix=ix,
                        col=col, H=H, vi=var_sd[i_s, i_f], vj=var_sd[j_s, j_f], iono_on=iono_on,
                        vert_on=vert_on, ion=(ion_i, ion_j, mu_i, mu_j) if iono_on else None, h_vert=h_vert,
                        h_grad=h_grad)
        # the time-correlated code weight depends on the lock counts, which a rejection resets
        if not (opts.noise.code_correlation_s > 0 and self.use_iono and self.dt):
            lay.R = self._meas_cov(lay)
        return lay

    def _meas_cov(self, lay: _DdLayout) -> np.ndarray:
        """DD measurement covariance [m^2] of the layout's phase rows then code rows."""
        opts = self.opts
        i_s, i_f, j_s, j_f, vi, vj = lay.i_s, lay.i_f, lay.j_s, lay.j_f, lay.vi, lay.vj
        m = i_s.size
        same = lay.gn[:, None] == lay.gn[None, :]
        R_phi = np.diag(vi) + same * vj[None, :]
        R = np.zeros((2 * m, 2 * m))
        R[:m, :m] = R_phi
        R[m:, m:] = R_phi * opts.noise.code_phase_ratio ** 2
        if self.is_glo[i_s].any():  # GLONASS code: inter-frequency biases, weight lowered
            cf = np.where(self.is_glo, opts.noise.glonass_code_factor ** 2, 1.0) * opts.noise.code_phase_ratio ** 2
            R[m:, m:] = np.diag(vi * cf[i_s]) + same * (vj * cf[j_s])[None, :]
        tau = opts.noise.code_correlation_s
        if tau > 0 and self.use_iono and self.dt:
            # time-correlated code error (multipath): after an arc's first epoch each epoch adds only
            # the decorrelated part, (1 - a) / (1 + a) ~ dt / (2 tau) of a white sample's information
            a = np.exp(-abs(self.dt) / tau)
            infl = np.where(self.lock > 0, (1.0 + a) / (1.0 - a), 1.0)
            cf = np.where(self.is_glo, opts.noise.glonass_code_factor ** 2, 1.0)[:, None] * infl
            cf = cf * opts.noise.code_phase_ratio ** 2
            R[m:, m:] = np.diag(vi * cf[i_s, i_f]) + same * (vj * cf[j_s, j_f])[None, :]
        return R

    def _update(self, A: EpochArrays, k: int, lay: _DdLayout | None, sd_phase, sd_code, x_lin: np.ndarray):
        """Measurement update of the prior (self.x, self.P) linearised at ``x_lin`` (IEKF step) on the
        epoch's DD layout (:meth:`_layout`).

        Returns (rows, x_post, P_post on rows.ix) without committing, or None if under-determined.
        Outliers: rejected phase rows re-initialise their ambiguity in the prior (self.x, self.P).
        """
        if lay is None:
            return None
        opts = self.opts
        i_s, i_f, j_s, j_f, amb_i, amb_j, gn, ix = lay.i_s, lay.i_f, lay.j_s, lay.j_f, lay.amb_i, lay.amb_j, lay.gn, lay.ix
        m = i_s.size
        wl = self.wl
        geo, los, wet_map = self._geometry(A, k, x_lin[:NP])
        y_phi = wl * sd_phase - geo
        y_code = sd_code - geo
        h_pos = -(los[i_s] - los[j_s])
        H = lay.H.copy()
        H[:m, :NP] = h_pos
        H[m:, :NP] = h_pos
        if self.trop_on:  # d(DD range) / d(relative zenith wet delay), at the rover's elevations
            h_trop = wet_map[i_s] - wet_map[j_s]
            c_t = lay.col[self.trop_idx]
            H[:m, c_t] = h_trop
            H[m:, c_t] = h_trop
        x_lin = x_lin.copy()
        inactive = ~self.active
        self._amb(x_lin)[inactive] = 0.0
        for _ in range(6):  # outlier rounds
            x_prior = self.x
            v_phi = ((y_phi[i_s, i_f] - wl[i_s, i_f] * x_lin[amb_i])
                     - (y_phi[j_s, j_f] - wl[j_s, j_f] * x_lin[amb_j]))
            v_code = y_code[i_s, i_f] - y_code[j_s, j_f]
            if lay.iono_on:
                ion_i, ion_j, mu_i, mu_j = lay.ion
                dd_ion = mu_i * x_lin[ion_i] - mu_j * x_lin[ion_j]
                if lay.vert_on:
                    dd_ion = dd_ion + lay.h_vert * x_lin[self.ivert_idx]
                if lay.h_grad is not None:
                    dd_ion = dd_ion + lay.h_grad @ x_lin[self.igrad_idx]
                v_phi = v_phi + dd_ion  # phase advance: model -mu I
                v_code = v_code - dd_ion
            if self.trop_on:
                dd_trop = h_trop * x_lin[self.trop_idx]
                v_phi = v_phi - dd_trop
                v_code = v_code - dd_trop
            R = lay.R if lay.R is not None else self._meas_cov(lay)
            # innovation about the prior: z - h(x_lin) + H (x_lin - x_prior)
            v = np.concatenate((v_phi, v_code)) + H @ (x_lin[ix] - x_prior[ix])
            Pa = sub(self.P, ix)
            PHt = Pa @ H.T
            S = H @ PHt + R
            bad = np.abs(v) > opts.slip.innovation_sigma * np.sqrt(S.diagonal())
            bad_phase = bad[:m].copy()
            if not bad_phase.any():  # every phase row kept; rejected code rows are dropped
                n_bad = int(np.count_nonzero(bad))
                if 2 * m - n_bad < 4:
                    return None
                keep = ~bad
                kept = keep if n_bad else slice(None)  # usually all rows: views instead of copies
                sol = self._solve(Pa, PHt, H, R, v, keep, kept, joseph=bool(self.use_iono))
                if sol is None:
                    return None
                dx, Pn = sol
                # post-fit test: in kinematic mode the position prior is loose, so a slipped phase
                # hides from the innovation test but stands out once the other phases fix the position
                vp = (v[kept] - H[kept] @ dx)[:m]
                rp = np.abs(vp) / np.sqrt(R.diagonal()[:m])
                if rp.max() > opts.slip.innovation_sigma:
                    bad_phase[int(np.argmax(rp))] = True
                else:
                    self.n_rejected += n_bad
                    x_post = x_prior.copy()
                    x_post[ix] = x_prior[ix] + dx
                    cols = np.full((2 * m, 2), -1)
                    cols[:m, 0] = lay.col[amb_i]
                    cols[:m, 1] = lay.col[amb_j]
                    rows = DdRows(v=v[kept], H=H[kept], R_diag=R.diagonal()[kept].copy(),
                                  is_phase=(np.arange(2 * m) < m)[kept], amb_cols=cols[kept],
                                  x_prior=x_prior[ix].copy(), ix=ix)
                    return rows, x_post, Pn
            # rejected phases: re-initialise ambiguities (a group whose reference looks bad: its reference)
            self.n_rejected += int(bad_phase.sum())
            for grp in unique(gn[bad_phase]):
                in_g = gn == grp
                if in_g.sum() >= 2 and bad_phase[in_g].mean() > 0.5:
                    mask = np.zeros(self.shape, bool)
                    mask[j_s[in_g][0], j_f[in_g][0]] = True
                    self._init_amb(mask, sd_phase, sd_code)
                    bad_phase &= ~in_g
            if bad_phase.any():
                mask = np.zeros(self.shape, bool)
                mask[i_s[bad_phase], i_f[bad_phase]] = True
                self._init_amb(mask, sd_phase, sd_code)
            x_lin[NP:NP + inactive.size] = self.x[NP:NP + inactive.size]
            self._amb(x_lin)[inactive] = 0.0
        return None

    @staticmethod
    def _solve(Pa, PHt, H, R, v, keep, kept, joseph: bool = False):
        """Kalman gain step on the kept rows (``keep`` boolean; ``kept`` the same or ``slice(None)``
        when all are kept): (dx, P_post) or None. ``joseph``: covariance in the Joseph form (long
        baselines: the AR gates need the fixed position's covariance to the mm)."""
        H, v = H[kept], v[kept]
        PHt = PHt[:, keep]  # boolean on axis 1: an F-ordered copy; the order picks the BLAS path (the bits)
        S = H @ PHt + R[kept][:, kept]
        try:
            c = chol(S)
        except LinAlgError:
            return None
        K = chol_solve(c, PHt.T).T
        Pn = Pa - K @ PHt.T
        if joseph or not np.all(np.diag(Pn) > 0.0):
            # cancellation (a 30 m kinematic prior against mm phases) left a negative variance:
            # the Joseph form is first-order insensitive to the gain's rounding and stays PSD
            IKH = -K @ H
            IKH[np.diag_indices_from(IKH)] += 1.0
            Pn = IKH @ Pa @ IKH.T + K @ R[np.ix_(keep, keep)] @ K.T
        return K @ v, 0.5 * (Pn + Pn.T)

    def _hold(self, ar: ArResult) -> None:
        """Fix-and-hold: DD ambiguities constrained to their integers (pseudo-measurements)."""
        ix = ar.ix
        Pa = sub(self.P, ix)
        xa = self.x[ix]
        a, PHt, TPTt = dd_transform(*ar.dd_cols, xa, Pa)
        v = ar.fixed_amb - a
        S = TPTt  # + hold_var_cyc2 on the diagonal (T P T^T is a fresh array; x + 0.0 off it is x)
        S.flat[:: a.size + 1] += self.opts.ar.hold_var_cyc2
        try:
            c = chol(S)
        except LinAlgError:
            return
        K = chol_solve(c, PHt.T).T
        self.x[ix] = xa + K @ v
        Pn = Pa - K @ PHt.T
        put_sub(self.P, ix, 0.5 * (Pn + Pn.T))
