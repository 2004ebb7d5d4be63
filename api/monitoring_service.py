"""Monitoring points behind the API: durable intake, RTK processing of posted chunks against the
reference station's archive, displacement rows, alarms and webhooks.

Durability: :func:`store_upload` writes the posted bytes to ``<data_dir>/monitoring/<code>/<sha256>``
(temporary file, fsync, atomic rename, directory fsync) and commits the ``ObservationUpload`` row
(SQLite ``synchronous=FULL``) before the API answers 2xx; the same bytes posted again are the same
row (idempotent). Processing runs afterwards on one worker thread (per-point order kept); uploads
still ``stored`` at start-up (a crash between acknowledgement and processing) are processed then.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, update

from cors_network.monitoring.intake import epochs_from_json
from cors_network.monitoring.point import LivePoint, rule_key
from cors_network.monitoring.inject import enu_to_ecef_vector
from cors_network.monitoring.rules import QUALITY_KINDS, AlarmEvent, Level, Rule
from rtk_engine import gnss_time as gt
from rtk_engine.formats.compressed import decompress_bytes

from .jobs import JobInputError, pick_base
from .models import ArchiveFile, Station, utcnow
from .models_monitoring import (AlarmRow, AlarmRuleRow, MonitoringPoint, ObservationUpload, PointSolution,
                                ReferenceSolutionRow)
from .webhooks import WebhookSender

log = logging.getLogger("beidou.monitoring")


def fsync_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` durably: tmp file + fsync + rename + fsync of the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_upload(db, data_dir: Path, point: MonitoringPoint, body: bytes, kind: str) -> tuple[ObservationUpload, bool]:
    """Durably store a posted chunk; returns (row, duplicate)."""
    digest = hashlib.sha256(body).hexdigest()
    old = db.scalar(select(ObservationUpload).where(ObservationUpload.point_id == point.id,
                                                    ObservationUpload.sha256 == digest))
    if old is not None:
        return old, True
    path = Path(data_dir) / "monitoring" / point.code / f"{digest}.{'json' if kind == 'json' else 'obs'}"
    fsync_write(path, body)
    row = ObservationUpload(point_id=point.id, sha256=digest, kind=kind, path=str(path), size_bytes=len(body))
    db.add(row)
    db.commit()
    return row, False


def _nav_from_archive(db, start: dt.datetime, end: dt.datetime):
    from rtk_engine.formats.rinex_nav import read_navs
    files = db.scalars(select(ArchiveFile).where(ArchiveFile.kind == "nav", ArchiveFile.start <= end,
                                                 ArchiveFile.end >= start)).all()
    if not files:
        raise JobInputError("no archived navigation data covers the chunk")
    return read_navs([f.path for f in files])


class _Live:
    def __init__(self, point: LivePoint, stations: tuple[str, ...], rule_ids: dict[str, int]) -> None:
        self.point, self.stations, self.rule_ids = point, tuple(stations), rule_ids
        self.book_to_db: dict[int, int] = {}


def live_point(db, point: MonitoringPoint, stations: list[Station], nav) -> _Live:
    """A LivePoint for ``point`` solved against ``stations`` (several: multi-reference) with its enabled rules."""
    rows = db.scalars(select(AlarmRuleRow).where(AlarmRuleRow.point_id == point.id, AlarmRuleRow.enabled)).all()
    if point.zero_after_s and point.zeroed_at is None:  # commissioning: data-quality rules only
        rows = [r for r in rows if r.definition.get("kind") in QUALITY_KINDS]
    rules = [Rule.from_dict({**r.definition, "name": r.name or f"rule{r.id}"}) for r in rows]
    bases = {s.code: [s.x_m, s.y_m, s.z_m] for s in stations}
    lp = LivePoint(point.code, [point.x_m, point.y_m, point.z_m], bases if len(bases) > 1 else next(iter(bases.values())),
                   nav, rules)
    ids = {rule_key(i, r): rows[i].id for i, r in enumerate(rules[:len(rows)])}
    return _Live(lp, tuple(bases), ids)


def zero_point(db, point: MonitoringPoint, t0_ns: int, t1_ns: int, min_count: int = 10) -> np.ndarray | None:
    """Set the point's reference coordinates to the median of its fixed solutions in [t0, t1] (GPST ns,
    its reference epoch) and re-express the stored series (raw, filtered, per reference) relative to
    them; returns the shift (ENU mm), None with fewer than ``min_count`` fixed solutions there."""
    enu = np.array(db.execute(select(PointSolution.e_mm, PointSolution.n_mm, PointSolution.u_mm).where(
        PointSolution.point_id == point.id, PointSolution.e_mm.is_not(None), PointSolution.time_ns >= t0_ns,
        PointSolution.time_ns <= t1_ns)).all(), float).reshape(-1, 3)
    if len(enu) < min_count:
        return None
    d = np.median(enu, axis=0)
    ref = np.array([point.x_m, point.y_m, point.z_m])
    point.x_m, point.y_m, point.z_m = (ref + enu_to_ecef_vector(d / 1000.0, ref)).tolist()
    de, dn, du = (float(v) for v in d)
    P, R = PointSolution, ReferenceSolutionRow
    db.execute(update(P).where(P.point_id == point.id).values(
        e_mm=P.e_mm - de, n_mm=P.n_mm - dn, u_mm=P.u_mm - du, fe_mm=P.fe_mm - de, fn_mm=P.fn_mm - dn,
        fu_mm=P.fu_mm - du))
    db.execute(update(R).where(R.point_id == point.id).values(e_mm=R.e_mm - de, n_mm=R.n_mm - dn, u_mm=R.u_mm - du))
    point.zeroed_at = utcnow()
    log.info("monitoring point %s zeroed: reference coordinates moved by E %.1f N %.1f U %.1f mm", point.code, de, dn, du)
    return d


def commission(db, point: MonitoringPoint) -> bool:
    """A point with ``zero_after_s`` not yet zeroed is zeroed once its fixed solutions span that long."""
    if not point.zero_after_s or point.zeroed_at is not None:
        return False
    first, last = db.execute(select(func.min(PointSolution.time_ns), func.max(PointSolution.time_ns)).where(
        PointSolution.point_id == point.id, PointSolution.e_mm.is_not(None))).one()
    if first is None or last - first < point.zero_after_s * 1e9:
        return False
    return zero_point(db, point, first, first + int(point.zero_after_s * 1e9)) is not None


def solution_rows(point_id: int, s) -> list:
    """Database rows of one live-point solution: the (combined) PointSolution and, with several
    references, one ReferenceSolutionRow per reference."""
    e, f = s.enu_mm, s.filtered_enu_mm
    comb = s.combination
    rows = [PointSolution(point_id=point_id, time_ns=s.time_ns, time=gt.to_datetime(s.time_ns), quality=s.quality,
                          n_sats=s.n_sats, ratio=float(s.ratio), e_mm=_f(e[0]), n_mm=_f(e[1]), u_mm=_f(e[2]),
                          fe_mm=_f(f[0]), fn_mm=_f(f[1]), fu_mm=_f(f[2]), outlier=bool(s.outlier),
                          references_used="" if comb is None else ",".join(comb.used),
                          disagreement_mm=None if comb is None else _f(comb.disagreement_h_mm))]
    if comb is not None:
        rows += [ReferenceSolutionRow(point_id=point_id, time_ns=s.time_ns, station=r.code, quality=r.quality,
                                      n_sats=r.n_sats, ratio=float(r.ratio), e_mm=_f(r.enu_mm[0]),
                                      n_mm=_f(r.enu_mm[1]), u_mm=_f(r.enu_mm[2])) for r in s.per_reference]
    return rows


class MonitoringProcessor:
    def __init__(self, sessions, data_dir: Path, webhooks: WebhookSender) -> None:
        self.sessions, self.data_dir, self.webhooks = sessions, Path(data_dir), webhooks
        from .jobs import _lower_priority
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="monitoring", initializer=_lower_priority, initargs=(5,))
        self.live: dict[int, _Live] = {}
        self.lock = threading.RLock()

    # ------------------------------------------------------------------------------ life cycle
    def submit(self, upload_id: int):
        return self.pool.submit(self.process, upload_id)

    def recover(self) -> int:
        with self.sessions() as db:
            ids = db.scalars(select(ObservationUpload.id).where(ObservationUpload.status == "stored")
                             .order_by(ObservationUpload.id)).all()
        for i in ids:
            self.submit(i)
        return len(ids)

    def invalidate(self, point_id: int) -> None:
        with self.lock:
            self.live.pop(point_id, None)

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait)

    # ------------------------------------------------------------------------------ processing
    def process(self, upload_id: int) -> str:
        with self.sessions() as db:
            up = db.get(ObservationUpload, upload_id)
            if up is None or up.status != "stored":
                return "skipped"
            try:
                n = self._process(db, up)
                up.status, up.n_epochs, up.message = "processed", n, ""
            except Exception as exc:  # recorded on the upload row; the next chunk is still processed
                if not isinstance(exc, ValueError):
                    log.exception("upload %s failed", upload_id)
                db.rollback()
                up = db.get(ObservationUpload, upload_id)
                up.status, up.message = "failed", f"{type(exc).__name__}: {exc}"
            db.commit()
            return up.status

    def _read(self, up: ObservationUpload):
        from rtk_engine.formats.rinex_obs import read_obs
        if up.kind == "json":
            return epochs_from_json(json.loads(decompress_bytes(Path(up.path).read_bytes(), up.path)))
        return read_obs(up.path)

    def _live_for(self, db, point: MonitoringPoint, nav, start, end) -> tuple[_Live, dict]:
        """The point's live state and the archived epochs of each reference station overlapping the chunk
        (the listed references that have archived data there; none listed: the nearest)."""
        from rtk_engine.formats.rinex_obs import read_obs
        from rtk_engine.formats.rtcm3.decoder import stack_epochs
        ref = np.array([point.x_m, point.y_m, point.z_m])
        found, missing = [], []
        for code in point.reference_stations or [""]:
            try:
                found.append(pick_base(db, ref, start, end, code))
            except JobInputError as exc:
                missing.append(str(exc))
        if not found:
            raise JobInputError("; ".join(missing))
        bases = {}
        for st, files in found:
            blocks = [read_obs(f.path) for f in files]
            bases[st.code] = blocks[0] if len(blocks) == 1 else stack_epochs([e for b in blocks for e in b.epochs()])
        with self.lock:
            lv = self.live.get(point.id)
            if lv is None or lv.stations != tuple(bases):
                lv = live_point(db, point, [st for st, _ in found], nav)
                self._restore_alarms(db, point.id, lv)
                self.live[point.id] = lv
            lv.point.set_nav(nav)
        return lv, bases

    def _restore_alarms(self, db, point_id: int, lv: _Live) -> None:
        """Live (not closed) alarms from the database continue in the new alarm book."""
        from cors_network.monitoring.rules import Alarm
        book = lv.point.book
        for a in db.scalars(select(AlarmRow).where(AlarmRow.point_id == point_id, AlarmRow.state != "closed")):
            bid = book._next
            book._next += 1
            book.alarms[bid] = Alarm(bid, a.rule_name, a.level, a.max_level, a.state, 0.0, 0.0, a.value or float("nan"),
                                     a.level > 0, a.acknowledged_by)
            book.live[a.rule_name] = bid
            lv.book_to_db[bid] = a.id

    def _process(self, db, up: ObservationUpload) -> int:
        point = db.get(MonitoringPoint, up.point_id)
        obs = self._read(up)
        if obs.n_epochs == 0:
            return 0
        start, end = gt.to_datetime(int(obs.time_ns[0])), gt.to_datetime(int(obs.time_ns[-1]))
        nav = _nav_from_archive(db, start, end)
        lv, bases = self._live_for(db, point, nav, start, end)
        have = set(db.scalars(select(PointSolution.time_ns).where(
            PointSolution.point_id == point.id, PointSolution.time_ns >= int(obs.time_ns[0]),
            PointSolution.time_ns <= int(obs.time_ns[-1]))).all())
        bidx = {c: np.searchsorted(b.time_ns, obs.time_ns) for c, b in bases.items()}
        rows = []
        for k in range(obs.n_epochs):  # the streaming engine is per epoch by nature
            t = int(obs.time_ns[k])
            if t in have:
                continue  # already solved (a re-post of overlapping data)
            for code, base in bases.items():
                i = int(bidx[code][k])
                if i < base.n_epochs and base.time_ns[i] == t:
                    lv.point.on_reference_epoch(code, base.select_epochs(i))
            for s in lv.point.on_epoch(obs.select_epochs(k)):
                rows += solution_rows(point.id, s)
                for ev in s.events:
                    self._record(db, point, lv, ev)
        db.add_all(rows)
        db.flush()
        if commission(db, point):
            self.invalidate(point.id)  # the next chunk: new reference coordinates, every rule
        return sum(isinstance(r, PointSolution) for r in rows)

    def _record(self, db, point: MonitoringPoint, lv: _Live, ev: AlarmEvent) -> None:
        aid = lv.book_to_db.get(ev.alarm_id)
        row = db.get(AlarmRow, aid) if aid is not None else None
        when = gt.to_datetime(int(ev.time_s * 1e9))
        if row is None:
            row = AlarmRow(point_id=point.id, rule_id=lv.rule_ids.get(ev.rule_key), rule_name=ev.rule_key,
                           level=ev.level, max_level=ev.level, state=ev.state, raised_at=when, history=[])
            db.add(row)
            db.flush()
            lv.book_to_db[ev.alarm_id] = row.id
        row.level, row.state, row.updated_at = ev.level, ev.state, when
        row.max_level = max(row.max_level, ev.level)
        row.value = None if not np.isfinite(ev.value) else float(ev.value)
        row.history = list(row.history or []) + [ev.to_dict()]
        if point.webhook_url:
            payload = {"point": point.code, **ev.to_dict(), "alarm_id": row.id}
            db.commit()
            self.webhooks.send(point.webhook_url, payload, row.id)

    # ------------------------------------------------------------------------------ operator actions
    def operator_action(self, db, alarm: AlarmRow, action: str, user: str) -> None:
        """Acknowledge or close an alarm in the database and in the live alarm book."""
        if action == "acknowledge":
            if alarm.state != "open":
                raise ValueError(f"alarm {alarm.id} is {alarm.state}; only an open alarm can be acknowledged")
            alarm.state, alarm.acknowledged_by = "acknowledged", user
        else:
            if alarm.state == "closed":
                raise ValueError(f"alarm {alarm.id} is already closed")
            alarm.state, alarm.closed_by = "closed", user
        alarm.updated_at = utcnow()
        alarm.history = list(alarm.history or []) + [{"event": action + "d", "by": user, "at": alarm.updated_at.isoformat(),
                                                      "level": Level(alarm.level).label, "state": alarm.state}]
        with self.lock:
            lv = self.live.get(alarm.point_id)
            if lv is not None:
                bid = next((b for b, d in lv.book_to_db.items() if d == alarm.id), None)
                if bid is not None and bid in lv.point.book.alarms:
                    a = lv.point.book.alarms[bid]
                    if action == "acknowledge" and a.state == "open":
                        lv.point.book.acknowledge(bid, user, 0.0)
                    elif action == "close" and a.state != "closed":
                        lv.point.book.close(bid, user, 0.0)
        point = db.get(MonitoringPoint, alarm.point_id)
        db.commit()
        if point is not None and point.webhook_url:
            self.webhooks.send(point.webhook_url, {"point": point.code, "alarm_id": alarm.id, "event": action + "d",
                                                   "level": Level(alarm.level).label, "state": alarm.state, "by": user},
                               alarm.id)


def _f(v) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 3)
