"""The PPP extended Kalman filter: one epoch of :class:`PppInputs` in, one state out.

States (metres): receiver position ECEF (static: constant; kinematic: white noise), one receiver
clock per clock group (white noise; BDS-2 and BDS-3 separate by default), zenith wet delay
(random walk) and one ionosphere-free float ambiguity per satellite (constant; reset on slips).
Measurements: IF code and IF phase of every usable satellite, elevation-weighted. Within an epoch
everything is vectorised over satellites; only the active part of the covariance is touched.

Outliers: the measurement with the largest normalised innovation ``|v| / sqrt(HPH' + R)`` is
handled while it exceeds ``innovation_sigma``: a code is dropped for the epoch, a phase gets its
ambiguity re-initialised (an undetected slip) and the satellite is counted in the diagnostics.

PPP-AR later: ambiguity states are per satellite in metres of the IF combination; with OSB phase
biases the IF ambiguity splits into wide-lane (from MW, fixed separately) and narrow-lane
cycles, which can be fixed between satellites of one system with the LAMBDA search already in
``rtk_engine.solvers.lambda_search`` and fed back as tight pseudo-measurements on these states.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.models.geometry import geometric_range

from .options import PppOptions
from .inputs import PppInputs

NS = gnss_time.NS


def clock_interp_sigma_m(interval_s: float) -> float:
    """Extra sigma [m] for satellite clocks linearly interpolated between samples ``interval_s`` apart.

    30 s clocks interpolate below the phase noise; 5 min and 15 min samples leave errors of
    about 1-2 cm and several cm (satellite clocks wander at the 1e-13 level, and the residual
    after linear interpolation grows roughly with the interval)."""
    if interval_s <= 60.0:
        return 0.0
    return 0.02 * (interval_s / 300.0) ** 0.75


@dataclass
class EpochResult:
    ok: bool
    ecef_m: np.ndarray
    cov_m2: np.ndarray
    n_sats: int
    clock_m: np.ndarray
    zwd_m: float
    n_per_group: np.ndarray


class PppFilter:
    """State and covariance of one PPP run; :meth:`step` processes epoch ``k`` of a :class:`PppInputs`."""

    def __init__(self, n_sats: int, n_groups: int, options: PppOptions, clock_sigma_extra_m: float = 0.0):
        self.o = options
        self.G = n_groups
        self.S = n_sats
        self.iz = 3 + n_groups
        self.ig = self.iz + 1  # north, east gradients
        self.ia = self.iz + 3
        n = self.ia + n_sats
        self.x = np.zeros(n)
        self.P = np.zeros((n, n))
        self.amb_on = np.zeros(n_sats, bool)
        self.t_prev: int | None = None
        self.extra = clock_sigma_extra_m
        self.last_seen = np.zeros(n_sats, np.int64)
        self.outliers = np.zeros(n_sats, np.int64)
        self.resets = np.zeros(n_sats, np.int64)

    def _reset(self, idx, value, sigma):
        idx = np.atleast_1d(idx)
        self.P[idx, :] = 0.0
        self.P[:, idx] = 0.0
        self.P[idx, idx] = sigma**2
        self.x[idx] = value

    def step(self, k: int, inp: PppInputs) -> EpochResult:
        o = self.o
        t = int(inp.time_ns[k])
        first = self.t_prev is None
        dt = 0.0 if first else (t - self.t_prev) / NS
        self.t_prev = t
        # ---- time update
        if first:
            self._reset(np.arange(3), inp.apriori_ecef_m[k], o.static_pos_sigma0_m)
            self._reset([self.iz], 0.0, o.zwd_sigma0_m)
            self._reset([self.ig, self.ig + 1], 0.0, o.gradient_sigma0_m if o.gradients else 0.0)
        elif o.mode == "kinematic":
            self._reset(np.arange(3), self.x[:3].copy(), o.kinematic_pos_sigma_m)
        self.P[self.iz, self.iz] += o.zwd_rw_m2_per_s * dt
        if o.gradients:
            self.P[[self.ig, self.ig + 1], [self.ig, self.ig + 1]] += o.gradient_rw_m2_per_s * dt
        # ambiguities unobserved for longer than max_gap_s are dropped (zero covariance, re-initialised later)
        expired = self.amb_on & ((t - self.last_seen) > o.max_gap_s * NS)
        if expired.any():
            self._reset(self.ia + np.flatnonzero(expired), 0.0, 0.0)
            self.amb_on[expired] = False
        use = np.flatnonzero(inp.usable[k])
        nan = EpochResult(False, np.full(3, np.nan), np.full((3, 3), np.nan), 0, np.full(self.G, np.nan),
                          float("nan"), np.zeros(self.G, int))
        if use.size < 4:
            return nan
        sat = inp.sat_apc_m[k, use]
        Pc = inp.code_if_m[k, use]
        Lp = inp.phase_if_m[k, use]
        mc = inp.model_code_m[k, use]
        mp = inp.model_phase_m[k, use]
        mw = inp.wet_map[k, use]
        mg = inp.grad_map[k, use] * mw[:, None]
        g = inp.clock_group[use]
        amb = self.ia + use
        reset = inp.slip[k, use] | ~self.amb_on[use]
        if reset.any():
            r = use[reset]
            self._reset(self.ia + r, (Lp - mp)[reset] - (Pc - mc)[reset], o.amb_sigma0_m)
            self.amb_on[r] = True
            self.resets[r] += 1
        self.last_seen[use] = t
        # ---- receiver clocks: white noise, prior centred on this epoch's code residuals
        rho, los = geometric_range(sat, self.x[:3] + inp.tide_m[k])
        zwd = self.x[self.iz]
        v0 = Pc - (rho + mc + zwd * mw + mg @ self.x[self.ig:self.ig + 2])
        clk = np.zeros(self.G)
        for j in range(self.G):
            sel = g == j
            if sel.any():
                clk[j] = np.median(v0[sel])
        self._reset(3 + np.arange(self.G), clk, o.clock_sigma_m)

        m = use.size
        scale = inp.sigma_scale[k, use] * inp.lam_if_factor[use]
        R = np.concatenate([(o.code_sigma_m * scale * inp.code_sigma_factor[use]) ** 2, (o.phase_sigma_m * scale) ** 2 + self.extra**2])
        code_ok = np.ones(m, bool)
        # every live state takes part in the update (ambiguities of satellites missing this epoch keep
        # consistent cross-covariances); H has zero columns for them
        live_amb = np.flatnonzero(self.amb_on)
        states = np.concatenate([np.arange(self.ia), self.ia + live_amb])
        amb_col = self.ia + np.searchsorted(live_amb, use)
        na = states.size
        for _ in range(o.max_rejections + 1):
            x = self.x
            rho, los = geometric_range(sat, x[:3] + inp.tide_m[k])
            common = rho + x[3 + g] + x[self.iz] * mw + mg @ x[self.ig:self.ig + 2]
            v = np.concatenate([Pc - (common + mc), Lp - (common + mp + x[amb])])
            H = np.zeros((2 * m, na))
            H[:m, :3] = -los
            H[m:, :3] = -los
            H[np.arange(m), 3 + g] = 1.0
            H[m + np.arange(m), 3 + g] = 1.0
            H[:m, self.iz] = mw
            H[m:, self.iz] = mw
            H[:m, self.ig:self.ig + 2] = mg
            H[m:, self.ig:self.ig + 2] = mg
            H[m + np.arange(m), amb_col] = 1.0
            rows = np.concatenate([code_ok, np.ones(m, bool)])
            Pa = self.P[np.ix_(states, states)]
            Hr = H[rows]
            PHt = Pa @ Hr.T
            Sm = Hr @ PHt + np.diag(R[rows])
            norm = np.abs(v[rows]) / np.sqrt(np.diag(Sm))
            w = int(np.argmax(norm))
            if norm[w] > o.innovation_sigma and _ < o.max_rejections:
                ridx = np.flatnonzero(rows)[w]
                if ridx < m:
                    code_ok[ridx] = False
                else:
                    s = ridx - m
                    self._reset(self.ia + use[s], Lp[s] - mp[s] - (Pc[s] - mc[s]), o.amb_sigma0_m)
                    self.resets[use[s]] += 1
                self.outliers[use[ridx % m]] += 1
                continue
            break
        try:  # numpy's solve: scipy's cho_solve is 20x slower here when BLAS threads compete for 2 cores
            K = np.linalg.solve(Sm, PHt.T).T
        except np.linalg.LinAlgError:
            return nan
        self.x[states] += K @ v[rows]
        IKH = np.eye(na) - K @ Hr  # Joseph form: stays positive definite with 1e4 m^2 priors next to mm^2 noise
        Pn = IKH @ Pa @ IKH.T + (K * R[rows]) @ K.T
        self.P[np.ix_(states, states)] = 0.5 * (Pn + Pn.T)
        n_per = np.bincount(g, minlength=self.G)
        return EpochResult(True, self.x[:3].copy(), self.P[:3, :3].copy(), int(m), self.x[3:3 + self.G].copy(),
                           float(self.x[self.iz] + inp.zwd0_m[k]), n_per)
