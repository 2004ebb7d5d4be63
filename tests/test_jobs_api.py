"""Post-processing jobs through the API on real data.

* PPK: the fujisawa-2021-078 rover uploaded (with its navigation file), base picked automatically
  from the archive (GEONET 3034 and a farther decoy station, both with overlapping observation
  files): the final coordinate agrees with truth, with the library's own ``solve`` and with RTKLIB
  ``rnx2rtkp`` (same settings) within 1 cm (issue 6, item 4).
* SPP: the ESBC full day (Hatanaka + gzip) within a few metres of its header position.
* Bad input: wrong file types, oversize bodies, a rover no station overlaps - clear answers; a failing
  job does not stop the others.
"""
from __future__ import annotations

import json
import subprocess
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.models import ArchiveFile, Station
from api.settings import Settings
from rtk_engine import gnss_time as gt
from rtk_engine.formats.pos import read_pos
from rtk_engine.formats.rinex_nav import read_nav
from rtk_engine.formats.rinex_obs import read_obs
from rtk_engine.solution import Quality
from rtk_engine.solvers.rtk import load_options, solve
from tests.conftest import require_tool, shared_path

F078 = "rtk/fujisawa-2021-078"
BASE = np.array([-3959400.631, 3385704.533, 3667523.111])
TRUTH = np.array([-3962108.673, 3381309.574, 3668678.638])
ESBC = "spp/esbc-2020-177"
ESBC_HDR = np.array([3582105.2910, 532589.7313, 5232754.8054])


def login(c) -> dict:
    r = c.post("/api/auth/token", json={"username": "admin", "password": "admin-pass-123"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def app(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, admin_password="admin-pass-123",
                              extra={"job_workers": 2, "job_max_bytes": 8_000_000}))
    base = read_obs(shared_path(f"{F078}/3034078M1.21O"))
    start, end = gt.to_datetime(int(base.time_ns[0])), gt.to_datetime(int(base.time_ns[-1]))
    with app.state.sessions() as db:
        near = Station(code="3034", x_m=BASE[0], y_m=BASE[1], z_m=BASE[2])
        # a decoy 2 km farther away along the same line, archiving the same file: must not be chosen
        far_xyz = TRUTH + (BASE - TRUTH) * 1.4
        far = Station(code="FAR1", x_m=far_xyz[0], y_m=far_xyz[1], z_m=far_xyz[2])
        db.add_all([near, far])
        db.flush()
        for st in (far, near):
            db.add(ArchiveFile(station_id=st.id, kind="obs", start=start, end=end,
                               path=str(shared_path(f"{F078}/3034078M1.21O"))))
        db.commit()
    return app


def upload(c, h, rel, kind):
    r = c.post(f"/api/jobs/files?kind={kind}&filename={rel.split('/')[-1]}", content=shared_path(rel).read_bytes(),
               headers=h)
    assert r.status_code in (200, 201), r.text
    return r.json()["file_id"]


def wait(c, h, ids, timeout=90.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        jobs = [c.get(f"/api/jobs/{i}", headers=h).json() for i in ids]
        if all(j["status"] in ("done", "failed") for j in jobs):
            return jobs
        time.sleep(0.1)
    raise AssertionError(f"jobs not finished: {[j['status'] for j in jobs]}")


def rnx2rtkp_mean(tmp_path) -> np.ndarray:
    exe = require_tool("rnx2rtkp")
    conf = tmp_path / "k.conf"
    conf.write_text("\n".join(["pos1-posmode=kinematic", "pos1-frequency=2", "pos1-soltype=forward", "pos1-elmask=15",
                               "pos1-navsys=25", "pos1-tropopt=saas", "pos2-armode=fix-and-hold", "pos2-arthres=3",
                               "out-solformat=xyz", "ant2-postype=xyz", *[f"ant2-pos{i + 1}={BASE[i]}" for i in range(3)], ""]))
    out = tmp_path / "rtklib.pos"
    subprocess.run([exe, "-k", str(conf), "-o", str(out), *[str(shared_path(f"{F078}/{f}")) for f in
                    ("SEPT078M1.21O", "3034078M1.21O", "SEPT078M.21P")]], check=True, capture_output=True, timeout=120)
    sol = read_pos(out)
    return sol.ecef_m[sol.quality == Quality.FIX].mean(axis=0)


def test_ppk_job_auto_base_matches_library_and_rnx2rtkp(app, tmp_path):
    with TestClient(app) as c:
        h = login(c)
        rover = upload(c, h, f"{F078}/SEPT078M1.21O", "obs")
        nav = upload(c, h, f"{F078}/SEPT078M.21P", "nav")
        r = c.post("/api/jobs", json={"rover_file": rover, "nav_file": nav, "mode": "ppk"}, headers=h)
        assert r.status_code == 202, r.text
        [job] = wait(c, h, [r.json()["id"]])
        assert job["status"] == "done", job["error"]
        s = job["summary"]
        assert s["base_station"] == "3034" and s["baseline_km"] == pytest.approx(5.29, abs=0.01)
        assert s["fix_rate"] == 1.0 and s["n_epochs"] == 60 and s["span_s"] == 59.0
        final = np.array(s["final"]["itrf"]["ecef_m"])
        # mean of 60 fixed kinematic epochs against truth: well within 1 cm
        assert np.linalg.norm(final - TRUTH) < 0.01
        # the library run directly gives the same numbers (same engine, same options)
        sol, _ = solve(read_obs(shared_path(f"{F078}/SEPT078M1.21O")), read_obs(shared_path(f"{F078}/3034078M1.21O")),
                       read_nav(shared_path(f"{F078}/SEPT078M.21P")), BASE, load_options())
        assert np.linalg.norm(final - sol.ecef_m[sol.quality == Quality.FIX].mean(axis=0)) < 1e-3
        assert np.linalg.norm(final - rnx2rtkp_mean(tmp_path)) < 0.01  # issue 6: within 1 cm of rnx2rtkp
        # the CLI (beidou job) gives the same final coordinate as the API job
        from beidou.cli import main
        out = tmp_path / "cli"
        assert main(["job", str(shared_path(f"{F078}/SEPT078M1.21O")), "--nav", str(shared_path(f"{F078}/SEPT078M.21P")),
                     "--base", str(shared_path(f"{F078}/3034078M1.21O")), "--base-pos=" + ",".join(map(str, BASE)),
                     "-o", str(out)]) == 0
        cli = json.loads((out / "summary.json").read_text())
        assert np.linalg.norm(np.array(cli["final"]["itrf"]["ecef_m"]) - final) < 1e-3
        assert s["final"]["gauss_kruger"]["zone"] == 47  # 139.52 E lies in 3-degree zone 47 (139.5-142.5 E, CM 141 E)
        assert all(v < 0.01 for v in s["final"]["sigma_enu_m"])
        pos = c.get(f"/api/jobs/{job['id']}/files/pos", headers=h)
        assert pos.status_code == 200 and pos.text.count("\n") > 60
        posfile = tmp_path / "job.pos"
        posfile.write_text(pos.text)
        back = read_pos(posfile)  # our .pos reads back with the same positions (0.1 mm format)
        assert np.max(np.abs(back.ecef_m - sol.ecef_m)) < 1e-3
        kml = c.get(f"/api/jobs/{job['id']}/files/kml", headers=h)
        assert kml.status_code == 200 and "<LineString>" in kml.text
        gj = c.get(f"/api/jobs/{job['id']}/files/geojson", headers=h).json()
        assert len(gj["features"]) == 60
        csv = c.get(f"/api/jobs/{job['id']}/files/csv", headers=h).text
        assert "gk_northing_m" in csv.splitlines()[0]


def test_spp_job_on_hatanaka_gzip_day_and_bad_jobs_do_not_stop_others(app):
    with TestClient(app) as c:
        h = login(c)
        rover = upload(c, h, f"{ESBC}/ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz", "obs")
        nav = upload(c, h, f"{ESBC}/ESBC00DNK_R_20201770000_01D_MN.rnx.gz", "nav")
        good = c.post("/api/jobs", json={"rover_file": rover, "nav_file": nav, "mode": "spp"}, headers=h).json()
        # PPK of Esbjerg: no archived station overlaps 2020-06-25 -> the job fails with the reason
        bad = c.post("/api/jobs", json={"rover_file": rover, "nav_file": nav, "mode": "ppk"}, headers=h).json()
        # no navigation anywhere -> fails too
        nonav = c.post("/api/jobs", json={"rover_file": rover, "mode": "spp"}, headers=h).json()
        g, b, n = wait(c, h, [good["id"], bad["id"], nonav["id"]], timeout=120)
        assert b["status"] == "failed" and "no station has archived observations overlapping" in b["error"]
        assert n["status"] == "failed" and "no navigation data" in n["error"]
        assert g["status"] == "done", g["error"]
        s = g["summary"]
        assert s["n_epochs"] == 2880 and s["span_s"] == pytest.approx(86370.0)
        # a day of SPP averaged: within 2 m of the header position (broadcast orbits, no PPP)
        assert np.linalg.norm(np.array(s["final"]["itrf"]["ecef_m"]) - ESBC_HDR) < 2.0
        assert c.get(f"/api/jobs/{b['id']}/files/pos", headers=h).status_code == 409
        assert c.get("/api/jobs?status=failed", headers=h).json()["total"] == 2


def test_upload_validation(app, tmp_path):
    with TestClient(app) as c:
        h = login(c)
        r = c.post("/api/jobs/files?kind=obs", content=b"PK\x03\x04 not rinex", headers=h)
        assert r.status_code == 415 and r.headers["content-type"].startswith("application/problem+json")
        r = c.post("/api/jobs/files?kind=obs", content=shared_path(f"{F078}/SEPT078M.21P").read_bytes(), headers=h)
        assert r.status_code == 415 and "nav" in r.json()["detail"]
        r = c.post("/api/jobs/files?kind=obs", content=b"\x1f\x8b\x08\x00garbage", headers=h)
        assert r.status_code == 415
        r = c.post("/api/jobs/files?kind=obs", content=b"0" * 8_000_001, headers=h)
        assert r.status_code == 413
        rid = upload(c, h, f"{F078}/SEPT078M1.21O", "obs")
        assert upload(c, h, f"{F078}/SEPT078M1.21O", "obs") == rid  # same content, same id
        r = c.post("/api/jobs", json={"rover_file": rid, "mode": "ppk", "options": {"mode": "warp"}}, headers=h)
        assert r.status_code == 422
        r = c.post("/api/jobs", json={"rover_file": "0" * 64, "mode": "spp"}, headers=h)
        assert r.status_code == 404
        r = c.post("/api/jobs", json={"rover_file": rid, "mode": "ppp", "options": {"warp": 9}}, headers=h)
        assert r.status_code == 422 and "warp" in r.text
        r = c.post("/api/jobs", json={"rover_file": rid, "mode": "rtx"}, headers=h)
        assert r.status_code == 422
