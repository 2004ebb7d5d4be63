"""Ingest of a real RTCM3 capture (NovAtel OEM729, Hiroshima, MSM7 all systems + 1005)."""
import numpy as np
import pytest

from cors_network.ingest import StationIngest
from rtk_engine import gnss_time as gt
from tests.conftest import shared_path

CAPTURE = "rtcm/novatel-hiroshima-2022/20221213-010900.rtcm"


def test_ingest_decodes_epochs_quality_and_position():
    data = shared_path(CAPTURE).read_bytes()
    ing = StationIngest("HIRO", "ntrip://127.0.0.1:1/X")
    ing.decoder.t_ref_ns = int(gt.from_calendar(2022, 12, 13, 1, 9, 0))
    epochs = sum(ing.feed(data[i:i + 1000], received_unix_s=0.0) for i in range(0, len(data), 1000))
    snap = ing.quality.snapshot()
    # one minute at 1 Hz; MSM7 of 6 systems arrive per epoch (the first epoch may be cut at the start)
    assert 58 <= epochs <= 61 and snap.epochs == epochs
    assert snap.completeness > 0.95
    assert {"G", "R", "E", "C", "J"} <= set(snap.sats_per_system)
    assert snap.sats_per_system["C"] >= 8
    # station in Hiroshima: ECEF radius of a ground station, and latitude ~34 N
    pos = np.array(ing.position_ecef_m)
    assert 6.36e6 < np.linalg.norm(pos) < 6.38e6
    assert np.degrees(np.arcsin(pos[2] / np.linalg.norm(pos))) == pytest.approx(34.2, abs=0.5)
    assert 0.0 < snap.mp1_m < 2.0
