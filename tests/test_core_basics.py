"""Time scales, satellite classes, signal frequencies, RTCM3 framing and NMEA GGA."""
import datetime as dt

import numpy as np
import pytest

from rtk_engine import gnss_time as gt
from rtk_engine import satellites, signals
from rtk_engine.formats import nmea, rtcm3_frame
from tests.conftest import shared_path


def test_week_seconds_round_trip_and_bdt():
    t = gt.from_datetime(dt.datetime(2020, 6, 25, 12, 0, 30))
    week, sow = gt.to_week_sow(t)
    assert (int(week), float(sow)) == (2111, 4 * 86400 + 43230.0)
    # BDT week 0 began 2006-01-01 00:00:00 UTC = GPST 00:00:14 (14 leap seconds then)
    assert gt.from_bds_week_sow(0, 0.0) == gt.from_datetime(dt.datetime(2006, 1, 1, 0, 0, 14))
    assert gt.from_gst_week_sow(1087, 0.0) == gt.from_week_sow(2111, 0.0)


def test_leap_seconds_and_glonass_time():
    t = gt.from_datetime(dt.datetime(2020, 6, 25))
    assert gt.leap_seconds(t) == 18
    assert gt.leap_seconds(gt.from_datetime(dt.datetime(2016, 12, 31, 23, 59, 59))) == 17
    # GLONASS time is UTC + 3 h
    assert gt.gpst_to_glonasst(t) - t == (3 * 3600 - 18) * gt.NS
    assert gt.glonasst_to_gpst(gt.gpst_to_glonasst(t)) == t


def test_calendar_matches_datetime():
    t = gt.from_calendar(np.array([2005, 2024]), np.array([4, 5]), np.array([2, 3]), 10, 30, 15.5)
    assert t[0] == gt.from_datetime(dt.datetime(2005, 4, 2, 10, 30, 15, 500000))
    assert t[1] == gt.from_datetime(dt.datetime(2024, 5, 3, 10, 30, 15, 500000))


def test_bds_classes():
    sats = ["C01", "C05", "C59", "C06", "C38", "C11", "C19", "G01"]
    assert satellites.is_bds_geo(sats).tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    assert satellites.is_bds_igso(sats).tolist() == [0, 0, 0, 1, 1, 0, 0, 0]
    assert satellites.is_bds3(sats).tolist() == [0, 0, 1, 0, 1, 0, 1, 0]


def test_bds_signals_do_not_collide():
    assert signals.frequency_hz("C", "2I") == pytest.approx(1561.098e6)
    assert signals.frequency_hz("C", "1P") == pytest.approx(1575.42e6)
    assert signals.frequency_hz("C", "5P") == pytest.approx(1176.45e6)
    assert signals.frequency_hz("C", "6I") == pytest.approx(1268.52e6)
    assert signals.frequency_hz("R", "1C", -7) == pytest.approx(1598.0625e6)
    assert np.isnan(signals.frequency_hz("R", "1C"))


def test_frame_scanner_resyncs_after_garbage_and_bad_crc():
    payload = bytes([0x3E, 0xD0]) + bytes(17)  # message 1005, zeros
    good = rtcm3_frame.frame(payload)
    bad = bytearray(good)
    bad[8] ^= 0xFF
    stream = b"\xd3\x00\x02xyz garbage" + bytes(bad) + good + good[:4]
    sc = rtcm3_frame.FrameScanner()
    frames = sc.feed(stream) + sc.feed(good[4:])
    assert frames == [good, good]
    assert rtcm3_frame.message_number(good) == 1005
    assert sc.stats.bad_crc == 2


def test_frame_scanner_on_real_capture():
    data = shared_path("rtcm/novatel-hiroshima-2022/20221213-010900.rtcm").read_bytes()
    sc = rtcm3_frame.FrameScanner()
    frames = [f for i in range(0, len(data), 97) for f in sc.feed(data[i:i + 97])]
    assert sc.stats.bad_crc == 0
    numbers = {rtcm3_frame.message_number(f) for f in frames}
    assert {1005, 1077, 1127, 1042}.issubset(numbers)


def test_gga_round_trip_and_rejects():
    s = nmea.format_gga(3723.5, 29.56, 106.55, 312.4, quality=4, n_sats=18)
    g = nmea.parse_gga(s, require_checksum=True)
    assert g.lat_deg == pytest.approx(29.56) and g.lon_deg == pytest.approx(106.55)
    assert g.height_m == pytest.approx(312.4) and g.quality == 4
    with pytest.raises(nmea.NmeaError):
        nmea.parse_gga(s.replace("*", "0*"))  # checksum no longer matches
    with pytest.raises(nmea.NmeaError):
        nmea.parse_gga("$GPGGA,000000,9500.0,N,00000.0,E,1,05,1.0,0,M,0,M,,")
