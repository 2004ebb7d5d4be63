"""Caster mountpoints."""
from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select

from cors_network.relay import pulled_url
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic

from ..models import Mountpoint, Station
from ..pagination import Page, PageParams, paginate
from ..schemas import MountpointIn, MountpointOut
from ..security import Db, Operator, Reader, hash_password

router = APIRouter(prefix="/api/mountpoints", tags=["mountpoints"])


def mount_out(m: Mountpoint, db=None) -> MountpointOut:
    code = None
    if m.station_id is not None and db is not None:
        st = db.get(Station, m.station_id)
        code = st.code if st else None
    return MountpointOut(id=m.id, name=m.name, kind=m.kind, station_code=code, view_of=m.view_of,
                         messages=list(m.messages or []), format=m.format, systems=m.systems,
                         lat_deg=m.lat_deg, lon_deg=m.lon_deg, enabled=m.enabled,
                         has_source_password=bool(m.source_password_hash))


def get_mount(db, name: str) -> Mountpoint:
    m = db.scalar(select(Mountpoint).where(Mountpoint.name == name))
    if m is None:
        raise HTTPException(404, f"no mountpoint {name!r}")
    return m


@router.get("", response_model=Page[MountpointOut])
def list_mountpoints(db: Db, _: Reader, page: PageParams = Depends()) -> dict:
    return paginate(db, select(Mountpoint).order_by(Mountpoint.name), page, lambda m: mount_out(m, db))


@router.post("", response_model=MountpointOut, status_code=201)
def create_mountpoint(body: MountpointIn, db: Db, _: Operator, request: Request) -> MountpointOut:
    if db.scalar(select(Mountpoint).where(Mountpoint.name == body.name)):
        raise HTTPException(409, f"mountpoint {body.name!r} exists")
    m = Mountpoint(name=body.name, kind=body.kind, view_of=body.view_of, messages=body.messages,
                   format=body.format, systems=body.systems, enabled=body.enabled)
    if body.kind == "base":
        if body.station_code is None:
            raise HTTPException(422, "a base mountpoint needs station_code")
        st = db.scalar(select(Station).where(Station.code == body.station_code.upper()))
        if st is None:
            raise HTTPException(404, f"no station {body.station_code!r}")
        pulled = pulled_url(st.source_kind, st.source_url) is not None  # the service relays it: no upload password
        if body.source_password is None and not pulled:
            raise HTTPException(422, "a base mountpoint of a station that uploads needs source_password")
        lat, lon, _h = ecef_to_geodetic(np.array([st.x_m, st.y_m, st.z_m]))
        m.station_id, m.lat_deg, m.lon_deg = st.id, float(np.degrees(lat)), float(np.degrees(lon))
        m.source_password_hash = hash_password(body.source_password) if body.source_password else ""
    elif body.kind == "view":
        base = get_mount(db, body.view_of) if body.view_of else None
        if base is None or not body.messages:
            raise HTTPException(422, "a view mountpoint needs view_of (an existing mountpoint) and messages")
        m.lat_deg, m.lon_deg, m.station_id = base.lat_deg, base.lon_deg, base.station_id
    db.add(m)
    db.commit()
    request.app.state.changed("mountpoints")
    return mount_out(m, db)


@router.get("/{name}", response_model=MountpointOut)
def read_mountpoint(name: str, db: Db, _: Reader) -> MountpointOut:
    return mount_out(get_mount(db, name), db)


@router.delete("/{name}", status_code=204)
def delete_mountpoint(name: str, db: Db, _: Operator, request: Request) -> None:
    db.delete(get_mount(db, name))
    db.commit()
    request.app.state.changed("mountpoints")
