"""Real-time wiring: monitoring-point and reference-station ingests (stand-ins with the
``StationIngest`` interface: ``sinks`` and ``decoder.nav_data()``) stream fujisawa-078 epochs; the
point is solved in the worker thread, solutions stored, the injected 20 mm raises the alarm."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.models import Station
from api.models_monitoring import AlarmRow, PointSolution
from api.monitoring_live import LiveMonitoring
from api.routers.monitoring import ensure_processor
from api.settings import Settings
from cors_network.monitoring.inject import inject_displacement, step_displacement
from rtk_engine.formats.rinex_nav import read_nav
from rtk_engine.formats.rinex_obs import read_obs
from tests.conftest import shared_path

F078 = "rtk/fujisawa-2021-078"
BASE = [-3959400.631, 3385704.533, 3667523.111]
TRUTH = [-3962108.673, 3381309.574, 3668678.638]


def fake_ingest(nav):
    return SimpleNamespace(sinks=[], decoder=SimpleNamespace(nav_data=lambda: nav))


def test_live_point_from_ingest_sinks(tmp_path):
    rover = read_obs(shared_path(f"{F078}/SEPT078M1.21O"))
    base = read_obs(shared_path(f"{F078}/3034078M1.21O"))
    nav = read_nav(shared_path(f"{F078}/SEPT078M.21P"))
    moved = inject_displacement(rover, nav, TRUTH, step_displacement(rover.time_ns, rover.time_ns[30], [0.0, 0.02, 0.0]))
    app = create_app(Settings(data_dir=tmp_path, admin_password="admin-pass-123"))
    with TestClient(app) as c:
        h = {"Authorization": "Bearer " + c.post("/api/auth/token", json={"username": "admin", "password": "admin-pass-123"}).json()["access_token"]}
        with app.state.sessions() as db:
            db.add_all([Station(code="3034", x_m=BASE[0], y_m=BASE[1], z_m=BASE[2]),
                        Station(code="FUJI", x_m=TRUTH[0], y_m=TRUTH[1], z_m=TRUTH[2])])
            db.commit()
        r = c.post("/api/monitoring/points", headers=h, json={
            "code": "FUJI", "x_m": TRUTH[0], "y_m": TRUTH[1], "z_m": TRUTH[2],
            "rules": [{"kind": "n", "thresholds": {"yellow": 10, "orange": 30}, "persist_n": 5, "name": "north"}]})
        assert r.status_code == 201
        ingests = {"3034": fake_ingest(nav), "FUJI": fake_ingest(nav)}
        lm = LiveMonitoring(ensure_processor(app), SimpleNamespace(ingests=ingests), batch=10)
        try:
            assert lm.sync() == {1: ("FUJI", "3034")}  # nearest live reference picked
            for k in range(rover.n_epochs):  # what StationIngest.feed does with each decoded epoch
                for fn in ingests["3034"].sinks:
                    fn("3034", base.select_epochs(k))
                for fn in ingests["FUJI"].sinks:
                    fn("FUJI", moved.select_epochs(k))
            lm.drain()
        finally:
            lm.stop()
        assert ingests["FUJI"].sinks == [] and lm.dropped == 0
        with app.state.sessions() as db:
            rows = db.scalars(select(PointSolution).order_by(PointSolution.time_ns)).all()
            alarms = db.scalars(select(AlarmRow)).all()
        assert len(rows) == 60 and all(r.quality == 1 for r in rows)
        n = np.array([r.n_mm for r in rows])
        assert abs(np.mean(n[35:]) - np.mean(n[:30]) - 20.0) < 3.0
        assert len(alarms) == 1 and alarms[0].rule_name == "north" and alarms[0].level == 2  # yellow
