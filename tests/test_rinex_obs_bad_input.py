"""Corrupted copies of real RINEX files: a clear RinexError, or a counted skip that keeps every good epoch.

The reference for "kept" data is the reader on the intact file (itself checked against georinex
and crx2rnx in test_rinex_obs.py); a skip must be listed in ``header.skipped``.
"""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from rtk_engine.formats.rinex_obs import RinexError, read_obs
from tests.conftest import shared_path

R3 = "rtk/fujisawa-2021-078/SEPT078M1.21O"  # RINEX 3.04, 60 epochs, 23-24 satellites
R2 = "rtk/gsi-2005-092/07590920.05o"  # RINEX 2.10, 120 epochs
CRX = "spp/kms3-2022-159/KMS300DNK_R_20221591000_01H_30S_MO.crx"  # CRX 3.0, 19 epochs
ARRAYS = ("code_m", "phase_cyc", "doppler_hz", "snr_dbhz", "lli")


def _same_epochs(part, full, epochs):
    """``part`` holds exactly the epochs ``epochs`` of ``full``, with identical values."""
    ref = full.select_epochs(np.asarray(epochs))
    np.testing.assert_array_equal(part.time_ns, ref.time_ns)
    idx = np.searchsorted(full.sats, part.sats)
    assert np.array_equal(full.sats[idx], part.sats)
    for k in ARRAYS:
        a, b = getattr(part, k), getattr(ref, k)[:, idx]
        f = min(a.shape[2], b.shape[2])
        np.testing.assert_array_equal(a[:, :, :f], b[:, :, :f], err_msg=k)


def _epoch_line_indices(lines, version3=True):
    if version3:
        return [i for i, l in enumerate(lines) if l.startswith(b">")]
    return [i for i, l in enumerate(lines) if len(l) > 29 and l[26:29] == b"  0" and l[18:19] == b"."]


# ------------------------------------------------------------------------------ truncation
def test_truncated_rinex3_keeps_complete_epochs(tmp_path):
    raw = shared_path(R3).read_bytes()
    full = read_obs(raw)
    lines = raw.split(b"\n")
    last = _epoch_line_indices(lines)[-1]
    cut = b"\n".join(lines[:last + 5]) + b"\n" + lines[last + 5][:40]  # 4 records + half a line of 23
    p = tmp_path / "cut.rnx"
    p.write_bytes(cut)
    part = read_obs(p)
    _same_epochs(part, full, np.arange(full.n_epochs - 1))
    assert any("truncated" in s for s in part.header.skipped)


def test_truncated_rinex2_keeps_complete_epochs(tmp_path):
    raw = shared_path(R2).read_bytes()
    full = read_obs(raw)
    lines = raw.split(b"\n")
    last = _epoch_line_indices(lines, version3=False)[-1]
    cut = b"\n".join(lines[:last + 4]) + b"\n" + lines[last + 4][:20]  # 3 of 8 records and a bit
    part = read_obs(cut)
    _same_epochs(part, full, np.arange(full.n_epochs - 1))
    assert any("truncated" in s for s in part.header.skipped)


def test_truncated_hatanaka_mid_line(tmp_path):
    raw = shared_path(CRX).read_bytes()
    full = read_obs(raw)
    # cut in the middle of a data line of the last epoch: the cut token would decode to a wrong number
    cut = raw[:len(raw) - 2000]
    assert not cut.endswith(b"\n")
    part = read_obs(cut)
    assert part.n_epochs == full.n_epochs - 1
    _same_epochs(part, full, np.arange(full.n_epochs - 1))
    assert part.header.skipped


def test_truncated_gzip_is_a_clear_error(tmp_path):
    data = gzip.compress(shared_path(R2).read_bytes())
    p = tmp_path / "x.05o.gz"
    p.write_bytes(data[:len(data) // 2])
    with pytest.raises(RinexError, match="gzip"):
        read_obs(p)


# ---------------------------------------------------------------------------- corrupt epoch
def test_corrupt_epoch_line_rinex3_skips_that_epoch():
    raw = shared_path(R3).read_bytes()
    full = read_obs(raw)
    lines = raw.split(b"\n")
    ep = _epoch_line_indices(lines)
    k = 10
    lines[ep[k]] = b"> 2021 0x 19 12 00 10.0000000  0 23"  # corrupt month
    part = read_obs(b"\n".join(lines))
    keep = np.delete(np.arange(full.n_epochs), k)
    _same_epochs(part, full, keep)
    assert any(f"line {ep[k] + 1}" in s for s in part.header.skipped)


def test_wrong_satellite_count_rinex3_skips_that_epoch():
    raw = shared_path(R3).read_bytes()
    full = read_obs(raw)
    lines = raw.split(b"\n")
    ep = _epoch_line_indices(lines)
    lines[ep[5]] = lines[ep[5]][:32] + b" 40" + lines[ep[5]][35:]  # announces more records than present
    part = read_obs(b"\n".join(lines))
    _same_epochs(part, full, np.delete(np.arange(full.n_epochs), 5))
    assert any("fewer records" in s for s in part.header.skipped)


def test_corrupt_epoch_line_rinex2_resynchronises():
    raw = shared_path(R2).read_bytes()
    full = read_obs(raw)
    lines = raw.split(b"\n")
    ep = _epoch_line_indices(lines, version3=False)
    lines[ep[7]] = b" 05  4  2  0  3 3x.0000000  0  8G 3G 7G 8G11G19G20G24G28"
    part = read_obs(b"\n".join(lines))
    _same_epochs(part, full, np.delete(np.arange(full.n_epochs), 7))
    assert any(f"line {ep[7] + 1}: corrupt epoch line" in s for s in part.header.skipped)


def test_corrupt_value_is_absent_with_note():
    raw = shared_path(R3).read_bytes()
    full = read_obs(raw)
    lines = raw.split(b"\n")
    ep = _epoch_line_indices(lines)
    r = ep[3] + 1  # first record of epoch 3
    sat = lines[r][:3].decode()
    lines[r] = lines[r][:3] + b"  2753x612.397" + lines[r][17:]
    part = read_obs(b"\n".join(lines))
    s = list(part.sats).index(sat)
    assert np.isnan(part.code_m[3, s, 0])
    part.code_m[3, s, 0] = full.code_m[3, s, 0]
    _same_epochs(part, full, np.arange(full.n_epochs))
    assert any(f"line {r + 1}: unreadable" in x for x in part.header.skipped)


# -------------------------------------------------------------------------- unknown codes
def test_unknown_observation_code_is_kept_under_its_code():
    raw = shared_path(R3).read_bytes()
    full = read_obs(raw)
    # GPS column 1 "C1C" renamed to a code no system defines: "C9Z"; column 3 "S1C" to type "Q1C"
    text = raw.replace(b"G   14 C1C L1C S1C", b"G   14 C9Z L1C Q1C", 1)
    part = read_obs(text)
    assert part.signals["G"][:2] == ("9Z", "1C")  # slots in order of first appearance
    g = part.systems == "G"
    np.testing.assert_array_equal(part.code_m[:, g, part.slot("G", "9Z")], full.code_m[:, g, full.slot("G", "1C")])
    assert np.isnan(part.code_m[:, g, part.slot("G", "1C")]).all()  # nothing misassigned to 1C
    np.testing.assert_array_equal(part.phase_cyc[:, g, 1], full.phase_cyc[:, g, 0])
    assert np.isnan(part.snr_dbhz[:, g, 1]).all()
    assert any("'Q1C' not stored" in s for s in part.header.skipped)
    assert np.isnan(part.frequency_hz()[g][:, part.slot("G", "9Z")]).all()  # unknown band: no frequency


# --------------------------------------------------------------------------- not RINEX at all
@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"hello world\nthis is not a RINEX file\n", "not a RINEX"),
    (bytes(range(256)) * 10, "not a RINEX"),
])
def test_not_rinex_is_a_clear_error(tmp_path, content, match):
    p = tmp_path / "bad.rnx"
    p.write_bytes(content)
    with pytest.raises(RinexError, match=match):
        read_obs(p)


def test_navigation_file_is_rejected():
    with pytest.raises(RinexError, match="not an observation file"):
        read_obs(shared_path("rtk/gsi-2005-092/07590920.05n"))


def test_header_only_is_a_clear_error():
    raw = shared_path(R3).read_bytes()
    head = raw[:raw.index(b"END OF HEADER")]  # no END OF HEADER
    with pytest.raises(RinexError, match="END OF HEADER"):
        read_obs(head)


# --------------------------------------------------------------------------- Hatanaka stream
def test_hatanaka_corrupt_token_skips_rest_with_note():
    raw = shared_path(CRX).read_bytes()
    full = read_obs(raw)
    lines = raw.split(b"\n")
    head = next(i for i, l in enumerate(lines) if b"END OF HEADER" in l)
    # epoch 0 is lines head+1 (epoch), head+2 (clock), then 49 data lines; epoch 1 starts at head+52
    ep1 = head + 1 + 2 + int(lines[head + 1][32:35])
    bad = ep1 + 5
    lines[bad] = lines[bad].replace(b"-", b"x", 1) if b"-" in lines[bad] else b"x" + lines[bad][1:]
    part = read_obs(b"\n".join(lines))
    assert part.n_epochs == 1  # epoch 0 intact; decoding cannot continue through a broken arc
    _same_epochs(part, full, [0])
    assert any("corrupt Hatanaka" in s for s in part.header.skipped)


def test_hatanaka_difference_without_init_is_detected():
    raw = shared_path(CRX).read_bytes()
    lines = raw.split(b"\n")
    head = next(i for i, l in enumerate(lines) if b"END OF HEADER" in l)
    first_data = head + 3
    lines[first_data] = lines[first_data].replace(b"3&", b"", 1)  # an arc that never started
    part = read_obs(b"\n".join(lines))
    assert part.n_epochs == 0
    assert any("corrupt Hatanaka" in s for s in part.header.skipped)


def test_hatanaka_garbage_epoch_line():
    raw = shared_path(CRX).read_bytes()
    full = read_obs(raw)
    lines = raw.split(b"\n")
    head = next(i for i, l in enumerate(lines) if b"END OF HEADER" in l)
    ep1 = head + 1 + 2 + int(lines[head + 1][32:35])
    lines[ep1] = b"                   x"  # seconds field of the epoch line
    part = read_obs(b"\n".join(lines))
    _same_epochs(part, full, [0])
    assert any(f"line {ep1 + 1}" in s for s in part.header.skipped)


def test_header_only_file_is_empty_with_note():
    raw = shared_path(R3).read_bytes()
    end = raw.index(b"END OF HEADER") + len(b"END OF HEADER")
    blk = read_obs(raw[:end] + b"\n")
    assert blk.n_epochs == 0 and blk.n_sats == 0
    assert any("no observation epoch" in s for s in blk.header.skipped)
