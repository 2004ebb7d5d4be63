"""Real-time PPP: ``PppStream.step(epoch_block) -> Solution`` (one row), the same filter as the batch.

Each epoch block (``E = 1``) goes through the same :func:`prepare` as a file; what needs history
is carried here: cycle-slip tests against the previous usable epoch of each satellite (LLI,
geometry-free, Melbourne-Wuebbena, gap), the continuous phase wind-up, and the a-priori position
(the filter's own estimate once it has one). Satellites live in a fixed universe (G01-G32,
E01-E36, C01-C63 for the chosen systems) so that the filter's state layout never changes.
"""
from __future__ import annotations

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.constants import CLIGHT
from rtk_engine.obs import ObsBlock
from rtk_engine.solution import Quality, Solution

from .filter import PppFilter, clock_interp_sigma_m
from .batch import clock_interval_s
from .inputs import PppDiagnostics, PppInputs, prepare
from .options import PppOptions

NS = gnss_time.NS
PRNS = {"G": 32, "E": 36, "C": 63}
GROUPS = {"G": ("G",), "E": ("E",), "C": ("C2", "C3")}


class PppStream:
    """Epoch-by-epoch PPP with fixed products (``sp3``, ``clk``, ``atx``, ``osb`` as for :func:`solve`)."""

    def __init__(self, sp3, clk=None, atx=None, options: PppOptions | None = None, osb=None):
        self.o = options or PppOptions()
        self.sp3, self.clk, self.atx, self.osb = sp3, clk, atx, osb
        self.sats = np.sort(np.array([f"{s}{p:02d}" for s in self.o.systems for p in range(1, PRNS[s] + 1)]))
        self.groups = tuple(g for s in self.o.systems for g in GROUPS[s])
        extra = self.o.clock_interp_sigma_m
        if extra is None:
            extra = clock_interp_sigma_m(clock_interval_s(sp3, clk))
        self.filter = PppFilter(self.sats.size, len(self.groups), self.o, extra)
        n = self.sats.size
        self.last_t = np.full(n, -1, np.int64)
        self.last_gf = np.full(n, np.nan)
        self.last_mw = np.full(n, np.nan)
        self.last_wu = np.full(n, np.nan)
        self.diagnostics = PppDiagnostics()

    def _universe(self, inp: PppInputs) -> tuple[PppInputs, np.ndarray]:
        """Scatter a one-epoch PppInputs into the stream's fixed satellite layout."""
        n = self.sats.size
        idx = np.searchsorted(self.sats, inp.sats)
        known = (idx < n) & (self.sats[np.minimum(idx, n - 1)] == inp.sats)
        idx, src = idx[known], np.flatnonzero(known)

        def full(a, fill, tail=()):
            out = np.full((1, n, *tail), fill, dtype=np.asarray(a).dtype if np.asarray(a).dtype != bool else bool)
            out[:, idx] = a[:, src]
            return out

        def per_sat(a, fill):
            out = np.full(n, fill, dtype=np.asarray(a).dtype)
            out[idx] = a[src]
            return out

        gname = np.array(inp.clock_groups)[inp.clock_group]
        group = np.zeros(n, np.int64)
        group[idx] = [self.groups.index(g) for g in gname[src]]
        u = PppInputs(time_ns=inp.time_ns, sats=self.sats, clock_group=group, clock_groups=self.groups,
                      code_if_m=full(inp.code_if_m, np.nan), phase_if_m=full(inp.phase_if_m, np.nan),
                      sat_apc_m=full(inp.sat_apc_m, np.nan, (3,)), model_code_m=full(inp.model_code_m, np.nan),
                      model_phase_m=full(inp.model_phase_m, np.nan), wet_map=full(inp.wet_map, np.nan),
                      grad_map=full(inp.grad_map, 0.0, (2,)), elevation_rad=full(inp.elevation_rad, np.nan),
                      sigma_scale=full(inp.sigma_scale, 1.0), code_sigma_factor=per_sat(inp.code_sigma_factor, 1.0),
                      slip=full(inp.slip, False), usable=full(inp.usable, False), tide_m=inp.tide_m,
                      apriori_ecef_m=inp.apriori_ecef_m, zwd0_m=inp.zwd0_m,
                      lam_if_factor=per_sat(inp.lam_if_factor, 1.0), f1_hz=per_sat(inp.f1_hz, np.nan),
                      f2_hz=per_sat(inp.f2_hz, np.nan), diagnostics=inp.diagnostics, gf_m=full(inp.gf_m, np.nan),
                      mw_cyc=full(inp.mw_cyc, np.nan), lli=full(inp.lli, False),
                      windup_cyc=full(inp.windup_cyc, np.nan))
        return u, idx

    def step(self, epoch: ObsBlock) -> Solution:
        """Process one epoch (``E = 1`` block); returns a one-row :class:`Solution` (NONE when not solved)."""
        if epoch.n_epochs != 1:
            raise ValueError(f"PppStream.step takes one epoch, got {epoch.n_epochs}")
        t = int(epoch.time_ns[0])
        f = self.filter
        apriori = f.x[:3].copy() if f.t_prev is not None else None
        try:
            inp = prepare(epoch, self.sp3, self.clk, self.atx, self.o, self.osb, apriori_ecef_m=apriori)
        except ValueError as exc:  # e.g. no satellite with products at this epoch
            self.diagnostics.note(f"{gnss_time.to_iso(t)[:19]}: {exc}")
            return _empty(t, len(self.groups))
        for s, d in inp.diagnostics.per_sat.items():
            for reason, c in d.items():
                self.diagnostics.count([s], reason, [c])
        u, _ = self._universe(inp)
        o = self.o
        use = u.usable[0]
        gap = (t - self.last_t) / NS
        with np.errstate(invalid="ignore"):
            slip = (self.last_t < 0) | u.lli[0] | (gap > o.max_gap_s) \
                | (np.abs(u.gf_m[0] - self.last_gf) > o.slip_gf_m) | (np.abs(u.mw_cyc[0] - self.last_mw) > o.slip_mw_cycles)
        u.slip[0] = slip & use
        # continuous wind-up: add the whole cycles the single-epoch value lost
        wu = u.windup_cyc[0]
        cont = use & np.isfinite(self.last_wu) & np.isfinite(wu) & (gap <= o.max_gap_s)
        turns = np.where(cont, np.round(np.nan_to_num(self.last_wu - wu)), 0.0)
        u.model_phase_m[0] += turns * CLIGHT / (u.f1_hz + u.f2_hz)
        wu_full = wu + turns
        self.last_t = np.where(use, t, self.last_t)
        self.last_gf = np.where(use, u.gf_m[0], self.last_gf)
        self.last_mw = np.where(use, u.mw_cyc[0], self.last_mw)
        self.last_wu = np.where(use, wu_full, self.last_wu)
        r = f.step(0, u)
        if not r.ok:
            return _empty(t, len(self.groups))
        sps: dict[str, np.ndarray] = {}
        for j, name in enumerate(self.groups):
            sps[name[0]] = sps.get(name[0], np.zeros(1, np.int64)) + r.n_per_group[j]
        return Solution(time_ns=np.array([t], np.int64), ecef_m=r.ecef_m[None], cov_m2=r.cov_m2[None],
                        quality=np.array([Quality.PPP], np.uint8), n_sats=np.array([r.n_sats]),
                        clock_m=r.clock_m[None], sats_per_system=sps)


def _empty(t: int, n_groups: int) -> Solution:
    return Solution(time_ns=np.array([t], np.int64), ecef_m=np.full((1, 3), np.nan), cov_m2=np.full((1, 3, 3), np.nan),
                    quality=np.array([Quality.NONE], np.uint8), n_sats=np.zeros(1, np.int64),
                    clock_m=np.full((1, n_groups), np.nan))
