"""Coordinate integrity of the reference stations: is each station still where it is registered?

Every rover inherits its reference station's coordinate error one to one, so a station that moved
(subsidence, a knocked antenna mount, a wrong coordinate typed in) must be found by the network,
not by the users. Periodically (e.g. every hour, over the last hour of epochs) each station is
tied to its nearest neighbours by static RTK baselines:

* For each undirected pair (i, j) of neighbours, one static RTK solution of j against i, with i
  held at its registered coordinate, estimates the vector b_ij = x_j - x_i (ECEF metres).
* That one baseline gives an offset for both ends, relative to the other end's registration:
  ``offset_j|i = reg_i + b_ij - reg_j`` and ``offset_i|j = -offset_j|i`` (ENU at the station).
* A station's offset is the component-wise median over its usable (fixed) baselines. It is
  flagged ``moved`` when that offset exceeds the threshold (default 2 cm horizontal or 4 cm
  vertical) *and* a majority (at least two) of its baselines agree with the median within the
  threshold: a single neighbour with a bad coordinate shows up in one baseline only, the moved
  station in all of its own. Exceeding without that agreement is ``inconclusive``.
* Flagged stations stop serving as references and the others are re-evaluated without them
  (repeated until no new station is flagged), so a moved station does not smear onto its
  neighbours.

Thresholds: a rover's network-RTK error budget is about 2 cm horizontal and twice that vertical
(the usual survey specification); a reference error of that size uses it up entirely. Over a
window of 20 min to 1 h, a static fixed baseline of 5-20 km with ionosphere states estimates the
horizontal offset to a few millimetres and the vertical to 1-2.5 cm (tropospheric residuals;
figures in ``docs/network.md``), so the thresholds sit 4x (horizontal) and 1.5-2x (vertical,
before the median) above the noise.

:func:`check_integrity` is a pure function (ObsBlocks + navigation + registered coordinates ->
per-station results). :class:`IntegrityMonitor` collects decimated epochs from station ingests
(``StationIngest.sinks``) and runs a cycle on demand; a cycle is seconds of CPU per baseline, mostly
under the GIL, so a server runs it in a process pool (:meth:`IntegrityMonitor.inputs` ->
:func:`run_cycle_on` -> :meth:`IntegrityMonitor.record`).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from rtk_engine.formats.rtcm3.decoder import stack_epochs
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic, enu_rotation
from rtk_engine.nav import NavData
from rtk_engine.obs import ObsBlock
from rtk_engine.solution import Quality
from rtk_engine.solvers.rtk import RtkOptions, load_options, solve

log = logging.getLogger("beidou.integrity")

NS = 1_000_000_000


class IntegrityError(ValueError):
    """Bad input to an integrity check (no stations, a station without coordinates...)."""


@dataclass(frozen=True)
class IntegrityThresholds:
    """When a station counts as moved. Metres."""

    horizontal_m: float = 0.02  # flag when the median horizontal offset exceeds this ...
    vertical_m: float = 0.04  # ... or the median vertical offset exceeds this
    min_fix_rate: float = 0.3  # a baseline counts only if its last epoch is fixed and this share of epochs


def integrity_rtk_options(**overrides) -> RtkOptions:
    """RTK options of the integrity baselines: static (stations do not move within a window),
    ionosphere states always estimated (even 5 km baselines carry 1-2 cm of ionospheric gradient,
    the size of the threshold), three frequencies (with the ionosphere estimated, the third one is
    what separates it from the ambiguities: on the 18-25 km demo baselines, 1 h at 30 s, two
    frequencies never fixed, three fixed 92-95 % of the epochs), fix-and-hold."""
    return load_options(**{"mode": "static", "iono": "estimate", "max_freqs": 3, **overrides})


@dataclass
class BaselineResult:
    """One static RTK baseline ``rover`` against ``base`` (base held at its registered coordinate)."""

    rover: str
    base: str
    length_km: float
    n_epochs: int = 0
    fix_rate: float = 0.0
    fixed: bool = False  # last epoch fixed
    rover_ecef_m: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))  # estimate at the last epoch
    rover_cov_m2: np.ndarray = field(default_factory=lambda: np.full((3, 3), np.nan))
    offset_ecef_m: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))  # estimate - registered (rover)
    error: str = ""  # why the baseline could not be computed ("" when it was)
    start_epoch: int = 0  # epochs skipped at the start of the window (failed first-epoch seed)
    solve_s: float = 0.0

    def usable(self, th: IntegrityThresholds) -> bool:
        return not self.error and self.fixed and self.fix_rate >= th.min_fix_rate


@dataclass
class StationIntegrity:
    """Result for one station. ``offset_enu_m`` = estimated true position - registered, ENU metres."""

    code: str
    status: str  # "ok", "moved", "inconclusive", "no-data"
    offset_enu_m: np.ndarray
    n_baselines: int  # baselines to neighbours that were computed
    n_used: int  # fixed ones used (neighbours not flagged themselves)
    n_consistent: int  # of those, agreeing with the median within the thresholds
    per_neighbour_enu_m: dict[str, np.ndarray] = field(default_factory=dict)
    note: str = ""

    @property
    def horizontal_m(self) -> float:
        return float(np.hypot(self.offset_enu_m[0], self.offset_enu_m[1]))

    @property
    def vertical_m(self) -> float:
        return float(self.offset_enu_m[2])

    @property
    def flagged(self) -> bool:
        return self.status == "moved"


def _rot(ecef: np.ndarray) -> np.ndarray:
    llh = ecef_to_geodetic(np.asarray(ecef, float))
    return enu_rotation(llh[0], llh[1])


def neighbour_pairs(registered: Mapping[str, Sequence[float]], n_neighbours: int = 3,
                    max_baseline_km: float = 50.0) -> list[tuple[str, str]]:
    """Undirected baselines: each station to its ``n_neighbours`` nearest stations within
    ``max_baseline_km``; returned as sorted ``(base, rover)`` name pairs, each pair once."""
    names = sorted(registered)
    xyz = np.array([registered[n] for n in names], float).reshape(-1, 3)
    d = np.linalg.norm(xyz[:, None, :] - xyz[None, :, :], axis=2) / 1e3
    np.fill_diagonal(d, np.inf)
    pairs: set[tuple[str, str]] = set()
    for i in range(len(names)):
        for j in np.argsort(d[i])[:n_neighbours]:
            if d[i, j] <= max_baseline_km:
                pairs.add(tuple(sorted((names[i], names[int(j)]))))
    return sorted(pairs)


def _first_seeded_epoch(rover: ObsBlock, base: ObsBlock, nav: NavData, base_pos: np.ndarray, opts: RtkOptions,
                        max_probe: int) -> int | None:
    """Index of the first rover epoch on which the RTK filter finds a solution on its own.

    The engine seeds the rover position from the base at its first epoch; that single epoch fails
    now and then (outlier rounds exhausted), and early engine versions never recovered from it in
    static mode (10 km prior). The first epoch's outcome depends on that epoch alone, so a
    one-epoch solve predicts it cheaply: a guard that costs one epoch per probe."""
    for k in range(min(max_probe, rover.n_epochs)):
        sol, _ = solve(rover.select_epochs(k), base, nav, base_pos, opts)
        if len(sol) and np.all(np.isfinite(sol.ecef_m[0])):
            return k
    return None


def solve_baseline(rover: str, base: str, epochs: Mapping[str, ObsBlock], nav: NavData,
                   registered: Mapping[str, Sequence[float]], opts: RtkOptions,
                   max_probe: int = 5) -> BaselineResult:
    """Static RTK of ``rover`` against ``base`` held at its registered coordinate (the window starts
    at the first epoch whose position seed succeeds, at most ``max_probe`` epochs in)."""
    reg_r, reg_b = np.asarray(registered[rover], float), np.asarray(registered[base], float)
    res = BaselineResult(rover, base, float(np.linalg.norm(reg_r - reg_b)) / 1e3)
    t0 = time.perf_counter()
    rov, bas = epochs[rover], epochs[base]
    try:
        start = _first_seeded_epoch(rov, bas, nav, reg_b, opts, max_probe)
        if start is None:
            res.error = f"no rover position could be seeded in the first {max_probe} epochs"
            return res
        res.start_epoch = start
        sol, rep = solve(rov.select_epochs(slice(start, None)), bas, nav, reg_b, opts)
    except ValueError as exc:  # RtkInputError (no overlap, no ephemerides, bad base position); also an
        # engine failure inside the LAMBDA search (LinAlgError "Singular matrix", NaN): the baseline is
        # then unusable for this cycle, and the reason is in ``error``
        res.error = f"{type(exc).__name__}: {exc}"
        return res
    finally:
        res.solve_s = time.perf_counter() - t0
    res.n_epochs = rep.n_epochs
    res.fix_rate = rep.fix_rate
    valid = np.flatnonzero(np.all(np.isfinite(sol.ecef_m), axis=1))
    if valid.size == 0:
        res.error = "no solution in the window"
        return res
    last = valid[-1]
    res.fixed = bool(sol.quality[last] == Quality.FIX)
    res.rover_ecef_m = sol.ecef_m[last].copy()
    res.rover_cov_m2 = sol.cov_m2[last].copy()
    res.offset_ecef_m = res.rover_ecef_m - reg_r
    return res


def _judge(code: str, offsets: dict[str, np.ndarray], n_baselines: int, th: IntegrityThresholds) -> StationIntegrity:
    """Decide from the per-neighbour ENU offsets of one station (see module doc)."""
    if not offsets:
        return StationIntegrity(code, "no-data", np.full(3, np.nan), n_baselines, 0, 0, {},
                                "no fixed baseline to a trusted neighbour")
    d = np.array(list(offsets.values()))
    med = np.median(d, axis=0)
    dev = d - med
    consistent = (np.hypot(dev[:, 0], dev[:, 1]) <= th.horizontal_m) & (np.abs(dev[:, 2]) <= th.vertical_m)
    n, n_ok = len(d), int(consistent.sum())
    exceeds = np.hypot(med[0], med[1]) > th.horizontal_m or abs(med[2]) > th.vertical_m
    if not exceeds:
        status, note = "ok", ""
    elif n_ok >= 2 and 2 * n_ok > n:
        status, note = "moved", f"{n_ok} of {n} baselines agree"
    else:
        status = "inconclusive"
        note = (f"offset beyond the threshold but only {n_ok} of {n} baselines agree: "
                "a neighbour's coordinate may be wrong instead")
    return StationIntegrity(code, status, med, n_baselines, n, n_ok, dict(offsets), note)


def judge_stations(baselines: Sequence[BaselineResult], registered: Mapping[str, Sequence[float]],
                   thresholds: IntegrityThresholds = IntegrityThresholds()) -> dict[str, StationIntegrity]:
    """Per-station verdicts from computed baselines (the decision part of :func:`check_integrity`)."""
    rot = {c: _rot(np.asarray(x, float)) for c, x in registered.items()}
    per: dict[str, dict[str, np.ndarray]] = {c: {} for c in registered}
    count = {c: 0 for c in registered}
    for b in baselines:
        if b.error:
            continue
        count[b.rover] += 1
        count[b.base] += 1
        if b.usable(thresholds):
            per[b.rover][b.base] = rot[b.rover] @ b.offset_ecef_m
            per[b.base][b.rover] = rot[b.base] @ (-b.offset_ecef_m)
    flagged: set[str] = set()
    while True:
        out = {c: _judge(c, {n: v for n, v in per[c].items() if n not in flagged}, count[c], thresholds)
               for c in sorted(registered)}
        new = {c for c, r in out.items() if r.flagged} - flagged
        if not new:
            return out
        flagged |= new


def check_integrity(epochs: Mapping[str, ObsBlock], nav: NavData, registered: Mapping[str, Sequence[float]],
                    thresholds: IntegrityThresholds = IntegrityThresholds(), n_neighbours: int = 3,
                    max_baseline_km: float = 50.0, opts: RtkOptions | None = None
                    ) -> tuple[dict[str, StationIntegrity], list[BaselineResult]]:
    """Coordinate integrity of a network over one window of epochs.

    ``epochs``: station -> ObsBlock of the window (same epoch times across stations, e.g. every
    30 s); ``registered``: station -> registered ECEF [m]; ``nav``: broadcast ephemerides covering
    the window. Stations without epochs or without a registered coordinate get no baselines
    (``no-data``). Returns per-station verdicts and the baselines computed.
    """
    if not registered:
        raise IntegrityError("no stations to check")
    reg = {}
    for c, x in registered.items():
        x = np.asarray(x, float).reshape(-1)
        if x.shape != (3,) or not np.all(np.isfinite(x)) or np.linalg.norm(x) < 6.0e6:
            raise IntegrityError(f"station {c}: registered coordinate {x.tolist()} is not an ECEF position")
        reg[c] = x
    opts = opts or integrity_rtk_options()
    have = {c for c, b in epochs.items() if c in reg and b is not None and b.n_epochs > 0}
    pairs = neighbour_pairs({c: reg[c] for c in have}, n_neighbours, max_baseline_km) if len(have) > 1 else []
    baselines = []
    for base, rover in pairs:
        b = solve_baseline(rover, base, epochs, nav, reg, opts)
        log.info("integrity baseline %s-%s %.1f km: %d epochs, fix %.0f %%, offset %s mm %s", base, rover,
                 b.length_km, b.n_epochs, 100 * b.fix_rate, np.round(b.offset_ecef_m * 1e3, 1), b.error)
        baselines.append(b)
    return judge_stations(baselines, reg, thresholds), baselines


# ------------------------------------------------------------------------------------------ monitor

@dataclass
class IntegrityCycle:
    """One run of the monitor."""

    time_unix_s: float
    window_start_gpst_ns: int
    window_end_gpst_ns: int
    results: dict[str, StationIntegrity]
    baselines: list[BaselineResult]
    duration_s: float

    @property
    def flagged(self) -> list[str]:
        return [c for c, r in self.results.items() if r.flagged]


@dataclass
class CycleInputs:
    """Everything one cycle needs (picklable: run it in a process pool with :func:`run_cycle_on`)."""

    epochs: dict[str, ObsBlock]
    nav: NavData
    registered: dict[str, np.ndarray]
    window_start_gpst_ns: int
    window_end_gpst_ns: int
    thresholds: IntegrityThresholds
    n_neighbours: int
    max_baseline_km: float
    opts: RtkOptions


def run_cycle_on(inputs: CycleInputs) -> IntegrityCycle:
    """One integrity cycle from its inputs (pure; seconds of CPU per baseline)."""
    t0 = time.perf_counter()
    results, baselines = ({}, [])
    if inputs.registered:
        results, baselines = check_integrity(inputs.epochs, inputs.nav, inputs.registered, inputs.thresholds,
                                             inputs.n_neighbours, inputs.max_baseline_km, inputs.opts)
    return IntegrityCycle(time.time(), inputs.window_start_gpst_ns, inputs.window_end_gpst_ns, results, baselines,
                          time.perf_counter() - t0)


def _merge_nav(navs: Sequence[NavData]) -> NavData:
    """Union of several stations' ephemerides, each (satellite, toe, issue, source) once."""
    navs = [n for n in navs if n is not None and len(n.kepler)]
    if not navs:
        return NavData()
    out = navs[0]
    for n in navs[1:]:
        out = out.merge(n)
    k = out.kepler
    key = np.char.add(k.sat, k.toe_ns.astype(str))
    for col in ("iode", "source"):
        if col in k.cols:
            key = np.char.add(np.char.add(key, "/"), k.cols[col].astype(str))
    _, first = np.unique(key, return_index=True)
    out.kepler = k.take(np.sort(first))
    return out


class IntegrityMonitor:
    """Collects epochs from station ingests and checks coordinate integrity on demand.

    ``registered`` is a mapping station -> ECEF [m] or a callable returning one (read at each
    cycle, e.g. from the database). Epochs are kept every ``interval_s`` (GPST-aligned, so all
    stations keep the same epochs) over the last ``window_s``. Use :meth:`attach` on each
    :class:`~cors_network.ingest.StationIngest` (or call :meth:`sink` yourself), then
    :meth:`run_cycle` periodically, in a worker thread.
    """

    def __init__(self, registered: Mapping[str, Sequence[float]] | Callable[[], Mapping[str, Sequence[float]]],
                 window_s: float = 3600.0, interval_s: float = 30.0, n_neighbours: int = 3,
                 max_baseline_km: float = 50.0, thresholds: IntegrityThresholds = IntegrityThresholds(),
                 opts: RtkOptions | None = None, min_epochs: int = 20) -> None:
        if interval_s <= 0 or window_s < interval_s:
            raise IntegrityError(f"bad window {window_s} s / interval {interval_s} s")
        self._registered = registered
        self.window_ns = int(round(window_s * NS))
        self.interval_ns = int(round(interval_s * NS))
        self.n_neighbours, self.max_baseline_km = n_neighbours, max_baseline_km
        self.thresholds = thresholds
        self.opts = opts or integrity_rtk_options()
        self.min_epochs = min_epochs
        self._epochs: dict[str, deque[ObsBlock]] = {}
        self._decoders: dict[str, object] = {}
        self._nav: list[NavData] = []
        self._lock = threading.Lock()
        self.last: IntegrityCycle | None = None
        self.cycles = 0
        self.skipped: dict[str, int] = {}  # epochs refused per reason (bad shape, out of order)

    # ----------------------------------------------------------------- collection
    def attach(self, ingest) -> None:
        """Receive a StationIngest's epochs and use its decoder's ephemerides."""
        if self.sink not in ingest.sinks:
            ingest.sinks.append(self.sink)
        self._decoders[ingest.code] = ingest.decoder

    def detach(self, code: str, ingest=None) -> None:
        self._decoders.pop(code, None)
        if ingest is not None and self.sink in ingest.sinks:
            ingest.sinks.remove(self.sink)
        with self._lock:
            self._epochs.pop(code, None)

    def add_nav(self, nav: NavData) -> None:
        """Extra ephemerides (e.g. a navigation file) used besides the attached decoders'."""
        self._nav.append(nav)

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def sink(self, code: str, epoch: ObsBlock) -> None:
        """An ingest sink: keep the epoch if it falls on the interval grid."""
        if epoch.n_epochs != 1:
            self._skip("not a single epoch")
            return
        t = int(epoch.time_ns[0])
        if t % self.interval_ns:
            return
        with self._lock:
            q = self._epochs.setdefault(code, deque())
            if q and t <= int(q[-1].time_ns[0]):
                self._skip("out of order")
                return
            q.append(epoch)
            while q and int(q[0].time_ns[0]) <= t - self.window_ns:
                q.popleft()

    def epoch_counts(self) -> dict[str, int]:
        with self._lock:
            return {c: len(q) for c, q in self._epochs.items()}

    def nav(self) -> NavData:
        return _merge_nav([*self._nav, *(d.nav_data() for d in list(self._decoders.values()))])

    def registered(self) -> dict[str, np.ndarray]:
        reg = self._registered() if callable(self._registered) else self._registered
        return {c: np.asarray(x, float) for c, x in reg.items() if x is not None}

    # ----------------------------------------------------------------- cycle
    def inputs(self) -> CycleInputs:
        """Snapshot of the window (stations with at least ``min_epochs`` epochs), ephemerides and
        registered coordinates: cheap, safe to call from the event loop."""
        with self._lock:
            snap = {c: list(q) for c, q in self._epochs.items()}
        end = max((int(q[-1].time_ns[0]) for q in snap.values() if q), default=0)
        blocks = {c: stack_epochs([e for e in q if int(e.time_ns[0]) > end - self.window_ns])
                  for c, q in snap.items()}
        blocks = {c: b for c, b in blocks.items() if b.n_epochs >= self.min_epochs}
        start = min((int(b.time_ns[0]) for b in blocks.values()), default=0)
        return CycleInputs(blocks, self.nav(), self.registered(), start, end, self.thresholds, self.n_neighbours,
                           self.max_baseline_km, self.opts)

    def record(self, cycle: IntegrityCycle) -> IntegrityCycle:
        """Keep a finished cycle as ``last`` and log the stations it flagged."""
        self.last = cycle
        self.cycles += 1
        if cycle.flagged:
            log.warning("integrity: stations moved beyond the threshold: %s", ", ".join(
                f"{c} ({cycle.results[c].horizontal_m * 100:.1f} cm H, {cycle.results[c].vertical_m * 100:.1f} cm V)"
                for c in cycle.flagged))
        return cycle

    def run_cycle(self) -> IntegrityCycle:
        """Check every station with enough epochs in the window, in this thread (blocking: seconds of
        CPU per baseline). In a server: ``record(await loop.run_in_executor(pool, run_cycle_on, inputs()))``."""
        return self.record(run_cycle_on(self.inputs()))
