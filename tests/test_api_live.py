"""Read-only live endpoints: caster snapshot and load, station quality (live + history), GeoJSON layers.

The caster test runs the real caster, a real source uploading a real NovAtel capture and a real rover
sending GGA, all in one event loop with the API (as ``beidou serve`` does). Station positions are the
INVENTORY.md truth coordinates, checked against pyproj as the independent geodetic oracle.
The seeding helpers here are shared with the browser and PostgreSQL tests.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from api.app import create_app
from api.live import LiveState
from api.models import QualitySample, Station, StationEvent
from api.settings import Settings
from cors_network.quality import QualitySnapshot
from ntrip_caster.stats import ClientStats, MountStats
from tests.conftest import shared_path

ADMIN_PW = "admin-pass-123"
CAPTURE = "rtcm/novatel-hiroshima-2022/20221213-010900.rtcm"

# Real stations (INVENTORY.md truth / header coordinates, ECEF metres) and the mountpoints they feed.
STATIONS = [
    # code, name, ECEF, mountpoint, status, receiver, antenna
    ("G3034", "GEONET 3034 Fujisawa", (-3959400.631, 3385704.533, 3667523.111), "G3034", "online",
     "TRIMBLE NETR9", "TRM59800.80"),
    ("G3040", "GEONET 3040", (-3978241.958, 3382840.234, 3649900.853), "G3040", "online", "", ""),
    ("ESBC", "Esbjerg", (3582105.2910, 532589.7313, 5232754.8054), "ESBC0", "degraded",
     "SEPT POLARX5", "ASH701945E_M"),
    ("OPEC", "Oslo", (3149785.9652, 598260.8822, 5495348.4927), "OPEC0", "offline", "TRIMBLE NETR9", "TRM55971.00"),
    ("NYA1", "Ny-Alesund", (1202433.6131, 252632.4074, 6237772.7803), "", "unknown", "TRIMBLE NETR9",
     "ASH701073.1"),
]
# Rovers: the Fujisawa roof rover (truth) on G3034, the GEONET 0759 site (static solution) on G3040.
ROVERS_ECEF = {"G3034": (-3962108.673, 3381309.574, 3668678.638), "G3040": (-3976219.188, 3382371.606, 3652511.143)}

_TO_LLH = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)  # WGS 84 ECEF -> lon, lat, h


def wgs84_llh(xyz) -> tuple[float, float, float]:
    """(lat_deg, lon_deg, h_m) by pyproj (WGS 84; CGCS2000 differs by < 0.1 mm in these conversions)."""
    lon, lat, h = _TO_LLH.transform(*xyz)
    return lat, lon, h


class FakeCaster:
    """A caster stand-in whose snapshot is built from the real stats records (same shape as Caster's)."""

    def __init__(self) -> None:
        now = time.time()
        self.started_at = now - 5400.0
        self.mounts = {}
        for code, _name, _xyz, mount, status, *_ in STATIONS:
            if not mount:
                continue
            ms = MountStats(name=mount, kind="base", bytes_in=2_400_000, frames_in=9000, bytes_out=7_100_000,
                            frames_out=27000, source_address="127.0.0.1:40000", source_connected_at=now - 5000,
                            last_frame_at=now - (0.4 if status == "online" else 40.0))
            self.mounts[mount] = ms
        self.clients = []
        for i, (mount, xyz) in enumerate(ROVERS_ECEF.items(), start=1):
            lat, lon, h = wgs84_llh(xyz)
            self.clients.append(ClientStats(id=i, address=f"10.0.0.{i}:5000{i}", user=f"rover{i}", mount=mount,
                                            ntrip_version=2, user_agent="NTRIP test", connected_at=now - 600 * i,
                                            bytes_sent=150_000 * i, serving=mount, last_gga=(lat, lon, h),
                                            last_gga_at=now - 1.5, gga_count=120))
        self.clients.append(ClientStats(id=3, address="10.0.0.9:50009", user="rover3", mount="ESBC0",
                                        ntrip_version=1, user_agent="str2str", bytes_sent=4096))  # no GGA yet
        self.bytes_step = 0

    def snapshot(self, with_clients: bool = True) -> dict:
        self.bytes_step += 1
        for ms in self.mounts.values():  # traffic flows between calls: 1 kB in, 3 kB out per mount
            ms.bytes_in += 1000
            ms.bytes_out += 3000
        snap = {"uptime_s": round(time.time() - self.started_at, 3), "rovers": len(self.clients),
                "sources": 3, "pending": 0, "counters": {"rovers_closed": 4, "unauthorized": 1},
                "mounts": {n: m.as_dict(sum(c.mount == n for c in self.clients), n in ("G3034", "G3040", "ESBC0"))
                           for n, m in self.mounts.items()},
                "abuse": {"bans": [], "counters": {}, "events": [
                    {"time": time.time() - 300, "kind": "auth_failure", "address": "10.9.9.9", "reason": "bad password"}]},
                "events": [{"time": time.time() - 60, "kind": "source_connected", "mount": "G3034"},
                           {"time": time.time() - 30, "kind": "rover_connected", "mount": "G3040", "user": "rover2"}]}
        if with_clients:
            snap["clients"] = [c.as_dict() for c in self.clients]
        return snap


def fake_quality(code: str) -> QualitySnapshot:
    """Plausible live figures for a station, last epoch 1 s ago (GPST = UTC + 18 s)."""
    t_ns = int((time.time() - 1.0 + 18.0 - 315964800.0) * 1e9)
    sats = {"C": 14, "G": 9, "E": 7, "J": 2} if code.startswith("G") else {"C": 11, "G": 10, "E": 8, "R": 7}
    return QualitySnapshot(sats_per_system=sats, cn0_mean_dbhz=44.2, completeness=0.998, latency_s=0.31,
                           slips_per_1000=0.8, mp1_m=0.31, mp2_m=0.27, last_epoch_gpst_ns=t_ns, epochs=3600)


def fake_live() -> LiveState:
    live = LiveState(caster=FakeCaster())
    for code, *_rest in STATIONS[:3]:  # the first three stations have a running ingest
        live.ingests[code] = SimpleNamespace(quality=SimpleNamespace(snapshot=lambda c=code: fake_quality(c)))
    return live


def seed(sessions, hours: float = 6.0, step_s: int = 300) -> dt.datetime:
    """Stations, their quality history (one sample per ``step_s`` over ``hours`` up to now) and events.
    Returns the time of the newest sample (naive UTC)."""
    rng = np.random.default_rng(7)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    n = int(hours * 3600 / step_s)
    with sessions() as db:
        for code, name, xyz, mount, status, rcv, ant in STATIONS:
            s = Station(code=code, name=name, x_m=xyz[0], y_m=xyz[1], z_m=xyz[2], mountpoint=mount, status=status,
                        receiver_type=rcv, antenna_type=ant, source_kind="ntrip")
            db.add(s)
            db.flush()
            for k in range(n):
                t = now - dt.timedelta(seconds=step_s * (n - 1 - k))
                db.add(QualitySample(
                    station_id=s.id, time=t, sats_per_system={"C": int(12 + rng.integers(0, 4)), "G": 9, "E": 7},
                    cn0_mean_dbhz=float(43 + rng.normal(0, 0.6)), completeness=float(min(1.0, 0.99 + rng.normal(0, 0.004))),
                    latency_s=float(0.3 + abs(rng.normal(0, 0.05))), slips_per_1000=float(abs(rng.normal(1, 0.5))),
                    mp1_m=float(0.3 + abs(rng.normal(0, 0.03))), mp2_m=float(0.25 + abs(rng.normal(0, 0.03))),
                    last_epoch=t))
            db.add(StationEvent(station_id=s.id, kind="online", message=f"{code} stream started"))
        db.commit()
    return now


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(data_dir=tmp_path, admin_password=ADMIN_PW), live=fake_live())


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def admin_headers(c) -> dict:
    r = c.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PW})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# ---------------------------------------------------------------- tests
def test_live_routes_need_a_token(client):
    for url in ("/api/caster", "/api/stations.geojson", "/api/rovers.geojson", "/api/stations/ESBC/quality"):
        r = client.get(url)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json"), url


def test_stations_geojson_positions_match_pyproj(client):
    seed(client.app.state.sessions, hours=0.5)
    h = admin_headers(client)
    r = client.get("/api/stations.geojson", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == sorted(s[0] for s in STATIONS)
    by_code = {f["id"]: f for f in fc["features"]}
    for code, _name, xyz, mount, status, *_ in STATIONS:
        f = by_code[code]
        lon, lat, hgt = f["geometry"]["coordinates"]
        lat0, lon0, h0 = wgs84_llh(xyz)
        # 1e-8 deg is 1 mm on the ground; CGCS2000 and WGS 84 ellipsoids differ by far less here
        assert lat == pytest.approx(lat0, abs=1e-8) and lon == pytest.approx(lon0, abs=1e-8), code
        assert hgt == pytest.approx(h0, abs=1e-3), code
        p = f["properties"]
        assert p["status"] == status and p["mountpoint"] == mount
        has_ingest = code in ("G3034", "G3040", "ESBC")
        assert (p["quality"] is not None) == has_ingest
        if has_ingest:
            assert p["quality"]["sats_total"] == sum(p["quality"]["sats_per_system"].values())
    assert by_code["G3034"]["properties"]["mount_live"] is True
    assert by_code["OPEC"]["properties"]["mount_live"] is False
    assert by_code["NYA1"]["properties"]["mount_live"] is None  # no mountpoint


def test_rovers_geojson_and_caster_snapshot_from_fake_caster(client):
    h = admin_headers(client)
    fc = client.get("/api/rovers.geojson", headers=h).json()
    assert fc["without_position"] == 1  # rover3 has sent no GGA
    assert len(fc["features"]) == 2
    for f in fc["features"]:
        lat0, lon0, h0 = wgs84_llh(ROVERS_ECEF[f["properties"]["mount"]])
        assert f["geometry"]["coordinates"] == pytest.approx([lon0, lat0, h0], abs=1e-12)
    c = client.get("/api/caster", headers=h).json()
    assert c["running"] and c["rovers"] == 3 and c["sources"] == 3
    assert [m["name"] for m in c["mounts"]] == sorted(m["name"] for m in c["mounts"])
    assert c["bytes_in_total"] == sum(m["bytes_in"] for m in c["mounts"])
    assert {e["kind"] for e in c["abuse"]["events"]} == {"auth_failure"}


def test_caster_load_rate_is_bytes_over_time_between_calls(client):
    h = admin_headers(client)
    first = client.get("/api/caster", headers=h).json()
    assert first["bytes_in_per_s"] is None  # one sample gives no rate
    time.sleep(0.6)  # > RATE_MIN_SPAN_S
    second = client.get("/api/caster", headers=h).json()
    dt_s = second["time_unix_s"] - first["time_unix_s"]
    # the fake caster adds 1 kB in / 3 kB out per mount per snapshot: the rate is exactly delta/dt
    assert second["bytes_in_total"] - first["bytes_in_total"] == 4 * 1000
    assert second["bytes_in_per_s"] == pytest.approx(4000 / dt_s, rel=1e-6)
    assert second["bytes_out_per_s"] == pytest.approx(12000 / dt_s, rel=1e-6)


def test_quality_history_filters_orders_and_paginates(client):
    newest = seed(client.app.state.sessions, hours=1.0, step_s=60)  # 60 samples, one a minute
    h = admin_headers(client)
    times = [newest - dt.timedelta(minutes=59 - k) for k in range(60)]
    r = client.get("/api/stations/g3034/quality", headers=h)
    q = r.json()
    assert r.status_code == 200 and q["station"] == "G3034" and q["total"] == 60
    assert [x["time"] for x in q["history"][:2]] == [times[-1].isoformat(), times[-2].isoformat()]  # newest first
    since, until = times[10], times[25]
    r = client.get("/api/stations/G3034/quality", headers=h,
                   params={"since": since.isoformat() + "Z", "until": until.isoformat() + "Z", "order": "asc",
                           "limit": 5, "offset": 3})
    q = r.json()
    assert q["total"] == 15  # [since, until): samples 10..24
    assert [x["time"] for x in q["history"]] == [t.isoformat() for t in times[13:18]]
    # an offset-aware 'since' in another zone means the same instant
    r = client.get("/api/stations/G3034/quality", headers=h,
                   params={"since": (since.replace(tzinfo=dt.timezone.utc)
                                     .astimezone(dt.timezone(dt.timedelta(hours=8)))).isoformat()})
    assert r.json()["total"] == 50
    assert client.get("/api/stations/G3034/quality", headers=h,
                      params={"since": until.isoformat(), "until": since.isoformat()}).status_code == 422
    assert client.get("/api/stations/NOPE/quality", headers=h).status_code == 404
    assert client.get("/api/stations/NYA1/quality", headers=h).json()["live"] is None  # no ingest


def test_quality_live_from_a_real_rtcm_ingest(tmp_path):
    """A real StationIngest fed a real capture: the endpoint shows its snapshot, last epoch in UTC."""
    from cors_network.ingest import StationIngest
    from rtk_engine import gnss_time as gt
    from rtk_engine.formats.rtcm3.decoder import Rtcm3Decoder

    data = shared_path(CAPTURE).read_bytes()
    t_ref = int(gt.from_calendar(2022, 12, 13, 1, 9, 0))
    ing = StationIngest(code="HIRO", url="ntrip://x@127.0.0.1:1/HIRO", decoder=Rtcm3Decoder(t_ref))
    assert ing.feed(data) > 30  # about one minute at 1 Hz
    live = LiveState(ingests={"HIRO": ing})
    app = create_app(Settings(data_dir=tmp_path, admin_password=ADMIN_PW), live=live)
    with TestClient(app) as c:
        with app.state.sessions() as db:
            db.add(Station(code="HIRO", name="Hiroshima", x_m=-3551000.0, y_m=3867000.0, z_m=3578000.0))
            db.commit()
        q = c.get("/api/stations/HIRO/quality", headers=admin_headers(c)).json()
    snap = ing.quality.snapshot()
    live_q = q["live"]
    assert live_q["sats_per_system"] == snap.sats_per_system and live_q["epochs"] == snap.epochs
    assert live_q["sats_total"] == sum(snap.sats_per_system.values()) > 20  # a multi-GNSS NovAtel capture
    # GPST -> UTC: 18 leap seconds since 2017 (independent arithmetic from the GPS epoch)
    expect = dt.datetime(1980, 1, 6) + dt.timedelta(microseconds=snap.last_epoch_gpst_ns // 1000 - 18_000_000)
    assert dt.datetime.fromisoformat(live_q["last_epoch_utc"]) == expect
    assert dt.datetime(2022, 12, 13, 1, 9) <= expect < dt.datetime(2022, 12, 13, 1, 11)  # the capture's minute


def test_caster_endpoint_on_a_real_caster_with_source_and_rover(tmp_path):
    """Real caster + real NTRIP source (capture frames) + real rover with GGA, API in the same loop."""
    from ntrip_caster import config as C
    from ntrip_caster.server import Caster
    from receivers.ntrip_client import NtripClient, NtripSource
    from rtk_engine.formats.nmea import format_gga
    from rtk_engine.formats.rtcm3_frame import iter_frames

    frames = iter_frames(shared_path(CAPTURE).read_bytes())
    lat, lon, hgt = wgs84_llh(ROVERS_ECEF["G3034"])
    cfg = C.from_dict({"caster": {"host": "127.0.0.1", "port": 0},
                       "account": [{"name": "rover", "password": "rpass"}],
                       "mountpoint": [{"name": "HIRO", "source_password": "spass", "lat_deg": 34.40, "lon_deg": 132.46}]})
    app = create_app(Settings(data_dir=tmp_path, admin_password=ADMIN_PW))

    async def main():
        async with Caster(cfg) as caster:
            app.state.live.caster = caster
            api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
            tok = (await api.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PW})).json()
            h = {"Authorization": f"Bearer {tok['access_token']}"}
            src = NtripSource(f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO", version=2)
            await src.connect()
            await src.send(frames[0])
            rover = NtripClient(f"ntrip://rover:rpass@127.0.0.1:{caster.port}/HIRO", version=2,
                                gga=lambda: format_gga(3600.0, lat, lon, hgt), gga_interval_s=0.2, timeout_s=10)
            got = bytearray()

            async def read():
                async for d in rover.stream(reconnect=False):
                    got.extend(d)
            task = asyncio.create_task(read())
            t0 = time.monotonic()
            while time.monotonic() - t0 < 10:
                c = (await api.get("/api/caster", headers=h)).json()
                if c["clients"] and c["clients"][0]["lat_deg"] is not None:
                    break
                await asyncio.sleep(0.05)
            sent = frames[0]
            for f in frames[1:40]:
                await src.send(f)
                sent += f
            t0 = time.monotonic()
            while len(got) < len(sent) - len(frames[0]) and time.monotonic() - t0 < 10:
                await asyncio.sleep(0.02)
            c = (await api.get("/api/caster", headers=h)).json()
            fc = (await api.get("/api/rovers.geojson", headers=h)).json()
            task.cancel()
            await src.close()
            await api.aclose()
            return c, fc, len(sent), bytes(got)

    c, fc, n_sent, got = asyncio.run(asyncio.wait_for(main(), 40))
    assert c["running"] and c["sources"] == 1 and c["rovers"] == 1
    (m,) = c["mounts"]
    assert m["name"] == "HIRO" and m["live"] and m["clients"] == 1
    assert c["bytes_in_total"] == m["bytes_in"] == n_sent  # every uploaded frame byte counted once
    assert c["bytes_out_total"] == m["bytes_out"] >= len(got) > 0
    (r,) = c["clients"]
    # GGA carries 1e-7 arc-minutes (2e-9 deg); the caster keeps what the rover reported
    assert r["lat_deg"] == pytest.approx(lat, abs=1e-8) and r["lon_deg"] == pytest.approx(lon, abs=1e-8)
    assert r["user"] == "rover" and r["mount"] == "HIRO"
    (f,) = fc["features"]
    assert f["geometry"]["coordinates"][:2] == pytest.approx([lon, lat], abs=1e-8)


def test_dashboard_page_and_its_local_assets_are_served(client):
    """/ and /dashboard serve the page; every script/style/icon it references is served from /static
    (no CDN: an absolute http(s) URL in the page would fail on machines without internet)."""
    import re

    for path in ("/", "/dashboard"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["content-security-policy"]
    page = client.get("/dashboard").text
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert not [u for u in refs if re.match(r"(?:https?:)?//", u)], refs
    assert {"/static/app.js", "/static/style.css", "/static/vendor/leaflet/leaflet.js"} <= set(refs)
    for u in refs:
        assert client.get(u).status_code == 200, u
    leaflet = client.get("/static/vendor/leaflet/leaflet.js").text
    assert leaflet.startswith("/* @preserve\n * Leaflet 1.9.4,")  # the vendored release, unmodified header
    for lic in ("/static/vendor/leaflet/LICENSE", "/static/vendor/world-atlas/LICENSE"):
        assert client.get(lic).status_code == 200, lic
    topo = client.get("/static/vendor/world-atlas/countries-110m.json").json()
    assert topo["type"] == "Topology" and len(topo["objects"]["countries"]["geometries"]) > 150
    assert client.get("/static/nope.js").status_code == 404
