"""Batch RTK / PPK of whole files: forward, backward and combined.

Semantics of the directions (PPK):

* ``forward``: epochs in time order, as a real-time rover would have computed them.
* ``backward``: the same filter run on the epochs in reverse time order (a fresh filter; what
  the forward filter needed to converge is now at the end of the file).
* ``combined``: forward and backward are run independently and merged epoch by epoch:
  both fixed and within ``combine.max_diff_m`` -> covariance-weighted mean, FIX; both fixed but
  apart -> weighted mean, FLOAT (one of them fixed wrongly); one fixed and the other's float
  consistent with it (4 sigma) -> that fix, FIX; otherwise the covariance-weighted mean, FLOAT.

The per-file work that does not depend on the rover position (epoch alignment, satellite
states for all epochs, base geometry) is done once in :func:`prepare.prepare`; the epoch loop
runs :meth:`RtkFilter.step`, the same call the streaming :class:`RtkStream` makes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ...obs import ObsBlock
from ...solution import Quality, Solution
from .filter import EpochResult, RtkFilter
from .options import RtkOptions
from .prepare import EpochArrays, prepare

log = logging.getLogger(__name__)


@dataclass
class RtkReport:
    """What happened in a run: counts a caller should show (nothing is dropped silently)."""

    n_epochs: int = 0
    n_fix: int = 0
    n_float: int = 0
    n_none: int = 0
    time_to_first_fix_s: float = float("nan")
    skipped: list = field(default_factory=list)
    slips: dict = field(default_factory=dict)
    rejected: int = 0

    @property
    def fix_rate(self) -> float:
        return self.n_fix / self.n_epochs if self.n_epochs else 0.0


def make_filter(A: EpochArrays, opts: RtkOptions) -> RtkFilter:
    return RtkFilter(A.sats, A.wavelength_m, A.group, A.fixable, A.base_pos, opts)


def run_filter(A: EpochArrays, opts: RtkOptions, reverse: bool = False, progress=None) -> tuple[Solution, RtkFilter]:
    """Run one filter over the prepared epochs (in reverse order if asked); Solution in time order."""
    flt = make_filter(A, opts)
    order = np.arange(A.n_epochs)[::-1] if reverse else np.arange(A.n_epochs)
    out: list[EpochResult] = [None] * A.n_epochs  # type: ignore[list-item]
    for k in order:
        out[k] = flt.step(A, int(k))
        if progress is not None:
            progress(1)
    return _to_solution(out), flt


def _to_solution(res: list[EpochResult]) -> Solution:
    return Solution(time_ns=np.array([r.time_ns for r in res], np.int64),
                    ecef_m=np.array([r.pos for r in res]).reshape(-1, 3),
                    cov_m2=np.array([r.cov for r in res]).reshape(-1, 3, 3),
                    quality=np.array([r.quality for r in res], np.uint8),
                    n_sats=np.array([r.n_sats for r in res], int),
                    ratio=np.array([r.ratio for r in res]),
                    age_s=np.array([r.age_s for r in res]))


def combine(fwd: Solution, bwd: Solution, max_diff_m: float) -> Solution:
    """Merge forward and backward solutions epoch by epoch (semantics in the module doc)."""
    qf, qb = fwd.quality, bwd.quality
    ok_f = np.all(np.isfinite(fwd.ecef_m), axis=1)
    ok_b = np.all(np.isfinite(bwd.ecef_m), axis=1)
    both = ok_f & ok_b
    Pf = np.where(ok_f[:, None, None], fwd.cov_m2, np.eye(3) * 1e12)
    Pb = np.where(ok_b[:, None, None], bwd.cov_m2, np.eye(3) * 1e12)
    Pf = Pf + np.eye(3) * 1e-10
    Pb = Pb + np.eye(3) * 1e-10
    If, Ib = np.linalg.inv(Pf), np.linalg.inv(Pb)
    P = np.linalg.inv(If + Ib)
    xf = np.where(ok_f[:, None], fwd.ecef_m, 0.0)
    xb = np.where(ok_b[:, None], bwd.ecef_m, 0.0)
    x = np.einsum("eij,ej->ei", P, np.einsum("eij,ej->ei", If, xf) + np.einsum("eij,ej->ei", Ib, xb))
    d = fwd.ecef_m - bwd.ecef_m
    dist = np.linalg.norm(d, axis=1)
    fix_f, fix_b = qf == Quality.FIX, qb == Quality.FIX
    q = np.where(both | ok_f | ok_b, Quality.FLOAT, Quality.NONE).astype(np.uint8)
    # both fixed and agreeing
    agree = fix_f & fix_b & (dist <= max_diff_m)
    q[agree] = Quality.FIX
    # exactly one fixed: keep it if the other side's float is consistent at 4 sigma
    with np.errstate(invalid="ignore"):
        chi_f = np.einsum("ei,eij,ej->e", d, np.linalg.inv(Pb + Pf), d)
    one_f = fix_f & ~fix_b & (~ok_b | (chi_f < 16.0))
    one_b = fix_b & ~fix_f & (~ok_f | (chi_f < 16.0))
    x[one_f], P[one_f] = fwd.ecef_m[one_f], fwd.cov_m2[one_f]
    x[one_b], P[one_b] = bwd.ecef_m[one_b], bwd.cov_m2[one_b]
    q[one_f | one_b] = Quality.FIX
    only_f = ok_f & ~ok_b
    only_b = ok_b & ~ok_f
    x[only_f & ~one_f], P[only_f & ~one_f] = fwd.ecef_m[only_f & ~one_f], fwd.cov_m2[only_f & ~one_f]
    x[only_b & ~one_b], P[only_b & ~one_b] = bwd.ecef_m[only_b & ~one_b], bwd.cov_m2[only_b & ~one_b]
    none = ~(ok_f | ok_b)
    x[none] = np.nan
    P[none] = np.nan
    ratio = np.maximum(fwd.ratio, bwd.ratio)
    return Solution(time_ns=fwd.time_ns, ecef_m=x, cov_m2=P, quality=q,
                    n_sats=np.maximum(fwd.n_sats, bwd.n_sats), ratio=ratio, age_s=fwd.age_s)


def solve(rover: ObsBlock, base: ObsBlock, nav, base_pos, opts: RtkOptions | None = None,
          progress=None) -> tuple[Solution, RtkReport]:
    """RTK/PPK of a rover block against a base block with known base ECEF position [m].

    Returns the Solution (one row per rover epoch that has a base epoch) and a report with fix
    rate, time to first fix and every skip. ``opts.direction`` picks forward/backward/combined.
    """
    opts = opts or RtkOptions()
    A = prepare(rover, base, nav, base_pos, opts)
    report = RtkReport(skipped=list(rover.header.skipped) + list(base.header.skipped) + A.skipped)
    if opts.direction == "forward":
        sol, flt = run_filter(A, opts, progress=progress)
        filters = [flt]
    elif opts.direction == "backward":
        sol, flt = run_filter(A, opts, reverse=True, progress=progress)
        filters = [flt]
    else:
        fwd, f1 = run_filter(A, opts, progress=progress)
        bwd, f2 = run_filter(A, opts, reverse=True, progress=progress)
        sol = combine(fwd, bwd, opts.combine.max_diff_m)
        filters = [f1, f2]
    report.n_epochs = len(sol)
    report.n_fix = int(np.sum(sol.quality == Quality.FIX))
    report.n_float = int(np.sum(sol.quality == Quality.FLOAT))
    report.n_none = int(np.sum(sol.quality == Quality.NONE))
    fixed = np.flatnonzero(sol.quality == Quality.FIX)
    if fixed.size:
        report.time_to_first_fix_s = (sol.time_ns[fixed[0]] - sol.time_ns[0]) * 1e-9
    slips: dict[str, int] = {}
    for f in filters:
        for det in (f.det_r, f.det_b):
            for key, val in det.counts.items():
                slips[key] = slips.get(key, 0) + val
        slips["clock_jumps"] = slips.get("clock_jumps", 0) + f.det_r.clock_jumps + f.det_b.clock_jumps
        report.rejected += f.n_rejected
    report.slips = slips
    return sol, report
