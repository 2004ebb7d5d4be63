"""A monitoring point solved against two reference stations (cors_network.monitoring.multiref),
on simulated observations (rtk_engine.simulate, real BRD400DLR broadcast orbits, GPS+BeiDou, default
error model incl. the ionosphere gradient that short-baseline RTK leaves unmodelled): the point near
Chongqing, REFA 2 km WNW and REFB 2.5 km ESE of it, 260 epochs at 2 s.

* all coordinates right: no disagreement alarm; the combination lands on the truth horizontally
  (the two baselines' ionospheric scale errors, ~4 mm/km, point in opposite directions and cancel in
  the weighted mean; the scale is estimated from the disagreement);
* REFB moves 3 cm at epoch 130 while its registered coordinate stays (its registered coordinate is
  3 cm off from then on, as for a station on a slope): REFB is identified and excluded within
  ~20 epochs, the disagreement alarm is raised, the combined series stays within a few mm of truth;
* REFB's registered coordinate 3 cm off from the start: two references cannot say which is wrong;
  the alarm is raised (the error across the baselines is seen) and nothing is excluded.
"""
from __future__ import annotations

import numpy as np
import pytest

from cors_network.monitoring.inject import enu_to_ecef_vector, inject_displacement, step_displacement
from cors_network.monitoring.multiref import ReferenceCombiner, reference_weights
from cors_network.monitoring.point import LivePoint
from cors_network.monitoring.rules import Rule
from rtk_engine import gnss_time as gt
from rtk_engine.formats.rinex_nav import read_nav
from rtk_engine.simulate import CHONGQING_LLH_DEG, SimConfig, network_around, simulate_network
from rtk_engine.solvers.rtk import load_options
from tests.conftest import shared_path

N, RATE, JUMP = 260, 2.0, 130


@pytest.fixture(scope="module")
def sim():
    nav = read_nav(shared_path("nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz"))
    st = network_around(*CHONGQING_LLH_DEG, {"PT01": (0, 0), "REFA": (2.0, 300.0), "REFB": (2.5, 120.0)})
    t0 = int(gt.from_calendar(2023, 3, 12, 2, 0, 0))
    return nav, simulate_network(nav, st, t0, duration_s=N * RATE, rate_s=RATE, config=SimConfig(systems="GC"), seed=3)


def run(nav, truth, bases: dict, base_obs: dict, rover):
    """Feed the point epoch by epoch as the live service does; returns the PointSolutions."""
    p = LivePoint("PT01", truth, bases, nav, [Rule("2d", {"yellow": 20.0}, persist_n=5, name="horizontal")],
                  opts=load_options(systems="GC", max_freqs=2))
    out = []
    for k in range(rover.n_epochs):
        for code, b in base_obs.items():
            p.on_reference_epoch(code, b.select_epochs(k))
        out += p.on_epoch(rover.select_epochs(k))
    return out


def alarms(sols, rule="reference disagreement"):
    return [(k, e.level) for k, s in enumerate(sols) for e in s.events if e.rule_key == rule]


def test_two_references_agree_no_alarm_and_one_moving_reference_is_excluded(sim):
    nav, sims = sim
    rover, truth = sims["PT01"]
    (a_obs, a_xyz), (b_obs, b_xyz) = sims["REFA"], sims["REFB"]
    bases = {"REFA": a_xyz, "REFB": b_xyz}

    good = run(nav, truth, bases, {"REFA": a_obs, "REFB": b_obs}, rover)
    e = np.array([s.enu_mm for s in good])
    assert np.isfinite(e[:, 0]).mean() > 0.95
    per = {c: np.array([[r.enu_mm for r in s.per_reference if r.code == c][0] for s in good]) for c in bases}
    # each single baseline is off by its ionospheric scale error (several mm, opposite signs) ...
    assert all(np.hypot(*np.nanmean(v[:, :2], axis=0)) > 5.0 for v in per.values())
    # ... the combination of the two is on the truth
    assert np.hypot(*np.nanmean(e[150:, :2], axis=0)) < 2.0
    assert alarms(good) == [] and all(not s.combination.suspects for s in good)
    assert np.nanmax([s.combination.disagreement_h_mm for s in good]) < 5.0
    assert alarms(good, "horizontal") == []

    moved_b = inject_displacement(b_obs, nav, b_xyz, step_displacement(b_obs.time_ns, b_obs.time_ns[JUMP], [0.0, 0.03, 0.0]))
    bad = run(nav, truth, bases, {"REFA": a_obs, "REFB": moved_b}, rover)
    first = next(k for k, s in enumerate(bad) if s.combination.suspects)
    assert JUMP < first < JUMP + 25 and bad[first].combination.suspects == ("REFB",)
    assert all(s.combination.suspects == ("REFB",) and s.combination.used in ((), ("REFA",)) for s in bad[first:])
    eb = np.array([s.enu_mm for s in bad])
    # the point did not move: after the identification the combined series stays where it was
    h_err = np.hypot(eb[first:, 0], eb[first:, 1])
    assert np.nanmedian(h_err) < 3.0 and np.nanpercentile(h_err, 95) < 8.0
    assert abs(np.nanmean(eb[first:, 2]) - np.nanmean(e[first:, 2])) < 3.0  # vertical as with good references
    levels = alarms(bad)
    assert levels and levels[0][0] > JUMP and max(lv for _, lv in levels) >= 2  # yellow (15 mm) or more
    assert alarms(bad, "horizontal") == []  # the moving reference does not make the point alarm


def test_registered_coordinate_wrong_from_the_start_raises_the_alarm(sim):
    nav, sims = sim
    rover, truth = sims["PT01"]
    (a_obs, a_xyz), (b_obs, b_xyz) = sims["REFA"], sims["REFB"]
    wrong_b = b_xyz + enu_to_ecef_vector(np.array([0.0, 0.03, 0.0]), b_xyz)
    sols = run(nav, truth, {"REFA": a_xyz, "REFB": wrong_b}, {"REFA": a_obs, "REFB": b_obs}, rover)
    assert max((lv for _, lv in alarms(sols)), default=0) >= 2
    assert all(not s.combination.suspects for s in sols)  # two references: which one is wrong is unknown


def test_combiner_weights_and_majority_vote():
    assert reference_weights([0.0, 4.0]) == pytest.approx([25 / 34, 9 / 34])  # 1/(9 + 16) vs 1/9
    rng = np.random.default_rng(1)
    b = np.array([[2.0, 0, 0], [-1.0, 1.7, 0], [-1.0, -1.7, 0]])  # three references around the point
    c = ReferenceCombiner(["A", "B", "C"], b)
    out = None
    for k in range(400):
        d = {code: 2.0 * rng.standard_normal(3) for code in "ABC"}  # mm, no natural bias
        if k >= 250:
            d["C"] = d["C"] + np.array([25.0, 0.0, 0.0])  # C jumps 25 mm east
        out = c.push(d)
        if k == 240:
            assert out.suspects == () and np.all(np.abs(out.disagreement_enu_mm[:, :2]) < 3.0)
    assert out.suspects == ("C",) and out.used == ("A", "B")
    assert np.abs(out.enu_mm[:2]).max() < 6.0


def test_multi_reference_point_through_the_service(sim, tmp_path):
    """The same moving-reference case through the service's live path (LiveMonitoring on ingest sinks,
    as test_monitoring_live): per-reference rows stored, REFB excluded in the stored series, the
    disagreement alarm in the alarm list, the combination state on /references."""
    from types import SimpleNamespace

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.models import Station
    from api.monitoring_live import LiveMonitoring
    from api.routers.monitoring import ensure_processor
    from api.settings import Settings
    from tests.test_monitoring_live import fake_ingest

    nav, sims = sim
    rover, truth = sims["PT01"]
    (a_obs, a_xyz), (b_obs, b_xyz) = sims["REFA"], sims["REFB"]
    moved_b = inject_displacement(b_obs, nav, b_xyz, step_displacement(b_obs.time_ns, b_obs.time_ns[JUMP], [0.0, 0.03, 0.0]))
    app = create_app(Settings(data_dir=tmp_path, admin_password="admin-pass-123"))
    with TestClient(app) as c:
        h = {"Authorization": "Bearer " + c.post("/api/auth/token", json={"username": "admin", "password": "admin-pass-123"}).json()["access_token"]}
        with app.state.sessions() as db:
            db.add_all([Station(code=k, x_m=v[0], y_m=v[1], z_m=v[2]) for k, v in
                        (("REFA", a_xyz), ("REFB", b_xyz), ("PT01", truth))])
            db.commit()
        r = c.post("/api/monitoring/points", headers=h, json={
            "code": "PT01", "x_m": truth[0], "y_m": truth[1], "z_m": truth[2], "reference_stations": ["REFA", "REFB"],
            "rules": [{"kind": "2d", "thresholds": {"yellow": 20}, "persist_n": 5, "name": "horizontal"}]})
        assert r.status_code == 201
        ingests = {k: fake_ingest(nav) for k in ("REFA", "REFB", "PT01")}
        lm = LiveMonitoring(ensure_processor(app), SimpleNamespace(ingests=ingests), batch=20)
        try:
            assert lm.sync() == {1: ("PT01", "REFA", "REFB")}
            for k in range(rover.n_epochs):
                for code, blk in (("REFA", a_obs), ("REFB", moved_b)):
                    for fn in ingests[code].sinks:
                        fn(code, blk.select_epochs(k))
                for fn in ingests["PT01"].sinks:
                    fn("PT01", rover.select_epochs(k))
            lm.drain()
            refs = c.get("/api/monitoring/points/PT01/references", headers=h).json()
        finally:
            lm.stop()
        sols = c.get("/api/monitoring/points/PT01/displacements", headers=h).json()["items"]
        alarms = c.get("/api/monitoring/alarms?point=PT01", headers=h).json()["items"]
    assert len(sols) == N and set(refs["series"]) == {"REFA", "REFB"} and len(refs["series"]["REFB"]) == N
    assert refs["live"]["suspects"] == ["REFB"] and -8 < refs["live"]["scale_mm_per_km"] < -1  # ionospheric scale
    used = [s["references_used"] for s in sols]
    assert used[JUMP - 1] == ["REFA", "REFB"] and used[-1] == ["REFA"]
    late = np.array([[s["e_mm"], s["n_mm"]] for s in sols[JUMP + 25:] if s["e_mm"] is not None])
    assert np.median(np.hypot(*late.T)) < 3.0
    assert [a["rule"] for a in alarms] == ["reference disagreement"]
