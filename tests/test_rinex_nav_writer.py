"""RINEX 3.04 navigation writer: real navigation files written and read back equal field by field
(to the printed precision), time systems of the epoch lines, and RTKLIB ``convbin`` as an independent
oracle on an RTCM capture (our decoder + writer vs convbin: same ephemerides, orbits < 1 mm)."""
from __future__ import annotations

import gzip
import subprocess

import numpy as np
import pytest

from rtk_engine import gnss_time as gt
from rtk_engine.formats.rinex_nav import read_nav
from rtk_engine.formats.rinex_nav_writer import nav_text, write_nav
from rtk_engine.formats.rtcm3.decoder import read_rtcm3
from rtk_engine.nav import NavData
from rtk_engine.orbits.broadcast import sat_states
from tests.conftest import require_tool, shared_path

D19_RTOL = 5.0001e-13  # D19.12: 13 significant digits, half a unit of the last one relative to the value
D12_RTOL = 5.0001e-5  # header D12.4
CAPTURE = "rtcm/novatel-hiroshima-2022/20221213-010900.rtcm"
T_REF = int(gt.from_calendar(2022, 12, 13, 1, 9, 0))
SYS_ORDER = {s: i for i, s in enumerate("GRECJIS")}


def _sorted(nav: NavData) -> NavData:
    """The writer's record order: system, satellite, epoch."""
    k, g = nav.kepler, nav.glonass
    rank = np.array([SYS_ORDER[s[0]] for s in k.sat.tolist()], np.int64)
    return NavData(kepler=k.take(np.lexsort((k.toc_ns, k.sat, rank))),
                   glonass=g.take(np.lexsort((g.toe_ns, g.sat))), iono=nav.iono, leap_seconds=nav.leap_seconds)


def assert_same_nav(a: NavData, b: NavData) -> None:
    """Every field of ``b`` equals ``a`` to the D19.12 precision (integers and whole-second times exactly)."""
    ka, kb = a.kepler, b.kepler
    np.testing.assert_array_equal(kb.sat, ka.sat)
    np.testing.assert_array_equal(kb.toe_ns, ka.toe_ns)
    np.testing.assert_array_equal(kb.toc_ns, ka.toc_ns)
    # transmission time: seconds of week (< 604800) with 13 digits -> 50 ns
    np.testing.assert_allclose(kb.ttr_ns, ka.ttr_ns, rtol=0, atol=50)
    assert set(kb.cols) == set(ka.cols)
    for name, va in ka.cols.items():
        vb = kb.cols[name]
        if va.dtype.kind == "i":
            np.testing.assert_array_equal(vb, va, err_msg=name)
        else:
            np.testing.assert_allclose(vb, va, rtol=D19_RTOL, atol=0, equal_nan=True, err_msg=name)
    ga, gb = a.glonass, b.glonass
    for name in ("sat", "toe_ns", "tof_ns", "channel", "health", "age_d", "iode"):
        np.testing.assert_array_equal(getattr(gb, name), getattr(ga, name), err_msg=name)
    for name in ("pos_m", "vel_mps", "acc_mps2", "tau_n_s", "gamma_n"):
        np.testing.assert_allclose(getattr(gb, name), getattr(ga, name), rtol=D19_RTOL, atol=0, err_msg=name)
    assert set(b.iono) == set(a.iono)
    for key, v in a.iono.items():
        np.testing.assert_allclose(b.iono[key][:len(v)], v, rtol=D12_RTOL, atol=0, err_msg=key)
    assert b.leap_seconds == a.leap_seconds


@pytest.mark.parametrize("rel", [
    "rtk/fujisawa-2021-078/SEPT078M.21P",  # RINEX 3.04 (RTKLIB): GPS, Galileo I/NAV + F/NAV, QZSS
    "spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz",  # RINEX 3.05 mixed: G R E C J
    "spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_RN.rnx",  # GLONASS only, a whole day
    "kinematic/urbannav-hk-2020-155/hksc155c.20n",  # RINEX 2 GPS
])
def test_real_files_written_and_read_back_equal(rel, tmp_path):
    nav = read_nav(shared_path(rel))
    out = tmp_path / "out.rnx.gz"
    res = write_nav(out, nav)
    assert res.skipped == [] and res.n_kepler == len(nav.kepler) and res.n_glonass == len(nav.glonass)
    with gzip.open(out, "rt") as fh:
        first = fh.readline()
    assert first[:9] == "     3.04" and first[20] == "N" and first[40] == "M"
    back = read_nav(out)
    assert back.skipped == []
    assert_same_nav(_sorted(nav), back)


def test_rinex4_file_writes_what_rinex3_holds_and_reports_the_rest():
    """BRD400DLR (RINEX 4, every system): LNAV, I/NAV, F/NAV, D1/D2, NavIC and GLONASS are written and
    read back equal; CNAV/CNAV-2/B-CNAV records are counted as not written, per system and message."""
    nav = read_nav(shared_path("nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz"))
    text, res = nav_text(nav)
    k = nav.kepler
    sys_ = k.sat.astype("<U1")
    cnav = (np.isin(sys_, ["G", "J"]) & (k.source & 12 != 0)) | ((sys_ == "C") & (k.source & 28 != 0))
    assert 0 < cnav.sum() < len(k)
    assert res.n_kepler == len(k) - cnav.sum() and res.n_glonass == len(nav.glonass) > 1000
    counts = {" ".join(s.split()[1:3]): int(s.split()[0]) for s in res.skipped}
    assert counts == {"C B-CNAV1": int(((sys_ == "C") & (k.source == 4)).sum()),
                      "C B-CNAV2": int(((sys_ == "C") & (k.source == 8)).sum()),
                      "G CNAV": int(((sys_ == "G") & (k.source == 4)).sum()),
                      "J CNAV": int(((sys_ == "J") & (k.source == 4)).sum()),
                      "J CNAV-2": int(((sys_ == "J") & (k.source == 8)).sum())}
    back = read_nav(text.encode())
    assert set(back.kepler.sat.astype("<U1").tolist()) == {"G", "E", "C", "J", "I"}
    # the RINEX 4-only BeiDou BDGIM parameters have no RINEX 3 header line
    kept = NavData(kepler=k.take(np.flatnonzero(~cnav)), glonass=nav.glonass,
                   iono={key: v for key, v in nav.iono.items() if key != "BDS_BDGIM"},
                   leap_seconds=nav.leap_seconds)
    assert_same_nav(_sorted(kept), back)


def test_epoch_lines_use_each_systems_time_scale():
    """The written epoch lines of ESBC equal the original file's (BeiDou in BDT, GLONASS in UTC,
    GPS/Galileo/QZSS in their own scale); BDT = GPST - 14 s and UTC = GPST - 18 s in 2020."""
    path = shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz")
    original = gzip.decompress(path.read_bytes()).decode("ascii")
    nav = read_nav(path)
    text, _ = nav_text(nav)

    def epochs(t: str) -> set[str]:
        body = t.split("END OF HEADER", 1)[1].splitlines()[1:]
        return {ln[:23] for ln in body if ln[:1] in "GRECJ" and ln[:1] != " "}

    def weeks(t: str) -> set[tuple[str, int]]:
        """(epoch line, week field of BROADCAST ORBIT-5) of every Kepler record: GPS week, BDT week for BeiDou."""
        body = t.split("END OF HEADER", 1)[1].splitlines()[1:]
        return {(ln[:23], int(float(body[i + 5][42:61].replace("D", "E"))))
                for i, ln in enumerate(body) if ln[:1] in "GECJ"}

    assert epochs(text) == epochs(original)
    assert weeks(text) == weeks(original)
    assert {w for e, w in weeks(text) if e[0] == "C"} == {2111 - 1356}  # 2020-06-25: GPS week 2111
    c = np.flatnonzero(nav.kepler.sat == "C06")[0]
    y, mo, d, h, mi, s = gt.to_datetime(int(nav.kepler.toc_ns[c]) - 14 * gt.NS).timetuple()[:6]
    assert f"C06 {y:04d} {mo:02d} {d:02d} {h:02d} {mi:02d} {s:02d}" in text
    assert int(gt.leap_seconds(nav.glonass.toe_ns[0])) == 18
    y, mo, d, h, mi, s = gt.to_datetime(int(nav.glonass.toe_ns[0]) - 18 * gt.NS).timetuple()[:6]
    assert f"{nav.glonass.sat[0]} {y:04d} {mo:02d} {d:02d} {h:02d} {mi:02d} {s:02d}" in text


def test_rtcm_capture_matches_convbin(tmp_path):
    """Oracle: RTKLIB convbin turns the Hiroshima RTCM capture into RINEX 3.04 navigation; our decoder +
    writer on the same bytes give the same set of ephemerides (G R E C J) and, for every one, satellite
    positions within 1 mm and clocks within 1 mm over +-1 h (GLONASS +-15 min) around the capture."""
    convbin = require_tool("convbin")
    capture = shared_path(CAPTURE)
    theirs_path = tmp_path / "convbin.nav"
    subprocess.run([convbin, "-r", "rtcm3", "-tr", "2022/12/13", "01:09:00", "-v", "3.04", "-n", str(theirs_path),
                    "-o", str(tmp_path / "convbin.obs"), str(capture)], check=True, capture_output=True, timeout=120)
    _, nav, _ = read_rtcm3(capture, T_REF)
    ours_path = tmp_path / "ours.rnx"
    res = write_nav(ours_path, nav)
    assert res.skipped == [] and res.n_kepler > 40 and res.n_glonass > 5
    ours, theirs = read_nav(ours_path), read_nav(theirs_path)
    assert set(ours.kepler.sat.astype("<U1").tolist()) == set("GECJ")

    def keys(k):  # our decoder has no NavIC (1041) message; convbin writes it
        return {x for x in zip(k.sat.tolist(), k.toe_ns.tolist(), k.iode.tolist(), k.source.tolist())
                if x[0][0] != "I"}

    assert keys(ours.kepler) == keys(theirs.kepler)
    assert set(zip(ours.glonass.sat.tolist(), ours.glonass.toe_ns.tolist())) == \
        set(zip(theirs.glonass.sat.tolist(), theirs.glonass.toe_ns.tolist()))
    k, kt = ours.kepler, theirs.kepler
    key_t = {x: j for j, x in enumerate(zip(kt.sat.tolist(), kt.toe_ns.tolist(), kt.iode.tolist(), kt.source.tolist()))}
    j = np.array([key_t[x] for x in zip(k.sat.tolist(), k.toe_ns.tolist(), k.iode.tolist(), k.source.tolist())])
    dt = np.arange(-3600, 3601, 600) * gt.NS
    sats = np.repeat(k.sat, dt.size)
    t = T_REF + np.tile(dt, len(k))
    a = sat_states(ours, sats, t, eph_index=np.repeat(np.arange(len(k)), dt.size))
    b = sat_states(theirs, sats, t, eph_index=np.repeat(j, dt.size))
    assert a.valid.all() and b.valid.all()
    assert np.abs(a.pos_ecef_m - b.pos_ecef_m).max() < 1e-3
    assert np.abs(a.clock_s - b.clock_s).max() * 299_792_458.0 < 1e-3
    g, gt_ = ours.glonass, theirs.glonass
    jg = np.array([np.flatnonzero((gt_.sat == s) & (gt_.toe_ns == toe))[0] for s, toe in zip(g.sat, g.toe_ns)])
    np.testing.assert_array_equal(g.tof_ns, gt_.tof_ns[jg])
    np.testing.assert_array_equal(g.channel, gt_.channel[jg])
    dt = np.arange(-900, 901, 300) * gt.NS
    sats = np.repeat(g.sat, dt.size)
    t = T_REF + np.tile(dt, len(g))
    a = sat_states(ours, sats, t, eph_index=np.repeat(np.arange(len(g)), dt.size))
    b = sat_states(theirs, sats, t, eph_index=np.repeat(jg, dt.size))
    assert a.valid.all() and np.abs(a.pos_ecef_m - b.pos_ecef_m).max() < 1e-3
    assert np.abs(a.clock_s - b.clock_s).max() * 299_792_458.0 < 1e-3


def test_written_file_agrees_with_georinex(tmp_path):
    """Independent reader: georinex loads our GPS records with the values we wrote."""
    import georinex
    nav = read_nav(shared_path("rtk/fujisawa-2021-078/SEPT078M.21P"))
    gps = NavData(kepler=nav.kepler.take(np.flatnonzero(nav.kepler.sat.astype("<U1") == "G")), iono=nav.iono)
    path = tmp_path / "gps.rnx"
    write_nav(path, gps)
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        ref = georinex.load(path).to_dataframe().dropna(how="all").reset_index().dropna(subset=["sqrtA"])
    k = _sorted(gps).kepler
    order = np.lexsort((gt.from_datetime64(ref["time"].to_numpy()), ref["sv"].to_numpy().astype("<U3")))
    np.testing.assert_array_equal(ref["sv"].to_numpy().astype("<U3")[order], k.sat)
    np.testing.assert_array_equal(gt.from_datetime64(ref["time"].to_numpy())[order], k.toc_ns)
    for mine, theirs in [("sqrt_a", "sqrtA"), ("e", "Eccentricity"), ("m0", "M0"), ("i0", "Io"),
                         ("af0", "SVclockBias"), ("iode", "IODE"), ("iodc", "IODC"), ("health", "health")]:
        np.testing.assert_allclose(ref[theirs].to_numpy()[order], k.cols[mine], rtol=D19_RTOL, atol=0, err_msg=mine)
    toe = gt.from_week_sow(ref["GPSWeek"].to_numpy()[order].astype(np.int64), ref["Toe"].to_numpy()[order])
    np.testing.assert_array_equal(toe, k.toe_ns)


def test_bad_input_raises_clearly():
    nav = read_nav(shared_path("rtk/fujisawa-2021-078/SEPT078M.21P"))
    k = nav.kepler.take(np.arange(3))
    k.toc_ns = k.toc_ns + 500_000_000
    with pytest.raises(ValueError, match="not a whole second"):
        nav_text(NavData(kepler=k))
    k = nav.kepler.take(np.arange(3))
    k.cols["af0"] = k.cols["af0"].copy()
    k.cols["af0"][1] = 1e120
    with pytest.raises(ValueError, match="does not fit"):
        nav_text(NavData(kepler=k))
    text, res = nav_text(NavData())
    assert res.n_records == 0 and text.rstrip().endswith("END OF HEADER")
