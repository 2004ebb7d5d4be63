"""Archive round trip: a station's RTCM3 stream archived to hourly RINEX (observations and navigation)
reads back as what was streamed, observation by observation, to the RTCM/RINEX resolution; one hour of
a simulated station end to end; retention through the service and the API."""
import gzip
import os
import subprocess
import threading
import time
from concurrent.futures import Future

import hatanaka
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.service import Service
from api.settings import Settings
from cors_network.archive import HourlyArchive
from cors_network.demo import demo_stations, shifted_ephemerides
from cors_network.ingest import StationIngest
from rtk_engine import gnss_time as gt
from rtk_engine.constants import CLIGHT
from rtk_engine.formats.rinex_nav import read_nav
from rtk_engine.formats.rinex_nav_writer import nav_text
from rtk_engine.formats.rinex_obs import read_obs
from rtk_engine.formats.rtcm3.decoder import decode_bytes, stack_epochs
from rtk_engine.formats.rtcm3.encoder import Rtcm3Encoder
from rtk_engine.formats.rtcm3.station import StationPosition
from rtk_engine.nav import NavData
from rtk_engine.obs import ObsBlock
from rtk_engine.orbits.broadcast import sat_states
from rtk_engine.simulate import SimConfig, iter_network
from tests.conftest import require_tool, shared_path
from tests.test_rinex_nav_writer import assert_same_nav

CAPTURE = "rtcm/novatel-hiroshima-2022/20221213-010900.rtcm"
T_REF = int(gt.from_calendar(2022, 12, 13, 1, 9, 0))


def test_archive_round_trip_equals_stream(tmp_path):
    data = shared_path(CAPTURE).read_bytes()
    files = []
    archive = HourlyArchive(tmp_path, on_file=files.append)
    ing = StationIngest("HIRO", "ntrip://127.0.0.1:1/X", archive=archive)
    ing.decoder.t_ref_ns = T_REF
    for i in range(0, len(data), 512):
        ing.feed(data[i:i + 512], received_unix_s=0.0)
    archive.flush()
    assert [f.kind for f in files] == ["obs", "nav"]
    assert files[0].path.name.startswith("HIRO00CHN_R_20223470100_01H_01S_MO")
    assert files[1].path.name == "HIRO00CHN_R_20223470100_01H_MN.rnx.gz" and files[1].path.parent == files[0].path.parent
    assert files[0].path.name.endswith("_MO.crx.gz")  # Hatanaka + gzip, as CORS archives distribute them
    with gzip.open(files[0].path, "rt") as fh:
        assert "CRINEX VERS   / TYPE" in fh.readline()
    assert "RINEX VERSION / TYPE" in hatanaka.decompress(files[0].path.read_bytes()).decode()[:80]
    back = read_obs(files[0].path)

    items, dec = decode_bytes(data, T_REF)
    streamed = stack_epochs([x for x in items if isinstance(x, ObsBlock)])
    # navigation: every ephemeris the stream carried (G R E C J), each once, as the writer gives them
    stream_nav = dec.nav_data()
    nav_back = read_nav(files[1].path)
    assert files[1].n_epochs == len(nav_back.kepler) + len(nav_back.glonass) == \
        len(stream_nav.kepler) + len(stream_nav.glonass) > 50
    assert set(nav_back.systems) == set("GRECJ")
    assert_same_nav(read_nav(nav_text(stream_nav)[0].encode()), nav_back)
    assert back.n_epochs == streamed.n_epochs == files[0].n_epochs
    np.testing.assert_array_equal(back.time_ns, streamed.time_ns)
    assert back.sats.tolist() == streamed.sats.tolist()
    for sys_, codes in streamed.signals.items():
        for code in codes:
            a = streamed.slot(sys_, code)
            b = back.slot(sys_, code)
            rows = streamed.systems == sys_
            # RINEX carries 3 decimals: 1 mm code, 1 mcycle phase, 1 mHz Doppler
            np.testing.assert_allclose(back.code_m[:, rows, b], streamed.code_m[:, rows, a], atol=6e-4, rtol=0)
            np.testing.assert_allclose(back.phase_cyc[:, rows, b], streamed.phase_cyc[:, rows, a], atol=6e-4, rtol=0)
            np.testing.assert_allclose(back.doppler_hz[:, rows, b], streamed.doppler_hz[:, rows, a], atol=6e-4,
                                       rtol=0)
            np.testing.assert_array_equal(np.isnan(back.code_m[:, rows, b]), np.isnan(streamed.code_m[:, rows, a]))
            # RINEX writes LLI beside a phase value; where the stream had no phase there is nothing to flag
            has_phase = np.isfinite(streamed.phase_cyc[:, rows, a])
            np.testing.assert_array_equal((back.lli[:, rows, b] & 1)[has_phase],
                                          (streamed.lli[:, rows, a] & 1)[has_phase])


def test_hour_rollover_writes_two_files_and_restart_does_not_overwrite(tmp_path):
    data = shared_path(CAPTURE).read_bytes()
    items, _ = decode_bytes(data, T_REF)
    epochs = [x for x in items if isinstance(x, ObsBlock)]
    archive = HourlyArchive(tmp_path)
    # shift the second half of the minute into the next hour
    written = []
    for k, ep in enumerate(epochs):
        if k >= 30:
            ep = ep.select_epochs(0)
            ep.time_ns = ep.time_ns + 3600 * gt.NS
        if (f := archive.add("HIRO", ep)) is not None:
            written.append(f)
    written += archive.flush()
    assert [f.n_epochs for f in written] == [30, len(epochs) - 30]
    again = HourlyArchive(tmp_path)
    for ep in epochs[:5]:
        again.add("HIRO", ep)
    f = again.flush()[0]
    assert "_part1" in f.path.name and written[0].path.exists()
    with pytest.raises(Exception):
        read_obs(tmp_path / "nope.rnx.gz")


def test_background_writer_gives_the_same_files_off_the_callers_thread(tmp_path):
    """The service's archive (``background=True``) formats and compresses on its writer thread: the
    ingest that closes an hour gets a Future, not seconds of blocking; ``on_file`` runs on the writer;
    ``flush`` waits for every pending write; the files equal those of the synchronous archive."""
    data = shared_path(CAPTURE).read_bytes()
    items, _ = decode_bytes(data, T_REF)
    epochs = [x for x in items if isinstance(x, ObsBlock)]
    navs = [x for x in items if not isinstance(x, ObsBlock) and hasattr(x, "nav")]
    assert len(epochs) == 60 and navs

    def run(archive):
        out = []
        for k, ep in enumerate(epochs):
            if k >= 30:  # the second half in the next hour: the first hour closes mid-stream
                ep = ep.select_epochs(0)
                ep.time_ns = ep.time_ns + 3600 * gt.NS
            if k == 10:
                for m in navs:
                    archive.add_nav("HIRO", m.nav, int(ep.time_ns[0]))
            out.append(archive.add("HIRO", ep))
        return out, archive.flush()

    sync_files: list = []
    returned, flushed_sync = run(HourlyArchive(tmp_path / "sync", on_file=sync_files.append))
    assert [f.kind for f in sync_files] == ["obs", "nav", "obs"] and returned[30] is not None
    seen: list = []
    bg = HourlyArchive(tmp_path / "bg", background=True,
                       on_file=lambda f: seen.append((f, threading.current_thread().name)))
    returned, flushed = run(bg)
    assert isinstance(returned[30], Future) and all(r is None for k, r in enumerate(returned) if k != 30)
    assert all(name.startswith("archive-writer") for _, name in seen)
    assert sorted((f.kind, f.n_epochs) for f, _ in seen) == sorted((f.kind, f.n_epochs) for f in sync_files)
    assert [(f.kind, f.n_epochs) for f in flushed] == [(f.kind, f.n_epochs) for f in flushed_sync] == [("obs", 30)]
    for f, _ in seen:  # flush waited: every file is complete, byte for byte the synchronous one's content
        twin = tmp_path / "sync" / f.path.relative_to(tmp_path / "bg")
        def lines(path):  # all but the creation time stamp
            return [ln for ln in gzip.decompress(path.read_bytes()).splitlines() if b"RUN BY / DATE" not in ln]
        assert lines(f.path) == lines(twin) and len(lines(f.path)) > 30
    bg.close()


def test_open_hour_lives_in_the_spool_and_survives_a_crash(tmp_path):
    """Memory holds only the epochs since the last spool append; a process that dies without a shutdown
    leaves the rest of the open hour on disk, and the next start writes it (``recover``). Spooling does
    not change the file: the same stream with and without it gives the same observations."""
    data = shared_path(CAPTURE).read_bytes()
    items, _ = decode_bytes(data, T_REF)
    epochs = [x for x in items if isinstance(x, ObsBlock)]
    archive = HourlyArchive(tmp_path / "a", spool_epochs=20)
    for ep in epochs[:50]:
        archive.add("HIRO", ep)
    assert len(archive._buf["HIRO"]) == 10  # 40 epochs are on disk
    del archive  # the process dies: no flush
    files: list = []
    again = HourlyArchive(tmp_path / "a", on_file=files.append)
    assert [f.n_epochs for f in again.recover()] == [40] and len(files) == 1
    assert not list((tmp_path / "a" / ".spool").glob("*"))
    back, streamed = read_obs(files[0].path), stack_epochs(epochs[:40])
    np.testing.assert_array_equal(back.time_ns, streamed.time_ns)
    a, b = streamed.slot("G", "1C"), back.slot("G", "1C")
    rows = streamed.systems == "G"
    np.testing.assert_allclose(back.code_m[:, rows, b], streamed.code_m[:, rows, a], atol=6e-4, rtol=0)
    assert again.recover() == []

    def text(spool_epochs):
        arch = HourlyArchive(tmp_path / f"s{spool_epochs}", spool_epochs=spool_epochs)
        for ep in epochs:
            arch.add("HIRO", ep)
        (f,) = arch.flush()
        return [ln for ln in gzip.decompress(f.path.read_bytes()).splitlines() if b"RUN BY / DATE" not in ln]
    assert text(7) == text(10**6)


def test_files_cut_by_max_epochs_keep_every_epoch_with_the_writer_thread(tmp_path):
    """A stream faster than 1 Hz fills ``max_epochs`` inside the hour: the file written then and the
    epochs arriving meanwhile use different spools, so none is lost or written twice."""
    data = shared_path(CAPTURE).read_bytes()
    items, _ = decode_bytes(data, T_REF)
    epochs = [x for x in items if isinstance(x, ObsBlock)]
    archive = HourlyArchive(tmp_path, max_epochs=25, spool_epochs=7, background=True)
    for ep in epochs:
        archive.add("HIRO", ep)
    archive.close()
    files = sorted(tmp_path.rglob("*_MO*.crx.gz"))
    times = np.concatenate([read_obs(f).time_ns for f in files])
    assert len(files) == 3 and sorted(times.tolist()) == [int(e.time_ns[0]) for e in epochs]
    assert not list((tmp_path / ".spool").glob("*"))


def test_navigation_hours_dedup_and_restart(tmp_path):
    """Ephemerides are kept once per hour of receipt (a repeat in the next hour is written again, so each
    hour's file serves that hour alone); the observation hour closing writes the navigation hour; a
    partial hour is written on flush and a restart writes ``_part1`` beside it."""
    nav = read_nav(shared_path("rtk/fujisawa-2021-078/SEPT078M.21P"))
    k = nav.kepler.take(np.arange(6))
    h0 = int(k.toc_ns.min()) // 3600 // gt.NS * 3600 * gt.NS
    files = []
    archive = HourlyArchive(tmp_path, on_file=files.append)
    for rep in range(3):  # a stream repeats its ephemerides
        for i in range(len(k)):
            assert archive.add_nav("SEPT", k.take([i]), h0 + (60 + rep) * gt.NS) is None
    assert archive.add_nav("SEPT", k.take([0]), h0 + 3600 * gt.NS) is not None  # next hour closes the first
    assert [f.n_epochs for f in files] == [6]
    assert files[0].path.name.endswith("_01H_MN.rnx.gz") and files[0].kind == "nav"
    assert (files[0].start_gpst_ns, files[0].end_gpst_ns) == (h0, h0 + 3599 * gt.NS)  # the hour it serves
    back = read_nav(files[0].path)
    assert_same_nav(read_nav(nav_text(NavData(kepler=k))[0].encode()), back)
    # an observation epoch of a later hour closes the open navigation hour too
    data = shared_path(CAPTURE).read_bytes()
    items, _ = decode_bytes(data, T_REF)
    ep = next(x for x in items if isinstance(x, ObsBlock)).select_epochs(0)
    ep.time_ns = np.array([h0 + 2 * 3600 * gt.NS])
    archive.add("SEPT", ep)
    assert [f.kind for f in files] == ["nav", "nav"] and files[1].n_epochs == 1
    archive.add_nav("SEPT", k.take([1, 2]), h0 + 2 * 3600 * gt.NS)
    flushed = archive.flush()  # shutdown: the partial hour is written
    assert [f.kind for f in flushed] == ["obs", "nav"] and flushed[1].n_epochs == 2
    again = HourlyArchive(tmp_path)
    again.add_nav("SEPT", k.take([3]), h0 + 2 * 3600 * gt.NS + 5 * gt.NS)
    f = again.flush()[0]
    assert f.path.name.endswith("_MN_part1.rnx.gz") and flushed[1].path.exists()


# --- retention -------------------------------------------------------------------------------------
def test_retention_removes_old_files_from_disk_and_api(tmp_path):
    svc = Service(Settings(data_dir=tmp_path, admin_password="admin-pass-123", archive_keep_days=30))
    data = shared_path(CAPTURE).read_bytes()
    with TestClient(svc.app) as c:
        r = c.post("/api/auth/token", json={"username": "admin", "password": "admin-pass-123"})
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        body = {"code": "HIRO", "name": "Hiroshima", "x_m": -3585000.0, "y_m": 3825000.0, "z_m": 3570000.0}
        assert c.post("/api/stations", json=body, headers=h).status_code == 201
        written = []
        for _ in range(2):  # the same hour archived twice: the second (a restart) gets _part1 files
            ing = StationIngest("HIRO", "ntrip://127.0.0.1:1/X", archive=svc.archive)
            ing.decoder.t_ref_ns = T_REF
            ing.feed(data, received_unix_s=0.0)
            written.append(svc.archive.flush())
        listing = c.get("/api/stations/HIRO/archive", headers=h).json()
        assert listing["total"] == 4 and sorted(x["kind"] for x in listing["items"]) == ["nav", "nav", "obs", "obs"]
        navs = c.get("/api/stations/HIRO/archive?kind=nav", headers=h).json()["items"]
        assert len(navs) == 2 and all(x["name"].startswith("HIRO00CHN_R_20223470100_01H_MN") for x in navs)
        got = c.get(navs[0]["download"], headers=h)
        assert got.status_code == 200 and len(read_nav(got.content).kepler) > 40
        assert c.get("/api/stations/HIRO/archive?kind=xyz", headers=h).status_code == 422
        # the first pair written 31 days ago, the second 29 days ago: only the first is past 30 days
        now = time.time()
        for f in written[0]:
            os.utime(f.path, (now - 31 * 86400, now - 31 * 86400))
        for f in written[1]:
            os.utime(f.path, (now - 29 * 86400, now - 29 * 86400))
        ids = {x["name"]: x["id"] for x in listing["items"]}
        gone = svc.prune_archive(now)
        assert sorted(gone) == sorted(f.path for f in written[0])
        assert not any(f.path.exists() for f in written[0]) and all(f.path.exists() for f in written[1])
        listing = c.get("/api/stations/HIRO/archive", headers=h).json()
        assert sorted(x["name"] for x in listing["items"]) == sorted(f.path.name for f in written[1])
        assert all(c.get(f"/api/archive/{ids[f.path.name]}/download", headers=h).status_code == 404
                   for f in written[0])
        assert all(c.get(f"/api/archive/{ids[f.path.name]}/download", headers=h).status_code == 200
                   for f in written[1])
        assert svc.prune_archive(now) == []


def test_retention_setting_from_environment(monkeypatch):
    monkeypatch.setenv("BEIDOU_ARCHIVE_KEEP_DAYS", "14.5")
    assert Settings.from_env().archive_keep_days == 14.5
    monkeypatch.delenv("BEIDOU_ARCHIVE_KEEP_DAYS")
    assert Settings.from_env().archive_keep_days == 90.0
    for bad in ("-1", "two weeks", "nan"):
        monkeypatch.setenv("BEIDOU_ARCHIVE_KEEP_DAYS", bad)
        with pytest.raises(ValueError, match="BEIDOU_ARCHIVE_KEEP_DAYS"):
            Settings.from_env()


# --- one hour end to end ----------------------------------------------------------------------------
HOUR_START = int(gt.from_calendar(2023, 3, 12, 4, 0, 0))  # inside the demo navigation file's day
MSM7_CODE_M = CLIGHT * 1e-3 * 2.0 ** -29  # MSM7 fine pseudorange resolution
MSM7_PHASE_M = CLIGHT * 1e-3 * 2.0 ** -31  # fine phase range
MSM7_RATE_MPS = 1e-4  # fine phase-range rate
MSM7_CN0_DBHZ = 2.0 ** -4
RINEX_HALF = 5e-4  # F14.3
EPS = 1e-6  # float arithmetic on values of 2e7
EPS_F32 = 1e-5  # C/N0 is stored as float32 (4e-6 resolution at 50 dB-Hz)


def test_one_hour_stream_archived_equals_what_was_streamed(tmp_path):
    """Issue 5, "archive round trip": one hour (3600 epochs at 1 Hz) of a simulated BeiDou + GPS + Galileo
    station, MSM7-encoded with ephemerides every 30 s and its position every 10 s as the demo network
    streams it, goes through the station ingest (decoder -> hourly archive -> gzip RINEX on disk) and is
    read back: every epoch is there, and every pseudorange, phase, Doppler and C/N0 equals the simulated
    value to the MSM7 resolution plus RINEX rounding; LLI equals the simulated slips plus the start of
    each tracking arc; the phase differs only by a whole number of cycles per arc (MSM phase range
    window). The hour's navigation file holds every ephemeris streamed, with orbits equal to the source
    < 1 mm. RTKLIB rnx2rtkp reads both files as an independent reader."""
    nav = read_nav(shared_path("nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz"))
    st = demo_stations()[0]
    cfg = SimConfig(systems="GEC", chunk_epochs=3600)
    truth = next(iter_network(nav, {st.code: np.array(st.ecef_m)}, HOUR_START, 3600, 1.0, cfg, seed=3))[st.code].block
    assert truth.n_epochs == 3600
    enc = Rtcm3Encoder(station_id=st.station_id, msm=7, systems="GEC")
    pos_frame = Rtcm3Encoder.encode_station(StationPosition(st.station_id, np.array(st.ecef_m), gps=True, galileo=True))
    frames, streamed_eph = [], []
    for e in range(truth.n_epochs):
        if e % 30 == 0:
            eph = shifted_ephemerides(nav, int(truth.time_ns[e]), 0)
            streamed_eph.append(eph.kepler)
            frames += Rtcm3Encoder.encode_nav(eph)
        if e % 10 == 0:
            frames.append(pos_frame)
        frames += enc.encode_epoch(truth, e)
    data = b"".join(frames)

    files = []
    archive = HourlyArchive(tmp_path, on_file=files.append)
    ing = StationIngest(st.code, "ntrip://127.0.0.1:1/X", archive=archive)  # the live ingest, quality included
    ing.decoder.t_ref_ns = HOUR_START
    for i in range(0, len(data), 4096):  # network-sized chunks cutting frames anywhere
        ing.feed(data[i:i + 4096], received_unix_s=0.0)
    archive.flush()
    assert [f.kind for f in files] == ["obs", "nav"] and files[0].n_epochs == 3600
    assert files[0].path.name == f"{st.code}00CHN_R_20230710400_01H_01S_MO.crx.gz"
    back = read_obs(files[0].path)

    # no epoch missing, every satellite that had data is there
    np.testing.assert_array_equal(back.time_ns, HOUR_START + np.arange(3600) * gt.NS)
    seen = np.isfinite(truth.code_m).any(axis=(0, 2)) | np.isfinite(truth.phase_cyc).any(axis=(0, 2))
    assert back.sats.tolist() == sorted(truth.sats[seen].tolist())
    assert {s: set(c) for s, c in back.signals.items()} == {s: set(c) for s, c in truth.signals.items()}
    rt = np.flatnonzero(seen)
    rb = np.searchsorted(back.sats, truth.sats[rt])
    lam_all = CLIGHT / truth.frequency_hz()
    n_cells = 0
    worst: dict[str, float] = {}  # largest error / its bound, per quantity (printed with pytest -s)
    for sys_, codes in truth.signals.items():
        sel = truth.systems[rt] == sys_
        t_rows, b_rows = rt[sel], rb[sel]
        for code in codes:
            a, b = truth.slot(sys_, code), back.slot(sys_, code)
            lam = lam_all[t_rows, a][None, :]

            def pair(name):
                return getattr(truth, name)[:, t_rows, a], getattr(back, name)[:, b_rows, b]

            for name, tol, eps in (("code_m", 0.5 * MSM7_CODE_M, EPS), ("doppler_hz", 0.5 * MSM7_RATE_MPS / lam, EPS),
                                   ("snr_dbhz", 0.5 * MSM7_CN0_DBHZ, EPS_F32)):
                x, y = pair(name)
                np.testing.assert_array_equal(np.isnan(y), np.isnan(x), err_msg=f"{sys_} {code} {name}")
                ok = np.isfinite(x)
                err = np.abs(y.astype(float) - x.astype(float))
                limit = np.broadcast_to(tol + RINEX_HALF + eps, x.shape)
                assert (err[ok] <= limit[ok]).all(), f"{sys_} {code} {name}: {err[ok].max()}"
                worst[name] = max(worst.get(name, 0.0), float((err[ok] / limit[ok]).max()))
            x, y = pair("phase_cyc")
            np.testing.assert_array_equal(np.isnan(y), np.isnan(x), err_msg=f"{sys_} {code} phase")
            ok = np.isfinite(x)
            d = y - x
            whole = np.round(d)
            limit = np.broadcast_to(0.5 * MSM7_PHASE_M / lam + RINEX_HALF + EPS, x.shape)
            assert (np.abs(d - whole)[ok] <= limit[ok]).all(), f"{sys_} {code} phase"
            worst["phase_cyc"] = max(worst.get("phase_cyc", 0.0), float((np.abs(d - whole)[ok] / limit[ok]).max()))
            # LLI: the simulated slips, plus the first epoch of every arc (the lock time starts there)
            lt, lb = pair("lli")
            arc_start = ok & ~np.vstack([np.zeros((1, ok.shape[1]), bool), ok[:-1]])
            expected = ((lt & 1).astype(bool) | arc_start) & ok
            np.testing.assert_array_equal((lb & 1).astype(bool) & ok, expected, err_msg=f"{sys_} {code} LLI")
            # the whole-cycle offset changes only where the LLI says the arc restarted
            steps = (np.diff(whole, axis=0) != 0) & ok[1:] & ok[:-1]
            assert not (steps & ~expected[1:]).any(), f"{sys_} {code}: cycle jump without LLI"
            n_cells += int(ok.sum())
    assert n_cells > 3600 * 30
    print(f"\n{len(back.sats)} satellites, {n_cells} cells; largest error / bound: "
          + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))

    # navigation: every ephemeris streamed in the hour, once, orbits equal to the source file's
    nav_back = read_nav(files[1].path)
    k = nav_back.kepler
    sent = streamed_eph[0]
    for more in streamed_eph[1:]:
        sent = sent.concat(more)
    assert set(zip(k.sat.tolist(), k.toe_ns.tolist(), k.iode.tolist())) == \
        set(zip(sent.sat.tolist(), sent.toe_ns.tolist(), sent.iode.tolist()))
    assert len(k) == len(set(zip(k.sat.tolist(), k.toe_ns.tolist(), k.iode.tolist())))
    src = {x: j for j, x in enumerate(zip(sent.sat.tolist(), sent.toe_ns.tolist(), sent.iode.tolist()))}
    j = np.array([src[x] for x in zip(k.sat.tolist(), k.toe_ns.tolist(), k.iode.tolist())])
    t = HOUR_START + 1800 * gt.NS
    ours = sat_states(nav_back, k.sat, np.full(len(k), t), eph_index=np.arange(len(k)))
    ref = sat_states(NavData(kepler=sent), sent.sat[j], np.full(len(k), t), eph_index=j)
    assert ours.valid.all() and np.abs(ours.pos_ecef_m - ref.pos_ecef_m).max() < 1e-3
    assert np.abs(ours.clock_s - ref.clock_s).max() * CLIGHT < 1e-3

    # independent reader: RTKLIB single-point solutions (ionosphere-free, Saastamoinen) from both files
    rnx2rtkp = require_tool("rnx2rtkp")
    conf = tmp_path / "spp.conf"
    conf.write_text("pos1-posmode=single\npos1-ionoopt=dual-freq\npos1-tropopt=saas\npos1-frequency=l1+l2\n"
                    "pos1-navsys=41\nout-solformat=xyz\n")
    out = tmp_path / "spp.pos"
    plain = tmp_path / "hour.rnx"  # RTKLIB needs crx2rnx on PATH for .crx: expanded with the hatanaka package's
    plain.write_bytes(hatanaka.decompress(files[0].path.read_bytes()))
    subprocess.run([rnx2rtkp, "-k", str(conf), "-o", str(out), str(plain), str(files[1].path)],
                   check=True, capture_output=True, timeout=120)
    rows = [ln.split() for ln in out.read_text().splitlines() if ln.strip() and not ln.startswith("%")]
    sol = np.array([r[2:5] for r in rows], float)
    sol_t = [r[1] for r in rows]
    assert len(sol) == 3600 and sol_t[0] == "04:00:00.000" and sol_t[-1] == "04:59:59.000"
    err = np.linalg.norm(sol - np.array(st.ecef_m), axis=1)
    print(f"rnx2rtkp: {len(sol)} solutions, median {np.median(err):.2f} m, 95 % {np.percentile(err, 95):.2f} m, "
          f"mean offset {np.linalg.norm((sol - np.array(st.ecef_m)).mean(axis=0)):.2f} m; orbit diff "
          f"{np.abs(ours.pos_ecef_m - ref.pos_ecef_m).max() * 1e3:.3f} mm, {len(k)} ephemerides")
    assert np.linalg.norm((sol - np.array(st.ecef_m)).mean(axis=0)) < 1.0 and np.percentile(err, 95) < 6.0
