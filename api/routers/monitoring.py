"""Monitoring points: CRUD with alarm rules, durable observation intake, displacement series
(JSON / CSV / GeoJSON), static session averages, alarms (list, acknowledge, close).

* ``POST /api/monitoring/points`` {code, name, owner, x_m, y_m, z_m, reference_stations, webhook_url, rules,
  zero_after_s}
* ``PUT /api/monitoring/points/{code}/rules`` replaces the rules (see cors_network.monitoring.rules.Rule)
* ``POST /api/monitoring/points/{code}/observations``: body = a RINEX observation chunk (plain,
  Hatanaka or gzip; ``Content-Type`` anything but JSON) or JSON epochs (``application/json``, see
  cors_network.monitoring.intake). Stored durably before ``202 Accepted``; the same bytes again
  answer ``200`` with the same upload (idempotent). Solved in the background against the
  reference station's archive.
* ``GET /api/monitoring/points/{code}/displacements?format=json|csv|geojson&since=&until=``
* ``GET /api/monitoring/points/{code}/sessions?session_s=3600`` hourly averages + repeatability
* ``GET /api/monitoring/points/{code}/references`` per-reference solutions (several reference stations)
  and the live combination state (scale, natural offsets, suspects)
* ``POST /api/monitoring/points/{code}/zero?window_s=`` a new reference epoch (points created with
  ``zero_after_s`` are zeroed once automatically: commissioning)
* ``GET /api/monitoring/alarms?state=&point=``; ``POST /api/monitoring/alarms/{id}/acknowledge|close``
"""
from __future__ import annotations

import datetime as dt
import io
import math
import threading

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from cors_network.monitoring.displacement import repeatability_mm, session_averages
from cors_network.monitoring.rules import Level, Rule, RuleError
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic, enu_rotation
from rtk_engine.geodesy.projections import ecef_to_cgcs2000

from ..models_monitoring import (AlarmRow, AlarmRuleRow, MonitoringPoint, ObservationUpload, PointSolution,
                                 ReferenceSolutionRow)
from ..monitoring_service import MonitoringProcessor, store_upload
from ..pagination import PageParams, paginate
from ..security import Db, Operator, Reader
from ..webhooks import WebhookSender

MAX_CHUNK_BYTES = 20 * 1024 * 1024  # one chunk: an hour of 1 Hz multi-GNSS RINEX is ~10 MB uncompressed
_lock = threading.Lock()


def ensure_processor(app) -> MonitoringProcessor:
    """The app's processor, created on first use; creating it processes the uploads a crash left
    'stored' (acknowledged, not yet solved). Every monitoring route depends on it; a service may also
    call it at start-up."""
    st = app.state
    with _lock:
        proc = getattr(st, "monitoring", None)
        if proc is None:
            extra = st.settings.extra
            hooks = WebhookSender(st.sessions, timeout_s=extra.get("webhook_timeout_s", 5.0),
                                  retries=extra.get("webhook_retries", 3), backoff_s=extra.get("webhook_backoff_s", 0.5))
            proc = MonitoringProcessor(st.sessions, st.settings.data_dir, hooks)
            st.monitoring = proc
            proc.recover()
    return proc


def processor(request: Request) -> MonitoringProcessor:
    return ensure_processor(request.app)


router = APIRouter(prefix="/api/monitoring", tags=["monitoring"], dependencies=[Depends(processor)])




# ----------------------------------------------------------------------------------------- schemas
class RuleIn(BaseModel):
    kind: str
    thresholds: dict[str, float]
    persist_n: int = 1
    persist_s: float = 0.0
    window_s: float = 3600.0
    step_s: float = 60.0
    components: str = "2d"
    params: dict = Field(default_factory=dict)
    name: str = Field("", max_length=64)

    def to_rule(self) -> Rule:
        try:
            return Rule.from_dict(self.model_dump())
        except RuleError as exc:
            raise HTTPException(422, f"rule {self.name or self.kind!r}: {exc}") from None


class PointIn(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9_\-]{2,32}$")
    name: str = ""
    owner: str = ""
    x_m: float
    y_m: float
    z_m: float
    reference_stations: list[str] = Field(default_factory=list)
    webhook_url: str = Field("", max_length=512)
    rules: list[RuleIn] = Field(default_factory=list)
    zero_after_s: float | None = Field(None, gt=0, le=30 * 86400,
                                       description="commissioning: reference coordinates from the first seconds of fixed solutions")

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http(s) URL")
        return v


class PointPatch(BaseModel):
    name: str | None = None
    owner: str | None = None
    x_m: float | None = None
    y_m: float | None = None
    z_m: float | None = None
    reference_stations: list[str] | None = None
    webhook_url: str | None = None
    enabled: bool | None = None
    zero_after_s: float | None = Field(None, gt=0, le=30 * 86400)


def _check_position(x, y, z) -> None:
    r = math.sqrt(x * x + y * y + z * z)
    if not 6.2e6 < r < 6.5e6:
        raise HTTPException(422, f"reference coordinates are {r / 1000:.0f} km from the geocentre: not on the Earth")


def point_out(db, p: MonitoringPoint) -> dict:
    xyz = np.array([p.x_m, p.y_m, p.z_m])
    lat, lon, h = ecef_to_cgcs2000(xyz)
    rules = db.scalars(select(AlarmRuleRow).where(AlarmRuleRow.point_id == p.id).order_by(AlarmRuleRow.id)).all()
    last = db.scalar(select(PointSolution).where(PointSolution.point_id == p.id).order_by(PointSolution.time_ns.desc()).limit(1))
    active = db.scalars(select(AlarmRow.level).where(AlarmRow.point_id == p.id, AlarmRow.state != "closed")).all()
    return {"id": p.id, "code": p.code, "name": p.name, "owner": p.owner, "ecef_m": xyz.tolist(),
            "cgcs2000": {"lat_deg": float(lat), "lon_deg": float(lon), "h_m": float(h)},
            "reference_stations": p.reference_stations, "webhook_url": p.webhook_url, "enabled": p.enabled,
            "zero_after_s": p.zero_after_s, "zeroed_at": p.zeroed_at,
            "rules": [{"id": r.id, **r.definition, "name": r.name, "enabled": r.enabled} for r in rules],
            "last_solution": None if last is None else _sol_dict(last),
            # the current level: highest level of the point's alarms not yet closed ("none" without any)
            "alarm_level": Level(max(active, default=0)).label, "active_alarms": len(active)}


def _get_point(db, code: str) -> MonitoringPoint:
    p = db.scalar(select(MonitoringPoint).where(MonitoringPoint.code == code.upper()))
    if p is None:
        raise HTTPException(404, f"no monitoring point {code!r}")
    return p


def _set_rules(db, p: MonitoringPoint, rules: list[RuleIn]) -> None:
    checked = [(r, r.to_rule()) for r in rules]
    names = [r.name for r, _ in checked if r.name]
    if len(names) != len(set(names)):
        raise HTTPException(422, "rule names must be unique within a point")
    for old in db.scalars(select(AlarmRuleRow).where(AlarmRuleRow.point_id == p.id)).all():
        db.delete(old)
    db.flush()
    for r, rule in checked:
        d = rule.to_dict()
        d.pop("name")
        db.add(AlarmRuleRow(point_id=p.id, name=r.name, definition=d))


# ------------------------------------------------------------------------------------------ points
@router.get("/points")
def list_points(db: Db, _: Reader, page: PageParams = Depends()) -> dict:
    return paginate(db, select(MonitoringPoint).order_by(MonitoringPoint.code), page, lambda p: point_out(db, p))


@router.post("/points", status_code=201)
def create_point(body: PointIn, db: Db, _: Operator, request: Request) -> dict:
    code = body.code.upper()
    if db.scalar(select(MonitoringPoint).where(MonitoringPoint.code == code)):
        raise HTTPException(409, f"monitoring point {code!r} exists")
    _check_position(body.x_m, body.y_m, body.z_m)
    p = MonitoringPoint(code=code, name=body.name, owner=body.owner, x_m=body.x_m, y_m=body.y_m, z_m=body.z_m,
                        reference_stations=[s.upper() for s in body.reference_stations], webhook_url=body.webhook_url,
                        zero_after_s=body.zero_after_s)
    db.add(p)
    db.flush()
    _set_rules(db, p, body.rules)
    db.commit()
    request.app.state.changed("monitoring")  # the running service starts following the new point
    return point_out(db, p)


@router.get("/points/{code}")
def read_point(code: str, db: Db, _: Reader) -> dict:
    return point_out(db, _get_point(db, code))


@router.patch("/points/{code}")
def update_point(code: str, body: PointPatch, db: Db, _: Operator, request: Request) -> dict:
    p = _get_point(db, code)
    for k, v in body.model_dump(exclude_unset=True).items():
        setattr(p, k, [s.upper() for s in v] if k == "reference_stations" else v)
        if k == "zero_after_s":
            p.zeroed_at = None  # commission again
    _check_position(p.x_m, p.y_m, p.z_m)
    db.commit()
    processor(request).invalidate(p.id)
    request.app.state.changed("monitoring")
    return point_out(db, p)


@router.post("/points/{code}/zero")
def zero(code: str, db: Db, _: Operator, request: Request, window_s: float = Query(3600.0, ge=10, le=30 * 86400)) -> dict:
    """Set the reference coordinates to the median of the fixed solutions of the last ``window_s`` seconds
    up to the newest (a new reference epoch); the stored series is re-expressed relative to them."""
    from ..monitoring_service import zero_point
    p = _get_point(db, code)
    newest = db.scalar(select(PointSolution.time_ns).where(PointSolution.point_id == p.id, PointSolution.e_mm.is_not(None))
                       .order_by(PointSolution.time_ns.desc()).limit(1))
    d = None if newest is None else zero_point(db, p, newest - int(window_s * 1e9), newest)
    if d is None:
        raise HTTPException(409, f"fewer than 10 fixed solutions of {p.code} in the last {window_s:g} s of its data")
    db.commit()
    processor(request).invalidate(p.id)
    return {**point_out(db, p), "shift_enu_mm": np.round(d, 2).tolist()}


@router.put("/points/{code}/rules")
def replace_rules(code: str, rules: list[RuleIn], db: Db, _: Operator, request: Request) -> dict:
    p = _get_point(db, code)
    _set_rules(db, p, rules)
    db.commit()
    processor(request).invalidate(p.id)
    return point_out(db, p)


@router.delete("/points/{code}", status_code=204)
def delete_point(code: str, db: Db, _: Operator, request: Request) -> None:
    p = _get_point(db, code)
    processor(request).invalidate(p.id)
    db.delete(p)
    db.commit()
    request.app.state.changed("monitoring")


# ------------------------------------------------------------------------------------------ intake
def _looks_like_rinex_obs(data: bytes) -> bool:
    from rtk_engine.formats.compressed import CompressedDataError, decompress_bytes
    try:
        head = decompress_bytes(data[:1 << 20] if data[:2] != b"\x1f\x8b" else data)[:4000]
    except CompressedDataError:
        return False
    first = head.split(b"\n", 1)[0]
    return b"CRINEX VERS" in first or (b"RINEX VERSION / TYPE" in first and first[20:21] in (b"O", b"o"))


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) more than ``limit`` bytes without reading it all."""
    size = int(request.headers.get("content-length") or 0)
    if size > limit:
        raise HTTPException(413, f"body of {size} bytes exceeds the limit of {limit} bytes")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise HTTPException(413, f"body exceeds the limit of {limit} bytes")
    return bytes(buf)


def _intake(app, code: str, body: bytes, ctype: str) -> tuple[dict, bool]:
    """Validate and durably store a posted chunk (blocking: runs on the thread pool, never on the
    event loop the caster shares)."""
    if ctype == "application/json":
        import json
        from cors_network.monitoring.intake import IntakeError, epochs_from_json
        try:
            epochs_from_json(json.loads(body))
        except (IntakeError, ValueError) as exc:
            raise HTTPException(422, f"JSON epochs: {exc}") from None
        kind = "json"
    else:
        if not _looks_like_rinex_obs(body):
            raise HTTPException(415, "not a RINEX observation file (plain, Hatanaka or gzip) and not application/json")
        kind = "rinex"
    proc = ensure_processor(app)
    with app.state.sessions() as db:
        p = _get_point(db, code)
        row, dup = store_upload(db, app.state.settings.data_dir, p, body, kind)
        out = {"upload_id": row.id, "sha256": row.sha256, "kind": row.kind, "size_bytes": row.size_bytes,
               "status": row.status, "duplicate": dup}
    if not dup:
        proc.submit(row.id)
    return out, dup


@router.post("/points/{code}/observations", status_code=202)
async def post_observations(code: str, request: Request, _: Operator) -> JSONResponse:
    body = await read_limited(request, request.app.state.settings.extra.get("monitoring_max_bytes", MAX_CHUNK_BYTES))
    if not body:
        raise HTTPException(400, "empty body: post a RINEX observation chunk or JSON epochs")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    out, dup = await run_in_threadpool(_intake, request.app, code, body, ctype)
    return JSONResponse(out, status_code=200 if dup else 202)


@router.get("/points/{code}/uploads")
def list_uploads(code: str, db: Db, _: Reader, page: PageParams = Depends()) -> dict:
    p = _get_point(db, code)
    return paginate(db, select(ObservationUpload).where(ObservationUpload.point_id == p.id).order_by(ObservationUpload.id),
                    page, lambda u: {"id": u.id, "sha256": u.sha256, "kind": u.kind, "size_bytes": u.size_bytes,
                                     "status": u.status, "n_epochs": u.n_epochs, "message": u.message,
                                     "received_at": u.received_at})


# ------------------------------------------------------------------------------------ displacements
def _sol_dict(s: PointSolution) -> dict:
    return {"time_gpst_ns": s.time_ns, "time": s.time.isoformat(), "quality": s.quality, "n_sats": s.n_sats,
            "ratio": s.ratio, "e_mm": s.e_mm, "n_mm": s.n_mm, "u_mm": s.u_mm,
            "filtered": {"e_mm": s.fe_mm, "n_mm": s.fn_mm, "u_mm": s.fu_mm}, "outlier": s.outlier,
            "references_used": [c for c in (s.references_used or "").split(",") if c],
            "disagreement_mm": s.disagreement_mm}


def _series(db, p: MonitoringPoint, since: dt.datetime | None, until: dt.datetime | None, limit: int,
            last_s: float | None = None):
    q = select(PointSolution).where(PointSolution.point_id == p.id)
    if last_s is not None:  # a window ending at the newest solution (the data may be old: replayed, uploaded)
        newest = db.scalar(select(PointSolution.time_ns).where(PointSolution.point_id == p.id)
                           .order_by(PointSolution.time_ns.desc()).limit(1))
        if newest is not None:
            q = q.where(PointSolution.time_ns >= newest - int(last_s * 1e9))
    if since:
        q = q.where(PointSolution.time >= since)
    if until:
        q = q.where(PointSolution.time <= until)
    return db.scalars(q.order_by(PointSolution.time_ns).limit(limit)).all()


def thin(rows: list, max_points: int | None) -> list:
    """Every k-th row (k = ceil(n / max_points)) so at most ``max_points`` remain; the newest row is kept."""
    if not max_points or len(rows) <= max_points:
        return rows
    k = -(-len(rows) // max_points)
    out = rows[::k]
    return out if out[-1] is rows[-1] else out[:-1] + [rows[-1]]


@router.get("/points/{code}/displacements")
def displacements(code: str, db: Db, _: Reader, format: str = Query("json", pattern="^(json|csv|geojson)$"),
                  since: dt.datetime | None = None, until: dt.datetime | None = None,
                  limit: int = Query(100000, ge=1, le=1000000),
                  last_s: float | None = Query(None, gt=0, le=366 * 86400,
                                               description="only the last_s seconds up to the newest solution"),
                  max_points: int | None = Query(None, ge=10, le=100000,
                                                 description="thin to at most this many rows (every k-th)")):
    p = _get_point(db, code)
    rows = thin(_series(db, p, since, until, limit, last_s), max_points)
    if format == "csv":
        out = io.StringIO()
        out.write("time_gpst_ns,time_gpst,quality,n_sats,ratio,e_mm,n_mm,u_mm,filtered_e_mm,filtered_n_mm,"
                  "filtered_u_mm,outlier,references_used,disagreement_mm\n")
        for s in rows:
            vals = [s.e_mm, s.n_mm, s.u_mm, s.fe_mm, s.fn_mm, s.fu_mm]
            out.write(f"{s.time_ns},{s.time.isoformat()},{s.quality},{s.n_sats},{s.ratio:.2f},"
                      + ",".join("" if v is None else f"{v:.2f}" for v in vals) + f",{int(s.outlier)},"
                      + f"{(s.references_used or '').replace(',', ' ')},"
                      + ("" if s.disagreement_mm is None else f"{s.disagreement_mm:.2f}") + "\n")
        return PlainTextResponse(out.getvalue(), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{p.code}.csv"'})
    if format == "geojson":
        # each solution as a point at reference + displacement (lon, lat, h on the point's ellipsoid frame)
        ref = np.array([p.x_m, p.y_m, p.z_m])
        llh = ecef_to_geodetic(ref)
        R = enu_rotation(llh[0], llh[1])
        feats = []
        for s in rows:
            if s.e_mm is None:
                continue
            xyz = ref + np.array([s.e_mm, s.n_mm, s.u_mm]) / 1000.0 @ R
            b = ecef_to_geodetic(xyz)
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [
                round(float(np.degrees(b[1])), 10), round(float(np.degrees(b[0])), 10), round(float(b[2]), 4)]},
                "properties": _sol_dict(s)})
        return JSONResponse({"type": "FeatureCollection", "properties": {"point": p.code},
                             "features": feats}, media_type="application/geo+json")
    return {"point": p.code, "reference_ecef_m": [p.x_m, p.y_m, p.z_m], "count": len(rows),
            "items": [_sol_dict(s) for s in rows]}


@router.get("/points/{code}/references")
def references(code: str, db: Db, _: Reader, request: Request,
               last_s: float = Query(3600.0, gt=0, le=366 * 86400),
               max_points: int = Query(2000, ge=10, le=100000)) -> dict:
    """Per-reference solutions of a point solved against several reference stations (the last ``last_s``
    seconds up to the newest), and the live combination: scale (mm/km), natural pair offsets, suspects."""
    p = _get_point(db, code)
    newest = db.scalar(select(ReferenceSolutionRow.time_ns).where(ReferenceSolutionRow.point_id == p.id)
                       .order_by(ReferenceSolutionRow.time_ns.desc()).limit(1))
    series: dict[str, list] = {}
    if newest is not None:
        rows = db.scalars(select(ReferenceSolutionRow).where(
            ReferenceSolutionRow.point_id == p.id, ReferenceSolutionRow.time_ns >= newest - int(last_s * 1e9))
            .order_by(ReferenceSolutionRow.time_ns)).all()
        for r in rows:
            series.setdefault(r.station, []).append(r)
    out = {st: [{"time_gpst_ns": r.time_ns, "quality": r.quality, "n_sats": r.n_sats, "ratio": r.ratio,
                 "e_mm": r.e_mm, "n_mm": r.n_mm, "u_mm": r.u_mm} for r in thin(rs, max_points)]
           for st, rs in series.items()}
    lv = processor(request).live.get(p.id)
    comb = getattr(getattr(lv, "point", None), "combiner", None)
    live = None if comb is None else {
        "references": comb.codes, "weights": np.round(comb.weights, 4).tolist(),
        "scale_mm_per_km": round(float(comb.kappa), 3), "suspects": sorted(comb.suspects),
        "pairs": [{"pair": list(pr), "natural_offset_mm": None if comb.offset is None else np.round(o, 2).tolist()}
                  for pr, o in zip(comb.pairs, comb.offset if comb.offset is not None else [None] * len(comb.pairs))]}
    return {"point": p.code, "reference_stations": p.reference_stations, "series": out, "live": live}


@router.get("/points/{code}/sessions")
def sessions(code: str, db: Db, _: Reader, session_s: float = Query(3600.0, ge=60.0, le=86400.0),
             min_count: int = Query(10, ge=1)) -> dict:
    """Static session averages of the fixed solutions and their repeatability (scatter of session means)."""
    p = _get_point(db, code)
    rows = [s for s in _series(db, p, None, None, 10_000_000) if s.e_mm is not None]
    t = np.array([s.time_ns for s in rows], float) * 1e-9
    enu = np.array([[s.e_mm, s.n_mm, s.u_mm] for s in rows], float).reshape(-1, 3)
    sa = session_averages(t, enu, session_s, min_count)
    return {"point": p.code, "session_s": session_s, "n_outliers": sa["n_outliers"],
            "sessions": [{"start_gpst_s": float(s0), "mean_mm": np.round(m, 2).tolist(), "std_mm": np.round(sd, 2).tolist(),
                          "count": int(c)} for s0, m, sd, c in zip(sa["start_s"], sa["mean_mm"], sa["std_mm"], sa["count"])],
            "repeatability": repeatability_mm(sa["mean_mm"])}


# ------------------------------------------------------------------------------------------ alarms
def alarm_out(a: AlarmRow, code: str = "") -> dict:
    return {"id": a.id, "point": code, "rule": a.rule_name, "rule_id": a.rule_id, "level": Level(a.level).label,
            "max_level": Level(a.max_level).label, "state": a.state, "value": a.value, "raised_at": a.raised_at,
            "updated_at": a.updated_at, "acknowledged_by": a.acknowledged_by, "closed_by": a.closed_by,
            "history": a.history}


@router.get("/alarms")
def list_alarms(db: Db, _: Reader, page: PageParams = Depends(),
                state: str | None = Query(None, pattern="^(open|acknowledged|closed|active)$"),
                point: str | None = None) -> dict:
    q = select(AlarmRow)
    if state == "active":
        q = q.where(AlarmRow.state != "closed")
    elif state:
        q = q.where(AlarmRow.state == state)
    codes = {p.id: p.code for p in db.scalars(select(MonitoringPoint)).all()}
    if point:
        q = q.where(AlarmRow.point_id == _get_point(db, point).id)
    return paginate(db, q.order_by(AlarmRow.id.desc()), page, lambda a: alarm_out(a, codes.get(a.point_id, "")))


def _alarm_action(alarm_id: int, action: str, db, user, request: Request) -> dict:
    a = db.get(AlarmRow, alarm_id)
    if a is None:
        raise HTTPException(404, f"no alarm {alarm_id}")
    try:
        processor(request).operator_action(db, a, action, user.username)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    p = db.get(MonitoringPoint, a.point_id)
    return alarm_out(a, p.code if p else "")


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge_alarm(alarm_id: int, db: Db, user: Operator, request: Request) -> dict:
    return _alarm_action(alarm_id, "acknowledge", db, user, request)


@router.post("/alarms/{alarm_id}/close")
def close_alarm(alarm_id: int, db: Db, user: Operator, request: Request) -> dict:
    return _alarm_action(alarm_id, "close", db, user, request)
