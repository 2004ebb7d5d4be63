"""Real-time monitoring: points whose receiver streams RTCM3 into the caster.

A monitoring receiver uploads to the caster as an NTRIP source like a reference station does; the
service's ingest (``cors_network.ingest.StationIngest``, one per ``Station`` row with a mountpoint)
decodes it. :class:`LiveMonitoring` hangs sinks on those ingests: the point's own ingest (a station
row with the point's code) feeds rover epochs, its reference stations' ingests feed base epochs
(every listed reference that is live; none listed: the nearest live station). With several, the
point is solved against each and combined (``cors_network.monitoring.multiref``).
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

from .models import Station
from .models_monitoring import MonitoringPoint, PointSolution
from .monitoring_service import MonitoringProcessor, _Live, commission, live_point, solution_rows

log = logging.getLogger("beidou.monitoring.live")


class LiveMonitoring:
    def __init__(self, proc: MonitoringProcessor, live_state, max_queue: int = 10000, batch: int = 50,
                 nav_refresh_s: float = 300.0) -> None:
        self.proc, self.live_state = proc, live_state
        self.q: queue.Queue = queue.Queue(max_queue)
        self.batch, self.nav_refresh_s = batch, nav_refresh_s
        self.dropped = 0
        self.solved = 0
        self.attached: dict[int, tuple[str, ...]] = {}  # point id -> (rover ingest code, reference codes...)
        self._sinks: list[tuple[object, object]] = []
        self._nav_at: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="monitoring-live", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------------------- attach sinks
    def sync(self) -> dict[int, tuple[str, ...]]:
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
            monitors = {p.code for p in points}
            for p in points:
                rover = ingests.get(p.code)
                refs = self._references(p, stations, ingests, monitors)
                if rover is None or not refs:
                    continue
                self._hook(rover, self._rover_sink(p.id))
                for code in refs:
                    self._hook(ingests[code], self._ref_sink(p.id))
                self.attached[p.id] = (p.code, *refs)
                lv = self.proc.live.get(p.id)
                if lv is not None and lv.stations != tuple(refs):
                    self.proc.invalidate(p.id)  # the references changed: a new live point
        return dict(self.attached)

    @staticmethod
    def _references(p: MonitoringPoint, stations: dict, ingests: dict, monitors: set[str] = frozenset()) -> list[str]:
        """The point's listed references that are live (a missing one is left out), else the nearest live
        reference station (never another monitoring point's receiver: ``monitors``)."""
        if p.reference_stations:
            return [c for c in p.reference_stations if c in ingests and c in stations and c != p.code]
        here = np.array([p.x_m, p.y_m, p.z_m])
        cands = [(np.linalg.norm(np.array([s.x_m, s.y_m, s.z_m]) - here), c) for c, s in stations.items()
                 if c in ingests and c != p.code and c not in monitors]
        return [min(cands)[1]] if cands else []

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
        return lambda code, epoch: self._put(("ref", pid, (code, epoch)))

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
        codes = self.attached.get(pid, ())
        if len(codes) < 2:
            return None
        rover_code, refs = codes[0], codes[1:]
        ingests = self.live_state.ingests
        now = time.time()
        if lv is not None and lv.stations == tuple(refs) and now - self._nav_at.get(pid, 0.0) < self.nav_refresh_s:
            return lv
        navs = [ingests[c].decoder.nav_data() for c in (*refs, rover_code) if c in ingests]
        nav = max(navs, key=lambda n: 0 if n.kepler is None else len(n.kepler.sat))
        if nav.kepler is None or len(nav.kepler.sat) < 4:
            return None  # no ephemerides yet
        self._nav_at[pid] = now
        if lv is not None and lv.stations == tuple(refs):
            lv.point.set_nav(nav)
            return lv
        p = db.get(MonitoringPoint, pid)
        stations = {s.code: s for s in db.scalars(select(Station).where(Station.code.in_(list(refs)))).all()}
        lv = live_point(db, p, [stations[c] for c in refs], nav)
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
                    lv.point.on_reference_epoch(*epoch)  # (code, epoch)
                    return []
                out = []
                point = db.get(MonitoringPoint, pid)
                for s in lv.point.on_epoch(epoch):
                    out += solution_rows(pid, s)
                    for ev in s.events:
                        self.proc._record(db, point, lv, ev)
                db.commit()
                self.solved += sum(isinstance(r, PointSolution) for r in out)
                return out
        finally:
            self.q.task_done()

    def _flush(self, rows: list) -> None:
        """Store solution rows (PointSolution and per-reference rows); epochs already stored are skipped."""
        with self.proc.sessions() as db:
            have = set()
            for pid in {r.point_id for r in rows}:
                ts = [r.time_ns for r in rows if r.point_id == pid]
                have |= {(pid, t) for t in db.scalars(select(PointSolution.time_ns).where(
                    PointSolution.point_id == pid, PointSolution.time_ns.in_(ts))).all()}
            db.add_all([r for r in rows if (r.point_id, r.time_ns) not in have])
            db.commit()
            for pid in {r.point_id for r in rows}:
                p = db.get(MonitoringPoint, pid)
                if p is not None and commission(db, p):  # reference epoch reached: re-zeroed, all rules on
                    db.commit()
                    self.proc.invalidate(pid)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for ing, fn in self._sinks:
            if fn in ing.sinks:
                ing.sinks.remove(fn)
