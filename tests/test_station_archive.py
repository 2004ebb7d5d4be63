"""Archive round trip: a station's RTCM3 stream archived to hourly RINEX reads back as what was
streamed, observation by observation, to the RTCM/RINEX resolution."""
import gzip

import numpy as np
import pytest

from cors_network.archive import HourlyArchive
from cors_network.ingest import StationIngest
from rtk_engine import gnss_time as gt
from rtk_engine.formats.rinex_obs import read_obs
from rtk_engine.formats.rtcm3.decoder import decode_bytes, stack_epochs
from rtk_engine.obs import ObsBlock
from tests.conftest import shared_path

CAPTURE = "rtcm/novatel-hiroshima-2022/20221213-010900.rtcm"
T_REF = int(gt.from_calendar(2022, 12, 13, 1, 9, 0))


def test_archive_round_trip_equals_stream(tmp_path):
    data = shared_path(CAPTURE).read_bytes()
    files = []
    archive = HourlyArchive(tmp_path, on_file=files.append)
    ing = StationIngest("HIRO", "ntrip://127.0.0.1:1/X", archive=archive)
    ing.decoder.t_ref_ns = T_REF
    for i in range(0, len(data), 512):
        ing.feed(data[i:i + 512], received_unix_s=0.0)
    archive.flush()
    assert len(files) == 1 and files[0].path.name.startswith("HIRO00CHN_R_20223470100_01H_01S_MO")
    with gzip.open(files[0].path, "rt") as fh:
        assert "RINEX VERSION / TYPE" in fh.readline()
    back = read_obs(files[0].path)

    items, _ = decode_bytes(data, T_REF)
    streamed = stack_epochs([x for x in items if isinstance(x, ObsBlock)])
    assert back.n_epochs == streamed.n_epochs == files[0].n_epochs
    np.testing.assert_array_equal(back.time_ns, streamed.time_ns)
    assert back.sats.tolist() == streamed.sats.tolist()
    for sys_, codes in streamed.signals.items():
        for code in codes:
            a = streamed.slot(sys_, code)
            b = back.slot(sys_, code)
            rows = streamed.systems == sys_
            # RINEX carries 3 decimals: 1 mm code, 1 mcycle phase, 1 mHz Doppler
            np.testing.assert_allclose(back.code_m[:, rows, b], streamed.code_m[:, rows, a], atol=6e-4, rtol=0)
            np.testing.assert_allclose(back.phase_cyc[:, rows, b], streamed.phase_cyc[:, rows, a], atol=6e-4, rtol=0)
            np.testing.assert_allclose(back.doppler_hz[:, rows, b], streamed.doppler_hz[:, rows, a], atol=6e-4,
                                       rtol=0)
            np.testing.assert_array_equal(np.isnan(back.code_m[:, rows, b]), np.isnan(streamed.code_m[:, rows, a]))
            # RINEX writes LLI beside a phase value; where the stream had no phase there is nothing to flag
            has_phase = np.isfinite(streamed.phase_cyc[:, rows, a])
            np.testing.assert_array_equal((back.lli[:, rows, b] & 1)[has_phase],
                                          (streamed.lli[:, rows, a] & 1)[has_phase])


def test_hour_rollover_writes_two_files_and_restart_does_not_overwrite(tmp_path):
    data = shared_path(CAPTURE).read_bytes()
    items, _ = decode_bytes(data, T_REF)
    epochs = [x for x in items if isinstance(x, ObsBlock)]
    archive = HourlyArchive(tmp_path)
    # shift the second half of the minute into the next hour
    written = []
    for k, ep in enumerate(epochs):
        if k >= 30:
            ep = ep.select_epochs(0)
            ep.time_ns = ep.time_ns + 3600 * gt.NS
        if (f := archive.add("HIRO", ep)) is not None:
            written.append(f)
    written += archive.flush()
    assert [f.n_epochs for f in written] == [30, len(epochs) - 30]
    again = HourlyArchive(tmp_path)
    for ep in epochs[:5]:
        again.add("HIRO", ep)
    f = again.flush()[0]
    assert "_part1" in f.path.name and written[0].path.exists()
    with pytest.raises(Exception):
        read_obs(tmp_path / "nope.rnx.gz")
