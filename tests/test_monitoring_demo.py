"""The demo service's monitoring tower: a simulated receiver (rtk_engine.simulate) on a creeping slope
near Chongqing, its creep put into the observations by ``inject_displacement``, streams RTCM3 into the
caster as an NTRIP source; the service ingests it and solves it live against CQ05. The test runs the
creep fast (1 mm/s) so that, within a minute and a half, the solved series follows the injected motion and the
horizontal-displacement rule raises an alarm."""
from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np

from api.demo_seed import demo_monitors_for
from api.service import Service
from api.settings import Settings
from rtk_engine import gnss_time as gt

CREEP = {"quiet_s": 0.0, "rate_mm_h": 3600.0, "max_mm": 10_000.0}  # 1 mm/s horizontal


async def _wait(cond, timeout_s: float, what: str):
    t0 = time.monotonic()
    while not await cond():
        assert time.monotonic() - t0 < timeout_s, f"timed out waiting for {what}"
        await asyncio.sleep(1.0)


def test_demo_tower_is_solved_live_and_its_creep_raises_an_alarm(tmp_path):
    settings = Settings(data_dir=tmp_path, http_port=0, caster_port=0, admin_password="admin-pass-123",
                        extra={"demo_creep": CREEP})

    async def main():
        svc = Service(settings, demo=True)
        task = asyncio.create_task(svc.run())
        try:
            await asyncio.wait_for(svc.ready.wait(), 60)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{svc.http_port}", timeout=30) as http:
                tok = (await http.post("/api/auth/token", json={"username": "admin", "password": "admin-pass-123"})).json()
                h = {"Authorization": f"Bearer {tok['access_token']}"}
                p = (await http.get("/api/monitoring/points/TWR1", headers=h)).json()
                assert p["reference_stations"][0] == "CQ05" and len(p["rules"]) == 4
                assert svc.monitoring.attached == {p["id"]: ("TWR1", "CQ05", "CQ00")}  # solved against both

                async def series():
                    r = await http.get("/api/monitoring/points/TWR1/displacements", headers=h)
                    return [s for s in r.json()["items"] if s["quality"] == 1]

                async def enough():  # 80 s: the velocity fit's error ~ scatter / (T sqrt(N)) is ~0.01 mm/s
                    return len(await series()) >= 80

                await _wait(enough, 180, "80 fixed live solutions of the tower")

                async def alarmed():
                    r = await http.get("/api/monitoring/alarms?point=TWR1", headers=h)
                    return any(a["rule"] == "horizontal" for a in r.json()["items"])

                await _wait(alarmed, 90, "the horizontal alarm")
                fixed = await series()
                alarms = (await http.get("/api/monitoring/alarms?point=TWR1", headers=h)).json()["items"]
            return fixed, alarms
        finally:
            svc.stop()
            await asyncio.wait_for(task, 30)

    fixed, alarms = asyncio.run(main())
    mon = demo_monitors_for(settings)[0]  # the same creep clock (kept in the data directory)
    t = np.array([s["time_gpst_ns"] for s in fixed], np.int64)
    assert abs(int(t[-1]) - gt.now_gpst_ns()) < 30 * gt.NS  # live
    got = np.array([[s["e_mm"], s["n_mm"], s["u_mm"]] for s in fixed])
    truth = mon.displacement_enu_m(t) * 1000.0
    # the solved series follows the injected creep: same velocity (per axis, mm/s) and small horizontal offsets
    ts = (t - t[0]) * 1e-9
    v_got = np.polyfit(ts, got[:, :2], 1)[0]
    v_true = np.polyfit(ts, truth[:, :2], 1)[0]
    resid = got[:, :2] - truth[:, :2]
    print(f"\n{len(t)} fixed solutions over {ts[-1]:.0f} s: velocity {v_got} mm/s (injected {v_true}); "
          f"offset from truth median {np.median(np.hypot(*resid.T)):.1f} mm, scatter {resid.std(axis=0)} mm")
    np.testing.assert_allclose(v_got, v_true, atol=0.05)  # 0.6 / -0.8 mm/s injected
    assert np.median(np.hypot(*(got[:, :2] - truth[:, :2]).T)) < 15.0
    a = next(a for a in alarms if a["rule"] == "horizontal")
    assert a["state"] == "open" and a["level"] in ("blue", "yellow", "orange", "red")
