"""Cycle-slip detection for one receiver, one epoch at a time, vectorised over satellites x signals.

Tests (each flags a (satellite, slot) whose carrier phase lost its integer continuity):

* LLI: bit 0 of the RINEX loss-of-lock indicator.
* Geometry-free: ``lambda_0 phi_0 - lambda_k phi_k`` [m] may change slowly (ionosphere) but not jump;
  a jump flags every signal of the satellite (which one slipped is unknown).
* Melbourne-Wuebbena: wide-lane phase minus narrow-lane code [wide-lane cycles] is constant per
  satellite pass; a jump from its running mean flags the satellite.
* Doppler: the phase change between epochs against ``-Doppler * dt`` [cycles]; the median over
  satellites is removed first, which absorbs receiver clock jumps (counted in ``clock_jumps``).

State is the previous epoch's values; a data gap longer than ``max_gap_s`` restarts it. The same
object serves batch (called in the epoch loop) and streaming, forwards and backwards in time.
"""
from __future__ import annotations

import numpy as np

from ... import _ext
from ...constants import CLIGHT
from .options import SlipOptions


class SlipDetector:
    """Stateful slip tests for a fixed [S, F] layout with wavelengths ``wavelength_m`` [S, F]."""

    def __init__(self, wavelength_m: np.ndarray, opts: SlipOptions, max_gap_s: float = 60.0):
        self.wl = np.ascontiguousarray(wavelength_m, float)
        self.freq = CLIGHT / self.wl
        self.opts = opts
        self.max_gap_s = max_gap_s
        s, f = self.wl.shape
        self.t_prev: int | None = None
        self.phase_prev = np.full((s, f), np.nan)
        self.dop_prev = np.full((s, f), np.nan)
        self.gf_prev = np.full((s, max(f - 1, 0)), np.nan)
        self.mw_mean = np.full((s, max(f - 1, 0)), np.nan)
        self.mw_n = np.zeros((s, max(f - 1, 0)))
        self.clock_jumps = 0
        self.counts = {"lli": 0, "gf": 0, "mw": 0, "doppler": 0}
        # per-layout constants of the combinations (first slot against each other slot)
        f0, fk = np.ascontiguousarray(self.freq[:, :1]), np.ascontiguousarray(self.freq[:, 1:])
        self._f0, self._fk = f0, fk
        self._f0_minus_fk, self._f0_plus_fk = f0 - fk, f0 + fk
        self._wide_wl = CLIGHT / (f0 - fk)

    def detect(self, t_ns: int, phase: np.ndarray, code: np.ndarray, doppler: np.ndarray, lli: np.ndarray
               ) -> np.ndarray:
        """Slip flags [S, F] for this epoch (cycles, metres, Hz, LLI bits); updates the state."""
        o = self.opts
        dt = None if self.t_prev is None else (t_ns - self.t_prev) * 1e-9
        if dt is not None and (abs(dt) > self.max_gap_s or dt == 0):
            self._restart()
            dt = None
        compiled = _ext.kernel("slip_core", "detect")  # optional Cython kernel, same numbers
        if compiled is not None:
            return self._detect_compiled(compiled, t_ns, phase, code, doppler, lli, dt)
        slip = (np.asarray(lli) & 1).astype(bool) & np.isfinite(phase)
        self.counts["lli"] += int(slip.sum())
        lam_phi = phase * self.wl  # [m]
        if self.wl.shape[1] > 1:
            phi0, phik = lam_phi[:, :1], lam_phi[:, 1:]
            gf = phi0 - phik
            f0, fk = self._f0, self._fk
            wide_m = (f0 * phi0 - fk * phik) / self._f0_minus_fk
            narrow_code = (f0 * code[:, :1] + fk * code[:, 1:]) / self._f0_plus_fk
            mw = (wide_m - narrow_code) / self._wide_wl
            m = (self.mw_n >= 3) & (np.abs(mw - self.mw_mean) > o.mw_cyc)  # NaN compares False
            sat_slip = m.any(axis=1)
            self.counts["mw"] += int(np.count_nonzero(sat_slip))
            if dt is not None:
                thr = o.gf_m * max(1.0, abs(dt)) ** 0.5
                g = (np.abs(gf - self.gf_prev) > thr).any(axis=1)
                self.counts["gf"] += int(np.count_nonzero(g))
                sat_slip |= g
            slip |= sat_slip[:, None] & np.isfinite(phase)
            # running mean of MW, restarted at a slip or when the signal was absent
            fresh = sat_slip[:, None] | ~np.isfinite(self.mw_mean) | slip[:, :1] | slip[:, 1:]
            ok = np.isfinite(mw)
            n = np.where(fresh, 0.0, self.mw_n)
            mean = np.where(fresh, 0.0, self.mw_mean)
            n_new = np.minimum(n + 1, 200.0)
            self.mw_mean = np.where(ok, mean + (mw - mean) / n_new, np.nan)
            self.mw_n = np.where(ok, n_new, 0.0)
            self.gf_prev = gf
        if dt is not None:
            dop = np.where(np.isfinite(self.dop_prev), 0.5 * (doppler + self.dop_prev), doppler)
            r = (phase - self.phase_prev) + dop * dt
            ok = np.isfinite(r)
            if np.count_nonzero(ok) >= 2:
                med = _median(r[ok])
                if abs(med) > 1000.0:
                    self.clock_jumps += 1
                d = np.abs(r - med) > o.doppler_cyc
                d &= ok
                self.counts["doppler"] += int(d.sum())
                slip |= d
        self.phase_prev = phase.copy()
        self.dop_prev = doppler.copy()
        self.t_prev = t_ns
        return slip

    def _detect_compiled(self, kernel, t_ns: int, phase, code, doppler, lli, dt: float | None) -> np.ndarray:
        """:meth:`detect` through ``rtk_engine._ext.slip_core`` (state updated in place)."""
        o = self.opts
        c = np.ascontiguousarray
        for name in ("gf_prev", "mw_mean", "mw_n", "phase_prev", "dop_prev"):  # the kernel writes in place
            setattr(self, name, c(getattr(self, name), dtype=float))
        slip, n_lli, n_gf, n_mw, n_dop, jump = kernel(
            c(phase, dtype=float), c(code, dtype=float), c(doppler, dtype=float), c(lli, dtype=np.uint8),
            self.wl, self._f0, self._fk, self._f0_minus_fk, self._f0_plus_fk, self._wide_wl,
            self.gf_prev, self.mw_mean, self.mw_n, self.phase_prev, self.dop_prev, dt is not None,
            0.0 if dt is None else dt, o.gf_m * max(1.0, abs(dt or 0.0)) ** 0.5, o.mw_cyc, o.doppler_cyc)
        for key, n in (("lli", n_lli), ("gf", n_gf), ("mw", n_mw), ("doppler", n_dop)):
            self.counts[key] += n
        self.clock_jumps += int(jump)
        self.t_prev = t_ns
        return slip

    def _restart(self) -> None:
        self.phase_prev[:] = np.nan
        self.dop_prev[:] = np.nan
        self.gf_prev[:] = np.nan
        self.mw_mean[:] = np.nan
        self.mw_n[:] = 0.0


def _median(a: np.ndarray) -> float:
    """``np.median`` of a 1-D finite array (same value: the mean of the two middle ones when even),
    without its generic-axis overhead."""
    s = np.sort(a)
    h = s.size // 2
    return float(s[h]) if s.size % 2 else float((s[h - 1] + s[h]) / 2.0)
