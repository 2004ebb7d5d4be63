"""Single-point positioning (SPP) from pseudoranges, all epochs at once.

Pipeline (no Python loop over epochs or satellites):

1. :func:`build_measurements`: pick one code per system (or two for the ionosphere-free
   combination), gather ``[E, S]`` pseudoranges, solve the signal transmission time
   (``t_tx = t_rx - P/c - dts``, two passes), evaluate broadcast satellite states for every
   (epoch, satellite) at once, apply the broadcast group delays.
2. :func:`estimate`: batched Gauss-Newton weighted least squares over all epochs (normal equations
   by ``matmul``, batched ``solve``), one receiver clock per system present in the epoch (absent
   systems are pinned by a unit pseudo-observation, so rank deficiency never occurs), Earth rotation
   in the range, Saastamoinen/Niell troposphere, broadcast Klobuchar (GPS or BDS coefficients),
   elevation and C/N0 masks, elevation-dependent variances with per-system signal-in-space terms
   (BeiDou GEOs down-weighted), then fault detection and exclusion: a chi-square test of the
   weighted residuals, and while it fails, exclusion of the satellite with the largest standardised
   residual (all failing epochs in one vectorised round). GDOP and chi-square validate the result;
   Doppler gives the velocity and clock drift.

A real-time stream uses the same two functions with ``E = 1`` (:class:`SppStream`).
Units: metres, seconds, radians, ECEF; times GPST int64 ns.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..constants import CLIGHT
from ..gnss_time import NS, to_datetime64
from ..models.geometry import az_el_from_los, geometric_range, range_rate
from ..models.ionosphere import broadcast_iono_delay
from ..models.troposphere import tropo_delay
from ..obs import ObsBlock
from ..satellites import is_bds3, is_bds_geo, systems_of
from ..signals import frequencies_hz, rank
from ..solution import Quality, Solution

log = logging.getLogger(__name__)

# Default band per system for single-frequency SPP, and band pairs for the ionosphere-free combination
SINGLE_BANDS = {"G": "1", "E": "1", "C": "2", "R": "1", "J": "1", "I": "5", "S": "1"}
IF_BANDS = {"G": ("1", "2"), "E": ("1", "5"), "C": ("2", "6"), "R": ("1", "2"), "J": ("1", "2")}

# Broadcast signal-in-space range error [m] (1 sigma) used in the variance model. Published SISRE
# figures: GPS ~0.6 m, Galileo ~0.3 m, BDS-3 MEO/IGSO ~0.5 m, BDS-2 ~1 m, BDS GEO ~1.5-3 m
# (orbit errors of geostationary satellites are poorly observable), GLONASS ~1.5-2 m, QZSS ~0.6 m.
SISRE_M = {"G": 0.6, "E": 0.4, "C": 1.0, "C3": 0.6, "CGEO": 2.5, "R": 1.8, "J": 0.6, "I": 1.5, "S": 3.0}


@dataclass
class SppOptions:
    """Options of the single-point solution (see module docstring)."""

    systems: str = "GRECJ"
    elevation_mask_deg: float = 10.0
    snr_mask_dbhz: float = 0.0  # C/N0 mask; observations without C/N0 pass
    iono: str = "broadcast"  # "broadcast" (Klobuchar: BDS coefficients for BeiDou), "iono-free", "off"
    tropo: str = "saastamoinen"  # "saastamoinen" (Niell mapping) or "off"
    bds_klobuchar: bool = True  # BeiDou satellites use the BDSA/BDSB coefficients when the nav has them
    codes: dict[str, str] = field(default_factory=dict)  # system -> code, e.g. {"C": "1P"}; default best-ranked
    if_codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # system -> (code1, code2) for iono-free
    max_iterations: int = 10
    raim_fde: bool = True
    max_exclusions: int = 4  # satellites excluded per epoch at most
    chi2_alpha: float = 1e-3  # false-alarm probability of the residual test
    reject_chi2: bool = True  # epochs whose residuals still fail the test after FDE get quality NONE
    max_gdop: float = 30.0
    sigma_code_m: float = 0.3  # zenith code noise + multipath [m]; scaled by 1/sin(el)
    system_sigma_factor: dict[str, float] = field(default_factory=lambda: {"R": 1.5, "S": 3.0})
    bds_geo_sigma_factor: float = 2.0  # BeiDou GEO measurement down-weighting on top of their SISRE
    max_ura_m: float = 100.0  # satellites whose broadcast accuracy is worse are not used
    # A code whose group delay the navigation data does not carry (e.g. B1C/B2a with only D1/D2
    # ephemerides, whose clock refers to B3I) is dropped by default. When allowed, BeiDou B1C takes
    # the D1/D2 TGD1 of B1I (adjacent frequency, same satellite payload chain) and every other such
    # code a zero group delay; the common part goes into the system clock, 1 m is added to the
    # satellite's sigma, and the count is reported in the notes.
    allow_missing_group_delay: bool = False
    velocity: bool = True  # Doppler velocity and clock drift

    @property
    def dual_frequency(self) -> bool:
        return self.iono == "iono-free"


@dataclass
class SppMeasurements:
    """Everything the estimator needs, as ``[E, S]`` arrays (NaN where absent)."""

    time_ns: np.ndarray  # [E] GPST
    sats: np.ndarray  # [S]
    systems: str  # clock systems, in column order
    sys_index: np.ndarray  # [S] index into ``systems``
    pr_m: np.ndarray  # [E, S] pseudorange corrected for broadcast group delay (IF combination if dual)
    snr_dbhz: np.ndarray  # [E, S]
    freq_hz: np.ndarray  # [S] frequency for the ionosphere model (NaN for IF)
    sat_pos_m: np.ndarray  # [E, S, 3] ECEF at transmission
    sat_vel_mps: np.ndarray  # [E, S, 3]
    sat_clock_s: np.ndarray  # [E, S]
    sat_drift_sps: np.ndarray  # [E, S]
    sisre_m: np.ndarray  # [S] signal-in-space range error (1 sigma)
    sigma_factor: np.ndarray  # [S] measurement noise factor
    range_rate_mps: np.ndarray | None = None  # [E, S] -lambda * Doppler
    iono: dict = field(default_factory=dict)  # broadcast coefficients (GPSA/GPSB/BDSA/BDSB/QZSA/QZSB)
    approx_ecef_m: np.ndarray | None = None  # [3] starting point (RINEX header)
    codes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what was used per system
    notes: list[str] = field(default_factory=list)  # what was dropped and why (counted)


@dataclass
class SppDiagnostics:
    """Per-epoch and per-observation details of a solution (for monitors, NMEA HDOP, tests)."""

    used: np.ndarray  # [E, S] bool: observation used in the final solution
    excluded: np.ndarray  # [E, S] bool: excluded by FDE
    residual_m: np.ndarray  # [E, S] post-fit residuals (NaN where unused)
    elevation_rad: np.ndarray  # [E, S] (NaN where the satellite has no observation)
    gdop: np.ndarray  # [E]
    hdop: np.ndarray  # [E]
    vdop: np.ndarray  # [E]
    chi2: np.ndarray  # [E] weighted sum of squared residuals
    chi2_ok: np.ndarray  # [E]
    n_iterations: int = 0


# --------------------------------------------------------------------------- signal choice


def choose_codes(obs: ObsBlock, options: SppOptions) -> dict[str, tuple[str, ...]]:
    """Per system, the code (or code pair for iono-free) to use: explicit options first, else the
    best-ranked code of the default band(s) that the block carries. Systems without one are left out."""
    out: dict[str, tuple[str, ...]] = {}
    for s in options.systems:
        have = obs.signals.get(s, ())
        if options.dual_frequency:
            if s in options.if_codes:
                pair = tuple(options.if_codes[s])
                if all(c in have for c in pair):
                    out[s] = pair
                continue
            bands = IF_BANDS.get(s)
            if not bands:
                continue
            pick = [_best_code(s, b, have) for b in bands]
            if all(pick):
                out[s] = tuple(pick)
        else:
            if s in options.codes:
                if options.codes[s] in have:
                    out[s] = (options.codes[s],)
                continue
            band = SINGLE_BANDS.get(s)
            c = _best_code(s, band, have) if band else None
            if c is None and s == "C":  # RINEX 3.02 wrote B1I as 1I
                c = next((x for x in ("1I", "1Q") if x in have), None)
            if c:
                out[s] = (c,)
    return out


def _best_code(system: str, band: str, have) -> str | None:
    cands = [c for c in have if c[0] == band]
    if not cands:
        return None
    return min(cands, key=lambda c: rank(system, c))


# --------------------------------------------------------------------------- measurements


def build_measurements(obs: ObsBlock, nav, options: SppOptions | None = None) -> SppMeasurements:
    """Gather pseudoranges and evaluate broadcast satellite states for all (epoch, satellite) at once."""
    from ..orbits.broadcast import group_delay_s, sat_states  # the orbit layer

    options = options or SppOptions()
    codes = choose_codes(obs, options)
    notes: list[str] = []
    if not codes:
        raise ValueError(f"no usable code signal for systems {options.systems!r} in the observations "
                         f"(block carries {obs.signals})")
    keep = np.isin(obs.systems, list(codes))
    blk = obs.select_sats(keep)
    sats = blk.sats
    sys_s = blk.systems
    E, S = blk.n_epochs, blk.n_sats
    systems = "".join(c for c in "GRECJIS" if c in codes and (sys_s == c).any())
    sys_index = np.array([systems.index(c) for c in sys_s.tolist()], dtype=np.int64)
    chans = dict(nav.glonass_channels()) if hasattr(nav, "glonass_channels") else {}
    chans.update(blk.header.glonass_channels)
    chan = np.array([chans.get(s, np.nan) for s in sats.tolist()], float)

    def gather(arr, code_pos):
        slot = np.array([blk.signals[s].index(codes[s][code_pos]) for s in sys_s.tolist()], dtype=np.int64)
        return arr[:, np.arange(S), slot] if S else np.zeros((E, 0))

    sig_codes = [np.array([codes[s][k] if len(codes[s]) > k else "" for s in sys_s.tolist()], "<U2")
                 for k in range(2 if options.dual_frequency else 1)]
    f1 = frequencies_hz(sys_s, sig_codes[0], chan)
    p1 = gather(blk.code_m, 0).astype(float)
    snr = gather(blk.snr_dbhz, 0).astype(float)
    dop = gather(blk.doppler_hz, 0).astype(float)
    if options.dual_frequency:
        f2 = frequencies_hz(sys_s, sig_codes[1], chan)
        p2 = gather(blk.code_m, 1).astype(float)
        snr = np.fmin(snr, gather(blk.snr_dbhz, 1).astype(float))
        pr = np.where(np.isfinite(p1) & np.isfinite(p2), p1, np.nan)
    else:
        pr = p1
    # plausible pseudorange window (GNSS ranges are 19 000-48 000 km incl. clock offsets of some ms)
    bad = np.isfinite(pr) & ((pr < 1.0e7) | (pr > 6.0e7))
    if bad.any():
        notes.append(f"{int(bad.sum())} pseudoranges outside 10 000-60 000 km ignored")
        pr = np.where(bad, np.nan, pr)

    ei, si = np.nonzero(np.isfinite(pr))
    sat_pos = np.full((E, S, 3), np.nan)
    sat_vel = np.full((E, S, 3), np.nan)
    sat_clk = np.full((E, S), np.nan)
    sat_drift = np.full((E, S), np.nan)
    pr_corr = np.full((E, S), np.nan)
    if ei.size:
        t_rx = blk.time_ns[ei]
        t_tx = t_rx - np.round(pr[ei, si] / CLIGHT * NS).astype(np.int64)
        st = sat_states(nav, sats[si], t_tx)
        clk0 = np.nan_to_num(st.clock_s)
        t_tx = t_tx - np.round(clk0 * NS).astype(np.int64)
        st = sat_states(nav, sats[si], t_tx, eph_index=st.eph_index)  # same ephemeris, ms later
        ok = np.asarray(st.valid, bool) & np.isfinite(st.clock_s) & np.isfinite(st.pos_ecef_m).all(1)
        acc = np.asarray(getattr(st, "accuracy_m", np.zeros(ei.size)), float)
        bad_ura = ok & (acc > options.max_ura_m)
        if bad_ura.any():
            notes.append(f"{int(bad_ura.sum())} observations of satellites with broadcast accuracy "
                         f"> {options.max_ura_m} m not used")
        ok &= ~bad_ura
        if (~ok).any():
            notes.append(f"{int((~ok).sum())} observations without a valid/healthy broadcast ephemeris")
        # broadcast group delays per code and system (TGD/BGD; 0 for the clock's reference signal)
        gd = np.zeros((len(sig_codes), ei.size))
        for k, code_arr in enumerate(sig_codes):
            for s in systems:
                sel = (sys_s[si] == s) & ok
                if sel.any():
                    gd[k, sel] = group_delay_s(nav, st.eph_index[sel], s, codes[s][k])
        gd_missing = np.isnan(gd).any(axis=0) & ok
        if gd_missing.any():
            what = ("used with an approximate (B1C: TGD1) or zero group delay"
                    if options.allow_missing_group_delay else "dropped")
            notes.append(f"{int(gd_missing.sum())} observations whose broadcast group delay is unknown {what}")
            if options.allow_missing_group_delay:
                for k in range(len(sig_codes)):
                    sel = (sys_s[si] == "C") & np.isnan(gd[k]) & ok
                    if sel.any() and codes["C"][k][0] == "1":  # B1C -> TGD1 (B1I)
                        gd[k, sel] = group_delay_s(nav, st.eph_index[sel], "C", "2I")
                gd = np.nan_to_num(gd)
        p_a = pr[ei, si] - CLIGHT * gd[0]
        if options.dual_frequency:
            p_b = p2[ei, si] - CLIGHT * gd[1]
            g1, g2 = f1[si] ** 2, f2[si] ** 2
            p_a = (g1 * p_a - g2 * p_b) / (g1 - g2)
        pr_corr[ei, si] = np.where(ok, p_a, np.nan)
        sat_pos[ei, si] = np.where(ok[:, None], st.pos_ecef_m, np.nan)
        sat_vel[ei, si] = np.asarray(st.vel_ecef_mps, float)
        sat_clk[ei, si] = np.where(ok, st.clock_s, np.nan)
        sat_drift[ei, si] = np.asarray(st.clock_drift_sps, float)

    geo = is_bds_geo(sats) if S else np.zeros(0, bool)
    bds3 = is_bds3(sats) if S else np.zeros(0, bool)
    sisre = np.array([SISRE_M.get(c, 1.5) for c in sys_s.tolist()], float)
    sisre[bds3] = SISRE_M["C3"]
    sisre[geo] = SISRE_M["CGEO"]
    if ei.size and options.allow_missing_group_delay and gd_missing.any():
        sisre[np.unique(si[gd_missing])] = np.hypot(sisre[np.unique(si[gd_missing])], 1.0)
    fac = np.array([options.system_sigma_factor.get(c, 1.0) for c in sys_s.tolist()], float)
    fac[geo] *= options.bds_geo_sigma_factor
    if options.dual_frequency:
        fac *= 3.0  # noise amplification of the ionosphere-free combination
    rr = None
    if options.velocity:
        with np.errstate(invalid="ignore"):
            rr = -CLIGHT / f1[None, :] * dop
    approx = np.asarray(blk.header.approx_pos_ecef_m, float)
    return SppMeasurements(
        time_ns=blk.time_ns.astype(np.int64), sats=sats, systems=systems, sys_index=sys_index, pr_m=pr_corr,
        snr_dbhz=snr, freq_hz=np.where(options.dual_frequency, np.nan, f1), sat_pos_m=sat_pos,
        sat_vel_mps=sat_vel, sat_clock_s=sat_clk, sat_drift_sps=sat_drift, sisre_m=sisre, sigma_factor=fac,
        range_rate_mps=rr, iono=dict(getattr(nav, "iono", {}) or {}),
        approx_ecef_m=approx if np.isfinite(approx).all() and np.linalg.norm(approx) > 1e6 else None,
        codes=codes, notes=notes)


# --------------------------------------------------------------------------- estimation


def _day_of_year(time_ns: np.ndarray) -> np.ndarray:
    dt = to_datetime64(time_ns)
    return ((dt - dt.astype("datetime64[Y]")).astype("timedelta64[s]").astype(np.int64) / 86_400.0) + 1.0


def _pack(m: SppMeasurements):
    """Compress the satellite axis to the observed satellites of each epoch: ``[E, S] -> [E, K]`` with
    K the largest number observed in one epoch (about a third of S for a multi-GNSS file). Per-satellite
    attributes become per-element ``[E, K]`` arrays. Returns (packed, order[E, K], valid[E, K])."""
    ok = np.isfinite(m.pr_m) & np.isfinite(m.sat_clock_s)
    E, S = ok.shape
    K = max(1, int(ok.sum(1).max())) if E and S else max(S, 1)
    if S == 0:
        order = np.zeros((E, 0), np.int64)
    else:
        order = np.argsort(~ok, axis=1, kind="stable")[:, :K]
    K = order.shape[1]
    valid = np.take_along_axis(ok, order, 1)

    def take(a):
        if a is None:
            return None
        a = np.asarray(a)
        return np.take_along_axis(a, order.reshape(order.shape + (1,) * (a.ndim - 2)), 1)

    def per_elem(a):
        return np.asarray(a)[order]

    packed = SppMeasurements(
        time_ns=m.time_ns, sats=per_elem(m.sats), systems=m.systems, sys_index=per_elem(m.sys_index),
        pr_m=np.where(valid, take(m.pr_m), np.nan), snr_dbhz=take(m.snr_dbhz), freq_hz=per_elem(m.freq_hz),
        sat_pos_m=take(m.sat_pos_m), sat_vel_mps=take(m.sat_vel_mps), sat_clock_s=take(m.sat_clock_s),
        sat_drift_sps=take(m.sat_drift_sps), sisre_m=per_elem(m.sisre_m), sigma_factor=per_elem(m.sigma_factor),
        range_rate_mps=take(m.range_rate_mps), iono=m.iono, approx_ecef_m=m.approx_ecef_m, codes=m.codes,
        notes=m.notes)
    return packed, order, valid


def _unpack(a_packed, order, valid, shape, fill):
    out = np.full(shape, fill, dtype=np.asarray(a_packed).dtype)
    if order.size:
        np.put_along_axis(out, order, np.where(valid, a_packed, fill), 1)
    return out


class _Model:
    """Evaluates the observation model for a subset of epochs (all arrays sliced by ``idx``) on packed
    ``[E, K]`` measurements (per-element satellite attributes)."""

    def __init__(self, m: SppMeasurements, options: SppOptions):
        self.m = m
        self.o = options
        self.sys_letters = systems_of(m.sats)
        self.onehot = np.eye(len(m.systems))[m.sys_index]  # [E, K, n_sys]
        self.doy = _day_of_year(m.time_ns)
        snr_ok = ~(m.snr_dbhz < options.snr_mask_dbhz)  # NaN C/N0 passes
        self.obs_ok = np.isfinite(m.pr_m) & np.isfinite(m.sat_clock_s) & snr_ok
        self.el_mask = np.deg2rad(options.elevation_mask_deg)

    def evaluate(self, idx, x, clk, excluded):
        """Residuals, design matrix, weights and geometry at positions ``x[n,3]``, clocks ``clk[n,K]``."""
        m, o = self.m, self.o
        rs = m.sat_pos_m[idx]
        rng, los = geometric_range(rs, x[:, None, :])
        los = np.nan_to_num(los)
        nrm = np.linalg.norm(x, axis=1)
        have_pos = (nrm > 5.0e6) & (nrm < 8.0e6)
        az, el, llh = az_el_from_los(los, x)
        el_eff = np.where(have_pos[:, None], el, np.pi / 2)
        mask = self.obs_ok[idx] & ~excluded & (el_eff >= self.el_mask)
        onehot = self.onehot[idx]
        pred = rng + np.einsum("nk,nsk->ns", clk, onehot) - CLIGHT * m.sat_clock_s[idx]
        var_atm = np.zeros_like(rng)
        sin_el = np.sin(np.clip(el_eff, np.deg2rad(1.0), None))
        # atmosphere models only where there is an observation and a position (flat, ~1/3 of [n, S])
        ee, ss = np.nonzero(mask & have_pos[:, None])
        if o.tropo == "saastamoinen":
            trp = np.zeros_like(rng)
            trp[ee, ss] = np.nan_to_num(tropo_delay(el[ee, ss], llh[ee, 0], llh[ee, 2], self.doy[idx][ee])[0])
            pred = pred + trp
            var_atm += (0.1 / (sin_el + 0.1)) ** 2  # Saastamoinen + standard atmosphere residual error
        if o.iono == "broadcast":
            ion_f = broadcast_iono_delay(m.iono, self.sys_letters[idx][ee, ss], m.time_ns[idx][ee], llh[ee, 0],
                                         llh[ee, 1], az[ee, ss], el[ee, ss], m.freq_hz[idx][ee, ss],
                                         use_bds_model=o.bds_klobuchar)
            no_model = np.zeros(rng.shape, bool)
            no_model[ee, ss] = np.isnan(ion_f)
            ion = np.zeros_like(rng)
            ion[ee, ss] = np.nan_to_num(ion_f)
            pred = pred + ion
            # Klobuchar removes ~50 % of the delay: 50 % of it remains as error; without a model, 5 m
            var_atm += np.where(no_model, (5.0 / sin_el) ** 2, (0.5 * ion) ** 2)
        v = np.where(mask, m.pr_m[idx] - pred, 0.0)
        var = ((o.sigma_code_m * m.sigma_factor[idx]) ** 2 * (1.0 + 1.0 / sin_el ** 2) + m.sisre_m[idx] ** 2
               + var_atm)
        w = np.where(mask, 1.0 / var, 0.0)
        H = np.concatenate([-los, onehot], axis=2)
        H = np.where(mask[..., None], H, 0.0)
        return v, H, w, mask, el, have_pos


def _normal_solve(H, w, v, mask, onehot):
    """Batched weighted LS step. Returns dx [n,P], N^-1 [n,P,P], counts per system [n,K], solvable [n]."""
    Hw = H * w[..., None]
    N = np.matmul(Hw.transpose(0, 2, 1), H)
    b = np.einsum("nsp,ns->np", Hw, v)
    cnt = np.einsum("ns,nsk->nk", mask.astype(float), onehot)
    K = onehot.shape[-1]
    absent = cnt == 0
    diag = np.arange(3, 3 + K)
    N[:, diag, diag] += absent  # pin clocks of systems absent in the epoch (their b is 0)
    nobs = mask.sum(1)
    npar = 3 + (~absent).sum(1)
    solvable = nobs >= npar
    N[~solvable] = np.eye(3 + K)
    b[~solvable] = 0.0
    try:
        Ninv = np.linalg.inv(N)
    except np.linalg.LinAlgError:
        Ninv = np.linalg.pinv(N)
    dx = np.einsum("npq,nq->np", Ninv, b)
    return dx, Ninv, cnt, solvable, nobs - npar


def _chi2_threshold(dof: np.ndarray, alpha: float) -> np.ndarray:
    """Chi-square quantile with upper-tail probability ``alpha`` (inf where dof <= 0)."""
    from scipy.special import chdtri  # much lighter to import than scipy.stats

    return np.where(dof > 0, chdtri(np.maximum(dof, 1), alpha), np.inf)


def _iterate(model: _Model, idx, x, clk, excluded, max_iter: int):
    """Gauss-Newton iterations on epochs ``idx`` (in place on x, clk). Returns iterations used."""
    it = 0
    active = np.ones(idx.size, bool)
    for it in range(1, max_iter + 1):
        a = idx[active]
        v, H, w, mask, _, _ = model.evaluate(a, x[a], clk[a], excluded[a])
        dx, _, _, solvable, _ = _normal_solve(H, w, v, mask, model.onehot[a])
        dx[~solvable] = 0.0
        x[a] += dx[:, :3]
        clk[a] += dx[:, 3:]
        done = np.linalg.norm(dx[:, :3], axis=1) < 1e-4
        active[np.flatnonzero(active)[done]] = False
        if not active.any():
            break
    return it


def estimate(m: SppMeasurements, options: SppOptions | None = None,
             initial_ecef_m: np.ndarray | None = None) -> tuple[Solution, SppDiagnostics]:
    """Batched weighted least squares with FDE over all epochs of ``m``."""
    o = options or SppOptions()
    E, S = m.pr_m.shape
    m, order, packed_valid = _pack(m)
    S_p = m.pr_m.shape[1]
    K = len(m.systems)
    model = _Model(m, o)
    x = np.zeros((E, 3))
    if initial_ecef_m is not None:
        init = np.asarray(initial_ecef_m, float)
        x[:] = init if init.shape == (E, 3) else init.reshape(-1, 3)[-1]
    elif m.approx_ecef_m is not None:
        x[:] = m.approx_ecef_m
    clk = np.zeros((E, K))
    excluded = np.zeros((E, S_p), bool)
    all_idx = np.arange(E)
    n_it = _iterate(model, all_idx, x, clk, excluded, o.max_iterations)
    # a diverged epoch (e.g. a bad starting point) is retried once from the Earth's centre
    nrm = np.linalg.norm(x, axis=1)
    lost = ~np.isfinite(nrm) | (nrm > 1e8)
    if lost.any():
        x[lost] = 0.0
        clk[lost] = 0.0
        _iterate(model, all_idx[lost], x, clk, excluded, o.max_iterations)

    def stats(idx):
        v, H, w, mask, el, have_pos = model.evaluate(idx, x[idx], clk[idx], excluded[idx])
        dx, Ninv, cnt, solvable, dof = _normal_solve(H, w, v, mask, model.onehot[idx])
        chi2 = np.einsum("ns,ns,ns->n", v, w, v)
        return v, H, w, mask, el, Ninv, cnt, solvable, dof, chi2

    v, H, w, mask, el, Ninv, cnt, solvable, dof, chi2 = stats(all_idx)
    thr = _chi2_threshold(dof, o.chi2_alpha)
    if o.raim_fde:
        for _ in range(o.max_exclusions):
            fail = solvable & (dof >= 2) & (chi2 > thr)
            if not fail.any():
                break
            fi = np.flatnonzero(fail)
            # standardised residuals: v / sigma_v with sigma_v^2 = sigma^2 - h N^-1 h^T
            hq = np.einsum("nsp,npq,nsq->ns", H[fi], Ninv[fi], H[fi])
            with np.errstate(divide="ignore", invalid="ignore"):
                r_std = np.abs(v[fi]) * np.sqrt(w[fi]) / np.sqrt(np.clip(1.0 - w[fi] * hq, 1e-6, None))
            r_std = np.where(mask[fi], np.nan_to_num(r_std), -1.0)
            worst = np.argmax(r_std, axis=1)
            excluded[fi, worst] = True
            n_it = max(n_it, _iterate(model, fi, x, clk, excluded, o.max_iterations))
            v[fi], H[fi], w[fi], mask[fi], el[fi], Ninv[fi], cnt[fi], solvable[fi], dof[fi], chi2[fi] = stats(fi)
            thr[fi] = _chi2_threshold(dof[fi], o.chi2_alpha)
    chi2_ok = ~(chi2 > thr)

    # dilution of precision from the unweighted geometry of the used satellites
    Hu = np.where(mask[..., None], H, 0.0)
    N0 = np.matmul(Hu.transpose(0, 2, 1), Hu)
    absent = cnt == 0
    dg = np.arange(3, 3 + K)
    N0[:, dg, dg] += absent
    N0[~solvable] = np.eye(3 + K)
    Q0 = np.linalg.pinv(N0)
    gdop = np.sqrt(np.clip(np.trace(Q0, axis1=1, axis2=2) - absent.sum(1), 0, None))
    llh_ok = np.isfinite(x).all(1) & (np.linalg.norm(x, axis=1) > 5e6)
    from ..geodesy.ellipsoid import ecef_to_geodetic, enu_rotation

    llh = ecef_to_geodetic(np.where(llh_ok[:, None], x, [6.4e6, 0, 0]))
    R = enu_rotation(llh[:, 0], llh[:, 1])
    Qenu = np.einsum("nij,njk,nlk->nil", R, Q0[:, :3, :3], R)
    hdop = np.sqrt(np.clip(Qenu[:, 0, 0] + Qenu[:, 1, 1], 0, None))
    vdop = np.sqrt(np.clip(Qenu[:, 2, 2], 0, None))

    valid = solvable & llh_ok & (gdop <= o.max_gdop) & (gdop > 0)
    if o.reject_chi2:
        valid &= chi2_ok
    quality = np.where(valid, Quality.SINGLE, Quality.NONE).astype(np.uint8)
    ecef = np.where(valid[:, None], x, np.nan)
    cov = np.where(valid[:, None, None], Ninv[:, :3, :3], np.nan)
    clock_m = np.where(valid[:, None] & ~absent, clk, np.nan)
    used = mask & valid[:, None]
    per_sys = {s: (used & (m.sys_index == k)).sum(1) for k, s in enumerate(m.systems)}
    has_dop = o.velocity and m.range_rate_mps is not None and np.isfinite(m.range_rate_mps).any()
    vel = _doppler_velocity(m, o, x, used, el) if has_dop else None
    if vel is not None:
        vel = np.where(valid[:, None], vel, np.nan)
    sol = Solution(time_ns=m.time_ns.copy(), ecef_m=ecef, cov_m2=cov, quality=quality, n_sats=used.sum(1),
                   vel_mps=vel, clock_m=clock_m, sats_per_system=per_sys)
    shape = (E, S)
    diag = SppDiagnostics(used=_unpack(used, order, packed_valid, shape, False),
                          excluded=_unpack(excluded & valid[:, None], order, packed_valid, shape, False),
                          residual_m=_unpack(np.where(used, v, np.nan), order, packed_valid, shape, np.nan),
                          elevation_rad=_unpack(el, order, packed_valid, shape, np.nan), gdop=gdop, hdop=hdop, vdop=vdop, chi2=chi2, chi2_ok=chi2_ok,
                          n_iterations=n_it)
    return sol, diag


def _doppler_velocity(m: SppMeasurements, o: SppOptions, x, used, el) -> np.ndarray:
    """Receiver ECEF velocity [E,3] from range rates (-lambda * Doppler), one common clock drift."""
    E, S = used.shape
    rr_obs = m.range_rate_mps
    ok = used & np.isfinite(rr_obs) & np.isfinite(m.sat_vel_mps).all(2) & np.isfinite(m.sat_drift_sps)
    _, los = geometric_range(m.sat_pos_m, x[:, None, :])
    los = np.nan_to_num(los)
    sin_el = np.sin(np.clip(el, np.deg2rad(5.0), None))
    vel = np.zeros((E, 3))
    drift = np.zeros(E)
    w = np.where(ok, sin_el ** 2, 0.0)
    for rnd in range(2):  # linear model; the second round drops gross outliers (> 1 m/s) and corrects
        pred = range_rate(m.sat_pos_m, m.sat_vel_mps, x[:, None, :], vel[:, None, :], los) \
            + drift[:, None] - CLIGHT * m.sat_drift_sps
        res = np.where(ok, rr_obs - pred, 0.0)
        if rnd == 1:
            ok = ok & (np.abs(res) < 1.0)
            res = np.where(ok, res, 0.0)
            w = np.where(ok, w, 0.0)
        H = np.concatenate([-los, np.ones((E, S, 1))], axis=2) * ok[..., None]
        Hw = H * w[..., None]
        N = np.matmul(Hw.transpose(0, 2, 1), H)
        N[ok.sum(1) < 4] = np.eye(4)
        d = np.linalg.solve(N, np.einsum("nsp,ns->np", Hw, res)[..., None])[..., 0]
        vel += d[:, :3]
        drift += d[:, 3]
    vel[ok.sum(1) < 4] = np.nan
    return vel


# --------------------------------------------------------------------------- entry points


def solve(obs: ObsBlock, nav, options: SppOptions | None = None) -> Solution:
    """SPP of a whole observation block (file) at once; quality SINGLE where solved, NONE elsewhere."""
    sol, _, _ = solve_detailed(obs, nav, options)
    return sol


def solve_detailed(obs: ObsBlock, nav, options: SppOptions | None = None,
                   initial_ecef_m=None) -> tuple[Solution, SppDiagnostics, SppMeasurements]:
    """As :func:`solve`, also returning diagnostics and the measurement arrays."""
    options = options or SppOptions()
    m = build_measurements(obs, nav, options)
    for note in m.notes:
        log.info("spp: %s", note)
    sol, diag = estimate(m, options, initial_ecef_m)
    return sol, diag, m


class SppStream:
    """Epoch-by-epoch SPP for real-time streams: the same functions with ``E = 1``, seeded with the
    previous solution."""

    def __init__(self, nav, options: SppOptions | None = None):
        self.nav = nav
        self.options = options or SppOptions()
        self.last_ecef_m: np.ndarray | None = None

    def step(self, epoch_block: ObsBlock) -> Solution:
        m = build_measurements(epoch_block, self.nav, self.options)
        sol, _ = estimate(m, self.options, self.last_ecef_m)
        ok = sol.valid
        if ok.any():
            self.last_ecef_m = sol.ecef_m[np.flatnonzero(ok)[-1]].copy()
        return sol
