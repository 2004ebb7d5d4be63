"""The whole service in one process with the demo network: API, caster, ingest, persistence, restart."""
from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
import pytest

from api.service import Service
from api.settings import Settings
from cors_network.demo import demo_monitors, demo_stations, recorded_stations

N_STATIONS = len(demo_stations()) + len(recorded_stations()) + len(demo_monitors())  # simulated + replayed real + tower
from receivers.ntrip_client import NtripClient
from rtk_engine import gnss_time as gt
from rtk_engine.formats.rtcm3.decoder import Rtcm3Decoder
from rtk_engine.obs import ObsBlock


async def _wait(cond, timeout_s: float, what: str):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _run_once(tmp_path, check):
    settings = Settings(data_dir=tmp_path, http_port=0, caster_port=0, admin_password="admin-pass-123")
    svc = Service(settings, demo=True)
    task = asyncio.create_task(svc.run())
    try:
        await asyncio.wait_for(svc.ready.wait(), 60)
        return await check(svc)
    finally:
        svc.stop()
        await asyncio.wait_for(task, 30)


def test_demo_service_streams_decodable_rtcm_and_survives_restart(tmp_path):
    async def first(svc: Service):
        await _wait(lambda: all(i.quality.epochs >= 3 for i in svc.live.ingests.values()) and len(svc.live.ingests) == N_STATIONS,
                    45, "all demo stations ingested")
        # a rover with the demo account receives decodable MSM7 epochs of a BeiDou+GPS+Galileo station
        port = svc.live.caster.port
        dec = Rtcm3Decoder(gt.now_gpst_ns())
        epochs: list[ObsBlock] = []
        client = NtripClient(f"ntrip://demo:demo-rover@127.0.0.1:{port}/CQ01_MSM7", version=2)

        async def read():
            async for chunk in client.stream(reconnect=False):
                epochs.extend(x for x in dec.feed(chunk) if isinstance(x, ObsBlock))
                if len(epochs) >= 3 and dec.station is not None:  # 1005 comes every 10 s
                    return
        await asyncio.wait_for(read(), 25)
        assert set(epochs[-1].systems) >= {"G", "E", "C"}
        assert abs(int(epochs[-1].time_ns[0]) - gt.now_gpst_ns()) < 5 * gt.NS  # live, time-shifted to now
        assert dec.station is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{svc.http_port}") as http:
            tok = (await http.post("/api/auth/token", json={"username": "admin", "password": "admin-pass-123"})).json()
            h = {"Authorization": f"Bearer {tok['access_token']}"}
            st = (await http.get("/api/stations/CQ01", headers=h)).json()
            # the 1005 position in the stream is the registered coordinate (0.1 mm RTCM resolution)
            np.testing.assert_allclose(dec.station.ecef_m, st["ecef_m"], atol=2e-4)
            r = await http.post("/api/ntrip-users", headers=h, json={"username": "late", "password": "late-secret"})
            assert r.status_code == 201
        # an account created through the API works on the running caster immediately
        c2 = NtripClient(f"ntrip://late:late-secret@127.0.0.1:{port}/CQ02_MSM7", version=1)
        got = await asyncio.wait_for(c2.stream(reconnect=False).__anext__(), 10)
        assert got
        # the MSM4 view of the same station carries MSM4 (re-quantised from the MSM7 source)
        dec4 = Rtcm3Decoder(gt.now_gpst_ns())
        c3 = NtripClient(f"ntrip://demo:demo-rover@127.0.0.1:{port}/CQ01_MSM4", version=2)

        async def read4():
            async for chunk in c3.stream(reconnect=False):
                dec4.feed(chunk)
                if dec4.counters.epochs >= 2:
                    return
        await asyncio.wait_for(read4(), 15)
        assert {1074, 1094, 1124} <= set(dec4.counters.decoded) and 1077 not in dec4.counters.decoded
        # the recorded GEONET station is replayed live: real GPS/Galileo/QZSS observations, time-shifted to now,
        # its 1006 position is the registered GEONET coordinate
        # the sourcetable gives each station's own country (ISO 3166 alpha-3): the replayed GEONET station is JPN
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET / HTTP/1.1\r\nHost: x\r\nNtrip-Version: Ntrip/2.0\r\nUser-Agent: NTRIP test\r\n\r\n")
        table = (await asyncio.wait_for(r.read(), 10)).decode()
        w.close()
        strs = {f[1]: f[8] for f in (ln.split(";") for ln in table.splitlines()) if f[0] == "STR"}
        assert strs["FUJI_MSM7"] == "JPN" and strs["CQ01_MSM7"] == "CHN"
        fuji = svc.live.ingests["FUJI"]
        # the ingest may have attached after the replay's first 1006; the next one comes within 10 s
        await _wait(lambda: fuji.position_ecef_m is not None, 15, "FUJI 1006 position")
        assert {"G", "E", "J"} <= set(fuji.quality.snapshot().sats_per_system)
        np.testing.assert_allclose(fuji.position_ecef_m, recorded_stations()[0].ecef_m, atol=2e-4)
        assert abs(fuji.quality.snapshot().last_epoch_gpst_ns - gt.now_gpst_ns()) < 5 * gt.NS
        # the demo tower (a monitoring point's receiver, which moves) streams through the caster but is
        # never a reference: not a coordinate-integrity neighbour, not a NEAREST candidate for rovers
        assert "TWR1" in svc.live.ingests and "TWR1" not in svc.integrity._decoders
        assert "CQ00" in svc.integrity._decoders
        nearest = svc.live.caster.mounts["NEAREST"].cfg
        assert not any(c.startswith("TWR1") for c in nearest.candidates)
        assert any(c.startswith("CQ00") for c in nearest.candidates)
        svc.persist_quality()
        return {i: q.quality.epochs for i, q in svc.live.ingests.items()}

    counts = asyncio.run(_run_once(tmp_path, first))
    assert min(counts.values()) >= 3

    async def second(svc: Service):
        # restart: stations, accounts, quality history and the archive written at shutdown are all there
        from sqlalchemy import func, select

        from api.models import ArchiveFile, NtripUser, QualitySample, Station
        with svc.sessions() as db:
            assert db.scalar(select(func.count()).select_from(Station)) == N_STATIONS
            assert db.scalar(select(NtripUser).where(NtripUser.username == "late")) is not None
            assert db.scalar(select(func.count()).select_from(QualitySample)) >= 5
            files = db.scalars(select(ArchiveFile)).all()
            assert len(files) >= N_STATIONS and all(f.n_epochs >= 3 for f in files)
        await _wait(lambda: all(i.quality.epochs >= 2 for i in svc.live.ingests.values()), 45,
                    "sources reconnect after restart")
        # the archive written before the restart is listed and downloadable through the API
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{svc.http_port}") as http:
            tok = (await http.post("/api/auth/token", json={"username": "admin", "password": "admin-pass-123"})).json()
            h = {"Authorization": f"Bearer {tok['access_token']}"}
            listing = (await http.get("/api/stations/CQ01/archive", headers=h)).json()
            assert listing["total"] >= 1 and listing["items"][0]["name"].startswith("CQ0100CHN_R_")
            fuji_files = (await http.get("/api/stations/FUJI/archive", headers=h)).json()["items"]
            assert fuji_files and all(f["name"].startswith("FUJI00JPN_R_") for f in fuji_files)
            r = await http.get(listing["items"][0]["download"], headers=h)
            assert r.status_code == 200 and r.content[:2] == b"\x1f\x8b"
            assert (await http.get(listing["items"][0]["download"])).status_code == 401
            assert (await http.get("/api/archive/999999/download", headers=h)).status_code == 404
        from rtk_engine.formats.rinex_obs import read_obs
        back = read_obs(r.content)
        assert back.n_epochs == listing["items"][0]["n_epochs"] and "C" in set(back.systems)
        return True

    assert asyncio.run(_run_once(tmp_path, second))
