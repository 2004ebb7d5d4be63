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
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from .linalg import LinAlgError, chol, chol_solve, sub

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
    T: np.ndarray | None = None  # [n, len(ix)] DD operator on the active subset (fixed rows only)
    fixed_amb: np.ndarray | None = None  # [n] integer DD ambiguities
    reason: str = ""


def group_refs(group: np.ndarray, elev: np.ndarray) -> np.ndarray:
    """For elements with group ids and elevations, the index of each element's group reference
    (the highest element of its group)."""
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
    T = np.zeros((n, ix.size))
    T[np.arange(n), i_col] = 1.0
    T[np.arange(n), j_col] = -1.0
    xa = flt.x[ix]
    Pa = sub(flt.P, ix)
    a = T @ xa
    Qxa = Pa @ T.T
    Qa = T @ Qxa
    row_sat = ss[nonref]
    drop_order = np.unique(row_sat)[np.argsort(el[np.unique(row_sat)])]
    sel = np.ones(n, bool)
    first_ratio = None
    reason = ""
    try:
        c_pos = chol(Pa[:NP, :NP])
    except LinAlgError:
        return ArResult(False, reason="float position covariance singular")
    for attempt in range(o.max_drop_sats + 1):
        if attempt:
            if attempt - 1 >= drop_order.size:
                break
            sel &= row_sat != drop_order[attempt - 1]
        n_sel = int(sel.sum())
        if n_sel < o.min_ambiguities:
            reason = reason or "partial AR ran out of ambiguities"
            break
        Qs = Qa[sel][:, sel]
        try:
            res = lambda_search(a[sel], Qs)
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
            cq = chol(Qs)
        except LinAlgError:
            continue
        x_fix = xa - Qxa[:, sel] @ chol_solve(cq, a[sel] - afix)
        d = x_fix[:NP] - xa[:NP]
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
        Pxs = Qxa[:NP, sel]
        cov = Pa[:NP, :NP] - Pxs @ chol_solve(cq, Pxs.T)
        # the fixed ambiguities must determine the position: enough satellites, small covariance
        n_sats_fixed = np.unique(np.concatenate((ss[nonref][sel], ss[ref[nonref]][sel]))).size
        if n_sats_fixed < o.min_fixed_sats or np.sqrt(np.trace(cov)) > o.max_fixed_pos_std_m:
            reason = f"fixed set of {n_sats_fixed} satellites does not determine the position"
            break
        return ArResult(True, ratio=ratio, pos=x_fix[:NP], cov=0.5 * (cov + cov.T), n_fixed=n_sel,
                        success_rate=res.success_rate, ix=ix, T=T[sel], fixed_amb=afix)
    return ArResult(False, ratio=first_ratio or 0.0, reason=reason)
