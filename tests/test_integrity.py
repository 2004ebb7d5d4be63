"""Coordinate integrity (issue 5, item 3): a station registered 5 cm away from where it really is
gets flagged within one integrity cycle; the correctly registered ones do not.

No real network of simultaneous stations exists in our data, so the network is simulated
(``rtk_engine.simulate``, real broadcast ephemerides of BRD400DLR 2023-03-12, Chongqing, GPS +
Galileo + BeiDou, default errors: 1.5 mm/km ionospheric gradient, tropospheric residuals,
multipath, noise) and the truth is exact. Four stations on two equilateral 5 km triangles
(a rhombus: A-B, A-C, B-C, B-D, C-D), 20 minutes at 5 s, decimated by the monitor to 30 s.
"""
from __future__ import annotations

import functools
import math
import pickle

import numpy as np
import pytest

from cors_network.integrity import (BaselineResult, IntegrityError, IntegrityMonitor, IntegrityThresholds,
                                    check_integrity, judge_stations, neighbour_pairs, run_cycle_on)
from rtk_engine import gnss_time as gt
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic, enu_rotation
from tests.conftest import shared_path

import rtk_engine.simulate as simulate

BRD4 = "nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz"
T0 = int(gt.from_calendar(2023, 3, 12, 13, 0, 0))  # 21:00 local: ionosphere still well above its night level
SIDE_KM = 5.0
XY = {"A": (0.0, 0.0), "B": (1.0, 0.0), "C": (0.5, math.sqrt(3) / 2), "D": (1.5, math.sqrt(3) / 2)}  # units of SIDE_KM
SHIFT_ENU_M = 0.05 * np.array([math.sin(math.radians(45)), math.cos(math.radians(45)), 0.0])  # 5 cm toward NE


def _rot(ecef):
    llh = ecef_to_geodetic(np.asarray(ecef, float))
    return enu_rotation(llh[0], llh[1])


@functools.lru_cache(maxsize=None)
def _network():
    from rtk_engine.formats.rinex_nav import read_nav

    nav = read_nav(shared_path(BRD4))
    layout = {k: (SIDE_KM * math.hypot(x, y), math.degrees(math.atan2(x, y))) for k, (x, y) in XY.items()}
    truth = simulate.network_around(*simulate.CHONGQING_LLH_DEG, layout)
    sims = simulate.simulate_network(nav, truth, T0, 1200, 5.0, simulate.SimConfig(systems="GEC"), seed=11)
    return nav, truth, {k: v.block for k, v in sims.items()}


@pytest.mark.slow
def test_shifted_station_is_flagged_within_one_cycle_and_the_others_are_not():
    nav, truth, blocks = _network()
    registered = dict(truth)
    registered["B"] = truth["B"] + _rot(truth["B"]).T @ SHIFT_ENU_M  # the registry is wrong by 5 cm
    mon = IntegrityMonitor(registered, window_s=1200, interval_s=30, n_neighbours=3,
                           max_baseline_km=1.2 * SIDE_KM)  # the five 5 km sides, not the 8.7 km diagonal
    mon.add_nav(nav)
    for k in range(blocks["A"].n_epochs):  # what the ingests deliver: one epoch at a time, 5 s apart
        for code, block in blocks.items():
            mon.sink(code, block.select_epochs(k))
    assert mon.epoch_counts() == {c: 40 for c in blocks}  # decimated to 30 s over the 20 min window
    # what a process pool does with the inputs: pickle them to a worker, run the pure cycle there
    cycle = mon.record(run_cycle_on(pickle.loads(pickle.dumps(mon.inputs()))))
    assert mon.last is cycle and mon.cycles == 1
    res = cycle.results
    assert len(cycle.baselines) == 5 and all(b.usable(mon.thresholds) for b in cycle.baselines), \
        [(b.base, b.rover, b.fix_rate, b.error) for b in cycle.baselines]

    assert cycle.flagged == ["B"]
    b = res["B"]
    assert b.n_used == 3 and b.n_consistent == 3
    # the estimated offset is the negated registry error: the truth is 5 cm SW of the registration.
    # Horizontal bound 1 cm: the unshifted stations' estimates below are within 7 mm of zero here;
    # vertical 3 cm: tropospheric residuals (1.5-2.5 cm on single 5 km baselines in 20 min).
    np.testing.assert_allclose(b.offset_enu_m[:2], -SHIFT_ENU_M[:2], atol=0.01)
    assert abs(b.offset_enu_m[2]) < 0.03
    for code in "ACD":
        r = res[code]
        assert r.status == "ok", (code, r)
        assert r.horizontal_m < 0.01 and abs(r.vertical_m) < 0.03, (code, r.offset_enu_m)
        # B, flagged, no longer serves as their reference
        assert "B" not in r.per_neighbour_enu_m and r.n_used >= 1
    # C's median over A, B and D would already have ignored B; A and D had only two neighbours,
    # so they needed the second round without B
    assert res["C"].n_baselines == 3 and res["A"].n_baselines == 2


def test_judging_tells_a_moved_station_from_a_wrong_neighbour():
    """The decision rule alone, on constructed baselines (ECEF offsets at the rover; 1 mm noise)."""
    _, truth, _ = _network()
    reg = dict(truth)
    rng = np.random.default_rng(1)

    def bl(rover, base, true_offset_enu):
        off = _rot(truth[rover]).T @ (np.asarray(true_offset_enu, float) + rng.normal(0, 0.001, 3))
        return BaselineResult(rover, base, 5.0, n_epochs=40, fix_rate=1.0, fixed=True, offset_ecef_m=off)

    up5 = np.array([0.0, 0.0, 0.05])
    # C really is 5 cm higher than registered: every baseline of C sees it, from either end
    res = judge_stations([bl("C", "A", up5), bl("B", "C", -up5), bl("D", "C", -up5), bl("B", "A", 0 * up5),
                          bl("D", "B", 0 * up5)], reg)
    assert [c for c, r in res.items() if r.flagged] == ["C"]
    assert abs(res["C"].vertical_m - 0.05) < 0.01
    # an unfixed baseline is not used
    bad = bl("C", "A", up5)
    bad.fixed = False
    res = judge_stations([bad, bl("B", "C", -up5)], reg)
    assert res["C"].status == "inconclusive" and res["C"].n_used == 1
    # only one of C's two baselines disagrees: a neighbour's coordinate or C's? Not decidable.
    east5 = np.array([0.05, 0.0, 0.0])  # median 2.5 cm horizontal, above the threshold
    res = judge_stations([bl("C", "A", east5), bl("C", "D", 0 * east5)], reg)
    assert res["C"].status == "inconclusive" and not any(r.flagged for r in res.values())
    assert res["B"].status == "no-data"
    # 1.5 cm horizontal everywhere: below the 2 cm threshold, nobody is flagged
    h15 = np.array([0.015, 0.0, 0.0])
    res = judge_stations([bl("C", "A", h15), bl("C", "B", h15), bl("C", "D", h15)], reg)
    assert res["C"].status == "ok", res["C"]
    res = judge_stations([bl("C", "A", h15), bl("C", "B", h15), bl("C", "D", h15)], reg,
                         IntegrityThresholds(horizontal_m=0.01))
    assert res["C"].status == "moved"


def test_neighbour_pairs_and_bad_input():
    _, truth, blocks = _network()
    assert neighbour_pairs(truth, 3, 6.0) == [("A", "B"), ("A", "C"), ("B", "C"), ("B", "D"), ("C", "D")]
    assert len(neighbour_pairs(truth, 3, 10.0)) == 6  # the 8.7 km diagonal A-D joins
    assert neighbour_pairs(truth, 3, 4.0) == []  # nothing within 4 km
    with pytest.raises(IntegrityError, match="no stations"):
        check_integrity(blocks, None, {})
    with pytest.raises(IntegrityError, match="station A"):
        check_integrity(blocks, None, {"A": [0.0, 0.0, 1.0], "B": truth["B"]})
    with pytest.raises(IntegrityError, match="interval"):
        IntegrityMonitor(truth, window_s=10, interval_s=30)
    # epochs out of order or with E > 1 are refused and counted, not silently mixed in
    mon = IntegrityMonitor(truth, window_s=600, interval_s=30)
    mon.sink("A", blocks["A"].select_epochs(slice(0, 2)))
    e6, e0 = blocks["A"].select_epochs(6), blocks["A"].select_epochs(0)
    mon.sink("A", e6)
    mon.sink("A", e0)
    assert mon.epoch_counts() == {"A": 1}
    assert mon.skipped == {"not a single epoch": 1, "out of order": 1}
    # a station with too few epochs in the window has no baselines: no-data, never "ok"
    cyc = mon.run_cycle()
    assert cyc.results and all(r.status == "no-data" for r in cyc.results.values())
