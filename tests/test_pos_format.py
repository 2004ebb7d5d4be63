"""RTKLIB .pos reader/writer and the CSV / NMEA / GeoJSON exports, against RTKLIB's own output."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from rtk_engine.formats import pos as posfmt
from rtk_engine.formats import solution_export as exp
from rtk_engine.formats.nmea import parse_gga
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic
from rtk_engine.solution import Quality, Solution
from tests.conftest import require_tool, shared_path

FUJI = "rtk/fujisawa-2021-078"


@pytest.fixture(scope="module")
def rtklib_outputs(tmp_path_factory):
    """The same rnx2rtkp SPP run written four ways: llh/week, xyz/calendar, llh/UTC, ENU baseline."""
    exe = require_tool("rnx2rtkp")
    obs = shared_path(f"{FUJI}/SEPT078M1.21O")
    nav = shared_path(f"{FUJI}/SEPT078M.21P")
    d = tmp_path_factory.mktemp("rtklib_pos")
    out = {}
    for name, flags in {"llh": [], "xyz": ["-e", "-t"], "utc": ["-t", "-u"], "enu": ["-a"]}.items():
        p = d / f"{name}.pos"
        subprocess.run([exe, "-p", "0", "-sys", "G,E", "-m", "10", *flags, "-o", str(p), str(obs), str(nav)],
                       check=True, capture_output=True, timeout=60)
        out[name] = p
    return out


def test_read_rtklib_llh_and_xyz_agree(rtklib_outputs):
    llh = posfmt.read_pos(rtklib_outputs["llh"])
    xyz = posfmt.read_pos(rtklib_outputs["xyz"])
    assert len(llh) == len(xyz) > 50
    np.testing.assert_array_equal(llh.time_ns, xyz.time_ns)
    # llh is printed to 1e-9 deg (0.1 mm) and 0.1 mm height, xyz to 0.1 mm
    np.testing.assert_allclose(llh.ecef_m, xyz.ecef_m, atol=3e-4)
    # ENU standard deviations rotated back to ECEF reproduce RTKLIB's own ECEF ones (4 decimals printed)
    np.testing.assert_allclose(llh.cov_m2, xyz.cov_m2, atol=2e-3)
    assert (llh.quality == Quality.SINGLE).all() and (llh.n_sats > 4).all()


def test_read_utc_time(rtklib_outputs):
    gpst = posfmt.read_pos(rtklib_outputs["llh"])
    utc = posfmt.read_pos(rtklib_outputs["utc"])
    np.testing.assert_array_equal(utc.time_ns, gpst.time_ns)  # 18 leap seconds removed and restored


def test_enu_baseline_is_refused(rtklib_outputs):
    with pytest.raises(posfmt.PosFormatError, match="baseline"):
        posfmt.read_pos(rtklib_outputs["enu"])


@pytest.mark.parametrize("coords,time_format", [("llh", "calendar"), ("xyz", "week"), ("llh", "week")])
def test_round_trip(rtklib_outputs, tmp_path, coords, time_format):
    ref = posfmt.read_pos(rtklib_outputs["xyz"])
    p = tmp_path / "ours.pos"
    posfmt.write_pos(p, ref, coords=coords, time_format=time_format)
    back = posfmt.read_pos(p)
    np.testing.assert_array_equal(back.time_ns, ref.time_ns)
    np.testing.assert_allclose(back.ecef_m, ref.ecef_m, atol=3e-4)
    np.testing.assert_allclose(back.cov_m2, ref.cov_m2, atol=2e-3)
    np.testing.assert_array_equal(back.n_sats, ref.n_sats)


def test_our_llh_file_lines_match_rtklib_text(rtklib_outputs, tmp_path):
    """Writing what we read reproduces RTKLIB's data lines character-for-character (week format)."""
    ref = posfmt.read_pos(rtklib_outputs["llh"])
    text = posfmt.format_pos(ref, coords="llh", time_format="week")
    ours = [ln.split() for ln in text.splitlines() if not ln.startswith("%")]
    theirs = [ln.split() for ln in rtklib_outputs["llh"].read_text().splitlines() if not ln.startswith("%")]
    assert ours == theirs


def _solution(n=3, quality=Quality.SINGLE):
    ecef = np.array([[3582105.291, 532589.7313, 5232754.8054]] * n) + np.arange(n)[:, None]
    cov = np.broadcast_to(np.diag([1.0, 2.0, 3.0]), (n, 3, 3)).copy()
    return Solution(time_ns=1_277_078_400 * 10**9 + np.arange(n, dtype=np.int64) * 30 * 10**9,
                    ecef_m=ecef, cov_m2=cov, quality=np.full(n, quality, np.uint8), n_sats=np.full(n, 17))


def test_invalid_epochs_left_out_and_bad_lines_raise(tmp_path):
    sol = _solution(3)
    sol.quality[1] = Quality.NONE
    text = posfmt.format_pos(sol)
    assert len([ln for ln in text.splitlines() if not ln.startswith("%")]) == 2
    p = tmp_path / "bad.pos"
    p.write_text(text + "2020/06/25 00:01:30.000 55.4 8.5\n")
    with pytest.raises(posfmt.PosFormatError, match=r"bad.pos:\d+"):
        posfmt.read_pos(p)
    p.write_text("2020/06/25 00:01:30.000 55.4 8.5 10 5 7\n")
    with pytest.raises(posfmt.PosFormatError, match="header"):
        posfmt.read_pos(p)
    p.write_text(text.replace("2020/06/25 00:01:00", "2020/06/25 00:xx:00"))
    with pytest.raises(posfmt.PosFormatError):
        posfmt.read_pos(p)


def test_nmea_gga_parses_back_in_utc():
    sol = _solution(2)
    lines = exp.format_nmea(sol).splitlines()
    assert len(lines) == 2
    g = parse_gga(lines[0], require_checksum=True)
    llh = ecef_to_geodetic(sol.ecef_m[0])
    assert g.lat_deg == pytest.approx(np.rad2deg(llh[0]), abs=1e-8)
    assert g.lon_deg == pytest.approx(np.rad2deg(llh[1]), abs=1e-8)
    assert g.height_m == pytest.approx(llh[2], abs=1e-3)
    # 2020-06-25 00:00:00 GPST is 2020-06-24 23:59:42 UTC (18 leap seconds)
    assert g.time_of_day_s == pytest.approx(86400 - 18)
    assert g.quality == 1 and g.n_sats == 17


def test_geojson_and_csv():
    sol = _solution(3)
    sol.quality[2] = Quality.NONE
    gj = json.loads(json.dumps(exp.to_geojson(sol)))
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 2
    f0 = gj["features"][0]
    llh = ecef_to_geodetic(sol.ecef_m[0])
    assert f0["geometry"]["coordinates"][0] == pytest.approx(np.rad2deg(llh[1]), abs=1e-8)
    assert f0["properties"]["time_gpst"].startswith("2020-06-25T00:00:00")
    assert f0["properties"]["quality"] == "single"
    csv = exp.format_csv(sol, gauss_kruger_zone_width=3).splitlines()
    hdr = csv[0].split(",")
    row = dict(zip(hdr, csv[1].split(",")))
    assert float(row["lat_deg"]) == pytest.approx(np.rad2deg(llh[0]), abs=1e-8)
    assert row["gk_zone"] == "3"  # Esbjerg, 8.5 E: 3-degree zone 3 (central meridian 9 E)
    # 3-degree GK: ~0.5 deg west of the central meridian at 55.5 N is ~31.6 km west of 500 km
    assert 460_000 < float(row["gk_easting_m"]) < 475_000
    assert 6_140_000 < float(row["gk_northing_m"]) < 6_160_000


def test_cgcs2000_and_gauss_kruger():
    from rtk_engine.constants import CGCS2000_A, CGCS2000_F
    from rtk_engine.geodesy.ellipsoid import geodetic_to_ecef
    from rtk_engine.geodesy.projections import ecef_to_cgcs2000, gauss_kruger, gk_zone

    deg = np.pi / 180
    # a point on the central meridian 117 E (3-degree zone 39, 6-degree zone 20)
    p = geodetic_to_ecef(np.array([[39.9 * deg, 117.0 * deg, 50.0]]), CGCS2000_A, CGCS2000_F)
    llh = ecef_to_cgcs2000(p)
    assert llh[0, 0] == pytest.approx(39.9, abs=1e-9) and llh[0, 1] == pytest.approx(117.0, abs=1e-9)
    assert llh[0, 2] == pytest.approx(50.0, abs=1e-4)
    n3, e3, z3 = gauss_kruger(p, 3)
    n6, e6, z6 = gauss_kruger(p, 6, zone_prefix=True)
    assert (z3, z6) == (39, 20)
    assert e3[0] == pytest.approx(500_000.0, abs=1e-3)  # false easting on the central meridian
    assert e6[0] == pytest.approx(20_500_000.0, abs=1e-3)  # zone-prefixed
    # on the central meridian the northing is the meridian arc length: 4 419 km at 39.9 N on CGCS2000
    assert n3[0] == pytest.approx(n6[0]) and 4_410_000 < n3[0] < 4_430_000
    assert gk_zone(np.array([73.5, 135.0]), 3).tolist() == [25, 45] and gk_zone(135.0, 6) == 23
    with pytest.raises(ValueError):
        gk_zone(100.0, 4)
