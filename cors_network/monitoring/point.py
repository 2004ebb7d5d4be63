"""A live monitoring point: streaming RTK of its epochs against its reference station's epochs,
displacement (ENU mm from the reference coordinates), robust filter, alarm rules.

Feed reference-station epochs with :meth:`LivePoint.on_reference_epoch` (e.g. as a sink of
``cors_network.ingest.StationIngest``) and the point's own epochs with :meth:`LivePoint.on_epoch`;
each rover epoch is solved against the reference epoch of the same time (or the latest one within
``max_age_s``) and yields a :class:`PointSolution` with the alarm events it caused.
Only fixed solutions enter the displacement rules (float RTK is metre-to-decimetre noise for a
monitoring point); non-fixed solutions count toward the ``fix_lost`` rule.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from rtk_engine.obs import ObsBlock
from rtk_engine.solution import Quality, Solution
from rtk_engine.solvers.rtk import RtkOptions, RtkStream, load_options

from .displacement import RobustFilter, enu_mm
from .rules import AlarmBook, AlarmEvent, Rule, RuleEngine

log = logging.getLogger("beidou.monitoring")
NS = 1_000_000_000

__all__ = ["PointSolution", "LivePoint", "rule_key"]


def rule_key(i: int, rule: Rule) -> str:
    return rule.name or f"{i}:{rule.kind}"


@dataclass
class PointSolution:
    time_ns: int
    ecef_m: np.ndarray
    quality: int
    n_sats: int
    ratio: float
    enu_mm: np.ndarray  # raw, NaN when no solution
    filtered_enu_mm: np.ndarray
    outlier: bool
    events: list[AlarmEvent] = field(default_factory=list)

    def to_dict(self) -> dict:
        def f(a):
            return [None if not np.isfinite(v) else round(float(v), 2) for v in a]
        return {"time_ns": self.time_ns, "quality": self.quality, "n_sats": self.n_sats, "ratio": self.ratio,
                "enu_mm": f(self.enu_mm), "filtered_enu_mm": f(self.filtered_enu_mm), "outlier": self.outlier}


class LivePoint:
    """One monitoring point in real time (see module docstring)."""

    def __init__(self, name: str, ref_ecef_m, base_ecef_m, nav, rules: list[Rule],
                 opts: RtkOptions | None = None, max_age_s: float = 5.0, book: AlarmBook | None = None,
                 rt_filter: RobustFilter | None = None) -> None:
        self.name = name
        self.ref = np.asarray(ref_ecef_m, float)
        self.stream = RtkStream(nav, np.asarray(base_ecef_m, float), opts or load_options(max_freqs=2))
        self.rules = list(rules)
        self.engine = RuleEngine(self.rules)
        self.book = book or AlarmBook()
        self.filter = rt_filter or RobustFilter()
        self.max_age_ns = int(max_age_s * NS)
        self._base: OrderedDict[int, ObsBlock] = OrderedDict()
        self.last_reference_ns: int | None = None
        self.n_solutions = 0
        self.n_fixed = 0

    def on_reference_epoch(self, code: str, epoch: ObsBlock) -> None:
        """Sink signature of ``StationIngest.sinks``: keep the last 60 reference epochs by time."""
        for k in range(epoch.n_epochs):
            t = int(epoch.time_ns[k])
            self._base[t] = epoch if epoch.n_epochs == 1 else _epoch(epoch, k)
            self.last_reference_ns = t if self.last_reference_ns is None else max(self.last_reference_ns, t)
        while len(self._base) > 60:
            self._base.popitem(last=False)

    def _base_for(self, t_ns: int) -> ObsBlock | None:
        if t_ns in self._base:
            return self._base[t_ns]
        older = [t for t in self._base if t <= t_ns and t_ns - t <= self.max_age_ns]
        return self._base[max(older)] if older else None

    def on_epoch(self, epoch: ObsBlock) -> list[PointSolution]:
        """Solve each epoch of ``epoch`` (usually one) and run filter and rules."""
        out = []
        for k in range(epoch.n_epochs):
            ep = epoch if epoch.n_epochs == 1 else _epoch(epoch, k)
            t = int(ep.time_ns[0])
            base = self._base_for(t)
            if base is None:
                sol = self.stream._skip(ep, "no reference epoch within max_age_s")
            else:
                sol = self.stream.step(ep, base)
            out.append(self._after_solution(sol))
        return out

    def _after_solution(self, sol: Solution) -> PointSolution:
        t = int(sol.time_ns[0])
        q = int(sol.quality[0])
        fixed = q == Quality.FIX
        self.n_solutions += 1
        self.n_fixed += int(fixed)
        enu = enu_mm(sol.ecef_m[:1], self.ref)[0] if fixed else np.full(3, np.nan)
        t_s = t / NS
        f = self.filter.update(t_s, enu) if fixed else self.filter.update(t_s, np.full(3, np.nan))
        events: list[AlarmEvent] = []
        # rules see the raw fixed solution; the persistence rule removes single-epoch outliers
        levels = self.engine.push(t_s, enu, fixed)
        for i, lev in levels.items():
            events += self.book.update(rule_key(i, self.rules[i]), lev, t_s, self.engine.metrics[i])
        return PointSolution(t, sol.ecef_m[0], q, int(sol.n_sats[0]), float(sol.ratio[0]), enu, f.enu_mm,
                             f.outlier and fixed, events)

    def tick(self, now_ns: int) -> list[AlarmEvent]:
        """Data-quality rules (no data, reference missing) at ``now_ns`` (GPST ns)."""
        ref_s = None if self.last_reference_ns is None else self.last_reference_ns / NS
        events: list[AlarmEvent] = []
        for i, lev in self.engine.tick(now_ns / NS, ref_s).items():
            events += self.book.update(rule_key(i, self.rules[i]), lev, now_ns / NS, self.engine.metrics[i])
        return events


def _epoch(block: ObsBlock, k: int) -> ObsBlock:
    from dataclasses import replace
    s = slice(k, k + 1)
    return replace(block, time_ns=block.time_ns[s], code_m=block.code_m[s], phase_cyc=block.phase_cyc[s],
                   doppler_hz=block.doppler_hz[s], snr_dbhz=block.snr_dbhz[s], lli=block.lli[s])
