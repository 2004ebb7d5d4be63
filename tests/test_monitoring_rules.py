"""Monitoring pure logic: alarm rules and persistence, robust filter, session averages, CUSUM.

Scenarios with known truth are synthetic ENU series with the noise of real short-baseline RTK
(fujisawa-078 fixed epochs scatter ~1-2 mm horizontally, ~5 mm vertically, see
test_monitoring_point): a slope creeping 2 mm/h must alarm at the configured level only after the
persistence time; a single 5 cm outlier must never alarm.
"""
from __future__ import annotations

import numpy as np
import pytest

from cors_network.monitoring.displacement import (RobustFilter, hampel_mask, repeatability_mm,
                                                  session_averages)
from cors_network.monitoring.rules import (AlarmBook, Level, Persistence, Rule, RuleEngine, RuleError,
                                           evaluate_series, persist, raw_levels, robust_acceleration_mm_h2,
                                           robust_velocity_mm_h, tangent_angle_deg, theil_sen_slope)
from cors_network.monitoring.stability import cusum, station_stability

SIGMA_MM = np.array([2.0, 2.0, 5.0])  # real-time RTK noise, horizontal/vertical (UHV tower paper: H<3, V<5 mm)


def series(hours: float, rate_s: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, hours * 3600.0, rate_s)
    return t, rng.normal(0.0, 1.0, (t.size, 3)) * SIGMA_MM


DISP = Rule("2d", {"blue": 10, "yellow": 20, "orange": 30, "red": 50}, persist_n=10, persist_s=60.0)


def test_single_5cm_outlier_never_alarms_but_a_real_step_does():
    t, enu = series(1.0, 1.0)
    enu[1000] += [50.0, 0.0, 0.0]  # one 5 cm blunder
    _, metric, level = evaluate_series(DISP, t, enu)
    assert metric[1000] >= 40.0  # the raw metric sees it (above orange, ~red with the noise)
    assert level.max() == 0  # persistence: 10 consecutive solutions and 60 s
    # the same 5 cm as a real step from sample 2000 alarms red exactly after the persistence time
    enu[2000:] += [50.0, 0.0, 0.0]
    _, _, level = evaluate_series(DISP, t, enu)
    # 2 mm noise never brings a 50 mm step below the 30 mm orange threshold: orange exactly after 60 s
    first = np.flatnonzero(level >= Level.ORANGE)[0]
    assert first == 2000 + 60  # 60 s at 1 Hz (the 10-solution rule is weaker)
    assert level[:2000].max() == 0


def test_slope_2mm_per_hour_raises_yellow_after_persistence_not_orange():
    # 12 h at 30 s; the point starts creeping 2 mm/h east at t = 4 h
    t, enu = series(12.0, 30.0, seed=1)
    start = 4 * 3600.0
    enu[:, 0] += np.maximum(0.0, t - start) / 3600.0 * 2.0
    enu[100] += [50.0, -50.0, 0.0]  # a 7 cm blunder in the quiet part
    rule = Rule("velocity", {"blue": 0.5, "yellow": 1.0, "orange": 4.0, "red": 10.0}, window_s=3 * 3600.0,
                step_s=600.0, persist_n=3, persist_s=1800.0)
    g, v, level = evaluate_series(rule, t, enu)
    quiet = g <= start
    # nothing before the motion starts; a full 3 h window of 2 mm noise at 30 s (thinned to 300 points)
    # gives a Theil-Sen slope sigma of ~0.14 mm/h per axis: the 2-D speed stays below 0.5 mm/h (P > 0.99)
    assert level[quiet].max() == 0
    full = quiet & (g >= 3 * 3600.0)
    assert full.sum() >= 6 and np.nanmax(v[full]) < 0.5
    # a full window inside the motion measures 2 mm/h within 0.3 mm/h (>5 sigma of the estimator)
    assert v[-1] == pytest.approx(2.0, abs=0.3)
    assert level[-1] == Level.YELLOW and level.max() == Level.YELLOW
    first = g[np.flatnonzero(level >= Level.YELLOW)[0]]
    # the window slope reaches 1 mm/h when about half the window is in motion (1.5 h), then
    # persistence adds >= 30 min: never before 5.5 h, and within 3 h of the start
    assert start + 1.5 * 3600 + 1800 - 600 <= first <= start + 3 * 3600


def test_streaming_engine_matches_batch_evaluation():
    t, enu = series(3.0, 10.0, seed=2)
    enu[:, 1] += np.maximum(0.0, t - 3600.0) / 3600.0 * 30.0  # 30 mm/h north from 1 h
    enu[500] += [0.0, 80.0, 0.0]
    rules = [DISP, Rule("velocity", {"yellow": 5.0, "red": 20.0}, window_s=1800.0, step_s=300.0, persist_n=2),
             Rule("u", {"blue": 12.0, "yellow": 18.0}, persist_n=3)]
    eng = RuleEngine(rules)
    got = {i: [] for i in range(len(rules))}
    for k in range(t.size):
        for i, lev in eng.push(t[k], enu[k]).items():
            got[i].append(lev)
    for i, r in enumerate(rules):
        _, _, level = evaluate_series(r, t, enu)
        assert got[i] == level.tolist(), r.kind


def test_acceleration_and_tangent_angle_levels():
    t = np.arange(0.0, 6 * 3600.0, 60.0)
    th = t / 3600.0
    disp = 1.0 * th + 0.5 * 0.8 * th ** 2  # v0 = 1 mm/h, a = 0.8 mm/h^2
    enu = np.stack([disp, np.zeros_like(t), np.zeros_like(t)], axis=1)
    assert robust_acceleration_mm_h2(t, enu) == pytest.approx(0.8, rel=1e-3)
    assert robust_velocity_mm_h(t[-60:], enu[-60:]) == pytest.approx(1.0 + 0.8 * 5.5, rel=0.02)
    # v_ref = 1 mm/h creep: 45 deg at v_ref, ~80 deg at 5.7 v_ref, ~85 deg at 11.4 v_ref
    assert tangent_angle_deg(1.0, 1.0) == pytest.approx(45.0)
    assert tangent_angle_deg(5.8, 1.0) > 80.0 > tangent_angle_deg(5.6, 1.0)
    rule = Rule("tangent_angle", {"blue": 40.0, "yellow": 50.0, "orange": 80.0, "red": 85.0}, window_s=3600.0,
                step_s=600.0, params={"reference_velocity_mm_h": 1.0, "min_velocity_mm_h": 0.3})
    g, angle, level = evaluate_series(rule, t, enu)
    # at the end v ~ 1 + 0.8 * 5.5 = 5.4 mm/h -> atan(5.4) = 79.5 deg: yellow, not yet orange
    assert angle[-1] == pytest.approx(np.degrees(np.arctan(5.4)), abs=0.5)
    assert level[-1] == Level.YELLOW
    with pytest.raises(RuleError):
        Rule("tangent_angle", {"red": 85.0})


def test_rule_validation_and_raw_levels():
    with pytest.raises(RuleError):
        Rule("2d", {"blue": 30, "yellow": 20})  # decreasing thresholds
    with pytest.raises(RuleError):
        Rule("tilt", {"red": 1})
    with pytest.raises(RuleError):
        Rule.from_dict({"kind": "2d", "thresholds": {"red": 1}, "persist": 3})
    assert raw_levels(DISP, np.array([np.nan, 9.9, 10.0, 35.0, 99.0])).tolist() == [0, 0, 1, 3, 4]
    assert Rule.from_dict(DISP.to_dict()) == DISP


def test_persistence_batch_equals_streaming_on_random_levels():
    rng = np.random.default_rng(5)
    raw = rng.integers(0, 5, 400).astype(np.int8)
    raw[100:160] = 3
    t = np.cumsum(rng.uniform(0.5, 2.0, 400))
    for n, s in ((1, 0.0), (3, 0.0), (5, 10.0), (20, 30.0)):
        p = Persistence(n, s)
        assert [p.update(t[i], int(raw[i])) for i in range(raw.size)] == persist(t, raw, n, s).tolist()
    assert persist(t, raw, 20, 0.0)[100:160].max() == 3


def test_data_quality_rules():
    rules = [Rule("no_data", {"yellow": 30.0, "red": 300.0}), Rule("fix_lost", {"orange": 10.0}),
             Rule("reference_missing", {"orange": 60.0}, persist_n=2)]
    eng = RuleEngine(rules)
    assert eng.tick(0.0, None) == {0: 4, 2: 0}  # never any data: red; reference: first evaluation
    for k in range(12):
        lv = eng.push(100.0 + k, [0.0, 0.0, 0.0], fixed=k < 2)
    assert lv[1] == Level.ORANGE  # 10 consecutive non-fixed solutions
    assert eng.push(113.0, [0.0, 0.0, 0.0], fixed=True)[1] == 0
    assert eng.tick(120.0, 115.0) == {0: 0, 2: 0}
    assert eng.tick(200.0, 115.0)[0] == Level.YELLOW
    assert eng.tick(200.0, 115.0)[2] == Level.ORANGE  # second consecutive evaluation beyond 60 s


def test_alarm_book_life_cycle():
    book = AlarmBook()
    assert book.update("2d", 0, 0.0) == []
    [ev] = book.update("2d", 2, 10.0, 21.0)
    assert (ev.kind, ev.level, ev.state) == ("raised", 2, "open")
    ack = book.acknowledge(ev.alarm_id, "ops", 11.0)
    assert ack.state == "acknowledged"
    with pytest.raises(RuleError):
        book.acknowledge(ev.alarm_id, "ops", 12.0)
    [esc] = book.update("2d", 4, 20.0, 60.0)
    assert esc.kind == "escalated" and esc.state == "open"  # escalation re-opens for a new acknowledgement
    assert book.update("2d", 4, 21.0, 61.0) == []
    [clr] = book.update("2d", 0, 30.0)
    assert clr.kind == "cleared" and book.alarms[ev.alarm_id].max_level == 4
    book.close(ev.alarm_id, "ops", 40.0)
    [new] = book.update("2d", 1, 50.0, 11.0)
    assert new.kind == "raised" and new.alarm_id != ev.alarm_id


def test_hampel_and_robust_filter():
    t, enu = series(0.5, 1.0, seed=3)
    enu[300] += [50.0, 0.0, 0.0]
    assert hampel_mask(enu[:, 0], 15, 4.0).nonzero()[0].tolist() == [300]
    f = RobustFilter()
    outs = [f.update(t[k], enu[k]) for k in range(t.size)]
    assert outs[300].outlier and f.n_outliers <= 3  # the blunder, at most ~2 noise samples beyond 4 sigma
    assert abs(outs[300].enu_mm[0]) < 3.0  # the filtered value ignores the 50 mm blunder
    # a real 20 mm step is followed (restart after half a window) and counted as a step
    enu2 = enu.copy()
    enu2[1000:] += [20.0, 0.0, 0.0]
    f2 = RobustFilter()
    outs2 = [f2.update(t[k], enu2[k]) for k in range(t.size)]
    assert f2.n_steps == 1
    assert outs2[1100].enu_mm[0] == pytest.approx(20.0, abs=2.0)


def test_session_averages_repeatability():
    t, enu = series(24.0, 30.0, seed=4)
    enu[50] += [80.0, 0.0, 0.0]
    sa = session_averages(t, enu, 3600.0)
    assert sa["count"].size == 24 and sa["n_outliers"] >= 1
    rep = repeatability_mm(sa["mean_mm"])
    # 120 samples an hour: mean sigma 2/sqrt(120) = 0.18 mm per axis -> horizontal RMS ~0.26 mm
    assert rep["horizontal_mm"] < 0.5 and rep["vertical_mm"] < 1.0
    assert np.all(np.abs(sa["std_mm"][:, 0] - 2.0) < 0.5)


def test_cusum_detects_shift_and_stays_quiet_on_noise():
    from rtk_engine.geodesy.ellipsoid import geodetic_to_ecef, enu_rotation
    rng = np.random.default_rng(7)
    llh = np.array([np.radians(29.56), np.radians(106.55), 300.0])
    ref = geodetic_to_ecef(llh)
    R = enu_rotation(llh[0], llh[1])
    days = np.arange(60) * 86400.0
    enu = rng.normal(0, 1, (60, 3)) * [1.5, 1.5, 4.0]  # daily PPP scatter [mm]
    quiet = station_stability(days, ref + enu / 1000.0 @ R, ref)
    assert quiet.stable
    enu[40:, 0] += 6.0  # the reference station moves 6 mm east on day 40 (4 true sigma, 3 floor sigma)
    moved = station_stability(days, ref + enu / 1000.0 @ R, ref)
    assert not moved.stable
    ax = moved.axes[0]
    assert 40 <= ax.alarm_index <= 45 and ax.shift_mm == pytest.approx(6.0, abs=1.5)
    s_hi, s_lo = cusum(np.array([0.0, 2.0, 2.0, -3.0]), k=0.5)  # hand-computed recursion
    assert s_hi.tolist() == [0.0, 1.5, 3.0, 0.0] and s_lo.tolist() == [0.0, 0.0, 0.0, 2.5]
    assert theil_sen_slope(np.arange(5.0), np.array([0, 1, 2, 30, 4.0])) == pytest.approx(1.0)
