"""A monitoring point solved against several reference stations: combination and disagreement.

Each rover epoch is solved against every reference station (one RTK baseline each), giving fixed
per-reference displacements ``d_i`` (ENU mm from the point's reference coordinates).

Natural disagreement: even without any error the ``d_i`` differ. The ionosphere that short-baseline
RTK leaves unmodelled scales each baseline: ``d_i = p + kappa * b_i`` with ``b_i`` the baseline
vector reference -> point (km, ENU) and ``kappa`` in mm/km (ppm); in the simulator ``kappa`` is
about -4 mm/km, i.e. 17 mm between references 2 and 2.5 km on opposite sides of a point. Vertical
differences come from the stations' troposphere. The per-epoch differences ``d_i - d_j`` cancel the
point's own motion ``p``; their median over the last ``window`` epochs is ``D_ij`` (over the last
``short`` epochs ``Ds_ij``). Once ``window`` epochs are in, ``kappa`` is fitted to the horizontal
``D_ij = kappa (b_i - b_j)`` (least squares, limited to ``kappa_max``) and the vertical offsets are
taken as they are; both then follow with a time constant of ``track_s`` (30 min; the ionosphere
changes over hours) while nothing is flagged.

Combination: ``sum_i w_i (d_i - beta_i) - (kappa - kappa_0) b_w`` over the references in use,
``w_i = 1 / (sigma0^2 + (k L_i)^2)`` (``L_i`` baseline length in km; defaults sigma0 = 3 mm, k =
1 mm/km, the "a mm + b ppm" shape of RTK accuracy), normalised; ``beta_i`` the reference's learned
natural bias relative to the weighted mean (``kappa (b_i - b_w)`` horizontally with ``b_w = sum w_j
b_j``, its vertical offset from the weighted mean), so with every reference in use the combination
is the plain weighted mean and excluding one leaves the series continuous; ``kappa_0`` the scale when
first learned: the ionosphere's later changes of the scale are removed, its value at learning stays
(removing it would put a step into the series at that moment).

Change ``C_ij = D_ij - (natural offset)``: what a wrong or moving reference adds.

* alarm metric (rule ``reference_disagreement``): the largest ``|C_ij|`` of the long medians in
  the rule's components. A registered coordinate wrong from the start is seen by the part of its
  error across the baselines' difference ``b_i - b_j`` (the part along it looks like a scale);
* suspects (horizontal ``|Cs_ij|`` beyond ``identify_mm``), excluded from the combination: with
  three or more references, reference ``i`` when the median over ``j`` of its ``Cs_ij`` is beyond
  ``identify_mm`` and the suspects are a strict minority (majority vote); with two references, the
  one that moved away from its anchor (its short median at the last unflagged epoch) by more than
  ``identify_mm`` while the other stayed within ``identify_mm / 2`` (a reference that jumps; the
  point's own motion moves both). Otherwise the disagreement stays unidentified: the combination
  keeps every reference and the alarm asks an operator, who removes the bad station from the
  point's references or corrects its coordinate.

Suspects stay excluded until every change is back below ``identify_mm / 2``; the epochs between a
reference's jump and its identification (about ``short / 2``) are combined with it.
"""
from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Combination", "ReferenceCombiner", "reference_weights"]


def reference_weights(baselines_km, sigma0_mm: float = 3.0, per_km_mm: float = 1.0) -> np.ndarray:
    """Weights 1 / (sigma0^2 + (k L)^2) for baselines ``L`` (km), normalised to sum 1."""
    L = np.asarray(baselines_km, float)
    w = 1.0 / (sigma0_mm ** 2 + (per_km_mm * L) ** 2)
    return w / w.sum()


@dataclass
class Combination:
    """One epoch's combination. ``pairs`` [(code_i, code_j)] with ``disagreement_enu_mm`` [P, 3]
    (NaN until ``min_common`` common fixed epochs)."""

    enu_mm: np.ndarray  # combined displacement, NaN when no usable reference is fixed
    used: tuple[str, ...]
    suspects: tuple[str, ...]
    pairs: list[tuple[str, str]] = field(default_factory=list)
    disagreement_enu_mm: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    @property
    def disagreement_h_mm(self) -> float:
        """Largest horizontal pair disagreement (mm), NaN when none is known yet."""
        d = np.hypot(self.disagreement_enu_mm[:, 0], self.disagreement_enu_mm[:, 1])
        return float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")


class ReferenceCombiner:
    """Streaming combination of per-reference displacements (see the module docstring)."""

    def __init__(self, codes: list[str], baselines_enu_km, window: int = 120, min_common: int = 30,
                 identify_mm: float = 15.0, sigma0_mm: float = 3.0, per_km_mm: float = 1.0, short: int = 10,
                 kappa_max_mm_km: float = 10.0, track_s: float = 1800.0) -> None:
        b = np.asarray(baselines_enu_km, float).reshape(-1, 3)
        if len(codes) != len(b) or not codes:
            raise ValueError("one baseline vector (reference -> point, ENU km) per reference code")
        self.codes = list(codes)
        self.b_km = b
        self.weights = reference_weights(np.linalg.norm(b, axis=1), sigma0_mm, per_km_mm)
        self.window, self.min_common, self.identify_mm, self.short = window, min_common, identify_mm, short
        self.kappa_max, self.track_s = kappa_max_mm_km, track_s
        self._t_last: float | None = None
        self.kappa = self.kappa_0 = 0.0  # mm/km, the baselines' common scale error (now, when learned)
        self.offset_u: np.ndarray | None = None  # [P] learned vertical pair offsets (mm)
        self._hist: deque[np.ndarray] = deque(maxlen=window)  # [R, 3] per epoch, NaN where not fixed
        self.suspects: set[str] = set()
        self._anchor: np.ndarray | None = None  # [R, 3] short medians at the last unflagged epoch
        ii, jj = np.triu_indices(len(codes), 1)
        self._ii, self._jj = ii, jj
        self.pairs = [(codes[i], codes[j]) for i, j in zip(ii, jj)]
        self._db = b[ii] - b[jj]  # [P, 3] baseline differences (km)

    @property
    def offset(self) -> np.ndarray | None:
        """[P, 3] the pairs' natural disagreement (mm): kappa (b_i - b_j) horizontally, learned vertically."""
        if self.offset_u is None:
            return None
        return np.column_stack([self.kappa * self._db[:, :2], self.offset_u])

    def biases(self) -> np.ndarray:
        """[R, 3] each reference's natural bias relative to the weighted mean (mm), removed before combining."""
        if self.offset_u is None:
            return np.zeros((len(self.codes), 3))
        u = np.zeros((len(self.codes), len(self.codes)))
        u[self._ii, self._jj], u[self._jj, self._ii] = self.offset_u, -self.offset_u
        b_w = self.weights @ self.b_km[:, :2]
        return np.column_stack([self.kappa * (self.b_km[:, :2] - b_w), u @ self.weights])

    def drift_mm(self) -> np.ndarray:
        """[3] the weighted mean's change of ionospheric scale bias since the scale was learned (mm)."""
        if self.offset_u is None:
            return np.zeros(3)
        return np.append((self.kappa - self.kappa_0) * (self.weights @ self.b_km[:, :2]), 0.0)

    def _fit_kappa(self, D: np.ndarray) -> float:
        """Least-squares scale (mm/km) of the horizontal disagreements, within +-kappa_max."""
        den = float(np.sum(self._db[:, :2] ** 2))
        k = float(np.sum(D[:, :2] * self._db[:, :2])) / den if den > 0 else 0.0
        return float(np.clip(k, -self.kappa_max, self.kappa_max))

    def push(self, per_ref_enu_mm: dict[str, np.ndarray], t_s: float | None = None) -> Combination:
        """Add one epoch (``{code: ENU mm or NaN}``; missing codes count as not fixed) at ``t_s`` (s; without
        times an epoch counts as 1 s)."""
        step = 1.0 if t_s is None or self._t_last is None else max(0.0, t_s - self._t_last)
        self._t_last = t_s if t_s is not None else self._t_last
        gain = min(1.0, step / self.track_s)
        d = np.array([np.asarray(per_ref_enu_mm.get(c, np.full(3, np.nan)), float) for c in self.codes])
        self._hist.append(d)
        change = np.full((len(self.pairs), 3), np.nan)
        if self.pairs:
            D = self._disagreement(self.window, self.min_common)
            Ds = self._disagreement(self.short, max(3, self.short // 2))
            if self.offset_u is None and len(self._hist) == self.window and np.all(np.isfinite(D)):
                self.kappa, self.offset_u = self._fit_kappa(D), D[:, 2].copy()
                self.kappa_0 = self.kappa
            if self.offset_u is not None:
                change = D - self.offset
                self._identify(change, Ds - self.offset)
                if not self.suspects and np.all(np.isfinite(D)) and self._quiet(change, Ds - self.offset):
                    self.kappa += (self._fit_kappa(D) - self.kappa) * gain
                    self.offset_u += (D[:, 2] - self.offset_u) * gain
        use = np.array([c not in self.suspects for c in self.codes]) & np.all(np.isfinite(d), axis=1)
        if use.any():
            w = self.weights[use] / self.weights[use].sum()
            enu = w @ (d - self.biases())[use] - self.drift_mm()
        else:
            enu = np.full(3, np.nan)
        return Combination(enu, tuple(c for c, u in zip(self.codes, use) if u), tuple(sorted(self.suspects)),
                           self.pairs, change)

    # -------------------------------------------------------------------------------------------
    def _quiet(self, C: np.ndarray, Cs: np.ndarray) -> bool:
        lim = self.identify_mm / 2
        return bool(np.all(np.nan_to_num(np.hypot(C[:, 0], C[:, 1])) < lim)
                    and np.all(np.nan_to_num(np.hypot(Cs[:, 0], Cs[:, 1])) < lim))

    def _disagreement(self, n: int, min_common: int) -> np.ndarray:
        """[P, 3] median over the last ``n`` epochs of d_i - d_j where both are fixed (NaN: too few)."""
        H = np.array(self._hist)[-n:]  # [W, R, 3]
        diff = H[:, self._ii] - H[:, self._jj]  # [W, P, 3]
        ok = np.all(np.isfinite(diff), axis=2)  # [W, P]
        med = _nanmedian(np.where(ok[:, :, None], diff, np.nan))
        med[ok.sum(axis=0) < min_common] = np.nan
        return med

    def _medians(self) -> np.ndarray:
        return _nanmedian(np.array(self._hist)[-self.short:])  # [R, 3] recent position per reference

    def _identify(self, C: np.ndarray, Cs: np.ndarray) -> None:
        R = len(self.codes)
        if self._quiet(C, Cs):
            self.suspects.clear()  # every change is small: no suspect, refresh the anchors
            self._anchor = self._medians()
            return
        hs = np.hypot(Cs[:, 0], Cs[:, 1])
        if not np.any(hs > self.identify_mm) or self.suspects:
            return  # grey zone, or already identified: keep the current state
        if R >= 3:
            dev = np.full((R, 3), np.nan)
            for i in range(R):  # R is a handful of stations: a loop over references, not epochs
                rows = [k for k, (a, b) in enumerate(zip(self._ii, self._jj)) if i in (a, b) and np.isfinite(hs[k])]
                if len(rows) >= 2:
                    sign = np.array([1.0 if self._ii[k] == i else -1.0 for k in rows])
                    dev[i] = np.median(Cs[rows] * sign[:, None], axis=0)
            bad = {self.codes[i] for i in range(R) if np.hypot(dev[i, 0], dev[i, 1]) > self.identify_mm}
            if 0 < len(bad) < R / 2:
                self.suspects = bad
            return
        if self._anchor is None:
            return
        moved = np.hypot(*(self._medians() - self._anchor)[:, :2].T)  # [2]
        if not np.all(np.isfinite(moved)):
            return
        i_bad = int(np.argmax(moved))
        if moved[i_bad] > self.identify_mm and moved[1 - i_bad] < self.identify_mm / 2:
            self.suspects = {self.codes[i_bad]}


def _nanmedian(a: np.ndarray) -> np.ndarray:
    """Median over axis 0 ignoring NaN; all-NaN columns give NaN without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=0)
