"""Batch PPP: ``solve(obs, products, options) -> Solution`` over a whole observation file."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtk_engine.obs import ObsBlock
from rtk_engine.solution import Quality, Solution

from .filter import PppFilter, clock_interp_sigma_m
from .options import PppOptions
from .inputs import PppDiagnostics, PppInputs, prepare


@dataclass
class PppResult:
    """A PPP run: the solution, the zenith wet delay [m] per epoch and what was left out."""

    solution: Solution
    zwd_m: np.ndarray
    diagnostics: PppDiagnostics
    inputs: PppInputs


def clock_interval_s(sp3, clk) -> float:
    """Sampling [s] of the satellite clocks actually used (CLK file, else the SP3 clock column)."""
    return float(clk.interval_s if clk is not None else sp3.interval_s)


def run_filter(inp: PppInputs, options: PppOptions, clock_extra_sigma_m: float = 0.0, progress=None) -> PppResult:
    """Run the EKF over all epochs of prepared inputs (``progress(i, n)`` called every 100 epochs)."""
    E = inp.time_ns.size
    f = PppFilter(inp.sats.size, len(inp.clock_groups), options, clock_extra_sigma_m)
    ecef = np.full((E, 3), np.nan)
    cov = np.full((E, 3, 3), np.nan)
    nsat = np.zeros(E, np.int64)
    clock = np.full((E, len(inp.clock_groups)), np.nan)
    zwd = np.full(E, np.nan)
    per = np.zeros((E, len(inp.clock_groups)), np.int64)
    for k in range(E):
        r = f.step(k, inp)
        if r.ok:
            ecef[k], cov[k], nsat[k], clock[k], zwd[k], per[k] = (r.ecef_m, r.cov_m2, r.n_sats, r.clock_m, r.zwd_m,
                                                                   r.n_per_group)
        if progress is not None and k % 100 == 0:
            progress(k, E)
    ok = np.all(np.isfinite(ecef), axis=1)
    quality = np.where(ok, Quality.PPP, Quality.NONE).astype(np.uint8)
    sps: dict[str, np.ndarray] = {}
    for j, name in enumerate(inp.clock_groups):
        sps[name[0]] = sps.get(name[0], 0) + per[:, j]
    sol = Solution(time_ns=inp.time_ns.copy(), ecef_m=ecef, cov_m2=cov, quality=quality, n_sats=nsat,
                   clock_m=clock, sats_per_system=sps)
    diag = inp.diagnostics
    diag.count(inp.sats, "outlier", f.outliers)
    diag.count(inp.sats, "ambiguity_reset", f.resets)
    return PppResult(sol, zwd, diag, inp)


def solve_detailed(obs: ObsBlock, sp3, clk=None, atx=None, options: PppOptions | None = None, osb=None,
                   progress=None) -> PppResult:
    """PPP of a whole file with products: solution, ZWD and diagnostics."""
    o = options or PppOptions()
    inp = prepare(obs, sp3, clk, atx, o, osb)
    extra = o.clock_interp_sigma_m
    if extra is None:
        extra = clock_interp_sigma_m(clock_interval_s(sp3, clk))
    return run_filter(inp, o, extra, progress)


def solve(obs: ObsBlock, sp3, clk=None, atx=None, options: PppOptions | None = None, osb=None) -> Solution:
    """PPP of a whole file: one :class:`Solution` row per epoch (quality PPP where solved)."""
    return solve_detailed(obs, sp3, clk, atx, options, osb).solution
