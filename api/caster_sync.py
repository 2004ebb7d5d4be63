"""The caster's accounts and mountpoints come from the database: build them here."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ntrip_caster.auth import Account
from ntrip_caster.config import MountConfig

from .models import Mountpoint, NtripUser, Station
from .models_monitoring import MonitoringPoint


def accounts_from_db(db: Session) -> list[Account]:
    return [Account(name=u.username, password_hash=u.password_hash, mounts=frozenset(u.mountpoints or ()),
                    max_connections=u.max_connections)
            for u in db.scalars(select(NtripUser).where(NtripUser.enabled)).all()]


def monitoring_receiver_codes(db: Session) -> set[str]:
    """Codes of stations that are monitoring points' own receivers (on towers, slopes): they stream
    through the caster like reference stations but may move, so they are never a reference for
    rovers (NEAREST), for other monitoring points, or a neighbour in coordinate integrity."""
    return set(db.scalars(select(MonitoringPoint.code)).all())


def mounts_from_db(db: Session) -> list[MountConfig]:
    rows = db.scalars(select(Mountpoint).where(Mountpoint.enabled).order_by(Mountpoint.kind, Mountpoint.name)).all()
    stations = {s.id: s for s in db.scalars(select(Station)).all()}
    bases = {m.name for m in rows if m.kind == "base"}
    monitors = monitoring_receiver_codes(db)
    reference_bases = tuple(m.name for m in rows if m.kind == "base"
                            and not (m.station_id in stations and stations[m.station_id].code in monitors))
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
            candidates=reference_bases if m.kind == "nearest" and len(reference_bases) < len(bases) else (),
            generator=st.receiver_type if st else "", country=st.country if st else "CHN"))
    return out

