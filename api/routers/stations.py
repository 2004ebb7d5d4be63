"""Reference stations: registry, events."""
from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select

from cors_network.relay import source_problem
from rtk_engine.geodesy.projections import ecef_to_cgcs2000, gauss_kruger

from ..models import Station, StationEvent
from ..pagination import Page, PageParams, paginate
from ..schemas import EventOut, StationIn, StationOut, StationPatch
from ..security import Db, Operator, Reader

router = APIRouter(prefix="/api/stations", tags=["stations"])


def station_out(s: Station) -> StationOut:
    xyz = np.array([s.x_m, s.y_m, s.z_m])
    lat, lon, h = ecef_to_cgcs2000(xyz)
    n, e, zone = gauss_kruger(xyz)
    return StationOut(id=s.id, code=s.code, name=s.name, ecef_m=xyz.tolist(),
                      cgcs2000={"lat_deg": float(lat), "lon_deg": float(lon), "h_m": float(h)},
                      gauss_kruger={"northing_m": float(n), "easting_m": float(e), "zone": int(zone),
                                    "zone_width_deg": 3},
                      antenna_type=s.antenna_type, antenna_height_m=s.antenna_height_m,
                      receiver_type=s.receiver_type, country=s.country, mountpoint=s.mountpoint, source_kind=s.source_kind,
                      source_url=s.source_url, status=s.status, updated_at=s.updated_at)


def get_station(db, code: str) -> Station:
    s = db.scalar(select(Station).where(Station.code == code.upper()))
    if s is None:
        raise HTTPException(404, f"no station {code!r}")
    return s


@router.get("", response_model=Page[StationOut])
def list_stations(db: Db, _: Reader, page: PageParams = Depends()) -> dict:
    return paginate(db, select(Station).order_by(Station.code), page, station_out)


@router.post("", response_model=StationOut, status_code=201)
def create_station(body: StationIn, db: Db, _: Operator, request: Request) -> StationOut:
    if db.scalar(select(Station).where(Station.code == body.code)):
        raise HTTPException(409, f"station {body.code!r} exists")
    s = Station(**body.model_dump())
    db.add(s)
    db.commit()
    request.app.state.changed("stations")
    return station_out(s)


@router.get("/{code}", response_model=StationOut)
def read_station(code: str, db: Db, _: Reader) -> StationOut:
    return station_out(get_station(db, code))


@router.patch("/{code}", response_model=StationOut)
def update_station(code: str, body: StationPatch, db: Db, _: Operator, request: Request) -> StationOut:
    s = get_station(db, code)
    changes = body.model_dump(exclude_unset=True)
    problem = source_problem(changes.get("source_kind", s.source_kind), changes.get("source_url", s.source_url))
    if problem:
        raise HTTPException(422, problem)
    for k, v in changes.items():
        setattr(s, k, v)
    db.commit()
    request.app.state.changed("stations")
    return station_out(s)


@router.delete("/{code}", status_code=204)
def delete_station(code: str, db: Db, _: Operator, request: Request) -> None:
    db.delete(get_station(db, code))
    db.commit()
    request.app.state.changed("stations")


@router.get("/{code}/events", response_model=Page[EventOut])
def station_events(code: str, db: Db, _: Reader, page: PageParams = Depends()) -> dict:
    s = get_station(db, code)
    stmt = select(StationEvent).where(StationEvent.station_id == s.id).order_by(StationEvent.time.desc())
    return paginate(db, stmt, page, lambda r: r)
