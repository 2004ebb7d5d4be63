"""Ambiguity resolution for the RTK filter: DD ambiguities -> LAMBDA, partial AR, validation.

1. Eligible single-difference ambiguities: observed now, active, satellite above the AR mask,
   locked for ``min_lock_epochs``, system/orbit allowed (BeiDou GEOs optional, GLONASS never).
2. Per (system, band) group the highest eligible satellite is the reference; DD ambiguities
   ``a = T x`` with covariance ``T P T^T``.
3. LAMBDA on the set; accepted when the bootstrapped success rate >= ``min_success_rate`` and the
   ratio >= a threshold that falls with the number of ambiguities (``ArOptions.ratio_threshold``),
   or with a lower success rate (>= ``success_floor``) and a ``strong_ratio_factor`` times higher ratio.
   Otherwise partial AR drops the lowest remaining satellite (all its signals) and retries.
4. False-fix gates on the fixed solution: the fixed position must be consistent with the float one
   (chi-square on the float position covariance), every fixed DD phase residual must stay
   within ``fix_residual_sigma`` sigma (or ``fix_residual_floor_m``), and the fixed set must span
   ``min_fixed_sats`` satellites with a fixed position sigma below ``max_fixed_pos_std_m``.
5. With ionosphere states (long baselines), steps 3-4 run on the ionosphere-weighted float
   (``iono_weighted``) and the output position is the loose float conditioned on the integers,
   FIX only when its horizontal sigma is below ``iono_max_hor_std_m`` and at most
   ``iono_max_unfixed_sats`` eligible satellites are left out (else the integers are only held).
   BeiDou GEOs are eligible then (``ar.bds_geo_with_iono``, set by the filter).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from .linalg import LinAlgError, chol, chol_solve, sub

from ... import _ext
from ...arrays import sorted_unique
from ...geodesy.ellipsoid import ecef_to_geodetic, enu_rotation
from ..lambda_search import LambdaError, lambda_search

NP = 3


@dataclass
class ArResult:
    fixed: bool
    ratio: float = 0.0
    pos: np.ndarray | None = None
    cov: np.ndarray | None = None
    n_fixed: int = 0
    success_rate: float = 0.0
    ix: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    dd_cols: tuple = ()  # (i, j) [n] active-subset columns of the fixed DD rows: a = x[i] - x[j]
    fixed_amb: np.ndarray | None = None  # [n] integer DD ambiguities
    reason: str = ""
    precise: bool = True  # False: integers validated (and held) but the position not yet cm-precise


def group_refs(group: np.ndarray, elev: np.ndarray) -> np.ndarray:
    """For elements with group ids and elevations, the index of each element's group reference
    (the highest element of its group; the first one on ties)."""
    compiled = _ext.kernel("rtk_core", "group_refs")  # optional Cython kernel, same indices
    if compiled is not None:
        return compiled(np.ascontiguousarray(group, dtype=np.int64), np.ascontiguousarray(elev, dtype=float))
    order = np.lexsort((-elev, group))
    gs = group[order]
    starts = np.concatenate(([True], gs[1:] != gs[:-1]))
    ref_sorted = order[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    ref = np.empty_like(order)
    ref[order] = ref_sorted
    return ref


def resolve(flt, ok: np.ndarray, el: np.ndarray, rows) -> ArResult:
    """Try to fix the DD ambiguities of filter ``flt`` after its measurement update."""
    o = flt.opts.ar
    eligible = (ok & flt.active & (el >= np.radians(o.elevation_mask_deg))[:, None]
                & (flt.lock >= o.min_lock_epochs) & flt.fixable[:, None])
    ss, ff = np.nonzero(eligible)
    if ss.size < 2:
        return ArResult(False, reason="too few eligible ambiguities")
    ref = group_refs(flt.group[ss, ff], el[ss])
    nonref = np.flatnonzero(ref != np.arange(ss.size))
    if nonref.size < o.min_ambiguities:
        return ArResult(False, reason="too few DD ambiguities")
    ix = rows.ix
    col = np.full(flt.nx, -1)
    col[ix] = np.arange(ix.size)
    i_col = col[flt.amb_idx[ss[nonref], ff[nonref]]]
    j_col = col[flt.amb_idx[ss[ref[nonref]], ff[ref[nonref]]]]
    n = nonref.size
    xa = flt.x[ix]
    Pa = sub(flt.P, ix)
    a, Qxa, Qa = dd_transform(i_col, j_col, xa, Pa)
    # integer search and validation on the ionosphere-weighted float (see iono_weighted); the output
    # position then conditions the filter's own float (loose ionosphere) on the integers found
    a_s, Qa_s, xs, Ps, Qxs = a, Qa, xa, Pa, Qxa
    wt = iono_weighted(flt, ix, xa, Pa)
    if wt is not None:
        xs, Ps = wt
        a_s, Qxs, Qa_s = dd_transform(i_col, j_col, xs, Ps)
    row_sat = ss[nonref]
    row_sats = sorted_unique(row_sat)  # row_sat is sorted (np.nonzero order)
    drop_order = row_sats[np.argsort(el[row_sats])]
    sel = np.ones(n, bool)
    first_ratio = None
    reason = ""
    try:
        c_pos = chol(Ps[:NP, :NP])
    except LinAlgError:
        return ArResult(False, reason="float position covariance singular")
    for attempt in range(o.max_drop_sats + 1):
        if attempt:
            if attempt - 1 >= drop_order.size:
                break
            sel &= row_sat != drop_order[attempt - 1]
        n_sel = int(np.count_nonzero(sel))
        if n_sel < o.min_ambiguities:
            reason = reason or "partial AR ran out of ambiguities"
            break
        Qs = sub(Qa_s, np.flatnonzero(sel))
        try:
            res = lambda_search(a_s[sel], Qs)
        except (LambdaError, LinAlgError, ValueError) as exc:  # an ill-conditioned subset: try the next one
            reason = f"LAMBDA failed: {exc}"
            continue
        ratio = min(res.ratio, 999.9)
        if first_ratio is None:
            first_ratio = ratio
        if not o.accept(n_sel, ratio, res.success_rate):
            reason = f"ratio {ratio:.2f} / success {res.success_rate:.4f} below threshold"
            continue
        afix = res.candidates[0]
        try:
            x_fix, cov = _conditioned(xs, Ps, Qxs, Qs, a_s, sel, afix)
        except LinAlgError:
            continue
        d = x_fix[:NP] - xs[:NP]
        chi2 = float(d @ chol_solve(c_pos, d))
        if chi2 > o.fix_float_chi2:
            reason = f"fixed-float position chi2 {chi2:.1f}"
            continue
        # DD phase residuals of the fixed solution, on rows whose ambiguities are both fixed
        fixed_cols = np.zeros(ix.size, bool)
        fixed_cols[i_col[sel]] = True
        fixed_cols[j_col[sel]] = True
        ph = rows.is_phase & (rows.amb_cols[:, 0] >= 0)
        ph &= fixed_cols[np.maximum(rows.amb_cols[:, 0], 0)] & fixed_cols[np.maximum(rows.amb_cols[:, 1], 0)]
        v_fix = rows.v[ph] - rows.H[ph] @ (x_fix - rows.x_prior)
        lim = np.maximum(o.fix_residual_sigma * np.sqrt(rows.R_diag[ph]), o.fix_residual_floor_m)
        if np.any(np.abs(v_fix) > lim):
            reason = f"fixed DD phase residual {np.max(np.abs(v_fix)):.3f} m"
            continue
        # the fixed ambiguities must determine the position: enough satellites, small covariance
        n_sats_fixed = len(set(ss[nonref][sel].tolist()) | set(ss[ref[nonref]][sel].tolist()))
        if n_sats_fixed < o.min_fixed_sats or np.sqrt(np.trace(cov)) > o.max_fixed_pos_std_m:
            reason = f"fixed set of {n_sats_fixed} satellites does not determine the position"
            break
        precise = True
        if wt is not None:  # output: the loose float on these integers, a FIX only when cm-precise
            try:
                x_fix, cov = _conditioned(xa, Pa, Qxa, Qa[np.ix_(sel, sel)], a, sel, afix)
            except LinAlgError:
                continue
            hs = horizontal_std(x_fix[:NP], cov)
            n_left = sorted_unique(ss).size - n_sats_fixed
            precise = bool(hs <= o.iono_max_hor_std_m) and n_left <= o.iono_max_unfixed_sats
            reason = "" if precise else (f"integers held, fixed position horizontal sigma {hs * 1e3:.1f} mm, "
                                         f"{n_left} eligible satellites unfixed")
        return ArResult(True, ratio=ratio, pos=x_fix[:NP], cov=0.5 * (cov + cov.T), n_fixed=n_sel,
                        success_rate=res.success_rate, ix=ix, dd_cols=(i_col[sel], j_col[sel]),
                        fixed_amb=afix, precise=precise,
                        reason=reason)
    return ArResult(False, ratio=first_ratio or 0.0, reason=reason)


def dd_transform(i_col: np.ndarray, j_col: np.ndarray, x: np.ndarray, P: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DD ambiguities ``a = T x``, ``P T^T`` and ``T P T^T`` for the operator ``T`` with +1 in column
    ``i_col`` and -1 in ``j_col`` of each row, as column differences: the same numbers as the matrix
    products (each element is one rounded difference whatever the summation order), without them.
    ``P T^T`` is C-ordered, as the product is (the order decides later BLAS paths, hence the bits)."""
    PTt = np.subtract(P[:, i_col], P[:, j_col], order="C")
    return x[i_col] - x[j_col], PTt, PTt[i_col] - PTt[j_col]


def _conditioned(x, P, Qxa, Qs, a, sel, afix):
    """State conditioned on the DD ambiguities ``a[sel] = afix``, and its position covariance."""
    cq = chol(Qs)
    x_fix = x - Qxa[:, sel] @ chol_solve(cq, a[sel] - afix)
    Pxs = Qxa[:NP, sel]
    return x_fix, P[:NP, :NP] - Pxs @ chol_solve(cq, Pxs.T)


def iono_weighted(flt, ix: np.ndarray, xa: np.ndarray, Pa: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The float state on ``ix`` conditioned on every active per-satellite ionosphere state being
    0 +- ``ar.iono_std_m_per_10km`` (scaled by the baseline length) [m at L1], or None when off.

    Long baselines need a loose per-satellite prior (the single-difference ionosphere spreads by
    several cm around a common mapped vertical), and then the narrow lane takes many minutes; the
    ionosphere-weighted search finds the integers within seconds, while the position comes from the
    loose float conditioned on those integers, so the constraint's error does not bias it.
    """
    std = flt.opts.ar.iono_std_m_per_10km
    if std <= 0 or not flt.use_iono:
        return None
    col = np.full(flt.nx, -1)
    col[ix] = np.arange(ix.size)
    c = col[flt.iono_idx[flt.iono_active]]
    c = c[c >= 0]
    if c.size == 0:
        return None
    base_km = max(np.linalg.norm(xa[:NP] - flt.base_pos) / 1e3, 1.0)
    r = (std * base_km / 10.0) ** 2
    # pseudo-observations x[c] = 0, variance r (uncorrelated): Kalman update on the subset
    PHt = Pa[:, c]
    S = Pa[np.ix_(c, c)] + np.eye(c.size) * r
    try:
        cs = chol(S)
    except LinAlgError:
        return None
    K = chol_solve(cs, PHt.T).T
    x = xa - K @ xa[c]
    P = Pa - K @ PHt.T
    return x, 0.5 * (P + P.T)


def horizontal_std(pos_ecef: np.ndarray, cov_ecef: np.ndarray) -> float:
    """sqrt(var east + var north) [m] of an ECEF position covariance [m^2]."""
    llh = ecef_to_geodetic(pos_ecef)
    R = enu_rotation(llh[0], llh[1])[:2]
    return float(np.sqrt(max(np.trace(R @ cov_ecef @ R.T), 0.0)))
