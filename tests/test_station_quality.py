"""Station quality figures on a real station day (ESBC, PolaRx5, geodetic choke ring)."""
import numpy as np
import pytest

from cors_network.quality import StationQuality, _Ring
from rtk_engine.formats.rinex_obs import read_obs
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def esbc_2h():
    obs = read_obs(shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz"))
    return obs.select_epochs(slice(0, 240))  # 2 h at 30 s


def run(block, drop=()):
    q = StationQuality(interval_s=30.0, window_s=7200.0)
    for i, ep in enumerate(block.epochs()):
        if i not in drop:
            q.update(ep, received_unix_s=0.0)
    return q.snapshot()


def test_quality_of_a_geodetic_station(esbc_2h):
    snap = run(esbc_2h)
    assert snap.epochs == 240 and snap.completeness == pytest.approx(1.0)
    assert set(snap.sats_per_system) >= {"G", "E", "C"}
    assert 6 <= snap.sats_per_system["G"] <= 16
    # Geodetic receiver + choke-ring antenna: code multipath RMS is a few decimetres (IGS QC
    # reports for such sites show MP1 ~0.2-0.5 m, MP2 ~0.2-0.6 m); metres would mean a wrong combination.
    assert 0.05 < snap.mp1_m < 0.8 and 0.05 < snap.mp2_m < 0.8
    assert 35 < snap.cn0_mean_dbhz < 55
    # every LLI-flagged observation counts as a slip; geometry-free jumps add to that. QC practice
    # (teqc "o/slps") calls a site poor below ~100 observations per slip, i.e. above 10 per 1000.
    lli_per_1000 = 1000 * ((esbc_2h.lli & 1) > 0).sum() / np.isfinite(esbc_2h.phase_cyc).sum()
    assert lli_per_1000 <= snap.slips_per_1000 < 10


def test_completeness_drops_when_epochs_are_missing(esbc_2h):
    snap = run(esbc_2h, drop=set(range(100, 160)))  # 60 of 240 epochs lost
    assert snap.completeness == pytest.approx(180 / 240, abs=0.01)


def test_slip_detected_when_phase_jumps(esbc_2h):
    block = esbc_2h.select_epochs(slice(0, 60))
    clean = run(block)
    jumped = block.select_epochs(slice(0, 60))
    jumped.phase_cyc = jumped.phase_cyc.copy()
    g = np.flatnonzero(jumped.sats == "G05")
    jumped.phase_cyc[30:, g, 0] += 5.0  # 5-cycle slip on one signal, no LLI set
    assert run(jumped).slips_per_1000 > clean.slips_per_1000


def test_memory_is_bounded_by_the_window(esbc_2h):
    """A station runs for months: the completeness times are kept for the window only (they used to be
    kept for 100,000 epochs, 3.6 MB a station) and the multipath residuals in a fixed float64 ring."""
    q = StationQuality(interval_s=30.0, window_s=1800.0)  # the last 60 epochs of the 240
    for i, ep in enumerate(esbc_2h.epochs()):
        if not 150 <= i < 170:  # 20 epochs lost before the last window
            q.update(ep, received_unix_s=0.0)
    assert len(q._times) == 60 and q.snapshot().completeness == pytest.approx(1.0)
    q2 = StationQuality(interval_s=30.0, window_s=1800.0)
    for i, ep in enumerate(esbc_2h.epochs()):
        if not 200 <= i < 220:  # 20 of the last 60 lost
            q2.update(ep, received_unix_s=0.0)
    assert len(q2._times) == 40 and q2.snapshot().completeness == pytest.approx(40 / 60, abs=0.01)
    assert q2._mp1.buf.nbytes == 20_000 * 8


def test_multipath_ring_keeps_the_last_values():
    ring = _Ring(5)
    ring.extend(np.arange(3.0))
    assert sorted(ring.values()) == [0.0, 1.0, 2.0]
    ring.extend(np.arange(3.0, 7.0))
    assert sorted(ring.values()) == [2.0, 3.0, 4.0, 5.0, 6.0] and len(ring) == 5
    ring.extend(np.arange(10.0, 22.0))  # more than the capacity at once
    assert sorted(ring.values()) == [17.0, 18.0, 19.0, 20.0, 21.0]
