"""Read-only live views for operators and the dashboard: caster load, station quality, map layers.

* ``GET /api/caster``: the caster snapshot (mounts, sources, rovers with their last GGA, counters,
  abuse events) plus the load in bytes/s measured between successive calls.
* ``GET /api/stations/{code}/quality``: the station's live quality and its stored history
  (``QualitySample`` rows, ``?since=&until=`` in UTC, paginated, ``order=asc|desc``).
* ``GET /api/stations.geojson``, ``GET /api/rovers.geojson``: FeatureCollections (RFC 7946,
  longitude/latitude in degrees on CGCS2000, which agrees with WGS 84 to centimetres) for the map.

Everything here reads; nothing changes state. All routes need at least the ``readonly`` role.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from rtk_engine import gnss_time as gt
from rtk_engine.geodesy.projections import ecef_to_cgcs2000

from ..models import QualitySample, Station
from ..pagination import PageParams, paginate
from ..security import Db, Reader
from .stations import get_station

router = APIRouter(prefix="/api", tags=["live"])

GEOJSON = "application/geo+json"
RATE_WINDOW_S = 30.0  # bytes/s is averaged over the samples of (at most) the last 30 s of calls
RATE_MIN_SPAN_S = 0.5  # calls closer together than this give no rate of their own (reuse the last one)


# ---------------------------------------------------------------- response bodies
class RoverOut(BaseModel):
    """One connected rover; position from its last GGA (degrees, ellipsoidal height in metres)."""

    model_config = ConfigDict(extra="allow")
    id: int
    address: str
    user: str | None
    mount: str
    serving: str | None
    connected_s: float
    bytes_sent: int
    lat_deg: float | None = None
    lon_deg: float | None = None
    height_m: float | None = None
    last_gga_age_s: float | None = None


class CasterOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    running: bool
    time_unix_s: float
    uptime_s: float | None = None
    rovers: int = Field(description="connected rover count")
    sources: int = Field(description="connected source (base station upload) count")
    bytes_in_total: int
    bytes_out_total: int
    bytes_in_per_s: float | None = Field(None, description="averaged over the calls of the last 30 s")
    bytes_out_per_s: float | None = None
    counters: dict[str, int] = Field(default_factory=dict)
    mounts: list[dict[str, Any]] = Field(default_factory=list)
    clients: list[RoverOut] = Field(default_factory=list)
    abuse: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)


class QualityLive(BaseModel):
    model_config = ConfigDict(extra="allow")
    sats_per_system: dict[str, int]
    sats_total: int
    cn0_mean_dbhz: float | None
    completeness: float | None
    latency_s: float | None
    slips_per_1000: float | None
    mp1_m: float | None
    mp2_m: float | None
    last_epoch_gpst_ns: int | None
    last_epoch_utc: dt.datetime | None
    epochs: int


class QualitySampleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    time: dt.datetime
    sats_per_system: dict[str, int]
    cn0_mean_dbhz: float | None
    completeness: float | None
    latency_s: float | None
    slips_per_1000: float | None
    mp1_m: float | None
    mp2_m: float | None
    last_epoch: dt.datetime | None


class QualityOut(BaseModel):
    station: str
    live: QualityLive | None = Field(description="null when the station has no running ingest")
    history: list[QualitySampleOut]
    total: int
    limit: int
    offset: int


# ---------------------------------------------------------------- helpers
class LoadMeter:
    """Bytes/s of the caster from the cumulative byte counters seen at successive calls."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=256)
        self._lock = threading.Lock()

    def rates(self, now_s: float, bytes_in: int, bytes_out: int) -> tuple[float | None, float | None]:
        with self._lock:
            s = self._samples
            if s and (bytes_in < s[-1][1] or bytes_out < s[-1][2]):
                s.clear()  # counters went back (caster restarted): start again
            if not s or now_s - s[-1][0] >= RATE_MIN_SPAN_S:
                s.append((now_s, bytes_in, bytes_out))
            while len(s) > 2 and now_s - s[1][0] >= RATE_WINDOW_S:
                s.popleft()
            t0, i0, o0 = s[0]
            span = now_s - t0
            if span < RATE_MIN_SPAN_S:
                return None, None
            return (bytes_in - i0) / span, (bytes_out - o0) / span


def _meter(request: Request) -> LoadMeter:
    m = getattr(request.app.state, "load_meter", None)
    if m is None:
        m = request.app.state.load_meter = LoadMeter()
    return m


def _rover(c: dict) -> dict:
    gga = c.get("last_gga")
    lat, lon, h = (None, None, None) if not gga else (float(gga[0]), float(gga[1]), float(gga[2]))
    return {**c, "lat_deg": lat, "lon_deg": lon, "height_m": h}


def caster_view(request: Request, with_clients: bool = True, measure: bool = True) -> dict:
    """The caster snapshot in the API's shape (mounts as a sorted list, rovers with positions).
    ``measure``: feed this call's byte counters to the bytes/s meter."""
    snap = request.app.state.live.caster_snapshot(with_clients=with_clients)
    mounts = [dict(m, name=m.get("name", n)) for n, m in sorted((snap.get("mounts") or {}).items())]
    b_in = int(sum(m.get("bytes_in", 0) for m in mounts))
    b_out = int(sum(m.get("bytes_out", 0) for m in mounts))
    now = time.time()
    r_in, r_out = _meter(request).rates(now, b_in, b_out) if snap.get("running") and measure else (None, None)
    return {"running": bool(snap.get("running")), "time_unix_s": now, "uptime_s": snap.get("uptime_s"),
            "rovers": int(snap.get("rovers", 0)), "sources": int(snap.get("sources", 0)),
            "pending": int(snap.get("pending", 0)), "bytes_in_total": b_in, "bytes_out_total": b_out,
            "bytes_in_per_s": r_in, "bytes_out_per_s": r_out, "counters": dict(snap.get("counters") or {}),
            "mounts": mounts, "clients": [_rover(c) for c in snap.get("clients") or ()],
            "abuse": snap.get("abuse") or {}, "events": list(snap.get("events") or ())}


def live_quality(request: Request, code: str) -> dict | None:
    """The station's live quality with the last epoch also as a UTC datetime (naive, like the database)."""
    q = request.app.state.live.station_quality_dict(code)
    if q is None:
        return None
    t = q.get("last_epoch_gpst_ns")
    utc = None
    if t is not None:
        unix_s = float(gt.unix_from_gpst(int(t)))
        utc = dt.datetime.fromtimestamp(unix_s, dt.timezone.utc).replace(tzinfo=None)
    sats = q.get("sats_per_system") or {}
    return {**q, "sats_total": int(sum(sats.values())), "last_epoch_utc": utc}


def _naive_utc(t: dt.datetime | None) -> dt.datetime | None:
    if t is None or t.tzinfo is None:
        return t
    return t.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat() + "Z"


# ---------------------------------------------------------------- routes
@router.get("/caster", response_model=CasterOut)
def caster(request: Request, _: Reader) -> dict:
    """Caster snapshot: mounts (live, bytes, rovers), rovers with their last GGA, counters, abuse events."""
    return caster_view(request)


@router.get("/stations/{code}/quality", response_model=QualityOut)
def station_quality(code: str, request: Request, db: Db, _: Reader, page: PageParams = Depends(),
                    since: dt.datetime | None = Query(None, description="UTC (ISO 8601), inclusive"),
                    until: dt.datetime | None = Query(None, description="UTC (ISO 8601), exclusive"),
                    order: Literal["asc", "desc"] = "desc") -> dict:
    """Live quality of the station and its stored quality history (newest first unless ``order=asc``)."""
    s = get_station(db, code)
    since, until = _naive_utc(since), _naive_utc(until)
    if since is not None and until is not None and until <= since:
        raise HTTPException(422, "until must be later than since")
    stmt = select(QualitySample).where(QualitySample.station_id == s.id)
    if since is not None:
        stmt = stmt.where(QualitySample.time >= since)
    if until is not None:
        stmt = stmt.where(QualitySample.time < until)
    stmt = stmt.order_by(QualitySample.time.asc() if order == "asc" else QualitySample.time.desc())
    hist = paginate(db, stmt, page, QualitySampleOut.model_validate)
    return {"station": s.code, "live": live_quality(request, s.code), "history": hist["items"],
            "total": hist["total"], "limit": hist["limit"], "offset": hist["offset"]}


_GEO_RESPONSES = {200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"}}


@router.get("/stations.geojson", response_class=JSONResponse, responses=_GEO_RESPONSES)
def stations_geojson(request: Request, db: Db, _: Reader) -> JSONResponse:
    """Every registered station as a Point [lon, lat, h] with its status, mountpoint and live quality."""
    rows = db.scalars(select(Station).order_by(Station.code)).all()
    mounts = {m["name"]: m for m in caster_view(request, with_clients=False, measure=False)["mounts"]} if rows else {}
    feats = []
    if rows:
        llh = np.atleast_2d(ecef_to_cgcs2000(np.array([[s.x_m, s.y_m, s.z_m] for s in rows])))
        for s, (lat, lon, h) in zip(rows, llh.tolist()):
            q = live_quality(request, s.code)
            if q is not None:
                q["last_epoch_utc"] = _iso(q["last_epoch_utc"])
            m = mounts.get(s.mountpoint)
            feats.append({"type": "Feature", "id": s.code,
                          "geometry": {"type": "Point", "coordinates": [round(lon, 9), round(lat, 9), round(h, 4)]},
                          "properties": {
                              "code": s.code, "name": s.name, "status": s.status, "mountpoint": s.mountpoint,
                              "source_kind": s.source_kind, "receiver_type": s.receiver_type,
                              "antenna_type": s.antenna_type, "country": s.country,
                              "ecef_m": [s.x_m, s.y_m, s.z_m],
                              "updated_at": _iso(s.updated_at), "quality": q,
                              "mount_live": None if m is None else bool(m.get("live")),
                              "link": _relay(request, s.code),
                              "mount_clients": None if m is None else int(m.get("clients", 0))}})
    return JSONResponse({"type": "FeatureCollection", "features": feats}, media_type=GEOJSON)


def _relay(request: Request, code: str) -> dict | None:
    """A pulled station's link (TCP / serial / remote caster -> our mountpoint): state, bytes, last error."""
    relay = request.app.state.live.relays.get(code)
    return None if relay is None else relay.snapshot()


@router.get("/rovers.geojson", response_class=JSONResponse, responses=_GEO_RESPONSES)
def rovers_geojson(request: Request, _: Reader) -> JSONResponse:
    """Connected rovers that sent a GGA, as Points [lon, lat, h]; ``without_position`` counts the others."""
    feats, blind = [], 0
    for c in caster_view(request, measure=False)["clients"]:
        if c["lat_deg"] is None:
            blind += 1
            continue
        props = {k: c.get(k) for k in ("id", "user", "mount", "serving", "address", "connected_s",
                                       "bytes_sent", "last_gga_age_s", "gga_count")}
        feats.append({"type": "Feature", "id": c["id"],
                      "geometry": {"type": "Point", "coordinates": [c["lon_deg"], c["lat_deg"], c["height_m"]]},
                      "properties": props})
    return JSONResponse({"type": "FeatureCollection", "features": feats, "without_position": blind},
                        media_type=GEOJSON)
