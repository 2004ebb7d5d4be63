"""Real-time monitoring: points whose receiver streams RTCM3 into the caster.

A monitoring receiver uploads to the caster as an NTRIP source like a reference station does; the
service's ingest (``cors_network.ingest.StationIngest``, one per ``Station`` row with a mountpoint)
decodes it. :class:`LiveMonitoring` hangs sinks on those ingests: the point's own ingest (a station
row with the point's code) feeds rover epochs, its reference station's ingest feeds base epochs.
Sinks run in the caster's event loop, so they only enqueue; one worker thread solves (RTK), stores
``PointSolution`` rows in batches and raises alarms, and a full queue drops the oldest epochs
(counted in ``dropped``) rather than slowing the caster.

Navigation data: the ephemerides decoded from the reference and rover streams (RTCM 1019/1042/1045/...),
refreshed every ``nav_refresh_s``.
"""
from __future__ import annotations

import logging
import queue
import threading
import time

import numpy as np
from sqlalchemy import select

from cors_network.monitoring.point import LivePoint, rule_key
from cors_network.monitoring.rules import Rule
from rtk_engine import gnss_time as gt

from .models import Station
from .models_monitoring import AlarmRuleRow, MonitoringPoint, PointSolution
from .monitoring_service import MonitoringProcessor, _f, _Live

log = logging.getLogger("beidou.monitoring.live")


class LiveMonitoring:
    def __init__(self, proc: MonitoringProcessor, live_state, max_queue: int = 10000, batch: int = 50,
                 nav_refresh_s: float = 300.0) -> None:
        self.proc, self.live_state = proc, live_state
        self.q: queue.Queue = queue.Queue(max_queue)
        self.batch, self.nav_refresh_s = batch, nav_refresh_s
        self.dropped = 0
        self.solved = 0
        self.attached: dict[int, tuple[str, str]] = {}  # point id -> (rover ingest code, reference code)
        self._sinks: list[tuple[object, object]] = []
        self._nav_at: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="monitoring-live", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------------------- attach sinks
    def sync(self) -> dict[int, tuple[str, str]]:
        """(Re)attach sinks for every enabled point that has a live ingest and a live reference."""
        for ing, fn in self._sinks:
            if fn in ing.sinks:
                ing.sinks.remove(fn)
        self._sinks.clear()
        self.attached.clear()
        ingests = self.live_state.ingests
        with self.proc.sessions() as db:
            points = db.scalars(select(MonitoringPoint).where(MonitoringPoint.enabled)).all()
            stations = {s.code: s for s in db.scalars(select(Station)).all()}
            for p in points:
                rover = ingests.get(p.code)
                ref_code = self._reference(p, stations, ingests)
                if rover is None or ref_code is None:
                    continue
                self._hook(rover, self._rover_sink(p.id))
                self._hook(ingests[ref_code], self._ref_sink(p.id))
                self.attached[p.id] = (p.code, ref_code)
        return dict(self.attached)

    @staticmethod
    def _reference(p: MonitoringPoint, stations: dict, ingests: dict) -> str | None:
        if p.reference_stations:
            code = p.reference_stations[0]
            return code if code in ingests else None
        here = np.array([p.x_m, p.y_m, p.z_m])
        cands = [(np.linalg.norm(np.array([s.x_m, s.y_m, s.z_m]) - here), c) for c, s in stations.items()
                 if c in ingests and c != p.code]
        return min(cands)[1] if cands else None

    def _hook(self, ing, fn) -> None:
        ing.sinks.append(fn)
        self._sinks.append((ing, fn))

    def _put(self, item) -> None:
        try:
            self.q.put_nowait(item)
        except queue.Full:  # keep the newest data: drop the oldest queued epoch
            try:
                self.q.get_nowait()
                self.dropped += 1
            except queue.Empty:
                pass
            self.q.put_nowait(item)

    def _rover_sink(self, pid: int):
        return lambda code, epoch: self._put(("rover", pid, epoch))

    def _ref_sink(self, pid: int):
        return lambda code, epoch: self._put(("ref", pid, epoch))

    # ----------------------------------------------------------------------------------- worker
    def _work(self) -> None:
        pending: list[PointSolution] = []
        while not self._stop.is_set():
            try:
                item = self.q.get(timeout=0.2)
            except queue.Empty:
                item = None
            if item is not None:
                try:
                    pending += self._handle(*item)
                except Exception:
                    log.exception("live monitoring epoch failed")
            if pending and (item is None or len(pending) >= self.batch):
                self._flush(pending)
                pending = []
        if pending:
            self._flush(pending)

    def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued epoch is solved and stored (tests, shutdown)."""
        t0 = time.time()
        while (self.q.unfinished_tasks or not self.q.empty()) and time.time() - t0 < timeout_s:
            time.sleep(0.05)
        time.sleep(0.3)

    def _lv(self, db, pid: int) -> _Live | None:
        lv = self.proc.live.get(pid)
        rover_code, ref_code = self.attached.get(pid, (None, None))
        if ref_code is None:
            return None
        ingests = self.live_state.ingests
        now = time.time()
        if lv is not None and now - self._nav_at.get(pid, 0.0) < self.nav_refresh_s:
            return lv
        from rtk_engine.nav import NavData  # noqa: F401  (type of the decoders' output)
        navs = [ingests[c].decoder.nav_data() for c in (ref_code, rover_code) if c in ingests]
        nav = max(navs, key=lambda n: 0 if n.kepler is None else len(n.kepler.sat))
        if nav.kepler is None or len(nav.kepler.sat) < 4:
            return None  # no ephemerides yet
        self._nav_at[pid] = now
        if lv is not None:
            lv.point.stream.nav = nav
            return lv
        p = db.get(MonitoringPoint, pid)
        st = db.scalar(select(Station).where(Station.code == ref_code))
        rows = db.scalars(select(AlarmRuleRow).where(AlarmRuleRow.point_id == pid, AlarmRuleRow.enabled)).all()
        rules = [Rule.from_dict({**r.definition, "name": r.name or f"rule{r.id}"}) for r in rows]
        lp = LivePoint(p.code, [p.x_m, p.y_m, p.z_m], [st.x_m, st.y_m, st.z_m], nav, rules)
        lv = _Live(lp, ref_code, {rule_key(i, r): rows[i].id for i, r in enumerate(rules)})
        self.proc._restore_alarms(db, pid, lv)
        with self.proc.lock:
            self.proc.live[pid] = lv
        return lv

    def _handle(self, kind: str, pid: int, epoch) -> list[PointSolution]:
        try:
            with self.proc.sessions() as db:
                lv = self._lv(db, pid)
                if lv is None:
                    return []
                if kind == "ref":
                    lv.point.on_reference_epoch(lv.station, epoch)
                    return []
                out = []
                point = db.get(MonitoringPoint, pid)
                for s in lv.point.on_epoch(epoch):
                    e, f = s.enu_mm, s.filtered_enu_mm
                    out.append(PointSolution(point_id=pid, time_ns=s.time_ns, time=gt.to_datetime(s.time_ns),
                                             quality=s.quality, n_sats=s.n_sats, ratio=float(s.ratio), e_mm=_f(e[0]),
                                             n_mm=_f(e[1]), u_mm=_f(e[2]), fe_mm=_f(f[0]), fn_mm=_f(f[1]),
                                             fu_mm=_f(f[2]), outlier=bool(s.outlier)))
                    for ev in s.events:
                        self.proc._record(db, point, lv, ev)
                db.commit()
                self.solved += len(out)
                return out
        finally:
            self.q.task_done()

    def _flush(self, rows: list[PointSolution]) -> None:
        with self.proc.sessions() as db:
            have = set()
            for pid in {r.point_id for r in rows}:
                ts = [r.time_ns for r in rows if r.point_id == pid]
                have |= {(pid, t) for t in db.scalars(select(PointSolution.time_ns).where(
                    PointSolution.point_id == pid, PointSolution.time_ns.in_(ts))).all()}
            db.add_all([r for r in rows if (r.point_id, r.time_ns) not in have])
            db.commit()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for ing, fn in self._sinks:
            if fn in ing.sinks:
                ing.sinks.remove(fn)
