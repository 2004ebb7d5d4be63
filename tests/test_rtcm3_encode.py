"""RTCM 3 encoding: encode -> decode round trips at the message resolution (hypothesis), and
byte-exact re-encoding of every real MSM and ephemeris message in the captures."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtk_engine import gnss_time as gt
from rtk_engine.constants import CLIGHT
from rtk_engine.formats.rtcm3 import Rtcm3Decoder
from rtk_engine.formats.rtcm3 import msm_tables as T
from rtk_engine.formats.rtcm3.decoder import decode_bytes, stack_epochs
from rtk_engine.formats.rtcm3.encoder import LOCK4_MIN_MS, LOCK10_MIN_MS, Rtcm3Encoder, lock_indicator
from rtk_engine.formats.rtcm3.ephemeris import (SCHEMAS, encode_ephemeris, encode_ephemeris_fields,
                                                 ephemeris_fields, fields_to_nav, glonass_fields, kepler_fields)
from rtk_engine.formats.rtcm3.glonass_bias import GlonassBiases, decode_glonass_biases, encode_glonass_biases
from rtk_engine.formats.rtcm3.msm import decode_msm, encode_msm
from rtk_engine.formats.rtcm3.station import (StationDescriptor, StationPosition, decode_station_descriptor,
                                               decode_station_position, encode_station_descriptor,
                                               encode_station_position)
from rtk_engine.formats.rtcm3_frame import iter_frames
from rtk_engine.obs import ObsBlock, ObsHeader
from tests.conftest import shared_path

T0 = int(gt.from_calendar(2024, 5, 3, 10, 0, 0))
RANGE_MS_M = CLIGHT * 1e-3
PRN_RANGE = {"G": (1, 32), "R": (1, 24), "E": (1, 36), "S": (20, 58), "J": (1, 10), "C": (1, 63), "I": (1, 14)}
CAPTURES = ["rtcm/novatel-hiroshima-2022/20221213-010900.rtcm", "rtcm/swift/week-rollover-STR24.rtcm3",
            "rtcm/swift/eph.rtcm", "rtcm/swift/20190120_1956_rover.023", "rtcm/pyrtcm/pygpsdata-NTRIP-USCL00CHL0.log"]


# ----------------------------------------------------------------------- real messages, bytes
@pytest.mark.parametrize("rel", CAPTURES)
def test_real_messages_reencode_byte_exact(rel):
    """decode -> encode reproduces the transmitted payload bit for bit (trailing zero padding aside)."""
    n = 0
    for fr in iter_frames(shared_path(rel).read_bytes()):
        p = fr[3:-3]
        t = (p[0] << 4) | (p[1] >> 4)
        if T.msm_kind(t) is not None:
            e = encode_msm(decode_msm(p))
        elif t in SCHEMAS:
            e = encode_ephemeris_fields(ephemeris_fields(p))
            if t == 1020:  # sign-magnitude fields may carry a "-0" that an integer cannot hold
                assert ephemeris_fields(e) == ephemeris_fields(p)
                n += 1
                continue
        elif t in (1005, 1006):
            e = encode_station_position(decode_station_position(p))
        elif t in (1007, 1008, 1033):
            e = encode_station_descriptor(decode_station_descriptor(p))
        elif t == 1230:
            e = encode_glonass_biases(decode_glonass_biases(p))
        else:
            continue
        assert e == p[:len(e)] and not any(p[len(e):]), t
        n += 1
    assert n > 0


@pytest.mark.parametrize("rel,ref,msm,n_bytes", [
    ("rtcm/novatel-hiroshima-2022/20221213-010900.rtcm", (2022, 12, 13, 1, 9), 7, None),
    ("rtcm/swift/week-rollover-STR24.rtcm3", (2019, 12, 28, 23, 50), 4, 300_000),  # ~250 epochs: keeps it short
])
def test_real_epochs_and_nav_round_trip(rel, ref, msm, n_bytes):
    """Decoded real epochs and ephemerides, re-encoded (MSM7 / MSM4 as received) and decoded again,
    are unchanged: they already sit on the message grid, so only float rounding (1e-6 m) may differ."""
    t_ref = int(gt.from_calendar(*ref))
    items, dec0 = decode_bytes(shared_path(rel).read_bytes()[:n_bytes], t_ref)
    obs, nav = stack_epochs([i for i in items if isinstance(i, ObsBlock)]), dec0.nav_data()
    assert obs.n_epochs > 50
    enc = Rtcm3Encoder(msm=msm)
    data = b"".join(Rtcm3Encoder.encode_nav(nav))  # ephemerides first: GLONASS channels for MSM4
    data += b"".join(b"".join(enc.encode_epoch(obs, e)) for e in range(obs.n_epochs))
    dec = Rtcm3Decoder(t_ref)
    items = dec.feed(data)
    obs2 = stack_epochs([i for i in items if isinstance(i, ObsBlock)])
    ranged = np.isfinite(obs.code_m) | np.isfinite(obs.phase_cyc)  # cells without a range are not sent
    obs = obs.select_sats(ranged.any(axis=(0, 2)))
    np.testing.assert_array_equal(obs.time_ns, obs2.time_ns)
    np.testing.assert_array_equal(obs.sats, obs2.sats)
    assert obs.signals == obs2.signals
    ranged = np.isfinite(obs.code_m) | np.isfinite(obs.phase_cyc)
    for name in ("code_m", "phase_cyc", "doppler_hz", "snr_dbhz"):
        a = np.where(ranged, getattr(obs, name), np.nan)
        b = getattr(obs2, name)
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b), err_msg=name)
        ok = np.isfinite(a)
        assert not ok.any() or np.max(np.abs(a - b)[ok]) <= 1e-6, name
    assert np.array_equal((obs.lli >> 1) & 1, (obs2.lli >> 1) & 1)
    slips = (obs.lli & 1).astype(bool) & ranged
    slips[0] = False
    assert ((obs2.lli & 1).astype(bool) | ~slips).all(), "every input loss of lock survives"
    nav2 = dec.nav_data()
    assert len(nav2.kepler) == len(nav.kepler) > 0 and len(nav2.glonass) == len(nav.glonass)
    for k, v in nav.kepler.cols.items():
        np.testing.assert_array_equal(v, nav2.kepler.cols[k], err_msg=k)
    for k in ("toe_ns", "toc_ns"):
        np.testing.assert_array_equal(getattr(nav.kepler, k), getattr(nav2.kepler, k))
    for k in ("toe_ns", "tof_ns", "pos_m", "vel_mps", "acc_mps2", "tau_n_s", "gamma_n", "channel", "health"):
        np.testing.assert_array_equal(getattr(nav.glonass, k), getattr(nav2.glonass, k), err_msg=k)


# ------------------------------------------------------------------ MSM property round trip
@st.composite
def epochs(draw):
    systems = draw(st.lists(st.sampled_from("GRESJCI"), min_size=1, max_size=4, unique=True))
    sats, signals, chans = [], {}, {}
    for s in systems:
        lo, hi = PRN_RANGE[s]
        prns = draw(st.lists(st.integers(lo, hi), min_size=1, max_size=8, unique=True))
        sats += [f"{s}{p:02d}" for p in prns]
        codes = sorted(set(T.SIGNAL_CODES[s].values()))
        signals[s] = tuple(sorted(draw(st.lists(st.sampled_from(codes), min_size=1, max_size=4, unique=True))))
        if s == "R":
            chans |= {f"R{p:02d}": draw(st.integers(-7, 6)) for p in prns}
    sats = np.array(sorted(sats))
    block = ObsBlock.empty(signals, sats, 1, ObsHeader(glonass_channels=chans))
    block.time_ns[0] = T0 + draw(st.integers(-3 * 86_400_000, 3 * 86_400_000)) * 1_000_000  # within half a week
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = block.code_m.shape
    base = rng.uniform(18e6, 45e6, size=(1, shape[1], 1))
    codes = block.signal_codes()[None]
    present = (rng.random(shape) < 0.8) & (codes != "")
    present[:, :, 0] |= ~present.any(axis=2)
    sys_ = block.systems
    for s_ in signals:  # every signal of the block is observed on the system's first satellite
        present[0, np.nonzero(sys_ == s_)[0][0], :len(signals[s_])] = True
    lam = CLIGHT / block.frequency_hz()[None]
    far = draw(st.booleans())  # RINEX-like phase: arbitrary whole-cycle ambiguity far from the code
    amb = np.round(rng.uniform(-2e7, 2e7, shape)) if far else 0.0
    block.code_m[:] = np.where(present, base + rng.uniform(-20, 20, shape), np.nan)
    block.phase_cyc[:] = np.where(present, (base + rng.uniform(-300, 300, shape)) / lam + amb, np.nan)
    rate = rng.uniform(-800, 800, size=(1, shape[1], 1)) + rng.uniform(-0.5, 0.5, shape)  # same for all signals
    block.doppler_hz[:] = np.where(present, -rate / lam, np.nan)
    block.snr_dbhz[:] = np.where(present, rng.uniform(20, 55, shape), np.nan)
    block.lli[:] = np.where(present, rng.integers(0, 4, shape), 0)
    return block, far


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(epochs(), st.sampled_from([4, 7]))
def test_msm_round_trip_at_resolution(case, msm):
    block, far = case
    frames = Rtcm3Encoder(msm=msm).encode_epoch(block)
    chans = block.header.glonass_channels  # MSM4 carries no channel: a receiver has it from 1020
    dec = Rtcm3Decoder(T0, glonass_channels=chans)
    out = [i for i in dec.feed(b"".join(frames)) if isinstance(i, ObsBlock)]
    assert len(out) == 1 and not dec.counters.malformed
    got = out[0]
    assert got.time_ns[0] == block.time_ns[0]
    np.testing.assert_array_equal(got.sats, block.sats)
    assert got.signals == block.signals
    lam = got.wavelength_m()[None]
    pr_res = (2.0 ** -29 if msm == 7 else 2.0 ** -24) * RANGE_MS_M
    ph_res = (2.0 ** -31 if msm == 7 else 2.0 ** -29) * RANGE_MS_M
    pres = np.isfinite(block.code_m)
    np.testing.assert_array_equal(np.isfinite(got.code_m), pres)
    # half a resolution step, plus float rounding of metres-level numbers (1e-7 m)
    assert np.max(np.abs(got.code_m - block.code_m)[pres]) <= pr_res / 2 + 1e-7
    dphi = (got.phase_cyc - block.phase_cyc)[pres]
    whole = np.round(dphi)
    if not far:
        assert (whole == 0).all()
    assert np.max(np.abs(dphi - whole) * lam[pres]) <= ph_res / 2 + 1e-6
    if msm == 7:
        assert np.max(np.abs(got.doppler_hz - block.doppler_hz)[pres] * lam[pres]) <= 0.5e-4 + 1e-9
        assert np.max(np.abs(got.snr_dbhz - block.snr_dbhz)[pres]) <= 2.0 ** -5 + 1e-6
    else:
        assert np.isnan(got.doppler_hz).all()
        assert np.max(np.abs(got.snr_dbhz - block.snr_dbhz)[pres]) <= 0.5 + 1e-6
    np.testing.assert_array_equal((got.lli >> 1) & 1, np.where(pres, (block.lli >> 1) & 1, 0))
    # idempotent: the decoded epoch re-encodes to the same bytes
    assert Rtcm3Encoder(msm=msm).encode_epoch(got) == Rtcm3Encoder(msm=msm).encode_epoch(
        Rtcm3Decoder(T0, glonass_channels=chans).feed(b"".join(frames))[0])


def test_lock_time_and_loss_of_lock_survive_encoding():
    """A slip flagged in epoch 3 of 5 comes back as LLI bit 0 there, and only there after epoch 0."""
    block = ObsBlock.empty({"C": ("2I", "6I")}, ["C08", "C30"], 5)
    block.time_ns[:] = T0 + np.arange(5) * 1_000_000_000
    lam = CLIGHT / block.frequency_hz()[None]
    rng = np.arange(5)[:, None, None] * 300.0 + 3.8e7
    block.code_m[:] = rng
    block.phase_cyc[:] = rng / lam
    block.lli[3, 1, 0] = 1
    enc, dec = Rtcm3Encoder(msm=7), Rtcm3Decoder(T0)
    got = stack_epochs([i for e in range(5) for i in dec.feed(b"".join(enc.encode_epoch(block, e)))])
    expect = np.zeros((5, 2, 2), np.uint8)
    expect[0] = 1  # first observation: lock time 0
    expect[3, 1, 0] = 1
    np.testing.assert_array_equal(got.lli, expect)


def test_lock_indicator_tables():
    assert (np.diff(LOCK4_MIN_MS) > 0).all() and (np.diff(LOCK10_MIN_MS) > 0).all()
    np.testing.assert_array_equal(lock_indicator(LOCK10_MIN_MS, 7), np.arange(LOCK10_MIN_MS.size))
    np.testing.assert_array_equal(lock_indicator(LOCK4_MIN_MS, 4), np.arange(16))
    assert LOCK10_MIN_MS[64] == 64 and LOCK10_MIN_MS[96] == 128 and LOCK10_MIN_MS[704] == 67_108_864
    assert lock_indicator([0, 31, 32, 1000, 10**9], 4).tolist() == [0, 0, 1, 5, 15]


# -------------------------------------------------------------------------------- ephemerides
def _field_value(draw, n: int, kind: str) -> int:
    if kind == "u":
        return draw(st.integers(0, (1 << n) - 1))
    return draw(st.integers(-(1 << (n - 1)) + (kind == "m"), (1 << (n - 1)) - 1))


_VALID = {  # physically meaningful ranges where the nav-row conversion needs them
    "DF081": (0, 37799), "DF093": (0, 37799), "DF430": (0, 37799), "DF442": (0, 37799),
    "DF493": (0, 75599), "DF505": (0, 75599), "DF293": (0, 10079), "DF304": (0, 10079),
    "DF009": (1, 32), "DF429": (1, 10), "DF488": (1, 63), "DF252": (1, 36), "DF038": (1, 24), "DF040": (0, 13),
    "DF110": (1, 95), "DF291": (0, 125), "DF286": (0, 125), "DF489": (700, 1100), "DF289": (1000, 1400),
}


@st.composite
def ephemeris_raw(draw):
    t = draw(st.sampled_from(sorted(SCHEMAS)))
    f = {}
    for name, n, kind in SCHEMAS[t]:
        if name[0] == "_":
            continue
        lo_hi = _VALID.get(name)
        f[name] = draw(st.integers(*lo_hi)) if lo_hi else _field_value(draw, n, kind)
    f["DF002"] = t
    if t == 1020:
        f["DF107"] = (draw(st.integers(0, 23)) << 7) | (draw(st.integers(0, 59)) << 1) | draw(st.integers(0, 1))
    return f


@settings(max_examples=150, deadline=None)
@given(ephemeris_raw())
def test_ephemeris_fields_bytes_and_nav_round_trip(f):
    payload = encode_ephemeris_fields(f)
    assert ephemeris_fields(payload) == f
    t_ref = int(gt.from_calendar(2023, 3, 12))
    nav = fields_to_nav(f, t_ref)
    back = glonass_fields(nav) if f["DF002"] == 1020 else kepler_fields(nav)
    for k, v in back.items():  # every field the navigation row represents comes back unchanged
        if k in ("DF076", "DF452"):
            continue
        assert v == f[k], k
    if f["DF002"] in (1019, 1044):  # 10-bit week: resolved near t_ref, modulo 1024 unchanged
        assert back["DF076" if f["DF002"] == 1019 else "DF452"] == f["DF076" if f["DF002"] == 1019 else "DF452"]
    assert encode_ephemeris(nav) == encode_ephemeris_fields({**f, **back} | {k: 0 for k in f if k not in back and k != "DF002"})


def test_ephemeris_times_are_gpst():
    """BeiDou toe is BDT (GPST = BDT + 14 s, BDS week + 1356); Galileo week + 1024."""
    f = {name: 0 for name, _, _ in SCHEMAS[1042] if name[0] != "_"} | {"DF002": 1042, "DF488": 19, "DF489": 900,
                                                                     "DF505": 12_600, "DF493": 12_600}
    nav = fields_to_nav(f, int(gt.from_calendar(2023, 3, 12)))
    assert nav.toe_ns[0] == gt.from_week_sow(900 + 1356, 12_600 * 8) + 14 * gt.NS
    g = {name: 0 for name, _, _ in SCHEMAS[1046] if name[0] != "_"} | {"DF002": 1046, "DF252": 5, "DF289": 1200,
                                                                     "DF304": 600}
    nav = fields_to_nav(g, int(gt.from_calendar(2023, 3, 12)))
    assert nav.toe_ns[0] == gt.from_week_sow(1200 + 1024, 36_000) and nav.sat[0] == "E05"


# ---------------------------------------------------------------------------- station, biases
@settings(max_examples=80, deadline=None)
@given(st.tuples(*[st.floats(-7e6, 7e6)] * 3), st.floats(0, 6.5), st.booleans(), st.integers(0, 4095),
       st.booleans(), st.integers(0, 3))
def test_station_position_round_trip(xyz, h, is_1006, sid, virtual, qc):
    pos = StationPosition(sid, np.array(xyz), h if is_1006 else 0.0, itrf_year=20, virtual=virtual,
                          quarter_cycle=qc, msg_type=1006 if is_1006 else 1005)
    p = encode_station_position(pos)
    assert len(p) == (21 if is_1006 else 19)
    got = decode_station_position(p)
    assert np.max(np.abs(got.ecef_m - pos.ecef_m)) <= 0.5e-4 + 1e-9  # 0.1 mm resolution
    assert abs(got.antenna_height_m - pos.antenna_height_m) <= 0.5e-4 + 1e-12
    assert (got.station_id, got.virtual, got.quarter_cycle, got.msg_type) == (sid, virtual, qc, pos.msg_type)
    assert encode_station_position(got) == p


_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=31)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([1007, 1008, 1033]), _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, st.integers(0, 255))
def test_descriptor_round_trip(t, ant, serial, rx, fw, rx_serial, setup):
    d = StationDescriptor(17, ant, setup, serial if t != 1007 else "", rx if t == 1033 else "",
                          fw if t == 1033 else "", rx_serial if t == 1033 else "", msg_type=t)
    assert decode_station_descriptor(encode_station_descriptor(d)) == d


@given(st.dictionaries(st.sampled_from(["1C", "1P", "2C", "2P"]), st.integers(-32768, 32767)), st.booleans())
def test_glonass_bias_round_trip(raw, aligned):
    b = GlonassBiases(5, aligned, {k: v * 0.02 for k, v in raw.items()})
    got = decode_glonass_biases(encode_glonass_biases(b))
    assert got.aligned == aligned and set(got.bias_m) == set(b.bias_m)
    assert all(abs(got.bias_m[k] - b.bias_m[k]) < 1e-9 for k in b.bias_m)
