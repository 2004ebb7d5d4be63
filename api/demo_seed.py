"""Registers the demo network (simulated Chongqing stations) in the database on first start."""
from __future__ import annotations

import json
import logging
import secrets

import numpy as np
from sqlalchemy import select

from cors_network.demo import demo_stations, recorded_stations
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic

from .models import Mountpoint, NtripUser, Station
from .security import hash_password
from .settings import Settings

log = logging.getLogger("beidou.demo")
DEMO_USER, DEMO_PASSWORD = "demo", "demo-rover"


def demo_source_passwords(settings: Settings) -> dict[str, str]:
    """Source (upload) passwords of the demo stations, kept in the data directory across restarts."""
    path = settings.data_dir / "demo_sources.json"
    pw = json.loads(path.read_text()) if path.exists() else {}
    codes = [st.code for st in demo_stations()] + [st.code for st in recorded_stations()]
    if any(c not in pw for c in codes):
        pw.update({c: secrets.token_urlsafe(12) for c in codes if c not in pw})
        path.write_text(json.dumps(pw))
        path.chmod(0o600)
    return pw


def seed_demo_network(sessions, settings: Settings) -> None:
    pw = demo_source_passwords(settings)
    with sessions() as db:
        for st in demo_stations():
            if db.scalar(select(Station).where(Station.code == st.code)) is not None:
                continue
            row = Station(code=st.code, name=f"Chongqing demo {st.code} (simulated)", x_m=st.ecef_m[0],
                          y_m=st.ecef_m[1], z_m=st.ecef_m[2], antenna_type="TRM59800.80     NONE",
                          receiver_type="SIMULATED", mountpoint=st.mount, source_kind="simulated")
            db.add(row)
            db.flush()
            lat, lon, _ = np.degrees(ecef_to_geodetic(np.array(st.ecef_m)))[:2].tolist() + [0]
            db.add(Mountpoint(name=st.mount, kind="base", station_id=row.id, lat_deg=lat, lon_deg=lon,
                              systems="GPS+GAL+BDS", source_password_hash=hash_password(pw[st.code])))
            db.add(Mountpoint(name=st.code + "_MSM4", kind="view", view_of=st.mount, station_id=row.id,
                              lat_deg=lat, lon_deg=lon, systems="GPS+GAL+BDS", format="RTCM 3.3 MSM4",
                              messages=[]))
            log.warning("demo station %s registered (mountpoints %s, %s_MSM4)", st.code, st.mount, st.code)
        for st in recorded_stations():
            if db.scalar(select(Station).where(Station.code == st.code)) is not None:
                continue
            row = Station(code=st.code, name="GEONET 3034 Fujisawa (recorded 2021, replayed live)",
                          x_m=st.ecef_m[0], y_m=st.ecef_m[1], z_m=st.ecef_m[2], antenna_type="TRM159900.00    SCIS",
                          receiver_type="TRIMBLE NetR9", mountpoint=st.mount, source_kind="replay",
                          source_url=st.obs_path.name)
            db.add(row)
            db.flush()
            lat, lon = np.degrees(ecef_to_geodetic(np.array(st.ecef_m)))[:2].tolist()
            db.add(Mountpoint(name=st.mount, kind="base", station_id=row.id, lat_deg=lat, lon_deg=lon,
                              systems="GPS+GAL+QZS", source_password_hash=hash_password(pw[st.code])))
            log.warning("recorded station %s registered (mountpoint %s, replayed)", st.code, st.mount)
        if db.scalar(select(Mountpoint).where(Mountpoint.name == "NEAREST")) is None:
            db.add(Mountpoint(name="NEAREST", kind="nearest", lat_deg=29.56, lon_deg=106.55, systems="GPS+GAL+BDS"))
        if db.scalar(select(NtripUser).where(NtripUser.username == DEMO_USER)) is None:
            db.add(NtripUser(username=DEMO_USER, password_hash=hash_password(DEMO_PASSWORD), mountpoints=[],
                             max_connections=5))
        db.commit()
