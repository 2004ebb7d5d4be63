"""The caster's accounts and mountpoints come from the database: build them here."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ntrip_caster.auth import Account
from ntrip_caster.config import MountConfig

from .models import Mountpoint, NtripUser, Station


def accounts_from_db(db: Session) -> list[Account]:
    return [Account(name=u.username, password_hash=u.password_hash, mounts=frozenset(u.mountpoints or ()),
                    max_connections=u.max_connections)
            for u in db.scalars(select(NtripUser).where(NtripUser.enabled)).all()]


def mounts_from_db(db: Session) -> list[MountConfig]:
    rows = db.scalars(select(Mountpoint).where(Mountpoint.enabled).order_by(Mountpoint.kind, Mountpoint.name)).all()
    stations = {s.id: s for s in db.scalars(select(Station)).all()}
    bases = {m.name for m in rows if m.kind == "base"}
    out = []
    for m in rows:
        if m.kind == "view" and m.view_of not in bases:
            continue  # its base is disabled or gone: the view cannot serve
        st = stations.get(m.station_id)
        out.append(MountConfig(
            name=m.name, kind=m.kind, identifier=(st.name or st.code) if st else m.name, format=m.format,
            nav_system=m.systems, lat_deg=m.lat_deg, lon_deg=m.lon_deg,
            source_password_hash=m.source_password_hash or None,
            view_of=m.view_of or None, messages=tuple(m.messages or ()),
            convert="msm4" if m.kind == "view" and m.format.upper().endswith("MSM4") else "",
            generator=st.receiver_type if st else ""))
    return out

