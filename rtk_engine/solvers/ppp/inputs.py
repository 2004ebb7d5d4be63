"""Everything PPP needs that does not depend on the filter state, vectorised over epochs x satellites.

From an :class:`ObsBlock` and precise products this builds :class:`PppInputs`: ionosphere-free
code and phase [m], satellite antenna phase centres at transmission time (SP3 + CLK, relativistic
clock term, satellite PCO of the IF combination, nominal attitude), and the range corrections
that are evaluated once at the a-priori receiver position (metre-level is plenty for them):
hydrostatic troposphere (Saastamoinen + Niell) and the wet mapping function, receiver ARP
eccentricity and PCO/PCV (ANTEX or NGS), Shapiro delay, phase wind-up, solid-earth tides, and
cycle-slip flags (LLI, geometry-free, Melbourne-Wuebbena, gaps). The filter then only evaluates
``|sat - (x + tide)|`` per epoch.

The a-priori position comes from a code-only least-squares solution with the same precise
orbits and clocks (all epochs at once), so PPP needs no broadcast navigation file.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.constants import CLIGHT
from rtk_engine.geodesy.ellipsoid import enu_rotation
from rtk_engine.models.geometry import az_el_from_los, geometric_range
from rtk_engine.models.tides import solid_earth_tide_ecef
from rtk_engine.models.troposphere import niell_mapping, saastamoinen_zenith
from rtk_engine.models.windup import unwrap_cycles, windup_fraction
from rtk_engine.products.satellite_antenna_nominal import fill_missing_satellite_pco
from rtk_engine.obs import ObsBlock
from rtk_engine.orbits.precise import iono_free_pco, pco_ecef, satellite_body_axes, sat_states, sun_position_ecef
from rtk_engine.satellites import is_bds3, is_bds_geo
from rtk_engine import signals as _sig

from .options import ANTEX_FREQS, PppOptions

log = logging.getLogger(__name__)
NS = gnss_time.NS
GM_EARTH = 3.986004418e14


@dataclass
class PppDiagnostics:
    """What was left out and why; nothing is dropped silently.

    ``per_sat[sat][reason]`` counts epochs (reasons: ``no_orbit``, ``no_clock``, ``single_frequency``,
    ``below_mask``, ``slip``, ``outlier``); ``notes`` are human-readable lines (missing antenna
    calibrations, product coverage, ...).
    """

    per_sat: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def count(self, sats: np.ndarray, reason: str, counts: np.ndarray) -> None:
        for s, n in zip(sats, counts):
            if n:
                d = self.per_sat.setdefault(str(s), {})
                d[reason] = d.get(reason, 0) + int(n)

    def note(self, text: str) -> None:
        log.info("PPP: %s", text)
        self.notes.append(text)


@dataclass
class PppInputs:
    """Per-epoch arrays for the filter ([E, S] unless stated; metres, ECEF)."""

    time_ns: np.ndarray  # [E]
    sats: np.ndarray  # [S]
    clock_group: np.ndarray  # [S] int: receiver clock state of each satellite
    clock_groups: tuple[str, ...]  # names of the clock states ("G", "E", "C2", "C3")
    code_if_m: np.ndarray
    phase_if_m: np.ndarray
    sat_apc_m: np.ndarray  # [E, S, 3] at transmission, in the ECEF frame of transmission
    model_code_m: np.ndarray  # everything but geometry, receiver clock, ZWD
    model_phase_m: np.ndarray
    wet_map: np.ndarray
    grad_map: np.ndarray  # [E, S, 2] partials of the slant delay w.r.t. north and east gradients
    elevation_rad: np.ndarray
    sigma_scale: np.ndarray  # multiplies the zenith sigmas (elevation weighting, GEO down-weighting)
    code_sigma_factor: np.ndarray  # [S] extra factor on the code sigma (uncorrected code biases)
    slip: np.ndarray  # bool: reset the ambiguity at this epoch
    usable: np.ndarray  # bool: code and phase usable
    tide_m: np.ndarray  # [E, 3]
    apriori_ecef_m: np.ndarray  # [E, 3]
    zwd0_m: np.ndarray  # [E] a-priori zenith wet delay
    lam_if_factor: np.ndarray  # [S] IF noise factor sqrt(a^2 + b^2)
    f1_hz: np.ndarray  # [S]
    f2_hz: np.ndarray  # [S]
    diagnostics: PppDiagnostics
    # ingredients the stream needs to continue slip detection and wind-up across epochs
    gf_m: np.ndarray | None = None  # geometry-free phase [m]
    mw_cyc: np.ndarray | None = None  # Melbourne-Wuebbena [wide-lane cycles]
    lli: np.ndarray | None = None  # bool
    windup_cyc: np.ndarray | None = None  # continuous wind-up [cycles] (NaN where not computed)


def _pick(obs: ObsBlock, system: str, prefs: tuple[str, ...], arr: np.ndarray, rows: np.ndarray) -> int | None:
    """Slot of the preferred code with data (most data wins among the present ones in order)."""
    have = obs.signals.get(system, ())
    best, best_n = None, 0
    for code in prefs:
        if code in have:
            f = have.index(code)
            n = int(np.isfinite(arr[:, rows, f]).sum())
            if n > best_n * 1.2:  # a later preference must carry clearly more data to win
                best, best_n = f, n
    return best


def select_signals(obs: ObsBlock, options: PppOptions):
    """IF signal pair per system: ``{sys: (code1, code2, phase1, phase2)}`` RINEX codes and the [E, S] arrays."""
    E, S = obs.n_epochs, obs.n_sats
    P1, P2, L1, L2 = (np.full((E, S), np.nan) for _ in range(4))
    lli = np.zeros((E, S), bool)
    f1 = np.full(S, np.nan)
    f2 = np.full(S, np.nan)
    chosen = {}
    sys_ = obs.systems
    for s in options.systems:
        rows = np.flatnonzero(sys_ == s)
        if rows.size == 0:
            continue
        c1 = _pick(obs, s, options.codes[s][0], obs.code_m, rows)
        c2 = _pick(obs, s, options.codes[s][1], obs.code_m, rows)
        p1 = _pick(obs, s, options.phases[s][0], obs.phase_cyc, rows)
        p2 = _pick(obs, s, options.phases[s][1], obs.phase_cyc, rows)
        if None in (c1, c2, p1, p2):
            continue
        codes = obs.signals[s]
        chosen[s] = (codes[c1], codes[c2], codes[p1], codes[p2])
        P1[:, rows] = obs.code_m[:, rows, c1]
        P2[:, rows] = obs.code_m[:, rows, c2]
        L1[:, rows] = obs.phase_cyc[:, rows, p1]
        L2[:, rows] = obs.phase_cyc[:, rows, p2]
        lli[:, rows] = ((obs.lli[:, rows, p1] | obs.lli[:, rows, p2]) & 1) > 0
        f1[rows] = _sig.frequency_hz(s, codes[p1])
        f2[rows] = _sig.frequency_hz(s, codes[p2])
    return chosen, P1, P2, L1, L2, lli, f1, f2


def code_lsq(sat_pos: np.ndarray, sat_clk_m: np.ndarray, code_m: np.ndarray, group: np.ndarray, n_groups: int,
             x0: np.ndarray | None = None, elmask_rad: float = np.radians(10.0), n_iter: int = 8) -> np.ndarray:
    """Code-only position per epoch, all epochs at once: ``[E, 3]`` ECEF (NaN where < 4 + groups satellites).

    ``sat_pos[E, S, 3]`` ECEF at transmission, ``sat_clk_m[E, S]`` (c * dts), ``code_m[E, S]`` IF
    pseudorange, ``group[S]`` clock state index. A simple tropospheric model is applied after the
    first iterations; elevation mask and 1/sin(el) weights likewise.
    """
    E, S = code_m.shape
    x = np.zeros((E, 3)) if x0 is None or not np.all(np.isfinite(x0)) else np.broadcast_to(x0, (E, 3)).copy()
    clk = np.zeros((E, n_groups))
    ok = np.isfinite(code_m) & np.isfinite(sat_clk_m) & np.all(np.isfinite(sat_pos), axis=-1)
    onehot = np.eye(n_groups)[group]  # [S, G]
    for it in range(n_iter):
        r, los = geometric_range(sat_pos, x[:, None, :])
        near = np.linalg.norm(x, axis=-1) > 6.0e6
        trop = np.zeros((E, S))
        w = ok.astype(float)
        if near.any():
            _, el, _ = az_el_from_los(np.nan_to_num(los), x)
            trop = np.where(near[:, None], 2.4 / np.maximum(np.sin(el), 0.05), 0.0)
            w = np.where(near[:, None] & (it >= 2), w * (el >= elmask_rad) * np.sin(np.maximum(el, 0.01)) ** 2, w)
        v = np.where(ok, code_m - (r - sat_clk_m + trop + clk @ onehot.T), 0.0)
        H = np.concatenate([-np.nan_to_num(los), np.broadcast_to(onehot, (E, S, n_groups))], axis=-1)
        N = np.einsum("esi,es,esj->eij", H, w, H)
        b = np.einsum("esi,es,es->ei", H, w, v)
        used = (w > 0) & np.any(onehot[None, :, :] * (w > 0)[..., None], axis=-1)
        n_used = used.sum(1)
        has_group = np.einsum("es,sg->eg", (w > 0).astype(float), onehot) > 0
        # groups with no satellite: pin their clock with a unit diagonal so N stays regular
        idx = np.arange(n_groups) + 3
        N[:, idx, idx] += np.where(has_group, 0.0, 1.0)
        good = n_used >= 3 + has_group.sum(1)
        N[:, np.arange(3), np.arange(3)] += 1e-6  # keeps degenerate geometries solvable; they fail 'good' anyway
        dx = np.zeros((E, 3 + n_groups))
        if good.any():
            dx[good] = np.linalg.solve(N[good], b[good][..., None])[..., 0]
        x = x + dx[:, :3]
        clk = clk + dx[:, 3:]
        if np.max(np.abs(dx[good, :3]), initial=0.0) < 1e-3:
            break
    x[~good] = np.nan
    return x


def prepare(obs: ObsBlock, sp3, clk=None, atx=None, options: PppOptions | None = None, osb=None,
            apriori_ecef_m: np.ndarray | None = None) -> PppInputs:
    """Build the filter inputs for ``obs`` with products ``sp3`` (:class:`Sp3`), ``clk`` (:class:`Clk` or
    None for the SP3 clock column), ``atx`` (:class:`Antex` or None) and optional code biases ``osb``
    (:class:`rtk_engine.formats.sinex_bias.SinexBias`). ``apriori_ecef_m`` [3] replaces the code-only
    seed as the point where the position-dependent models are evaluated (used by the stream)."""
    o = options or PppOptions()
    diag = PppDiagnostics()
    obs = obs.select_systems(o.systems)
    chosen, P1, P2, L1, L2, lli, f1, f2 = select_signals(obs, o)
    for s in o.systems:
        if s not in chosen and (obs.systems == s).any():
            diag.note(f"system {s}: no dual-frequency signal pair among {obs.signals.get(s)}; not used")
    diag.note("signals: " + ", ".join(f"{s} code {a}/{b} phase {c}/{d}" for s, (a, b, c, d) in chosen.items()))
    keep = np.isin(obs.systems, list(chosen))
    obs = obs.select_sats(keep)
    P1, P2, L1, L2, lli, f1, f2 = P1[:, keep], P2[:, keep], L1[:, keep], L2[:, keep], lli[:, keep], f1[keep], f2[keep]
    sats = obs.sats
    sys_ = obs.systems
    E, S = P1.shape
    t = obs.time_ns

    if osb is not None:
        for i, sat in enumerate(sats):
            s = sat[0]
            if s in chosen:
                b1 = osb.code_bias_m(sat, "C" + chosen[s][0], t)
                b2 = osb.code_bias_m(sat, "C" + chosen[s][1], t)
                P1[:, i] -= np.nan_to_num(b1)
                P2[:, i] -= np.nan_to_num(b2)

    a = f1**2 / (f1**2 - f2**2)
    b = 1.0 - a
    lam1, lam2 = CLIGHT / f1, CLIGHT / f2
    P_if = a * P1 + b * P2
    L_if = a * lam1 * L1 + b * lam2 * L2
    noise_factor = np.sqrt(a**2 + b**2)

    # ---- clock groups
    groups = []
    gidx = np.zeros(S, np.int64)
    for i, sat in enumerate(sats):
        name = sat[0]
        if name == "C":
            name = "C3" if (o.bds3_own_clock and bool(is_bds3(np.array([sat]))[0])) else "C2"
        if name not in groups:
            groups.append(name)
        gidx[i] = groups.index(name)

    # ---- satellite states at transmission time
    dual = np.isfinite(P_if) & np.isfinite(L_if)
    single = (np.isfinite(P1) | np.isfinite(P2)) & ~dual
    diag.count(sats, "single_frequency", single.sum(0))
    ei, si = np.nonzero(dual)
    t_tx = t[ei] - np.round(P_if[ei, si] / CLIGHT * NS).astype(np.int64)
    st = sat_states(sp3, sats[si], t_tx, clk)
    pos = st.pos_ecef_m.copy()
    has_orbit = np.all(np.isfinite(pos), axis=-1)
    has_clock = np.isfinite(st.clock_s)
    diag.count(sats, "no_orbit", np.bincount(si[~has_orbit], minlength=S))
    diag.count(sats, "no_clock", np.bincount(si[has_orbit & ~has_clock], minlength=S))
    pos -= st.vel_ecef_mps * np.nan_to_num(st.clock_s)[:, None]  # transmission by the satellite clock
    sat_pos = np.full((E, S, 3), np.nan)
    sat_vel = np.full((E, S, 3), np.nan)
    sat_clk_m = np.full((E, S), np.nan)
    sat_pos[ei, si] = pos
    sat_vel[ei, si] = st.vel_ecef_mps
    sat_clk_m[ei, si] = st.clock_s * CLIGHT
    valid = np.all(np.isfinite(sat_pos), axis=-1) & np.isfinite(sat_clk_m)

    # ---- a-priori receiver position: code-only LSQ with the precise products
    x0 = obs.header.approx_pos_ecef_m
    seed = code_lsq(sat_pos, sat_clk_m, np.where(valid, P_if, np.nan), gidx, len(groups), x0=x0,
                    elmask_rad=np.radians(o.elmask_deg))
    ok_seed = np.all(np.isfinite(seed), axis=-1)
    if not ok_seed.any():
        raise ValueError("PPP: no epoch has enough satellites with valid products for a code solution")
    if apriori_ecef_m is not None and np.all(np.isfinite(apriori_ecef_m)):
        apriori = np.broadcast_to(np.asarray(apriori_ecef_m, float), (E, 3)).copy()
    elif o.mode == "static":
        apriori = np.broadcast_to(np.median(seed[ok_seed], axis=0), (E, 3)).copy()
    else:
        idx = np.where(ok_seed, np.arange(E), -1)
        idx = np.maximum.accumulate(idx)
        first = int(np.argmax(ok_seed))
        idx[idx < 0] = first
        apriori = seed[idx]

    # ---- satellite antenna PCO (IF), nominal attitude
    if atx is not None and o.satellite_pco:
        if o.nominal_satellite_pco:
            atx, pco_source = fill_missing_satellite_pco(atx, sats, int(t[0]))
            by_source: dict[str, list[str]] = {}
            for sat_name, src in pco_source.items():
                by_source.setdefault(src, []).append(sat_name)
            for src, names in sorted(by_source.items()):
                diag.note(f"satellite PCO source {src}: {' '.join(names)}")
        freqs = {s: (ANTEX_FREQS[s][0], ANTEX_FREQS[s][1], float(f1[sys_ == s][0]), float(f2[sys_ == s][0]))
                 for s in chosen}
        q = np.flatnonzero(valid.reshape(-1))
        eq, sq = np.unravel_index(q, (E, S))
        off = satellite_pco_offset_ecef(atx, sats, sq, t[eq], sat_pos[eq, sq], sat_vel[eq, sq], freqs)
        missing = ~np.all(np.isfinite(off), axis=-1)
        no_pco = sorted(set(sats[sq[missing]].tolist()))
        if no_pco:
            diag.note(f"no satellite PCO in the antenna file for {len(no_pco)} satellites "
                      f"({' '.join(no_pco)}): centre-of-mass positions used for them")
        sat_pos[eq, sq] += np.nan_to_num(off)
    elif o.satellite_pco:
        diag.note("no antenna file: satellite PCOs not applied")

    # ---- geometry at the a-priori position
    rng, los = geometric_range(sat_pos, apriori[:, None, :])
    az, el, llh = az_el_from_los(los, apriori)
    below = valid & (el < np.radians(o.elmask_deg))
    diag.count(sats, "below_mask", below.sum(0))
    usable = valid & ~below & dual

    # ---- troposphere
    dt64 = gnss_time.to_datetime64(t)
    doy = (dt64 - dt64.astype("datetime64[Y]")) / np.timedelta64(1, "D") + 1.0
    zhd, zwd0 = saastamoinen_zenith(llh[:, 0], llh[:, 2])
    mh, mw = niell_mapping(el, llh[:, None, 0], llh[:, None, 2], doy[:, None])

    # ---- receiver antenna: ARP eccentricity + IF PCO, IF PCV
    hen = np.asarray(obs.header.antenna_delta_hen_m, float)
    ecc_enu = np.array([hen[1], hen[2], hen[0]])
    rot = enu_rotation(llh[:, 0], llh[:, 1])  # [E, 3, 3]
    los_enu = np.einsum("eij,esj->esi", rot, los)
    ant_m = -np.einsum("esi,i->es", los_enu, ecc_enu)
    ant_name = obs.header.antenna_type
    have_rcv = False
    if atx is not None and ant_name.strip():
        try:
            entry = atx.receiver(ant_name)
            have_rcv = True
        except KeyError:
            diag.note(f"receiver antenna {ant_name.strip()!r} not in the antenna file: ARP eccentricity only")
        if have_rcv:
            diag.note(f"receiver antenna {entry.antenna_type.strip()!r} PCO/PCV applied")
            for s in chosen:
                rows = sys_ == s
                fa, fb = ANTEX_FREQS[s]
                fa = fa if fa in entry.freqs else "G01"  # no calibration for this band: the GPS one
                fb = fb if fb in entry.freqs else "G02"
                if fa not in entry.freqs or fb not in entry.freqs:
                    diag.note(f"receiver antenna lacks {ANTEX_FREQS[s]} and GPS fallbacks: no PCO/PCV for {s}")
                    continue
                ai, bi = a[rows][0], b[rows][0]
                pco = ai * entry.freqs[fa].pco_m + bi * entry.freqs[fb].pco_m  # N, E, U
                pco_enu = np.array([pco[1], pco[0], pco[2]])
                zen = np.nan_to_num(np.pi / 2 - el[:, rows], nan=0.0)
                azr = np.nan_to_num(az[:, rows])
                pcv = ai * entry.pcv(fa, azr, zen) + bi * entry.pcv(fb, azr, zen)
                ant_m[:, rows] += -np.einsum("esi,i->es", los_enu[:, rows], pco_enu) + pcv
                if fa == "G01" and s != "G":
                    diag.note(f"receiver antenna: GPS L1/L2 calibration used for system {s}")
    elif ant_name.strip():
        diag.note(f"no antenna file: receiver antenna {ant_name.strip()!r} PCO/PCV not applied (ARP only)")

    # ---- satellite antenna PCV (nadir-dependent, IF), where the antenna file (or a block-nominal copy) has one
    if atx is not None and o.satellite_pco and o.satellite_pcv:
        ant_m += satellite_pcv_if(atx, sats, t, sat_pos, apriori, a, b, usable)

    # ---- relativity (Shapiro), wind-up, tides
    shapiro = np.zeros((E, S))
    if o.shapiro:
        rs = np.linalg.norm(sat_pos, axis=-1)
        rr = np.linalg.norm(apriori, axis=-1)[:, None]
        shapiro = 2.0 * GM_EARTH / CLIGHT**2 * np.log((rs + rr + rng) / (rs + rr - rng))
    windup_m = np.zeros((E, S))
    windup_cyc = np.full((E, S), np.nan)
    if o.windup:
        q = np.flatnonzero(usable.reshape(-1))
        eq, sq = np.unravel_index(q, (E, S))
        axes = satellite_body_axes(sat_pos[eq, sq], sat_vel[eq, sq], sun_position_ecef(t[eq]),
                                   orbit_normal=is_bds_geo(sats[sq]))
        frac = np.full((E, S), np.nan)
        frac[eq, sq] = windup_fraction(sat_pos[eq, sq], axes, apriori[eq])
        windup_cyc = unwrap_cycles(frac)
        windup_m = np.nan_to_num(windup_cyc) * (CLIGHT / (f1 + f2))[None, :]
    tide = solid_earth_tide_ecef(t, apriori) if o.tides else np.zeros((E, 3))

    model_code = -sat_clk_m + zhd[:, None] * mh + zwd0[:, None] * mw + shapiro + ant_m
    model_phase = model_code + windup_m

    # ---- cycle slips: LLI, geometry-free and Melbourne-Wuebbena jumps, gaps
    slip = detect_slips(t, L1, L2, P1, P2, f1, f2, lli, usable, o)
    gf, mw_c = gf_mw(L1, L2, P1, P2, f1, f2)
    # Chen & Herring (1997) gradient mapping: m_g = 1 / (sin(el) tan(el) + 0.0032)
    elc = np.maximum(np.nan_to_num(el, nan=np.pi / 2), np.radians(3.0))
    mg = 1.0 / (np.sin(elc) * np.tan(elc) + 0.0032)
    grad_map = np.stack([mg * np.cos(np.nan_to_num(az)), mg * np.sin(np.nan_to_num(az))], axis=-1)
    sin_el = np.sin(np.maximum(el, np.radians(5.0)))
    if o.elevation_weighting == "sin":
        sig = 1.0 / sin_el
    else:  # "a2b2": sigma^2 = s0^2 (1 + 1/sin^2 el) / 2, equal at zenith, 0.71/sin el near the horizon
        sig = np.sqrt(0.5 * (1.0 + 1.0 / sin_el**2))
    sig = np.where(is_bds_geo(sats)[None, :], sig / o.bds_geo_weight, sig)
    code_scale = np.ones(S)
    if osb is None:
        code_scale[sys_ == "C"] = o.bds_code_sigma_factor
    return PppInputs(time_ns=t, sats=sats, clock_group=gidx, clock_groups=tuple(groups), code_if_m=P_if,
                     phase_if_m=L_if, sat_apc_m=sat_pos, model_code_m=model_code, model_phase_m=model_phase,
                     wet_map=mw, grad_map=grad_map, elevation_rad=el, sigma_scale=sig, code_sigma_factor=code_scale, slip=slip, usable=usable, tide_m=tide,
                     apriori_ecef_m=apriori, zwd0_m=zwd0, lam_if_factor=noise_factor, f1_hz=f1, f2_hz=f2,
                     diagnostics=diag, gf_m=gf, mw_cyc=mw_c, lli=lli, windup_cyc=windup_cyc)


def satellite_pco_offset_ecef(atx, sats: np.ndarray, sat_idx: np.ndarray, t_ns: np.ndarray, pos_ecef_m: np.ndarray,
                              vel_ecef_mps: np.ndarray, freqs: dict[str, tuple]) -> np.ndarray:
    """ECEF vector [m] centre of mass -> IF antenna phase centre for rows (``sats[sat_idx]``, ``t_ns``).

    Same model as :func:`rtk_engine.orbits.precise.satellite_apc_offset_ecef` (nominal attitude,
    orbit-normal for BeiDou GEOs; ``freqs[sys] = (code1, code2, f1_hz, f2_hz)``), but the ANTEX
    lookup is done once per satellite and validity period instead of once per epoch. Rows
    without an entry are NaN."""
    pco = np.full((sat_idx.size, 3), np.nan)
    for i in np.unique(sat_idx):
        sat = str(sats[i])
        spec = freqs.get(sat[0])
        if spec is None:
            continue
        rows = np.flatnonzero(sat_idx == i)
        for e in atx.satellites.get(sat, []):
            if spec[0] not in e.freqs or spec[1] not in e.freqs:
                continue
            sel = rows[(t_ns[rows] >= e.valid_from_ns) & (t_ns[rows] < e.valid_until_ns) & np.isnan(pco[rows, 0])]
            pco[sel] = iono_free_pco(e.freqs[spec[0]].pco_m, e.freqs[spec[1]].pco_m, spec[2], spec[3])
    axes = satellite_body_axes(pos_ecef_m, vel_ecef_mps, sun_position_ecef(t_ns), orbit_normal=is_bds_geo(sats[sat_idx]))
    return pco_ecef(pco, axes)


def satellite_pcv_if(atx, sats: np.ndarray, t_ns: np.ndarray, sat_pos: np.ndarray, rcv: np.ndarray, a: np.ndarray,
                     b: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Satellite PCV of the IF combination [m] ``[E, S]`` (add to the modelled range), from the nadir angle
    at the receiver ``rcv[E, 3]``; zero where the antenna entry has no PCV table."""
    E, S = usable.shape
    out = np.zeros((E, S))
    los = rcv[:, None, :] - sat_pos
    cosn = -np.einsum("esi,esi->es", sat_pos, los) / (np.linalg.norm(sat_pos, axis=-1) * np.linalg.norm(los, axis=-1))
    nadir = np.arccos(np.clip(np.nan_to_num(cosn, nan=1.0), -1.0, 1.0))
    for i, sat in enumerate(sats):
        f1, f2 = ANTEX_FREQS[str(sat)[0]]
        todo = usable[:, i].copy()
        for e in atx.satellites.get(str(sat), []):  # validity periods in file order; the first one covering wins
            if f1 not in e.freqs or f2 not in e.freqs:
                continue
            rows = todo & (t_ns >= e.valid_from_ns) & (t_ns < e.valid_until_ns)
            if rows.any():
                n = nadir[rows, i]
                out[rows, i] = a[i] * e.pcv(f1, 0.0, n) + b[i] * e.pcv(f2, 0.0, n)
                todo &= ~rows
    return out


def gf_mw(L1, L2, P1, P2, f1, f2):
    """Geometry-free phase [m] and Melbourne-Wuebbena combination [wide-lane cycles]."""
    lam1, lam2 = CLIGHT / f1, CLIGHT / f2
    gf = lam1 * L1 - lam2 * L2
    mw = ((f1 * lam1 * L1 - f2 * lam2 * L2) / (f1 - f2) - (f1 * P1 + f2 * P2) / (f1 + f2)) / (CLIGHT / (f1 - f2))
    return gf, mw


def detect_slips(t, L1, L2, P1, P2, f1, f2, lli, usable, o: PppOptions) -> np.ndarray:
    """Ambiguity reset flags ``[E, S]``: first epoch of an arc, LLI, GF/MW jumps against the
    previous usable epoch of the same satellite, or a gap longer than ``max_gap_s``."""
    E, S = L1.shape
    gf, mw = gf_mw(L1, L2, P1, P2, f1, f2)
    idx = np.where(usable, np.arange(E)[:, None], -1)
    prev = np.full((E, S), -1)
    prev[1:] = np.maximum.accumulate(idx, axis=0)[:-1]
    has_prev = prev >= 0
    pc = np.clip(prev, 0, None)
    cols = np.arange(S)[None, :]
    dgf = gf - gf[pc, cols]
    dmw = mw - mw[pc, cols]
    gap = (t[:, None] - t[pc.ravel()].reshape(E, S)) / NS
    slip = ~has_prev | lli | (gap > o.max_gap_s)
    with np.errstate(invalid="ignore"):
        slip |= (np.abs(dgf) > o.slip_gf_m) | (np.abs(dmw) > o.slip_mw_cycles)
    return slip & usable
