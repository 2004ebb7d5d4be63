"""`beidou spp` and `beidou demo` end to end: every output format, the summary line, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from beidou.cli import main
from rtk_engine.formats.nmea import parse_gga
from rtk_engine.formats.pos import read_pos
from rtk_engine.geodesy.ellipsoid import ecef_to_enu
from tests.conftest import REPO, shared_path

FUJI = REPO / "data" / "fujisawa-2021-078"
FUJI_TRUTH = np.array([-3962108.673, 3381309.574, 3668678.638])


def _spp(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["spp", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_pos_llh_and_xyz_and_summary(tmp_path, capsys):
    obs, nav = FUJI / "SEPT078M1.21O", FUJI / "SEPT078M.21P"
    rc, out, _ = _spp(capsys, "--nav", nav, obs, "-o", tmp_path / "a.pos", "--systems", "GEJ")
    assert rc == 0
    assert "epochs 60  solved 60 (100.0 %)" in out and "G 10.0" in out and "J 4.0" in out
    llh = read_pos(tmp_path / "a.pos")
    rc, _, _ = _spp(capsys, "--nav", nav, obs, "-o", tmp_path / "b.pos", "--systems", "GEJ", "--coords", "xyz")
    xyz = read_pos(tmp_path / "b.pos")
    assert rc == 0 and len(llh) == len(xyz) == 60
    np.testing.assert_allclose(llh.ecef_m, xyz.ecef_m, atol=3e-4)  # printed precision of both layouts
    enu = ecef_to_enu(xyz.ecef_m, FUJI_TRUTH)
    assert np.abs(enu[:, :2]).max() < 3.0 and np.abs(enu[:, 2]).max() < 5.0  # SPP-level agreement with truth


def test_csv_nmea_geojson(tmp_path, capsys):
    obs, nav = FUJI / "SEPT078M1.21O", FUJI / "SEPT078M.21P"
    for fmt, extra in (("csv", ["--gk", "3"]), ("nmea", []), ("geojson", [])):
        rc, _, _ = _spp(capsys, "--nav", nav, obs, "-o", tmp_path / f"out.{fmt}", "--systems", "GE",
                        "--format", fmt, *extra)
        assert rc == 0, fmt
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert len(rows) == 61 and rows[0].startswith("time_gpst,") and rows[0].endswith("gk_zone")
    assert rows[1].split(",")[-1] == "47"  # 139.5 E lies in 3-degree zone 47 (central meridian 141 E)
    gga = (tmp_path / "out.nmea").read_text().splitlines()
    assert len(gga) == 60
    g = parse_gga(gga[0], require_checksum=True)
    assert g.quality == 1 and abs(g.lat_deg - 35.3393) < 1e-3 and 0 < g.hdop < 2
    gj = json.loads((tmp_path / "out.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 60


@pytest.mark.slow
def test_esbc_day_with_progress(tmp_path, capsys):
    obs = shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz")
    nav = shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz")
    rc, out, err = _spp(capsys, "--nav", nav, obs, "-o", tmp_path / "esbc.pos", "--systems", "GEC")
    assert rc == 0
    assert "epochs 2880  solved 2880" in out
    per_sys = dict(zip(out.split("mean satellites used: ")[1].split()[0:6:2],
                       map(float, out.split("mean satellites used: ")[1].split()[1:6:2])))
    assert set(per_sys) == {"C", "E", "G"} and per_sys["C"] > 5
    assert "EPH S records skipped" in err  # the reader's skips are reported, not hidden
    sol = read_pos(tmp_path / "esbc.pos")
    enu = ecef_to_enu(sol.ecef_m, np.array([3582105.2910, 532589.7313, 5232754.8054]))
    assert np.sqrt(np.mean(enu[:, 0] ** 2 + enu[:, 1] ** 2)) < 1.5


def test_bad_input(tmp_path, capsys):
    obs, nav = FUJI / "SEPT078M1.21O", FUJI / "SEPT078M.21P"
    rc, _, err = _spp(capsys, "--nav", tmp_path / "missing.nav", obs, "-o", tmp_path / "x.pos")
    assert rc == 1 and "missing.nav" in err
    empty = tmp_path / "empty.obs"
    empty.write_text("")
    rc, _, err = _spp(capsys, "--nav", nav, empty, "-o", tmp_path / "x.pos")
    assert rc == 1 and "empty.obs" in err
    # systems the file does not carry: a clear message, no output file
    rc, _, err = _spp(capsys, "--nav", nav, obs, "-o", tmp_path / "y.pos", "--systems", "C")
    assert rc == 1 and "no usable code signal" in err and not (tmp_path / "y.pos").exists()
    with pytest.raises(SystemExit):
        _spp(capsys, "--nav", nav, obs, "-o", tmp_path / "z.pos", "--codes", "C1P")


def test_demo_runs(tmp_path, capsys):
    rc = main(["demo", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "BeiDou B1I, KMS3: 19/19 epochs" in out and "BeiDou-3 B1C, KMS3: 19/19 epochs" in out
    assert len(list(Path(tmp_path).glob("*.pos"))) == 3
