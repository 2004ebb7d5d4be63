"""Reference-station stability: a two-sided tabular CUSUM on each ENU coordinate series.

A moving reference station makes every monitoring point solved against it look like it moved, so
its own coordinate series (daily PPP, or network solutions against neighbours) is watched with a
CUSUM chart (Page 1954; as in the Tengqing landslide work, s43020-023-00119-0):

    z_i = (x_i - mu0) / sigma0
    S+_i = max(0, S+_{i-1} + z_i - k),   S-_i = max(0, S-_{i-1} - z_i - k)

an alarm when S+ or S- exceeds ``h``. The defaults ``k = 1`` and ``h = 5`` are tuned to shifts of 2 sigma
and more (detected in ~5 samples, a 3-sigma shift in ~3) with an in-control average run length of
several thousand samples per side, so three axes watched for months stay quiet on noise.
The recursion is evaluated without a loop: S_n = C_n - min(0, min_{j<=n} C_j), C = cumsum(z - k).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .displacement import MAD_TO_SIGMA, enu_mm

__all__ = ["cusum", "CusumResult", "StabilityReport", "station_stability"]


def cusum(z: np.ndarray, k: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower CUSUM statistics of standardised samples ``z`` [N] (NaN samples count as 0 drift)."""
    zz = np.nan_to_num(np.asarray(z, float), nan=0.0)
    up = np.cumsum(zz - k)
    lo = np.cumsum(-zz - k)
    s_hi = up - np.minimum(0.0, np.minimum.accumulate(up))
    s_lo = lo - np.minimum(0.0, np.minimum.accumulate(lo))
    return s_hi, s_lo


@dataclass
class CusumResult:
    axis: str
    mu0_mm: float
    sigma0_mm: float
    alarm_index: int  # first sample with S > h, -1 if none
    shift_mm: float  # mean after the change point minus mu0 (NaN if no alarm)
    s_hi: np.ndarray
    s_lo: np.ndarray


@dataclass
class StabilityReport:
    stable: bool
    first_alarm_time_s: float  # NaN if stable
    axes: list[CusumResult]

    def to_dict(self) -> dict:
        return {"stable": self.stable,
                "first_alarm_time_s": None if np.isnan(self.first_alarm_time_s) else self.first_alarm_time_s,
                "axes": [{"axis": a.axis, "mu0_mm": a.mu0_mm, "sigma0_mm": a.sigma0_mm, "alarm_index": a.alarm_index,
                          "shift_mm": None if np.isnan(a.shift_mm) else a.shift_mm} for a in self.axes]}


def station_stability(t_s, ecef_m, ref_ecef_m, n_reference: int = 20, k: float = 1.0, h: float = 5.0,
                      sigma_floor_mm=(2.0, 2.0, 5.0)) -> StabilityReport:
    """CUSUM test of a station's coordinate series (e.g. daily PPP, ECEF m [N, 3]) in ENU about its
    published position. The in-control mean and sigma come from the first ``n_reference`` samples
    (median, 1.4826 MAD), never below ``sigma_floor_mm`` - the expected daily PPP scatter, because a
    MAD from 20 samples can be 30 % low and an underestimated sigma is a false alarm."""
    t = np.asarray(t_s, float)
    enu = enu_mm(ecef_m, ref_ecef_m)
    if t.size < n_reference + 1:
        raise ValueError(f"stability needs more than {n_reference} samples, got {t.size}")
    axes: list[CusumResult] = []
    first = np.inf
    for i, name in enumerate("enu"):
        x = enu[:, i]
        ref = x[:n_reference]
        mu0 = float(np.nanmedian(ref))
        sig = float(max(MAD_TO_SIGMA * np.nanmedian(np.abs(ref - mu0)), sigma_floor_mm[i]))
        s_hi, s_lo = cusum((x - mu0) / sig, k)
        over = np.flatnonzero((s_hi > h) | (s_lo > h))
        idx = int(over[0]) if over.size else -1
        shift = float("nan")
        if idx >= 0:
            # change point: last time the alarming statistic was zero before the alarm
            s = s_hi if s_hi[idx] > h else s_lo
            zeros = np.flatnonzero(s[:idx + 1] == 0)
            cp = int(zeros[-1]) + 1 if zeros.size else 0
            shift = float(np.nanmean(x[cp:]) - mu0)
            first = min(first, t[idx])
        axes.append(CusumResult(name, mu0, sig, idx, shift, s_hi, s_lo))
    return StabilityReport(stable=not np.isfinite(first), first_alarm_time_s=float(first) if np.isfinite(first)
                           else float("nan"), axes=axes)
