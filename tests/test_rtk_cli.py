"""``beidou rtk`` end to end: RINEX in, RTKLIB-compatible .pos out (read back by our reader)."""
from __future__ import annotations

import numpy as np
import pytest

from beidou.cli import main
from tests.conftest import shared_path
from tests.test_rtk_real import BASE_078, F078, TRUTH_078

import rtk_engine.orbits.broadcast  # noqa: F401


def test_cli_writes_fixed_pos(tmp_path, capsys):
    from rtk_engine.formats.pos import read_pos

    out = tmp_path / "out.pos"
    rc = main(["rtk", "--nav", str(shared_path(f"{F078}/SEPT078M.21P")), "--base", str(shared_path(f"{F078}/3034078M1.21O")),
               "--base-pos=" + ",".join(str(v) for v in BASE_078), str(shared_path(f"{F078}/SEPT078M1.21O")),
               "-o", str(out), "--coords", "llh", "--quiet"])
    assert rc == 0
    sol = read_pos(out)
    assert len(sol) == 60 and np.all(sol.quality == 1)
    assert np.max(np.linalg.norm(sol.ecef_m - TRUTH_078, axis=1)) < 0.02  # llh round trip keeps mm
    assert "fixed 60 (100.0%)" in capsys.readouterr().err


def test_cli_reports_missing_base_position(tmp_path, capsys):
    rc = main(["rtk", "--nav", str(shared_path(f"{F078}/SEPT078M.21P")), "--base", str(shared_path(f"{F078}/3034078M1.21O")),
               str(shared_path(f"{F078}/SEPT078M1.21O")), "-o", str(tmp_path / "x.pos"), "--quiet"])
    assert rc == 1 and "base position missing" in capsys.readouterr().err


def test_cli_antex_options(tmp_path, capsys):
    from rtk_engine.formats.pos import read_pos

    args = ["rtk", "--nav", str(shared_path(f"{F078}/SEPT078M.21P")), "--base", str(shared_path(f"{F078}/3034078M1.21O")),
            "--base-pos=" + ",".join(str(v) for v in BASE_078), str(shared_path(f"{F078}/SEPT078M1.21O")),
            "--quiet", "--antex", str(shared_path("antex/test.atx")), "--base-ant", "TRM59800.80 NONE"]
    rc = main(args + ["-o", str(tmp_path / "a.pos"), "--rover-ant", "JAVRINGANT_DM SCIS"])
    assert rc == 0 and np.all(read_pos(tmp_path / "a.pos").quality == 1)
    capsys.readouterr()
    rc = main(args + ["-o", str(tmp_path / "b.pos"), "--rover-ant", "NOSUCHANT NONE"])
    assert rc == 1 and "NOSUCHANT" in capsys.readouterr().err


def test_cli_solves_recorded_rtcm3_streams(tmp_path, capsys):
    """`beidou rtk` on two recorded RTCM3 streams (what `beidou client ... --out file://` saves from the
    caster): ephemerides and the base position (1005) come from the streams themselves. Simulated
    BeiDou + GPS stations 3 km apart (real broadcast ephemerides), MSM7, checked against the truth."""
    from cors_network.demo import shifted_ephemerides
    from rtk_engine import gnss_time as gt
    from rtk_engine import simulate
    from rtk_engine.formats.pos import read_pos
    from rtk_engine.formats.rinex_nav import read_nav
    from rtk_engine.formats.rtcm3.encoder import Rtcm3Encoder
    from rtk_engine.formats.rtcm3.station import StationPosition

    nav = read_nav(shared_path("nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz"))
    t0 = int(gt.from_calendar(2023, 3, 12, 4, 0, 0))
    st = simulate.network_around(*simulate.CHONGQING_LLH_DEG, {"BASE": (0.0, 0.0), "ROV": (3.0, 60.0)})
    sims = simulate.simulate_network(nav, st, t0, 60, 1.0, simulate.SimConfig(systems="GC"), seed=5)
    eph = Rtcm3Encoder.encode_nav(shifted_ephemerides(nav, t0, 0))
    for sid, code in enumerate(("BASE", "ROV"), start=1):
        enc, blk = Rtcm3Encoder(station_id=sid, msm=7), sims[code].block
        frames = [Rtcm3Encoder.encode_station(StationPosition(sid, np.asarray(sims[code].truth_ecef_m))), *eph]
        for e in range(blk.n_epochs):
            frames += enc.encode_epoch(blk, e)
        (tmp_path / f"{code}.rtcm").write_bytes(b"".join(frames))
    out = tmp_path / "rov.pos"
    rc = main(["rtk", "--base", str(tmp_path / "BASE.rtcm"), str(tmp_path / "ROV.rtcm"), "-o", str(out),
               "--time", "2023-03-12T04:00", "--coords", "xyz", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "base position from the base stream's 1005/1006" in err
    sol = read_pos(out)
    fixed = sol.quality == 1
    assert len(sol.quality) == 60 and fixed[20:].mean() >= 0.9
    d = np.linalg.norm(sol.ecef_m[fixed] - sims["ROV"].truth_ecef_m, axis=1)
    assert d.max() <= 0.03
    # RINEX files carry no ephemerides: without --nav a clear error, no output
    rc = main(["rtk", "--base", str(shared_path(f"{F078}/3034078M1.21O")), str(shared_path(f"{F078}/SEPT078M1.21O")),
               "-o", str(tmp_path / "x.pos"), "--base-pos=" + ",".join(map(str, BASE_078)), "--quiet"])
    assert rc == 1 and "--nav is required" in capsys.readouterr().err
    assert not (tmp_path / "x.pos").exists()
