"""Displacement series of a monitoring point: ENU millimetres from its reference coordinates,
a robust real-time filter, and static (e.g. hourly) averages with their repeatability.

* :func:`enu_mm` - ECEF [m] -> east/north/up [mm] in the local frame of the reference point.
* :func:`hampel_mask` - batch outlier test: |x - median| > k * 1.4826 * MAD over a centred window.
* :class:`RobustFilter` - streaming: a Hampel test against the median/MAD of the last samples,
  then a per-axis constant-velocity Kalman filter fed only with accepted samples (a rejected sample
  is counted and reported, never silently used). Units mm, s.
* :func:`session_averages` - per-session (default 1 h) robust means, scatter and counts.
* :func:`repeatability_mm` - RMS of session means about their mean: horizontal and vertical.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rtk_engine.geodesy.ellipsoid import ecef_to_enu

__all__ = ["enu_mm", "hampel_mask", "RobustFilter", "FilterOutput", "session_averages", "repeatability_mm"]

MAD_TO_SIGMA = 1.4826


def enu_mm(ecef_m, ref_ecef_m) -> np.ndarray:
    """East, north, up [mm] of ECEF positions [E, 3] (m) relative to ``ref_ecef_m`` (m). NaN passes through."""
    return ecef_to_enu(np.atleast_2d(np.asarray(ecef_m, float)), np.asarray(ref_ecef_m, float)) * 1000.0


def hampel_mask(x: np.ndarray, half_window: int = 15, n_sigma: float = 4.0, floor: float = 0.0) -> np.ndarray:
    """True where ``x`` [N] (or every column of [N, K]) is an outlier: farther than ``n_sigma`` robust
    sigmas (1.4826 MAD, at least ``floor``) from the median of the centred window of 2*half_window+1."""
    a = np.asarray(x, float)
    a2 = a.reshape(a.shape[0], -1)
    n = a2.shape[0]
    w = 2 * half_window + 1
    if n < 3:
        return np.zeros(a.shape[0], bool)
    w = min(w, n if n % 2 else n - 1)
    h = w // 2
    pad = np.pad(a2, ((h, h), (0, 0)), mode="reflect")
    win = sliding_window_view(pad, w, axis=0)  # [N, K, w]
    med = np.nanmedian(win, axis=-1)
    mad = np.nanmedian(np.abs(win - med[..., None]), axis=-1)
    sig = np.maximum(MAD_TO_SIGMA * mad, floor)
    with np.errstate(invalid="ignore"):
        out = np.abs(a2 - med) > n_sigma * sig
    return np.any(out, axis=1)


@dataclass
class FilterOutput:
    enu_mm: np.ndarray  # [3] filtered displacement
    velocity_mm_h: np.ndarray  # [3]
    sigma_mm: np.ndarray  # [3] filter standard deviation
    outlier: bool  # the input sample was rejected


class RobustFilter:
    """Streaming robust filter of an ENU series [mm].

    Each sample is compared with the median of the last ``window`` accepted-or-not samples; if any
    axis is farther than ``n_sigma`` * max(1.4826 MAD, ``floor_mm``), the sample is an outlier and the
    Kalman filter only predicts; ``window // 3`` consecutive outliers are a real step and restart the
    filter at their median (counted in ``n_steps``). Kalman state per axis: displacement [mm] and velocity [mm/s]
    with white-acceleration process noise ``q_mm2_s3``; measurement sigma ``meas_sigma_mm`` (E, N, U).
    """

    def __init__(self, window: int = 31, n_sigma: float = 4.0, floor_mm=(3.0, 3.0, 8.0),
                 meas_sigma_mm=(3.0, 3.0, 8.0), q_mm2_s3: float = 1e-7) -> None:
        self.window = window
        self.n_sigma = n_sigma
        self.floor = np.asarray(floor_mm, float)
        self.R = np.asarray(meas_sigma_mm, float) ** 2
        self.q = q_mm2_s3
        self.buf: deque = deque(maxlen=window)
        self.x = None  # [3, 2]
        self.P = None  # [3, 2, 2]
        self.t = None
        self.n_outliers = 0
        self.n_accepted = 0
        self.n_steps = 0
        self._run: list[np.ndarray] = []  # consecutive outliers: a run of a third of a window is a real step

    def _is_outlier(self, z: np.ndarray) -> bool:
        if len(self.buf) < max(5, self.window // 3):
            return False
        b = np.array(self.buf)
        med = np.median(b, axis=0)
        mad = np.median(np.abs(b - med), axis=0)
        sig = np.maximum(MAD_TO_SIGMA * mad, self.floor)
        return bool(np.any(np.abs(z - med) > self.n_sigma * sig))

    def update(self, t_s: float, z_mm) -> FilterOutput:
        z = np.asarray(z_mm, float)
        if not np.all(np.isfinite(z)):
            return self._output(t_s, True, predict_only=True)
        outlier = self._is_outlier(z)
        self.buf.append(z)
        if self.x is None:
            if outlier:
                return self._output(t_s, True, predict_only=True)
            self.x = np.stack([z, np.zeros(3)], axis=1)
            self.P = np.zeros((3, 2, 2))
            self.P[:, 0, 0] = self.R
            self.P[:, 1, 1] = (1.0 / 3600.0) ** 2 * 100  # 10 mm/h prior velocity sigma, in mm/s
            self.t = t_s
            self.n_accepted += 1
            return self._output(t_s, False)
        self._predict(t_s)
        if outlier:
            self.n_outliers += 1
            self._run.append(z)
            if len(self._run) >= max(3, self.window // 3):
                # a step, not an outlier: restart the filter at the median of the new level
                self.x = np.stack([np.median(np.array(self._run), axis=0), np.zeros(3)], axis=1)
                self.P[:, 0, 0], self.P[:, 0, 1], self.P[:, 1, 0] = self.R, 0.0, 0.0
                self.buf.clear()
                self.buf.extend(self._run)
                self._run = []
                self.n_steps += 1
                return self._output(t_s, False)
            return self._output(t_s, True)
        self._run = []
        # update, per axis, H = [1, 0]
        S = self.P[:, 0, 0] + self.R
        K = self.P[:, :, 0] / S[:, None]
        innov = z - self.x[:, 0]
        self.x = self.x + K * innov[:, None]
        self.P = self.P - K[:, :, None] * self.P[:, 0, :][:, None, :]
        self.n_accepted += 1
        return self._output(t_s, False)

    def _predict(self, t_s: float) -> None:
        dt = max(0.0, t_s - self.t)
        self.t = t_s
        if dt == 0:
            return
        F = np.array([[1.0, dt], [0.0, 1.0]])
        Q = self.q * np.array([[dt ** 3 / 3, dt ** 2 / 2], [dt ** 2 / 2, dt]])
        self.x = self.x @ F.T
        self.P = F @ self.P @ F.T + Q

    def _output(self, t_s: float, outlier: bool, predict_only: bool = False) -> FilterOutput:
        if self.x is None:
            nan = np.full(3, np.nan)
            return FilterOutput(nan, nan, nan, outlier)
        if predict_only:
            self._predict(t_s)
        return FilterOutput(self.x[:, 0].copy(), self.x[:, 1] * 3600.0, np.sqrt(self.P[:, 0, 0]), outlier)


def session_averages(t_s: np.ndarray, enu: np.ndarray, session_s: float = 3600.0, min_count: int = 10,
                     half_window: int = 15, n_sigma: float = 4.0, floor_mm=(3.0, 3.0, 8.0)) -> dict:
    """Static session solutions from a real-time series: sessions ``floor(t / session_s)``, Hampel
    outliers removed (``hampel_mask`` with per-axis floors), then per session the mean, standard
    deviation and count. Sessions with fewer than ``min_count`` samples are dropped.

    Returns arrays: ``start_s`` [K], ``mean_mm`` [K, 3], ``std_mm`` [K, 3], ``count`` [K], and
    ``n_outliers`` (int, total rejected).
    """
    t = np.asarray(t_s, float)
    x = np.asarray(enu, float)
    ok = np.isfinite(t) & np.all(np.isfinite(x), axis=1)
    t, x = t[ok], x[ok]
    if t.size == 0:
        return {"start_s": np.zeros(0), "mean_mm": np.zeros((0, 3)), "std_mm": np.zeros((0, 3)),
                "count": np.zeros(0, int), "n_outliers": 0}
    floor = np.asarray(floor_mm, float)
    bad = hampel_mask(x / floor, half_window, n_sigma, floor=1.0)
    t, x = t[~bad], x[~bad]
    key = np.floor(t / session_s).astype(np.int64)
    uniq, inv, count = np.unique(key, return_inverse=True, return_counts=True)
    s1 = np.zeros((uniq.size, 3))
    s2 = np.zeros((uniq.size, 3))
    np.add.at(s1, inv, x)
    np.add.at(s2, inv, x * x)
    mean = s1 / count[:, None]
    var = np.maximum(s2 / count[:, None] - mean ** 2, 0.0) * count[:, None] / np.maximum(count[:, None] - 1, 1)
    keep = count >= min_count
    return {"start_s": uniq[keep] * session_s, "mean_mm": mean[keep], "std_mm": np.sqrt(var[keep]),
            "count": count[keep], "n_outliers": int(bad.sum())}


def repeatability_mm(session_means_mm: np.ndarray) -> dict:
    """Scatter of session solutions [K, 3] about their mean: horizontal RMS (sqrt(E^2 + N^2) mean
    square) and vertical RMS [mm], per-axis standard deviations, and K."""
    m = np.asarray(session_means_mm, float)
    if m.shape[0] < 2:
        return {"horizontal_mm": float("nan"), "vertical_mm": float("nan"), "std_mm": [float("nan")] * 3,
                "sessions": int(m.shape[0])}
    d = m - m.mean(axis=0)
    return {"horizontal_mm": float(np.sqrt(np.mean(d[:, 0] ** 2 + d[:, 1] ** 2))),
            "vertical_mm": float(np.sqrt(np.mean(d[:, 2] ** 2))),
            "std_mm": m.std(axis=0, ddof=1).tolist(), "sessions": int(m.shape[0])}
