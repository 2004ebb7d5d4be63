"""Registers the demo network (simulated Chongqing stations, a simulated monitoring tower) in the
database on first start."""
from __future__ import annotations

import json
import logging
import secrets
import time

import numpy as np
from sqlalchemy import select

from cors_network.demo import DemoMonitor, demo_monitors, demo_stations, recorded_stations
from cors_network.monitoring.rules import Rule
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic

from .models import Mountpoint, NtripUser, Station
from .models_monitoring import AlarmRuleRow, MonitoringPoint
from .security import hash_password
from .settings import Settings

log = logging.getLogger("beidou.demo")
DEMO_USER, DEMO_PASSWORD = "demo", "demo-rover"


def demo_source_passwords(settings: Settings) -> dict[str, str]:
    """Source (upload) passwords of the demo stations, kept in the data directory across restarts."""
    path = settings.data_dir / "demo_sources.json"
    pw = json.loads(path.read_text()) if path.exists() else {}
    codes = [st.code for st in [*demo_stations(), *recorded_stations(), *demo_monitors()]]
    if any(c not in pw for c in codes):
        pw.update({c: secrets.token_urlsafe(12) for c in codes if c not in pw})
        path.write_text(json.dumps(pw))
        path.chmod(0o600)
    return pw


# The demo tower's alarm rules: displacement levels (mm), creep velocity over 30 min (mm/h), loss of fix.
DEMO_MONITOR_RULES = [
    {"name": "horizontal", "kind": "2d", "thresholds": {"blue": 10, "yellow": 20, "orange": 40, "red": 80},
     "persist_n": 30, "persist_s": 30},
    {"name": "vertical", "kind": "u", "thresholds": {"yellow": 20, "red": 40}, "persist_n": 30, "persist_s": 30},
    {"name": "creep velocity", "kind": "velocity", "components": "2d", "window_s": 1800, "step_s": 60,
     "thresholds": {"blue": 15, "yellow": 30}, "persist_n": 3},
    {"name": "fix lost", "kind": "fix_lost", "thresholds": {"yellow": 60, "orange": 300}},
]


def demo_monitors_for(settings: Settings) -> list[DemoMonitor]:
    """The demo monitoring points with their creep clock: it starts when the demo data directory is first
    used (kept in ``demo_monitors.json``, so a restart continues the same motion); ``settings.extra
    ["demo_creep"]`` may override ``quiet_s``, ``rate_mm_h`` and ``max_mm`` (tests run it fast)."""
    path = settings.data_dir / "demo_monitors.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    if "t0_unix_s" not in state:
        state["t0_unix_s"] = time.time()
        path.write_text(json.dumps(state))
    return demo_monitors(state["t0_unix_s"], **settings.extra.get("demo_creep", {}))


def seed_demo_monitors(db, pw: dict[str, str], monitors: list[DemoMonitor]) -> None:
    """Each demo monitoring receiver: a station row with a mountpoint (its stream is ingested like a
    reference station's) and a monitoring point with the demo rules, solved against its references.
    The point is commissioned during the quiet first half of its still period: its reference
    coordinates become the median of its first fixed solutions (``zero_after_s``), as an operator
    surveys a new point's reference epoch, so the RTK's own biases are not taken for displacement."""
    for m in monitors:
        lat, lon = np.degrees(ecef_to_geodetic(np.array(m.ecef_m)))[:2].tolist()
        if db.scalar(select(Station).where(Station.code == m.code)) is None:
            row = Station(code=m.code, name=m.name, x_m=m.ecef_m[0], y_m=m.ecef_m[1], z_m=m.ecef_m[2],
                          antenna_type="TRM59800.80     NONE", receiver_type="SIMULATED", mountpoint=m.mount,
                          source_kind="monitoring")
            db.add(row)
            db.flush()
            db.add(Mountpoint(name=m.mount, kind="base", station_id=row.id, lat_deg=lat, lon_deg=lon,
                              systems="GPS+GAL+BDS", source_password_hash=hash_password(pw[m.code])))
        if db.scalar(select(MonitoringPoint).where(MonitoringPoint.code == m.code)) is None:
            p = MonitoringPoint(code=m.code, name=m.name, owner="demo grid company", x_m=m.ecef_m[0],
                                y_m=m.ecef_m[1], z_m=m.ecef_m[2], reference_stations=list(m.references),
                                zero_after_s=m.quiet_s / 2 if m.quiet_s >= 120 else None)
            db.add(p)
            db.flush()
            for r in DEMO_MONITOR_RULES:
                d = Rule.from_dict(r).to_dict()  # validated and complete, as the API stores rules
                db.add(AlarmRuleRow(point_id=p.id, name=d.pop("name"), definition=d))
            log.warning("demo monitoring point %s registered (mountpoint %s, references %s)", m.code, m.mount,
                        ", ".join(m.references))


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
                          receiver_type="TRIMBLE NetR9", country=st.country, mountpoint=st.mount, source_kind="replay",
                          source_url=st.obs_path.name)
            db.add(row)
            db.flush()
            lat, lon = np.degrees(ecef_to_geodetic(np.array(st.ecef_m)))[:2].tolist()
            db.add(Mountpoint(name=st.mount, kind="base", station_id=row.id, lat_deg=lat, lon_deg=lon,
                              systems="GPS+GAL+QZS", source_password_hash=hash_password(pw[st.code])))
            log.warning("recorded station %s registered (mountpoint %s, replayed)", st.code, st.mount)
        seed_demo_monitors(db, pw, demo_monitors_for(settings))
        if db.scalar(select(Mountpoint).where(Mountpoint.name == "NEAREST")) is None:
            db.add(Mountpoint(name="NEAREST", kind="nearest", lat_deg=29.56, lon_deg=106.55, systems="GPS+GAL+BDS"))
        if db.scalar(select(NtripUser).where(NtripUser.username == DEMO_USER)) is None:
            db.add(NtripUser(username=DEMO_USER, password_hash=hash_password(DEMO_PASSWORD), mountpoints=[],
                             max_connections=5))
        db.commit()
