"""A live monitoring point: streaming RTK of its epochs against its reference station(s)' epochs,
displacement (ENU mm from the reference coordinates), robust filter, alarm rules.

Feed reference-station epochs with :meth:`LivePoint.on_reference_epoch` (e.g. as a sink of
``cors_network.ingest.StationIngest``) and the point's own epochs with :meth:`LivePoint.on_epoch`;
each rover epoch is solved against the reference epoch of the same time (or the latest one within
``max_age_s``) and yields a :class:`PointSolution` with the alarm events it caused.
With several reference stations (``base_ecef_m`` a ``{code: ECEF}`` mapping) the epoch is solved
against each (one ``RtkStream`` per baseline) and the fixed results combined
(:class:`.multiref.ReferenceCombiner`: weighted mean, disagreement, suspect references excluded);
a ``reference_disagreement`` rule (default: yellow 15 mm / orange 30 mm horizontal, 30 solutions)
is added when the point has several references and no such rule.
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
from .multiref import Combination, ReferenceCombiner
from .rules import AlarmBook, AlarmEvent, Rule, RuleEngine

log = logging.getLogger("beidou.monitoring")
NS = 1_000_000_000

__all__ = ["PointSolution", "ReferenceSolution", "LivePoint", "rule_key", "DEFAULT_DISAGREEMENT_RULE"]
DEFAULT_DISAGREEMENT_RULE = Rule("reference_disagreement", {"yellow": 15.0, "orange": 30.0}, persist_n=30,
                                 components="2d", name="reference disagreement")


def rule_key(i: int, rule: Rule) -> str:
    return rule.name or f"{i}:{rule.kind}"


@dataclass
class ReferenceSolution:
    """The point solved against one reference station (ENU mm from the point's reference coordinates)."""

    code: str
    quality: int
    n_sats: int
    ratio: float
    enu_mm: np.ndarray  # NaN unless fixed


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
    per_reference: list[ReferenceSolution] = field(default_factory=list)
    combination: Combination | None = None  # several references only

    def to_dict(self) -> dict:
        def f(a):
            return [None if not np.isfinite(v) else round(float(v), 2) for v in a]
        return {"time_ns": self.time_ns, "quality": self.quality, "n_sats": self.n_sats, "ratio": self.ratio,
                "enu_mm": f(self.enu_mm), "filtered_enu_mm": f(self.filtered_enu_mm), "outlier": self.outlier}


class LivePoint:
    """One monitoring point in real time (see module docstring)."""

    def __init__(self, name: str, ref_ecef_m, base_ecef_m, nav, rules: list[Rule],
                 opts: RtkOptions | None = None, max_age_s: float = 5.0, book: AlarmBook | None = None,
                 rt_filter: RobustFilter | None = None, combiner: ReferenceCombiner | None = None) -> None:
        self.name = name
        self.ref = np.asarray(ref_ecef_m, float)
        bases = base_ecef_m if isinstance(base_ecef_m, dict) else {"": base_ecef_m}
        opts = opts or load_options(max_freqs=2)
        self.streams = {c: RtkStream(nav, np.asarray(xyz, float), opts) for c, xyz in bases.items()}
        self.rules = list(rules)
        if len(bases) > 1 and not any(r.kind == "reference_disagreement" for r in self.rules):
            self.rules.append(DEFAULT_DISAGREEMENT_RULE)
        self.combiner = None
        if len(bases) > 1:
            b_km = [enu_mm(self.ref[None, :], np.asarray(xyz, float))[0] / 1e6 for xyz in bases.values()]
            self.combiner = combiner or ReferenceCombiner(list(bases), b_km)  # baselines reference -> point
        self.engine = RuleEngine(self.rules)
        self.book = book or AlarmBook()
        self.filter = rt_filter or RobustFilter()
        self.max_age_ns = int(max_age_s * NS)
        self._base: dict[str, OrderedDict[int, ObsBlock]] = {c: OrderedDict() for c in bases}
        self.last_reference_ns: int | None = None
        self.n_solutions = 0
        self.n_fixed = 0

    @property
    def stream(self) -> RtkStream:
        """The (first) reference's RTK stream."""
        return next(iter(self.streams.values()))

    @property
    def references(self) -> list[str]:
        return list(self.streams)

    def set_nav(self, nav) -> None:
        """New ephemerides for every baseline."""
        for s in self.streams.values():
            s.nav = nav

    def on_reference_epoch(self, code: str, epoch: ObsBlock) -> None:
        """Sink signature of ``StationIngest.sinks``: keep the last 60 epochs of reference ``code`` by time
        (with a single reference the code is not checked)."""
        buf = self._base.get(code) if len(self._base) > 1 else next(iter(self._base.values()))
        if buf is None:
            return  # not one of this point's references
        for k in range(epoch.n_epochs):
            t = int(epoch.time_ns[k])
            buf[t] = epoch if epoch.n_epochs == 1 else _epoch(epoch, k)
            self.last_reference_ns = t if self.last_reference_ns is None else max(self.last_reference_ns, t)
        while len(buf) > 60:
            buf.popitem(last=False)

    def _base_for(self, code: str, t_ns: int) -> ObsBlock | None:
        buf = self._base[code]
        if t_ns in buf:
            return buf[t_ns]
        older = [t for t in buf if t <= t_ns and t_ns - t <= self.max_age_ns]
        return buf[max(older)] if older else None

    def on_epoch(self, epoch: ObsBlock) -> list[PointSolution]:
        """Solve each epoch of ``epoch`` (usually one) against every reference; filter and rules."""
        out = []
        for k in range(epoch.n_epochs):
            ep = epoch if epoch.n_epochs == 1 else _epoch(epoch, k)
            t = int(ep.time_ns[0])
            sols = {}
            for code, stream in self.streams.items():
                base = self._base_for(code, t)
                sols[code] = (stream._skip(ep, "no reference epoch within max_age_s") if base is None
                              else stream.step(ep, base))
            out.append(self._after_solution(sols))
        return out

    def _after_solution(self, sols: dict[str, Solution]) -> PointSolution:
        per = []
        for code, sol in sols.items():
            fixed = int(sol.quality[0]) == Quality.FIX
            per.append(ReferenceSolution(code, int(sol.quality[0]), int(sol.n_sats[0]), float(sol.ratio[0]),
                                         enu_mm(sol.ecef_m[:1], self.ref)[0] if fixed else np.full(3, np.nan)))
        first = next(iter(sols.values()))
        t = int(first.time_ns[0])
        comb = None
        if self.combiner is None:
            enu, q, n_sats, ratio, ecef = per[0].enu_mm, per[0].quality, per[0].n_sats, per[0].ratio, first.ecef_m[0]
        else:
            comb = self.combiner.push({r.code: r.enu_mm for r in per}, int(first.time_ns[0]) / NS)
            used = [r for r in per if r.code in comb.used]
            enu = comb.enu_mm
            best = min(per, key=lambda r: (r.quality if r.quality else 99, -r.ratio))
            q = Quality.FIX if used else best.quality
            n_sats = max(r.n_sats for r in per)
            ratio = min((r.ratio for r in used), default=best.ratio)
            ecef = _enu_to_ecef(enu, self.ref) if np.all(np.isfinite(enu)) else sols[best.code].ecef_m[0]
        fixed = q == Quality.FIX
        self.n_solutions += 1
        self.n_fixed += int(fixed)
        t_s = t / NS
        f = self.filter.update(t_s, enu) if fixed else self.filter.update(t_s, np.full(3, np.nan))
        events: list[AlarmEvent] = []
        # rules see the raw fixed solution; the persistence rule removes single-epoch outliers
        levels = self.engine.push(t_s, enu, fixed, None if comb is None else comb.disagreement_enu_mm)
        for i, lev in levels.items():
            events += self.book.update(rule_key(i, self.rules[i]), lev, t_s, self.engine.metrics[i])
        return PointSolution(t, ecef, int(q), n_sats, ratio, enu, f.enu_mm, f.outlier and fixed, events, per, comb)

    def tick(self, now_ns: int) -> list[AlarmEvent]:
        """Data-quality rules (no data, reference missing) at ``now_ns`` (GPST ns)."""
        ref_s = None if self.last_reference_ns is None else self.last_reference_ns / NS
        events: list[AlarmEvent] = []
        for i, lev in self.engine.tick(now_ns / NS, ref_s).items():
            events += self.book.update(rule_key(i, self.rules[i]), lev, now_ns / NS, self.engine.metrics[i])
        return events


def _enu_to_ecef(enu_mm_: np.ndarray, ref: np.ndarray) -> np.ndarray:
    from .inject import enu_to_ecef_vector
    return ref + enu_to_ecef_vector(np.asarray(enu_mm_, float) / 1000.0, ref)


def _epoch(block: ObsBlock, k: int) -> ObsBlock:
    from dataclasses import replace
    s = slice(k, k + 1)
    return replace(block, time_ns=block.time_ns[s], code_m=block.code_m[s], phase_cyc=block.phase_cyc[s],
                   doppler_hz=block.doppler_hz[s], snr_dbhz=block.snr_dbhz[s], lli=block.lli[s])
