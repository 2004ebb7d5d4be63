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
            generator=st.receiver_type if st else ""))
    return out


def apply_to_caster(caster, accounts: list[Account], mounts: list[MountConfig]) -> dict:
    """Bring a running caster to the given accounts and mountpoints without dropping anyone who is
    still allowed: new mounts appear, removed mounts close their clients, changed settings apply."""
    from ntrip_caster.auth import Authenticator
    from ntrip_caster.mountpoints import Mount

    caster.auth = Authenticator(accounts)
    wanted = {m.name: m for m in mounts}
    added, removed = [], []
    for name in list(caster.mounts):
        if name not in wanted:
            m = caster.mounts.pop(name)
            for conn in list(m.clients) + ([m.source] if m.source else []):
                conn.close("mountpoint removed by the operator")
            if m.base is not None and m in m.base.views:
                m.base.views.remove(m)
            removed.append(name)
    for name, cfg in wanted.items():
        if name in caster.mounts:
            caster.mounts[name].cfg = cfg
            caster.mounts[name].allowed = frozenset(cfg.messages)
        else:
            caster.mounts[name] = Mount(cfg)
            added.append(name)
    for m in caster.mounts.values():
        if m.cfg.kind == "view":
            base = caster.mounts.get(m.cfg.view_of)
            if m.base is not base:
                if m.base is not None and m in m.base.views:
                    m.base.views.remove(m)
                m.base = base
                if base is not None and m not in base.views:
                    base.views.append(m)
    caster.cfg.accounts, caster.cfg.mounts = accounts, mounts
    return {"added": added, "removed": removed}
