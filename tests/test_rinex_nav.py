"""RINEX navigation reader on every navigation file in ../shared/data, bad input, and georinex as oracle."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from rtk_engine import gnss_time as gt
from rtk_engine.formats.rinex_nav import NavError, read_nav, read_navs
from tests.conftest import SHARED_DATA, shared_path

# (relative path, {system: minimum number of ephemerides}, GLONASS minimum)
# Minimums: a 24 h station file holds every satellite it tracked, refreshed every 2 h (GPS),
# 10 min (Galileo, I/NAV + F/NAV), 1 h (BeiDou) or 30 min (GLONASS); the bounds are well below the
# counts those rates give for the satellites in view, and catch a reader that drops a system.
NAV_FILES = [
    ("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz", {"G": 150, "E": 800, "C": 200, "J": 5}, 300),
    ("spp/esbc-2020-177/MOJN00DNK_R_20201770000_01D_MN.rnx.gz", {"G": 150, "E": 800, "C": 200}, 300),
    ("spp/kms3-2022-159/KMS300DNK_R_20221591000_01H_MN.rnx.gz", {"G": 10, "E": 30, "C": 10}, 10),
    ("spp/nya1-2024-124/NYA100NOR_S_20241240000_01D_CN.rnx.gz", {"C": 100}, 0),
    ("spp/nya1-2024-124/NYA100NOR_S_20241240000_01D_EN.rnx.gz", {"E": 400}, 0),
    ("spp/nya1-2024-124/NYA100NOR_S_20241240000_01D_GN.rnx.gz", {"G": 150}, 0),
    ("spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_CN.rnx", {"C": 100}, 0),
    ("spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_EN.rnx", {"E": 400}, 0),
    ("spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_GN.rnx", {"G": 150}, 0),
    ("spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_RN.rnx", {}, 1000),
    ("rtk/fujisawa-2021-078/SEPT078M.21P", {"G": 10, "E": 50, "J": 2}, 0),
    ("rtk/fujisawa-2021-265/SEPT2650.21P", {"G": 10, "E": 50, "J": 2}, 0),
    ("rtk/gsi-2005-092/07590920.05n", {"G": 100}, 0),
    ("rtk/gsi-2005-092/30400920.05n", {"G": 100}, 0),
    ("kinematic/urbannav-hk-2020-155/hksc155c.20n", {"G": 20}, 0),
    ("kinematic/urbannav-hk-2020-155/hksc155c.20g", {}, 20),
    ("kinematic/urbannav-hk-2020-155/hksc155c.20l", {"E": 50}, 0),
    ("kinematic/urbannav-hk-2020-155/hksc155d.20n", {"G": 20}, 0),
    ("kinematic/urbannav-hk-2020-155/hksc155d.20g", {}, 20),
    ("kinematic/urbannav-hk-2020-155/hksc155d.20l", {"E": 50}, 0),
    ("nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz", {"G": 500, "E": 4000, "C": 2000, "J": 100, "I": 100}, 1000),
]


def _file_date_ns(rel: str) -> tuple[int, int]:
    """Nominal span of the file from its name: (start, end) GPST ns with a day of margin."""
    name = rel.split("/")[-1]
    if "_" in name:  # RINEX 3 long name: ..._YYYYDDDHHMM_...
        ydoy = name.split("_")[2]
        year, doy = int(ydoy[:4]), int(ydoy[4:7])
    else:  # short name ssssDDDf.yyt
        year, doy = 2000 + int(name.split(".")[1][:2]), int(name[4:7])
    start = gt.from_calendar(year, 1, 1) + (doy - 1) * 86_400 * gt.NS
    return int(start) - 86_400 * gt.NS, int(start) + 2 * 86_400 * gt.NS


@pytest.mark.parametrize("rel,min_counts,min_glo", NAV_FILES, ids=[f[0].split("/")[-1] for f in NAV_FILES])
def test_every_nav_file_loads(rel, min_counts, min_glo):
    nav = read_nav(shared_path(rel))
    k = nav.kepler
    systems, counts = np.unique(k.sat.astype("<U1"), return_counts=True)
    got = dict(zip(systems.tolist(), counts.tolist()))
    for sys_, n in min_counts.items():
        assert got.get(sys_, 0) >= n, (rel, got)
    assert len(nav.glonass) >= min_glo
    # times lie within the file's day (+-1 day for ephemerides issued the evening before); the
    # HKSC files really hold stale records of one satellite each (E18 from February, G23 from
    # March 2020), so allow up to 2 satellites with records outside -- a time-scale bug would
    # move all of them.
    lo, hi = _file_date_ns(rel)
    for sats, arr in ((k.sat, k.toe_ns), (k.sat, k.toc_ns), (nav.glonass.sat, nav.glonass.toe_ns)):
        outside = (arr < lo) | (arr > hi)
        assert np.unique(sats[outside]).size <= 2, (rel, np.unique(sats[outside]))
    # transmission time within a few hours of toe (GPS sends 2 h ahead; RINEX writers differ)
    assert np.all(np.abs(k.ttr_ns - k.toe_ns) < 8 * 3600 * gt.NS), rel
    # orbit sanity per system: sqrt(A) of MEO/IGSO/GEO orbits, small eccentricity
    assert np.all((k.sqrt_a > 5000) & (k.sqrt_a < 6600)), rel
    assert np.all((k.e >= 0) & (k.e < 0.2)), rel  # E14/E18 (eccentric orbit slots) have e = 0.167
    if len(nav.glonass):
        r = np.linalg.norm(nav.glonass.pos_m, axis=1)
        assert np.all((r > 25.3e6) & (r < 25.7e6)), rel  # GLONASS orbit radius ~25,510 km
        assert np.all((nav.glonass.channel >= -7) & (nav.glonass.channel <= 6))


NAV_GLOBS = ("spp/*/*_[A-Z]N.rnx*", "rtk/*/*.[0-9][0-9][Pn]", "kinematic/*/*.[0-9][0-9][ngl]", "nav/*.rnx*")


def test_no_navigation_file_left_out():
    """Every navigation file in shared/data (by name pattern) is in NAV_FILES, so each is checked."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data folder {SHARED_DATA} is absent")
    found = {str(p.relative_to(SHARED_DATA)) for g in NAV_GLOBS for p in SHARED_DATA.glob(g)}
    assert len(found) >= 21
    assert found <= {f[0] for f in NAV_FILES}, found - {f[0] for f in NAV_FILES}


def test_beidou_records_and_time_scales():
    """BeiDou toc in the file is BDT: our GPST toc is 14 s later and toe (BDT sow) agrees with it."""
    nav = read_nav(shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz"))
    k = nav.kepler
    c = k.sat.astype("<U1") == "C"
    assert c.sum() > 300
    # BDS toe == toc for D1/D2 and lies at whole BDT hours (+14 s in GPST)
    assert np.all(np.mod(k.toe_ns[c] - 14 * gt.NS, 3600 * gt.NS) == 0)
    # GEO C05 broadcasts D2, the MEOs D1
    assert set(k.source[k.sat == "C05"].tolist()) == {2}
    assert set(k.source[k.sat == "C19"].tolist()) == {1}
    # Galileo: both F/NAV (bit 1) and I/NAV (bits 0/2) records present
    e = k.sat.astype("<U1") == "E"
    assert ((k.source[e] & 2) != 0).sum() > 300 and ((k.source[e] & 5) != 0).sum() > 300
    assert nav.leap_seconds == 18
    np.testing.assert_allclose(nav.iono["GPSA"], [4.6566e-09, 1.4901e-08, -5.9605e-08, -1.1921e-07])
    np.testing.assert_allclose(nav.iono["GAL"], [28.25, 7.8125e-03, 1.0071e-02])
    assert any("S records skipped" in s for s in nav.skipped)


def test_rinex4_brd400_beidou_message_types():
    nav = read_nav(shared_path("nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz"))
    k = nav.kepler
    c = k.sat.astype("<U1") == "C"
    src = k.source[c]
    # the file holds D1 893, D2 168, CNV1 634, CNV2 926 records (grep '> EPH C' | sort | uniq -c)
    assert (src == 1).sum() == 893 and (src == 2).sum() == 168
    assert (src == 4).sum() == 634 and (src == 8).sum() == 926
    # the GEOs up to C60 are there (D2)
    assert {"C01", "C59", "C60"} <= set(k.sat[c].tolist())
    # B-CNAV1: TGD_B1Cp and ISC_B1Cd filled, a few ns
    cnv1 = np.flatnonzero(c)[src == 4]
    assert np.all(np.abs(k.tgd1_s[cnv1]) < 1e-7) and np.isfinite(k.isc_s[cnv1]).all()
    # CNAV GPS: toe = toc, A-dot present
    g_cnav = (k.sat.astype("<U1") == "G") & (k.source == 4)
    assert g_cnav.sum() == 334
    assert np.all(k.toe_ns[g_cnav] == k.toc_ns[g_cnav])
    assert np.any(k.a_dot[g_cnav] != 0)
    # ION records parsed: Klobuchar GPS/BDS/QZSS, NeQuick Galileo; SBAS/STO/EOP counted as skipped
    for key in ("GPSA", "GPSB", "BDSA", "BDSB", "GAL", "QZSA"):
        assert key in nav.iono
    np.testing.assert_allclose(nav.iono["GAL"], [160.75, 0.3710937500, 9.063720703125e-03])
    assert any("9072 EPH S SBAS" in s for s in nav.skipped)
    assert len(nav.glonass) == 1240


def test_kms3_rinex4_loads_with_beidou():
    nav = read_nav(shared_path("spp/kms3-2022-159/KMS300DNK_R_20221591000_01H_MN.rnx.gz"))
    assert "C" in nav.systems and "BDSA" in nav.iono


def test_glonass_times_are_utc_converted():
    """GLONASS epochs are UTC: toe = UTC + 18 s leap seconds (2020); the frame time is within the
    record's 30-min interval around tb or up to an hour before (uploads are repeated)."""
    nav = read_nav(shared_path("kinematic/urbannav-hk-2020-155/hksc155c.20g"))
    g = nav.glonass
    assert np.all(np.mod(g.toe_ns - 18 * gt.NS, 900 * gt.NS) == 0)  # tb on a 15-min UTC grid
    d = (g.toe_ns - g.tof_ns) / gt.NS
    assert np.all((d >= -900) & (d <= 3600)), d
    assert np.median(d) > 0  # usually the frame precedes tb


def test_rinex2_gps_and_merge_dedupes():
    a = shared_path("rtk/gsi-2005-092/07590920.05n")
    b = shared_path("rtk/gsi-2005-092/30400920.05n")
    na, nb = read_nav(a), read_nav(b)
    merged = read_navs([a, b])
    assert len(merged.kepler) < len(na.kepler) + len(nb.kepler)  # both stations saw the same uploads
    key = np.rec.fromarrays([merged.kepler.sat, merged.kepler.toe_ns, merged.kepler.iode])
    assert np.unique(key).size == len(merged.kepler)
    assert merged.leap_seconds == 13
    # 2005-04-02 (Saturday): RINEX 2 two-digit year, GPS week > 1023 resolved from the epoch;
    # toe at the next midnight belongs to week 1317
    assert set(gt.to_week_sow(merged.kepler.toe_ns)[0].tolist()) <= {1316, 1317}


@pytest.mark.parametrize("rel", ["spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_GN.rnx",
                                 "rtk/gsi-2005-092/07590920.05n"])
def test_agrees_with_georinex(rel):
    """Independent oracle: georinex values for GPS records of a RINEX 3 and a RINEX 2 file.

    (georinex 1.16 returns all-NaN for BeiDou files here, so BeiDou is checked against RTKLIB
    through the orbits in test_broadcast_orbits.py.)"""
    import georinex
    path = shared_path(rel)
    ours = read_nav(path).kepler
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        ref = georinex.load(path).to_dataframe().dropna(how="all").reset_index()
    ref = ref.dropna(subset=["sqrtA"])
    assert len(ref) == len(ours)
    t_ref = gt.from_datetime64(ref["time"].to_numpy())
    sv_ref = ref["sv"].to_numpy().astype("<U3")
    order = np.lexsort((t_ref, sv_ref))
    mine_order = np.lexsort((ours.toc_ns, ours.sat))
    np.testing.assert_array_equal(ours.sat[mine_order], sv_ref[order])
    np.testing.assert_array_equal(ours.toc_ns[mine_order], t_ref[order])
    for mine, theirs in [("sqrt_a", "sqrtA"), ("e", "Eccentricity"), ("m0", "M0"), ("omega0", "Omega0"),
                         ("omega", "omega"), ("i0", "Io"), ("crs", "Crs"), ("cuc", "Cuc"), ("cis", "Cis"),
                         ("af0", "SVclockBias"), ("af1", "SVclockDrift"), ("tgd1_s", "TGD"), ("idot", "IDOT"),
                         ("iode", "IODE"), ("health", "health")]:
        np.testing.assert_array_equal(ours.cols[mine][mine_order], ref[theirs].to_numpy()[order], mine)
    # toe: georinex gives GPS week + Toe seconds of week
    toe_ref = gt.from_week_sow(ref["GPSWeek"].to_numpy()[order].astype(np.int64)
                               + (1024 if rel.endswith(".05n") and ref["GPSWeek"].max() < 1024 else 0),
                               ref["Toe"].to_numpy()[order])
    np.testing.assert_array_equal(ours.toe_ns[mine_order], toe_ref)


# --- bad input --------------------------------------------------------------------------------
def _esbc_bytes() -> bytes:
    return gzip.decompress(shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz").read_bytes())


def test_empty_file_raises(tmp_path):
    p = tmp_path / "empty.rnx"
    p.write_bytes(b"")
    with pytest.raises(NavError, match="empty"):
        read_nav(p)


def test_not_a_nav_file_raises():
    obs = SHARED_DATA / "spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_30S_MO_3.04_croped.rnx"
    if not obs.exists():
        pytest.skip("data absent")
    with pytest.raises(NavError, match="not a navigation file"):
        read_nav(obs)


def test_truncated_file_raises_with_line():
    data = _esbc_bytes()
    lines = data.split(b"\n")
    # cut inside the last GPS record: keep its first 3 lines only
    last_g = max(i for i, ln in enumerate(lines) if ln.startswith(b"G"))
    cut = b"\n".join(lines[:last_g + 3]) + b"\n"
    with pytest.raises(NavError, match=r"line \d+: G record has 3 lines"):
        read_nav(cut)


def test_corrupt_number_raises_with_line():
    data = bytearray(_esbc_bytes())
    i = data.index(b"\nG01 ") + 1
    j = data.index(b"\n", i) + 1  # second line of the G01 record
    data[j + 5:j + 10] = b"X.Y.Z"
    line_no = data[:j].count(b"\n") + 1
    with pytest.raises(NavError, match=rf"line {line_no}: bad number"):
        read_nav(bytes(data))


def test_corrupt_epoch_raises_with_line():
    data = bytearray(_esbc_bytes())
    i = data.index(b"\nG01 ") + 1
    data[i + 9:i + 11] = b"ab"  # month
    line_no = data[:i].count(b"\n") + 1
    with pytest.raises(NavError, match=rf"line {line_no}: bad epoch"):
        read_nav(bytes(data))


def test_missing_end_of_header_raises():
    data = _esbc_bytes().replace(b"END OF HEADER", b"END OF HEADRR")
    with pytest.raises(NavError, match="END OF HEADER"):
        read_nav(data)


def test_truncated_gzip_raises():
    raw = shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz").read_bytes()
    with pytest.raises(NavError, match="truncated"):
        read_nav(raw[: len(raw) // 2])


def test_missing_file_raises(tmp_path):
    with pytest.raises(NavError, match="cannot read"):
        read_nav(tmp_path / "nope.rnx")


def test_corrupt_record_start_raises_with_line():
    """A mangled satellite id would make the record vanish into its predecessor: it must raise."""
    data = bytearray(_esbc_bytes())
    i = data.index(b"\nG05 ") + 1
    data[i:i + 3] = b"X05"
    line_no = data[:i].count(b"\n") + 1
    with pytest.raises(NavError, match=rf"line {line_no}: unexpected line"):
        read_nav(bytes(data))


def test_beidou_angles_in_semicircles_are_detected_and_scaled():
    """OPEC's BeiDou file stores the angles in semicircles (i0 = 0.31 for 55 deg orbits): the reader
    always says so, and scales them to radians on request; a correct file (ESBC) is left alone."""
    path = shared_path("spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_CN.rnx")
    literal = read_nav(path)
    assert any("semicircles" in s and "NOT repaired" in s for s in literal.skipped)
    nav = read_nav(path, repair_semicircles=True)
    assert any("semicircles" in s and "scaled" in s for s in nav.skipped)
    np.testing.assert_allclose(nav.kepler.i0, literal.kepler.i0 * np.pi)
    k = nav.kepler
    meo = ~np.isin(k.sat, ["C01", "C02", "C03", "C04", "C05"])
    np.testing.assert_allclose(np.median(k.i0[meo]), np.radians(55.0), atol=np.radians(2.0))
    esbc = read_nav(shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz"))
    assert not any("semicircles" in s for s in esbc.skipped)
