"""RINEX observation reading (plain, Hatanaka, gz/Z) and writing, on the real files in ../shared/data.

Oracles: georinex (an independent Python RINEX reader) for values, satellites and epochs;
the `hatanaka` package (Hatanaka's own crx2rnx/rnx2crx C code) for the Compact RINEX decoder.
"""
from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest

from rtk_engine import gnss_time
from rtk_engine.formats.compressed import open_bytes
from rtk_engine.formats.rinex_obs import read_obs, read_obs_clock, rinex2_code_map
from rtk_engine.formats.rinex_obs_writer import obs_text, write_obs
from tests.conftest import shared_path

OBS_FILES = [
    "spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz",
    "spp/nya1-2024-124/NYA100NOR_S_20241240000_01D_30S_MO.crx.gz",
    "spp/kms3-2022-159/KMS300DNK_R_20221591000_01H_30S_MO.crx",
    "spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_30S_MO_3.04_croped.rnx",
    "rtk/fujisawa-2021-078/SEPT078M1.21O",
    "rtk/fujisawa-2021-078/3034078M1.21O",
    "rtk/fujisawa-2021-078/SEPT078M.21O",
    "rtk/fujisawa-2021-265/SEPT265G.21O",
    "rtk/fujisawa-2021-265/3034265G.21O",
    "rtk/gsi-2005-092/07590920.05o",
    "rtk/gsi-2005-092/30400920.05o",
    "kinematic/urbannav-hk-2020-155/2020_06_03_TST_03.obs",
]
KMS3 = "spp/kms3-2022-159/KMS300DNK_R_20221591000_01H_30S_MO.crx"
GSI = "rtk/gsi-2005-092/07590920.05o"
URBAN = "kinematic/urbannav-hk-2020-155/2020_06_03_TST_03.obs"
ARRAYS = ("code_m", "phase_cyc", "doppler_hz", "snr_dbhz", "lli")


def assert_blocks_equal(a, b, what=""):
    """Exact equality of two blocks (NaN == NaN)."""
    np.testing.assert_array_equal(a.time_ns, b.time_ns, err_msg=f"{what} epochs")
    np.testing.assert_array_equal(a.sats, b.sats, err_msg=f"{what} satellites")
    assert a.signals == b.signals, what
    for k in ARRAYS:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=f"{what} {k}")


def _header_first_obs_ns(path) -> int:
    """TIME OF FIRST OBS read straight from the header text (GPS time files)."""
    text = open_bytes(path).decode("ascii", "replace")
    for line in text.splitlines():
        if "TIME OF FIRST OBS" in line[60:]:
            f = line[:43].split()
            return int(gnss_time.from_calendar(int(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4]), 0)) \
                + int(round(float(f[5]) * 1e9))
    raise AssertionError("no TIME OF FIRST OBS")


@pytest.mark.parametrize("rel", OBS_FILES)
def test_every_observation_file_loads(rel):
    path = shared_path(rel)
    blk = read_obs(path)
    assert blk.n_epochs > 0 and blk.n_sats > 0
    assert blk.header.skipped == [], blk.header.skipped  # the real files are clean: nothing skipped
    assert np.all(np.diff(blk.time_ns) > 0)
    assert blk.time_ns[0] == _header_first_obs_ns(path)
    # pseudoranges are physical: 19,000 km (MEO at zenith) .. 42,000 km (GEO/IGSO at the horizon);
    # SBAS is left out (KMS3 logs an SBAS range of 8,948 km: a receiver-side ambiguity, as crx2rnx shows)
    core = np.isin(blk.systems, list("GRECJ"))
    code = blk.code_m[:, core][np.isfinite(blk.code_m[:, core])]
    assert code.size and 1.5e7 < code.min() and code.max() < 4.5e7
    assert np.isfinite(blk.code_m).any(axis=(0, 2)).all()
    if np.isfinite(blk.header.interval_s):  # epochs on the announced interval
        step = np.diff(blk.time_ns)
        assert np.median(step) == pytest.approx(blk.header.interval_s * 1e9, abs=1e6)


def test_esbc_day_content():
    blk = read_obs(shared_path(OBS_FILES[0]))
    assert blk.n_epochs == 2880  # full day at 30 s
    bds = blk.sats[blk.systems == "C"]
    assert bds.size == 29 and bds[0] == "C05" and bds[-1] == "C37"  # INVENTORY.md: 29 satellites C05-C37
    assert blk.signals["C"] == ("2I", "6I", "7I")
    np.testing.assert_allclose(blk.header.approx_pos_ecef_m, [3582105.2910, 532589.7313, 5232754.8054])
    assert blk.header.antenna_type.startswith("ASH701945E_M") and blk.header.antenna_delta_hen_m[0] == 0.216
    assert len(blk.header.glonass_channels) > 20


def test_rinex_302_beidou_b1i_is_band_2():
    blk = read_obs(shared_path(URBAN), systems="C")
    assert blk.signals == {"C": ("2I", "7I")}  # file says C1I/L1I/D1I/S1I (RINEX 3.02)
    f = blk.frequency_hz()[0, 0]
    assert f == 1561.098e6


def test_sub_second_epochs_exact():
    blk = read_obs(shared_path(URBAN), systems="G")
    # first epoch line: "> 2020  6  3  3  2 27.0040000" (GPST)
    assert blk.time_ns[0] == gnss_time.from_calendar(2020, 6, 3, 3, 2, 27) + 4_000_000
    gsi = read_obs(shared_path(GSI))
    # " 05  4  2  0 21 30.0020000": receiver clock steering epochs keep their 2 ms
    assert gnss_time.from_calendar(2005, 4, 2, 0, 21, 30) + 2_000_000 in gsi.time_ns


# ------------------------------------------------------------------------------ georinex
def _compare_with_georinex(blk, ds, version: float, *, lli: bool) -> int:
    """Same satellites, epochs and values as a georinex Dataset; returns the number of values checked."""
    svs = ds.sv.values.astype("<U3")
    np.testing.assert_array_equal(np.sort(svs), blk.sats)
    tg = gnss_time.from_datetime64(ds.time.values)
    assert tg.size == blk.n_epochs
    # georinex turns "30.0020000" into a datetime 1 ms off (float seconds truncated): compare
    # to 1 ms; our epochs are checked exactly against the epoch-line text elsewhere.
    assert np.max(np.abs(tg - blk.time_ns)) <= 1_000_000
    checked = 0
    r2_types = [v for v in ds.data_vars if len(v) == 2]
    for var in ds.data_vars:
        if len(var) not in (2, 3) or not var[0] in "CLDSP":
            continue
        for s in sorted(set(svs.astype("<U1"))):
            cols = np.flatnonzero(svs.astype("<U1") == s)
            theirs = ds[var].values[:, cols].copy()
            theirs[theirs == 0] = np.nan  # RINEX: a missing observation may be written as 0.0 (we read NaN)
            if version < 3:
                code3 = rinex2_code_map(s, r2_types)[var]
            else:
                code3 = var if not (s == "C" and version < 3.03 and var[1] == "1") else var[0] + "2" + var[2]
            if code3[1:] not in blk.signals.get(s, ()):
                assert not np.isfinite(theirs).any(), f"{s} {var} missing"
                continue
            slot = blk.slot(s, code3[1:])
            arr = {"C": blk.code_m, "L": blk.phase_cyc, "D": blk.doppler_hz, "S": blk.snr_dbhz}[code3[0]]
            si = np.searchsorted(blk.sats, svs[cols])
            ours = arr[:, si, slot].astype(np.float64)
            if code3[0] == "S":  # ObsBlock keeps C/N0 as float32: 1e-5 dB-Hz is far below the 1e-3 text resolution
                np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5, err_msg=f"{s} {var}")
            else:  # both parse the same decimal text: bit-identical
                np.testing.assert_array_equal(ours, theirs, err_msg=f"{s} {var}")
            checked += int(np.isfinite(theirs).sum())
            if lli and code3[0] == "L" and var + "lli" in ds:
                np.testing.assert_array_equal(blk.lli[:, si, slot], np.nan_to_num(ds[var + "lli"].values[:, cols]),
                                              err_msg=f"{s} {var} LLI")
    return checked


def _georinex():
    import georinex as gr
    warnings.filterwarnings("ignore", category=FutureWarning)
    return gr


@pytest.mark.parametrize("rel,use,indicators", [
    (GSI, None, True),  # RINEX 2.10, L1 C1 L2 P2, receiver-clock ms epochs, event flags 4
    ("rtk/fujisawa-2021-078/3034078M1.21O", None, True),  # RINEX 3.04 Trimble G/E/J with L2C/L5/Q
    (KMS3, None, False),  # Hatanaka CRX 3 of RINEX 4.00, BDS-3 B1C/B2a/B2b and GLONASS
    # georinex needs 10-25 s for each of these two (slow marker; still in the default run)
    pytest.param("spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_30S_MO_3.04_croped.rnx", "C", False,
                 marks=pytest.mark.slow),  # BeiDou 2X/7X/6X
    pytest.param(URBAN, "C", False, marks=pytest.mark.slow),  # RINEX 3.02 BeiDou C1I (-> 2I), Doppler, SNR
])
def test_values_match_georinex(rel, use, indicators):
    gr = _georinex()
    path = shared_path(rel)
    blk = read_obs(path, systems=use)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = gr.load(path, use=set(use) if use else None, useindicators=indicators)
    n = _compare_with_georinex(blk, ds, float(ds.attrs["version"]), lli=indicators)
    assert n > 1000


# ------------------------------------------------------------------------------ Hatanaka
@pytest.mark.parametrize("rel", [KMS3, pytest.param(OBS_FILES[1], marks=pytest.mark.slow),
                                 pytest.param(OBS_FILES[0], marks=pytest.mark.slow)])  # full days: slow
def test_hatanaka_decoder_matches_crx2rnx(rel):
    """Our in-process decoder == Hatanaka's crx2rnx followed by our plain reader (incl. clock)."""
    import hatanaka
    path = shared_path(rel)
    ours, clk = read_obs_clock(path)
    ref, clk_ref = read_obs_clock(hatanaka.decompress(open_bytes(path)))
    assert_blocks_equal(ours, ref, rel)
    np.testing.assert_array_equal(clk, clk_ref)


def _synthetic_rinex3(src: bytes) -> bytes:
    """First 9 epochs of a real file with a satellite leaving and returning, a blank value in
    the middle of an arc, an event (flag 4 + comment) and a power-failure epoch (flag 1)."""
    lines = src.split(b"\n")
    end = next(i for i, l in enumerate(lines) if b"END OF HEADER" in l)
    body, eps, i = lines[end + 1:], [], 0
    while len(eps) < 9:
        n = int(body[i][32:35])
        eps.append([body[i]] + body[i + 1:i + 1 + n])
        i += 1 + n
    e = [x for x in eps[2] if not x.startswith(b"E03")]
    e[0] = e[0][:32] + b"%3d" % (len(e) - 1) + e[0][35:]
    eps[2] = e
    eps[3][1] = eps[3][1][:3] + b" " * 16 + eps[3][1][19:]
    out = []
    for k, e in enumerate(eps):
        if k == 5:
            out += [b">                              4  1", b"NEW COMMENT INSIDE".ljust(60) + b"COMMENT"]
        if k == 6:
            e[0] = e[0][:31] + b"1" + e[0][32:]
        out += e
    return b"\n".join(lines[:end + 1] + out) + b"\n"


@pytest.mark.parametrize("reinit", [None, 3])
def test_hatanaka_crx3_gaps_events_flags(reinit):
    import hatanaka
    rnx = _synthetic_rinex3(shared_path("rtk/fujisawa-2021-078/SEPT078M1.21O").read_bytes())
    crx = hatanaka.compress(rnx, compression="none", reinit_every_nth=reinit)
    assert crx.startswith(b"3.0")
    plain, ours = read_obs(rnx), read_obs(crx)
    assert_blocks_equal(ours, plain, "crx3 synthetic")
    assert plain.n_epochs == 9 and np.isnan(plain.code_m[3, plain.sats.tolist().index("E01"), 0])
    assert np.isnan(plain.code_m[2, plain.sats.tolist().index("E03")]).all()
    assert any("NEW COMMENT INSIDE" in c for c in ours.header.comments)
    ph = np.isfinite(ours.phase_cyc[6])
    assert (ours.lli[6][ph] & 1).all()  # flag 1 -> cycle slip possible on every phase


def test_hatanaka_crx1_rinex2():
    import hatanaka
    rnx = shared_path(GSI).read_bytes()
    crx = hatanaka.compress(rnx, compression="none")
    assert crx.startswith(b"1.0")
    assert_blocks_equal(read_obs(crx), read_obs(rnx), "crx1")


def test_compressed_variants_by_magic(tmp_path):
    import ncompress

    raw = shared_path(GSI).read_bytes()
    ref = read_obs(raw)
    (tmp_path / "a.05o.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "a.05o.Z").write_bytes(ncompress.compress(raw))
    (tmp_path / "gzip_named.Z").write_bytes(gzip.compress(raw))  # detected by magic, not suffix
    for name in ("a.05o.gz", "a.05o.Z", "gzip_named.Z"):
        assert_blocks_equal(read_obs(tmp_path / name), ref, name)


def test_time_system_bdt_is_converted(tmp_path):
    blk = read_obs(shared_path(KMS3))
    text = obs_text(blk).replace(b"     GPS         TIME OF FIRST OBS", b"     BDT         TIME OF FIRST OBS")
    bdt = read_obs(text)
    assert bdt.header.time_system == "BDT"
    np.testing.assert_array_equal(bdt.time_ns - blk.time_ns, 14 * gnss_time.NS)  # GPST = BDT + 14 s


# ------------------------------------------------------------------------------- writer
@pytest.mark.parametrize("rel", [KMS3, URBAN, GSI])
def test_writer_round_trip(rel, tmp_path):
    blk = read_obs(shared_path(rel))
    out = tmp_path / "w.rnx"
    write_obs(out, blk)
    back = read_obs(out)
    assert_blocks_equal(back, blk, rel)  # values were read from 3-decimal text: exact
    assert back.header.glonass_channels == blk.header.glonass_channels
    assert back.header.marker_name == blk.header.marker_name
    np.testing.assert_array_equal(back.header.approx_pos_ecef_m, blk.header.approx_pos_ecef_m)


def test_writer_output_read_by_georinex(tmp_path):
    gr = _georinex()
    blk = read_obs(shared_path(KMS3))
    out = tmp_path / "kms3.rnx"
    write_obs(out, blk, version="3.05")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = gr.load(out)
    assert _compare_with_georinex(blk, ds, float(ds.attrs["version"]), lli=False) > 1000


@pytest.mark.rtklib
def test_rinex2_multiline_records_via_convbin(tmp_path):
    """RTKLIB's convbin reads our RINEX 3 output and rewrites it as RINEX 2.11 (34 satellites on
    3 epoch lines, 16 types on 4 lines per satellite); reading that back gives the same numbers,
    each RINEX 2 column landing on a slot of the same band whose values are identical."""
    import subprocess

    from tests.conftest import require_tool

    convbin = require_tool("convbin")
    blk = read_obs(shared_path(KMS3))
    src, out = tmp_path / "k.rnx", tmp_path / "k2.obs"
    write_obs(src, blk)
    subprocess.run([convbin, "-r", "rinex", "-v", "2.11", "-od", "-os", "-o", str(out), str(src)],
                   check=True, capture_output=True, timeout=120)
    r2 = read_obs(out)
    assert r2.header.rinex_version == 2.11 and r2.header.skipped == []
    np.testing.assert_array_equal(r2.time_ns, blk.time_ns)
    # RINEX 2.11 has no BeiDou / QZSS
    np.testing.assert_array_equal(r2.sats, blk.sats[np.isin(blk.systems, list("GRES"))])
    checked = 0
    for s, codes in r2.signals.items():
        rows = r2.systems == s
        idx = np.searchsorted(blk.sats, r2.sats[rows])
        for f, code in enumerate(codes):
            for name in ("code_m", "phase_cyc"):
                for k, si in enumerate(idx):  # convbin picks the tracking mode per satellite
                    ours = getattr(r2, name)[:, rows, f][:, k]
                    if not np.isfinite(ours).any():
                        continue
                    same = [c for g, c in enumerate(blk.signals[s])
                            if c[0] == code[0] and np.array_equal(getattr(blk, name)[:, si, g], ours, equal_nan=True)]
                    assert same, f"{blk.sats[si]} {name} {code}: no slot of band {code[0]} has these values"
                    checked += int(np.isfinite(ours).sum())
    assert checked > 2000
    # the same RINEX 2 file as CRX 1.0 (34 satellites on one epoch line, fields blank then back)
    import hatanaka
    assert_blocks_equal(read_obs(hatanaka.compress(out.read_bytes(), compression="none")), r2, "crx1 of convbin")


def test_scale_factor_header_divides_values():
    raw = shared_path("rtk/fujisawa-2021-078/SEPT078M1.21O").read_bytes()
    ref = read_obs(raw)
    # declare GPS L1C scaled by 10: the same text must then read as a tenth
    line = f"{'G   10  1 L1C':<60}{'SYS / SCALE FACTOR':<20}".encode()
    scaled = read_obs(raw.replace(b"END OF HEADER", b"END OF HEADER", 1).replace(
        b"                                                            END OF HEADER",
        line + b"\n" + b" " * 60 + b"END OF HEADER", 1))
    g = ref.systems == "G"
    s = ref.slot("G", "1C")
    np.testing.assert_allclose(scaled.phase_cyc[:, g, s], ref.phase_cyc[:, g, s] / 10, rtol=1e-15)
    np.testing.assert_array_equal(scaled.code_m, ref.code_m)  # other types untouched
