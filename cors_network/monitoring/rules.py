"""Alarm rules for monitoring points: what operators' systems compute and how they alarm.

Rule families (``Rule.kind``), each with up to four thresholds for the levels
blue < yellow < orange < red (a level is raised when the metric reaches its threshold):

* displacement: ``"e"``, ``"n"``, ``"u"`` (absolute component), ``"2d"`` (horizontal), ``"3d"``
  [mm from the reference coordinates];
* ``"velocity"``: speed of the ``components`` (``"2d"``, ``"3d"``, ``"e"``, ``"n"``, ``"u"``) from a
  robust (Theil-Sen) regression over the last ``window_s`` [mm/h];
* ``"acceleration"``: twice the quadratic term of a robust (Huber IRLS) quadratic fit over
  ``window_s`` along the direction of motion [mm/h^2];
* ``"tangent_angle"``: the improved tangent-angle criterion (EURASIP JWCN 2021,
  s13638-021-02033-y): alpha = atan(v / v_ref) [deg] where v is the current robust velocity and
  v_ref the constant (creep-stage) velocity, ``params["reference_velocity_mm_h"]``. alpha = 45 deg
  is steady creep; default thresholds 45/60/80/85 deg for blue/yellow/orange/red; below
  ``params["min_velocity_mm_h"]`` (noise floor) the angle is not evaluated;
* data quality: ``"no_data"`` (seconds since the last solution), ``"fix_lost"`` (consecutive
  solutions without a fixed ambiguity), ``"reference_missing"`` (seconds since the last
  reference-station epoch); evaluated by :class:`RuleEngine.tick` / the caller's clock;
  ``"reference_disagreement"`` (a point solved against several reference stations: the largest
  pair disagreement in ``components`` [mm], see :mod:`.multiref`), evaluated by ``push``.

Persistence (debounce): a level is only reported once the raw metric has stayed at or above
its threshold for ``persist_n`` consecutive evaluations AND for at least ``persist_s`` seconds
(Trimble Alloy's "alert delay", 10-300 s). A single bad epoch therefore never raises an alarm.

:class:`AlarmBook` is the alarm life cycle: open -> acknowledged -> closed, re-opened by an
escalation; every level change is an :class:`AlarmEvent` (what webhooks deliver).
Units: time in seconds (float, any epoch origin; GPST seconds in the service), ENU in mm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

__all__ = ["Level", "Rule", "RuleError", "DISPLACEMENT_KINDS", "WINDOW_KINDS", "QUALITY_KINDS",
           "displacement_metric", "theil_sen_slope", "robust_velocity_mm_h", "robust_acceleration_mm_h2",
           "tangent_angle_deg", "raw_levels", "persist", "Persistence", "evaluate_series",
           "RuleEngine", "AlarmEvent", "Alarm", "AlarmBook"]


class Level(IntEnum):
    NONE = 0
    BLUE = 1
    YELLOW = 2
    ORANGE = 3
    RED = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @staticmethod
    def parse(name: str | int) -> "Level":
        if isinstance(name, (int, np.integer)):
            return Level(int(name))
        try:
            return Level[str(name).upper()]
        except KeyError:
            raise RuleError(f"unknown alarm level {name!r}; use blue, yellow, orange, red") from None


class RuleError(ValueError):
    """An invalid rule definition."""


DISPLACEMENT_KINDS = ("e", "n", "u", "2d", "3d")
WINDOW_KINDS = ("velocity", "acceleration", "tangent_angle")
QUALITY_KINDS = ("no_data", "fix_lost", "reference_missing", "reference_disagreement")
UNITS = {"e": "mm", "n": "mm", "u": "mm", "2d": "mm", "3d": "mm", "velocity": "mm/h",
         "acceleration": "mm/h^2", "tangent_angle": "deg", "no_data": "s", "fix_lost": "solutions",
         "reference_missing": "s", "reference_disagreement": "mm"}
_COMPONENTS = {"e": [0], "n": [1], "u": [2], "2d": [0, 1], "3d": [0, 1, 2]}


@dataclass(frozen=True)
class Rule:
    """One alarm rule. ``thresholds`` maps level name -> threshold in the unit of ``kind`` (UNITS)."""

    kind: str
    thresholds: dict[str, float]
    persist_n: int = 1
    persist_s: float = 0.0
    window_s: float = 3600.0  # velocity/acceleration/tangent-angle regression window
    step_s: float = 60.0  # window metrics are evaluated at most this often
    components: str = "2d"  # for window metrics
    params: dict = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in DISPLACEMENT_KINDS + WINDOW_KINDS + QUALITY_KINDS:
            raise RuleError(f"unknown rule kind {self.kind!r}")
        if not self.thresholds:
            raise RuleError(f"rule {self.kind!r} has no thresholds")
        levels = [Level.parse(k) for k in self.thresholds]
        if Level.NONE in levels:
            raise RuleError("threshold levels are blue, yellow, orange, red")
        vals = [float(self.thresholds[k]) for k in self.thresholds]
        if any(not math.isfinite(v) for v in vals):
            raise RuleError(f"rule {self.kind!r}: thresholds must be finite")
        order = sorted(zip(levels, vals))
        if any(b[1] < a[1] for a, b in zip(order, order[1:])):
            raise RuleError(f"rule {self.kind!r}: thresholds must not decrease with the level: {self.thresholds}")
        if self.persist_n < 1 or self.persist_s < 0:
            raise RuleError("persist_n must be >= 1 and persist_s >= 0")
        if self.components not in _COMPONENTS:
            raise RuleError(f"components must be one of {sorted(_COMPONENTS)}")
        if self.kind in WINDOW_KINDS and (self.window_s <= 0 or self.step_s <= 0):
            raise RuleError("window_s and step_s must be > 0")
        if self.kind == "tangent_angle" and float(self.params.get("reference_velocity_mm_h", 0)) <= 0:
            raise RuleError("tangent_angle needs params.reference_velocity_mm_h > 0 (creep-stage velocity)")

    @property
    def levels(self) -> tuple[np.ndarray, np.ndarray]:
        """(levels ascending, thresholds) as arrays."""
        pairs = sorted((int(Level.parse(k)), float(v)) for k, v in self.thresholds.items())
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    @property
    def unit(self) -> str:
        return UNITS[self.kind]

    @staticmethod
    def from_dict(d: dict) -> "Rule":
        keys = {"kind", "thresholds", "persist_n", "persist_s", "window_s", "step_s", "components", "params", "name"}
        bad = set(d) - keys
        if bad:
            raise RuleError(f"unknown rule field(s) {sorted(bad)}")
        return Rule(**d)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "thresholds": dict(self.thresholds), "persist_n": self.persist_n,
                "persist_s": self.persist_s, "window_s": self.window_s, "step_s": self.step_s,
                "components": self.components, "params": dict(self.params), "name": self.name}


# ----------------------------------------------------------------------------------------- metrics
def displacement_metric(kind: str, enu_mm: np.ndarray) -> np.ndarray:
    """|E|, |N|, |U|, horizontal or 3D displacement [mm] of ``enu_mm`` [E, 3]."""
    enu = np.atleast_2d(np.asarray(enu_mm, float))
    if kind in ("e", "n", "u"):
        return np.abs(enu[:, "enu".index(kind)])
    if kind == "2d":
        return np.hypot(enu[:, 0], enu[:, 1])
    if kind == "3d":
        return np.linalg.norm(enu, axis=1)
    raise RuleError(f"{kind!r} is not a displacement rule")


def theil_sen_slope(t_s: np.ndarray, y: np.ndarray, max_points: int = 300) -> np.ndarray:
    """Theil-Sen slope(s) [unit/s] of ``y`` [N] or [N, K] against ``t_s`` [N]: the median of all
    pairwise slopes (breakdown point 29 %: a few outliers cannot move it). Long series are thinned
    to ``max_points`` evenly spaced samples (O(max_points^2) pairs). NaN rows are ignored."""
    t = np.asarray(t_s, float)
    y2 = np.asarray(y, float).reshape(t.size, -1)
    ok = np.isfinite(t) & np.all(np.isfinite(y2), axis=1)
    t, y2 = t[ok], y2[ok]
    if t.size < 3:
        return np.full(y2.shape[1], np.nan).reshape(np.asarray(y).shape[1:])
    if t.size > max_points:
        idx = np.unique(np.linspace(0, t.size - 1, max_points).round().astype(int))
        t, y2 = t[idx], y2[idx]
    i, j = np.triu_indices(t.size, 1)
    dt = t[j] - t[i]
    keep = dt > 0
    slopes = (y2[j[keep]] - y2[i[keep]]) / dt[keep, None]
    out = np.median(slopes, axis=0)
    return out.reshape(np.asarray(y).shape[1:])


def robust_velocity_mm_h(t_s, enu_mm, components: str = "2d") -> float:
    """Speed [mm/h] of the chosen components from Theil-Sen slopes (|slope| for one component)."""
    cols = _COMPONENTS[components]
    slope = theil_sen_slope(t_s, np.asarray(enu_mm, float)[:, cols]) * 3600.0
    return float(np.linalg.norm(slope)) if np.all(np.isfinite(slope)) else float("nan")


def robust_acceleration_mm_h2(t_s, enu_mm, components: str = "2d", iterations: int = 6) -> float:
    """Acceleration [mm/h^2] along the direction of motion: Huber IRLS fit of
    ``a + b t + c t^2`` to the displacement projected on the Theil-Sen direction; returns 2c."""
    t = np.asarray(t_s, float)
    y = np.asarray(enu_mm, float)[:, _COMPONENTS[components]]
    ok = np.isfinite(t) & np.all(np.isfinite(y), axis=1)
    t, y = t[ok], y[ok]
    if t.size < 6:
        return float("nan")
    slope = theil_sen_slope(t, y)
    norm = np.linalg.norm(slope)
    direction = slope / norm if norm > 0 else np.eye(y.shape[1])[0]
    s = y @ direction
    th = (t - t.mean()) / 3600.0  # hours, centred for conditioning
    A = np.stack([np.ones_like(th), th, th ** 2], axis=1)
    w = np.ones_like(th)
    coef = np.zeros(3)
    for _ in range(iterations):
        sw = np.sqrt(w)
        coef = np.linalg.lstsq(A * sw[:, None], s * sw, rcond=None)[0]
        r = s - A @ coef
        scale = 1.4826 * np.median(np.abs(r - np.median(r))) + 1e-9
        u = np.abs(r) / (1.345 * scale)
        w = np.where(u <= 1, 1.0, 1.0 / np.maximum(u, 1e-12))
    return float(2.0 * coef[2])


def tangent_angle_deg(velocity_mm_h: float, reference_velocity_mm_h: float) -> float:
    """Improved tangent angle [deg]: atan(v / v_ref); 45 deg = steady creep at v_ref."""
    return math.degrees(math.atan2(velocity_mm_h, reference_velocity_mm_h))


def window_metric(rule: Rule, t_s: np.ndarray, enu_mm: np.ndarray) -> float:
    """The window metric of ``rule`` on the samples given (already cut to the window)."""
    if rule.kind == "velocity":
        return robust_velocity_mm_h(t_s, enu_mm, rule.components)
    if rule.kind == "acceleration":
        return robust_acceleration_mm_h2(t_s, enu_mm, rule.components)
    v = robust_velocity_mm_h(t_s, enu_mm, rule.components)
    if not np.isfinite(v) or v < float(rule.params.get("min_velocity_mm_h", 0.0)):
        return float("nan")
    return tangent_angle_deg(v, float(rule.params["reference_velocity_mm_h"]))


def raw_levels(rule: Rule, metric: np.ndarray) -> np.ndarray:
    """Level reached by each metric value before persistence (0 where NaN)."""
    levels, thr = rule.levels
    m = np.asarray(metric, float)
    with np.errstate(invalid="ignore"):
        reached = m[..., None] >= thr  # [..., L]
    out = np.where(reached, levels, 0).max(axis=-1, initial=0)
    return out.astype(np.int8)


# ------------------------------------------------------------------------------------- persistence
def persist(t_s: np.ndarray, raw: np.ndarray, n: int, min_s: float) -> np.ndarray:
    """Debounced levels: level L at sample i iff raw >= L for the last ``n`` samples (i included)
    and for at least ``min_s`` seconds (t_i - start of that run). Vectorised over samples."""
    t = np.asarray(t_s, float)
    raw = np.asarray(raw, np.int8)
    out = np.zeros(raw.shape, np.int8)
    idx = np.arange(raw.size)
    for lev in range(1, 5):
        on = raw >= lev
        if not on.any():
            break
        # index where the current run of `on` started
        start = np.where(on & np.concatenate([[True], ~on[:-1]]), idx, 0)
        start = np.maximum.accumulate(start)
        run_n = idx - start + 1
        ok = on & (run_n >= n) & (t - t[start] >= min_s)
        out[ok] = lev
    return out


@dataclass
class Persistence:
    """Streaming form of :func:`persist` (same answers, one sample at a time)."""

    n: int
    min_s: float
    _start_t: list = field(default_factory=lambda: [None] * 5)
    _count: list = field(default_factory=lambda: [0] * 5)

    def update(self, t_s: float, raw: int) -> int:
        level = 0
        for lev in range(1, 5):
            if raw >= lev:
                if self._count[lev] == 0:
                    self._start_t[lev] = t_s
                self._count[lev] += 1
                if self._count[lev] >= self.n and t_s - self._start_t[lev] >= self.min_s:
                    level = lev
            else:
                self._count[lev] = 0
                self._start_t[lev] = None
        return level


# ----------------------------------------------------------------------------------- batch evaluate
def evaluate_series(rule: Rule, t_s: np.ndarray, enu_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate a displacement or window rule over a whole series.

    Returns ``(t_eval_s, metric, level)``: displacement rules are evaluated at every sample,
    window rules every ``step_s`` on the samples of the preceding ``window_s`` (requiring at
    least half a window of data). NaN samples are skipped.
    """
    t = np.asarray(t_s, float)
    enu = np.asarray(enu_mm, float)
    ok = np.isfinite(t) & np.all(np.isfinite(enu), axis=1)
    t, enu = t[ok], enu[ok]
    if rule.kind in DISPLACEMENT_KINDS:
        metric = displacement_metric(rule.kind, enu)
        return t, metric, persist(t, raw_levels(rule, metric), rule.persist_n, rule.persist_s)
    if rule.kind not in WINDOW_KINDS:
        raise RuleError(f"{rule.kind!r} rules are evaluated by RuleEngine.tick, not on a series")
    if t.size == 0:
        return t, np.zeros(0), np.zeros(0, np.int8)
    grid = np.arange(t[0] + rule.step_s, t[-1] + 1e-9, rule.step_s)
    # an evaluation at g uses samples in (g - window, g]; the last sample at or before g
    hi = np.searchsorted(t, grid, side="right")
    lo = np.searchsorted(t, grid - rule.window_s, side="right")
    metric = np.full(grid.size, np.nan)
    for k in range(grid.size):  # one regression per evaluation time (every step_s), not per epoch
        if t[hi[k] - 1] - t[lo[k]] >= 0.5 * rule.window_s:
            metric[k] = window_metric(rule, t[lo[k]:hi[k]], enu[lo[k]:hi[k]])
    return grid, metric, persist(grid, raw_levels(rule, metric), rule.persist_n, rule.persist_s)


# -------------------------------------------------------------------------------------- streaming
class RuleEngine:
    """Streaming evaluation of a point's rules, one solution at a time.

    ``push(t_s, enu_mm, fixed)`` -> {rule index: level} for the rules evaluated at this sample;
    ``tick(now_s, last_reference_s)`` evaluates the data-quality rules against the wall/GPS clock.
    Keeps only ``max(window_s)`` of history.
    """

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = list(rules)
        self.persistence = [Persistence(r.persist_n, r.persist_s) for r in self.rules]
        self.levels = [0] * len(self.rules)
        self.metrics = [float("nan")] * len(self.rules)
        self.keep_s = max([r.window_s for r in self.rules if r.kind in WINDOW_KINDS], default=0.0)
        self._t: list[float] = []
        self._enu: list[np.ndarray] = []
        self._next_eval = [-math.inf] * len(self.rules)
        self.last_solution_s: float | None = None
        self.non_fix_run = 0

    def push(self, t_s: float, enu_mm, fixed: bool = True, disagreement_enu_mm=None) -> dict[int, int]:
        """One solution; ``disagreement_enu_mm`` [P, 3] the reference pairs' disagreement vectors (mm)."""
        enu = np.asarray(enu_mm, float)
        self.last_solution_s = t_s
        self.non_fix_run = 0 if fixed else self.non_fix_run + 1
        out: dict[int, int] = {}
        if np.all(np.isfinite(enu)):
            self._t.append(float(t_s))
            self._enu.append(enu)
            cut = 0
            while cut < len(self._t) and self._t[cut] <= t_s - self.keep_s - 1e-9 and self.keep_s > 0:
                cut += 1
            if self.keep_s == 0:
                cut = max(0, len(self._t) - 1)
            del self._t[:cut], self._enu[:cut]
        for i, r in enumerate(self.rules):
            if r.kind in DISPLACEMENT_KINDS:
                if not np.all(np.isfinite(enu)):
                    continue
                m = float(displacement_metric(r.kind, enu)[0])
            elif r.kind in WINDOW_KINDS:
                if self._next_eval[i] == -math.inf:
                    self._next_eval[i] = self._t[0] + r.step_s if self._t else t_s + r.step_s
                if t_s + 1e-9 < self._next_eval[i]:
                    continue
                g = self._next_eval[i]
                self._next_eval[i] = g + r.step_s * max(1, math.floor((t_s - g) / r.step_s + 1e-9) + 1)
                t = np.array(self._t)
                sel = (t > g - r.window_s) & (t <= g + 1e-9)
                ts = t[sel]
                m = (window_metric(r, ts, np.array(self._enu)[sel])
                     if ts.size and ts[-1] - ts[0] >= 0.5 * r.window_s else float("nan"))
                t_s_eval = g
                self.metrics[i] = m
                self.levels[i] = self.persistence[i].update(t_s_eval, int(raw_levels(r, np.array([m]))[0]))
                out[i] = self.levels[i]
                continue
            elif r.kind == "fix_lost":
                m = float(self.non_fix_run)
            elif r.kind == "reference_disagreement":
                D = np.zeros((0, 3)) if disagreement_enu_mm is None else np.asarray(disagreement_enu_mm, float)
                D = D[np.all(np.isfinite(D), axis=1)] if D.size else D
                if not D.size:
                    continue
                m = float(np.max(displacement_metric(r.components, D)))
            else:
                continue
            self.metrics[i] = m
            self.levels[i] = self.persistence[i].update(t_s, int(raw_levels(r, np.array([m]))[0]))
            out[i] = self.levels[i]
        return out

    def tick(self, now_s: float, last_reference_s: float | None = None) -> dict[int, int]:
        """Evaluate ``no_data`` and ``reference_missing`` rules at ``now_s``."""
        out: dict[int, int] = {}
        for i, r in enumerate(self.rules):
            if r.kind == "no_data":
                m = math.inf if self.last_solution_s is None else now_s - self.last_solution_s
            elif r.kind == "reference_missing":
                m = math.inf if last_reference_s is None else now_s - last_reference_s
            else:
                continue
            self.metrics[i] = m
            self.levels[i] = self.persistence[i].update(now_s, int(raw_levels(r, np.array([m]))[0]))
            out[i] = self.levels[i]
        return out


# ------------------------------------------------------------------------------------ alarm states
@dataclass
class AlarmEvent:
    """A change worth telling someone about (webhook payload)."""

    alarm_id: int
    rule_key: str
    kind: str  # "raised" | "escalated" | "deescalated" | "cleared" | "acknowledged" | "closed"
    level: int
    previous_level: int
    time_s: float
    value: float
    state: str

    def to_dict(self) -> dict:
        return {"alarm_id": self.alarm_id, "rule": self.rule_key, "event": self.kind,
                "level": Level(self.level).label, "previous_level": Level(self.previous_level).label,
                "time_s": self.time_s, "value": None if not math.isfinite(self.value) else self.value,
                "state": self.state}


@dataclass
class Alarm:
    id: int
    rule_key: str
    level: int
    max_level: int
    state: str  # "open" | "acknowledged" | "closed"
    raised_s: float
    updated_s: float
    value: float
    condition_active: bool = True
    acknowledged_by: str = ""
    closed_by: str = ""


class AlarmBook:
    """Alarm life cycle per rule: one live (not closed) alarm per rule key.

    * level 0 -> L > 0 with no live alarm: a new alarm is **raised** (state open);
    * level changes on a live alarm: **escalated** (re-opens an acknowledged alarm) or
      **deescalated**; back to 0: **cleared** (condition gone; the alarm stays until closed);
    * :meth:`acknowledge` (open -> acknowledged) and :meth:`close` (-> closed; if the condition
      is still active the next evaluation raises a new alarm).
    """

    def __init__(self, first_id: int = 1) -> None:
        self.alarms: dict[int, Alarm] = {}
        self.live: dict[str, int] = {}
        self._next = first_id

    def update(self, rule_key: str, level: int, time_s: float, value: float = float("nan")) -> list[AlarmEvent]:
        level = int(level)
        aid = self.live.get(rule_key)
        if aid is None:
            if level <= 0:
                return []
            a = Alarm(self._next, rule_key, level, level, "open", time_s, time_s, value)
            self._next += 1
            self.alarms[a.id] = a
            self.live[rule_key] = a.id
            return [self._event(a, "raised", 0)]
        a = self.alarms[aid]
        prev = a.level
        a.value = value if level > 0 else a.value
        if level == prev:
            return []
        a.level, a.updated_s = level, time_s
        a.condition_active = level > 0
        if level > prev:
            a.max_level = max(a.max_level, level)
            if a.state == "acknowledged":
                a.state = "open"
            return [self._event(a, "escalated" if prev > 0 else "raised", prev)]
        return [self._event(a, "cleared" if level == 0 else "deescalated", prev)]

    def acknowledge(self, alarm_id: int, user: str, time_s: float) -> AlarmEvent:
        a = self._get(alarm_id)
        if a.state != "open":
            raise RuleError(f"alarm {alarm_id} is {a.state}, only an open alarm can be acknowledged")
        a.state, a.acknowledged_by, a.updated_s = "acknowledged", user, time_s
        return self._event(a, "acknowledged", a.level)

    def close(self, alarm_id: int, user: str, time_s: float) -> AlarmEvent:
        a = self._get(alarm_id)
        if a.state == "closed":
            raise RuleError(f"alarm {alarm_id} is already closed")
        a.state, a.closed_by, a.updated_s = "closed", user, time_s
        self.live.pop(a.rule_key, None)
        return self._event(a, "closed", a.level)

    def _get(self, alarm_id: int) -> Alarm:
        if alarm_id not in self.alarms:
            raise KeyError(f"no alarm {alarm_id}")
        return self.alarms[alarm_id]

    @staticmethod
    def _event(a: Alarm, kind: str, prev: int) -> AlarmEvent:
        return AlarmEvent(a.id, a.rule_key, kind, a.level, prev, a.updated_s, a.value, a.state)
