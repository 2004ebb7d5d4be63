"""BeiDou RTK on simulated baselines (no real BeiDou base + rover pair exists in our data).

The simulator (``rtk_engine.simulate``) synthesises code/phase/Doppler from the real broadcast
ephemerides of BRD400DLR 2023-03-12 for stations around Chongqing (BeiDou GEOs high in the sky),
with troposphere residuals, a Klobuchar ionosphere with a 1.5 mm/km vertical gradient, multipath
and noise, and gives the exact truth. Signals: B1I, B2I, B3I (BDS-2/3) and B1C, B2a (BDS-3 only).
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

from rtk_engine import gnss_time as gt
from rtk_engine.geodesy.ellipsoid import ecef_to_enu
from rtk_engine.satellites import is_bds3, is_bds_geo
from rtk_engine.solution import Quality
from rtk_engine.solvers.rtk import load_options, prepare, solve
from tests.conftest import shared_path

import rtk_engine.orbits.broadcast  # noqa: F401
import rtk_engine.simulate as simulate

BRD4 = "nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz"
T0 = int(gt.from_calendar(2023, 3, 12, 4, 0, 0))


@functools.lru_cache(maxsize=None)
def _sim():
    from rtk_engine.formats.rinex_nav import read_nav

    nav = read_nav(shared_path(BRD4))
    st = simulate.network_around(*simulate.CHONGQING_LLH_DEG, {"BASE": (0.0, 0.0), "R05": (5.0, 60.0),
                                                               "R20": (20.0, 135.0, 40.0)})
    return nav, simulate.simulate_network(nav, st, T0, 120, 1.0, simulate.SimConfig(systems="GC"), seed=3)


def _run(rover: str, **opts):
    nav, sims = _sim()
    o = load_options(**opts)
    sol, rep = solve(sims[rover].block, sims["BASE"].block, nav, sims["BASE"].truth_ecef_m, o)
    enu = ecef_to_enu(sol.ecef_m, sims[rover].truth_ecef_m)
    return sol, rep, enu, o


def test_beidou_geo_igso_meo_and_bds3_signals_are_used():
    nav, sims = _sim()
    o = load_options(systems="C", bands={"C": ["2", "6", "1", "5"]}, max_freqs=4)
    A = prepare(sims["R05"].block, sims["BASE"].block, nav, sims["BASE"].truth_ecef_m, o)
    used = np.isfinite(A.el_b_rad).any(axis=0) & (np.nanmax(A.el_b_rad, axis=0) > np.radians(15))
    assert is_bds_geo(A.sats[used]).sum() >= 3  # GEOs in the float solution (kept out of AR by default)
    assert not A.fixable[is_bds_geo(A.sats)].any()
    b1c = np.isfinite(A.phase_r[:, :, 2]).any(axis=0)  # slot 2 = band 1 (B1C)
    assert b1c.any() and np.all(is_bds3(A.sats[b1c]))  # B1C only where BDS-3 transmits it


@pytest.mark.parametrize("systems", ["C", "GC"])
def test_5km_beidou_fixes_within_30s(systems):
    sol, rep, enu, _ = _run("R05", systems=systems)
    fixed = sol.quality == Quality.FIX
    h = np.linalg.norm(enu[:, :2], axis=1)
    print(f"\nsim 5 km {systems}: fix {fixed.mean():.0%}, TTFF {rep.time_to_first_fix_s:.0f} s, "
          f"max horizontal {h[fixed].max() * 1e3:.1f} mm")
    assert rep.time_to_first_fix_s <= 30.0  # issue: fixed within 30 s
    assert fixed[30:].mean() >= 0.95
    # the simulated differential ionosphere alone is ~2 cm on low DD pairs at 5 km (1.5 mm/km vertical,
    # mapped); with it unmodelled (iono "auto" = off below 10 km) fixed epochs stay within 3 cm
    assert h[fixed].max() <= 0.03


# long baselines: ionosphere states (common vertical + per satellite) and every BeiDou band both files have:
# B1I, B3I (BDS-2 and BDS-3) and B1C, B2a (BDS-3)
LONG = dict(iono="estimate", bands={"C": ["2", "6", "1", "5"], "G": ["1", "2"]}, max_freqs=4)


@pytest.mark.parametrize("rover,systems", [
    ("R05", "C"), ("R05", "GC"),
    pytest.param("R20", "C", marks=pytest.mark.slow), pytest.param("R20", "GC", marks=pytest.mark.slow),
])
def test_issue_goal_1cm_horizontal(rover, systems):
    """Issue item 4: fixed within 30 s, every fixed epoch <= 1 cm horizontal from the simulated truth.
    Measured (ionosphere-weighted AR with the gradient states and GEOs in AR, docs/rtk.md): 5 km
    BeiDou-only max 9.9 mm (8.4 before the GEOs joined AR; the float on the true integers is 10.0 mm
    here), BeiDou+GPS 9.7 mm; 20 km 6.8 / 6.2 mm, TTFF 8 / 5 s (before ionosphere-weighted AR: no
    fix within 120 s at 20 km)."""
    sol, rep, enu, _ = _run(rover, systems=systems, **LONG)
    fixed = sol.quality == Quality.FIX
    h = np.linalg.norm(enu[fixed, :2], axis=1)
    print(f"\nsim {rover} {systems} long-baseline settings: fix {fixed.mean():.0%}, TTFF {rep.time_to_first_fix_s:.0f} s, "
          f"max horizontal {h.max() * 1e3 if h.size else float('nan'):.1f} mm")
    assert rep.time_to_first_fix_s <= 30.0
    assert fixed[30:].mean() >= 0.9  # and it stays fixed
    assert h.max() <= 0.01


@functools.lru_cache(maxsize=None)
def _sim_other(seed: int, distance_km: float, azimuth_deg: float, dh_m: float, hour: int = 4, errors=None):
    nav, _ = _sim()
    st = simulate.network_around(*simulate.CHONGQING_LLH_DEG, {"BASE": (0.0, 0.0),
                                                               "ROV": (distance_km, azimuth_deg, dh_m)})
    t0 = int(gt.from_calendar(2023, 3, 12, hour, 0, 0))
    cfg = simulate.SimConfig(systems="GC", errors=errors or simulate.ErrorModel())
    return nav, simulate.simulate_network(nav, st, t0, 120, 1.0, cfg, seed=seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed,azimuth,dh,hour,systems", [
    (4, 135.0, 40.0, 4, "C"), (4, 135.0, 40.0, 4, "GC"), (3, 45.0, -30.0, 4, "C"),
    (3, 45.0, -30.0, 4, "GC"), (4, 135.0, 40.0, 9, "GC"),
])
def test_20km_other_geometries(seed, azimuth, dh, hour, systems):
    """Not the file the settings were developed on: another seed, another direction and height, another
    time, and a two-station network (other noise draws, other ionosphere-gradient centre). The last two
    never fixed in the three-station network before the ionosphere gradient states. Measured: see the
    print; the bound here is 2 cm: over the 36 runs of benchmarks/bench_rtk_long_baseline.py (docs/rtk.md)
    fixed epochs reach 10-19 mm with correct integers (phase multipath through the per-satellite
    ionosphere, the same with the true integers), never a wrong integer."""
    nav, sims = _sim_other(seed, 20.0, azimuth, dh, hour)
    o = load_options(systems=systems, **LONG)
    sol, rep = solve(sims["ROV"].block, sims["BASE"].block, nav, sims["BASE"].truth_ecef_m, o)
    fixed = sol.quality == Quality.FIX
    h = np.linalg.norm(ecef_to_enu(sol.ecef_m, sims["ROV"].truth_ecef_m)[fixed, :2], axis=1)
    print(f"\nsim seed {seed} az {azimuth} {hour:02d}:00 {systems}: fix {fixed.mean():.0%}, "
          f"TTFF {rep.time_to_first_fix_s:.0f} s, max horizontal {h.max() * 1e3 if h.size else float('nan'):.1f} mm")
    assert rep.time_to_first_fix_s <= 30.0 and fixed[30:].mean() >= 0.95
    assert h.max() <= 0.02


@pytest.mark.slow
def test_relative_troposphere_state():
    """tropo = "estimate": a relative zenith wet delay state. 20 km with 4 cm of relative wet delay
    (2 mm/km gradient) and no multipath: without the state the mean vertical of the fixed epochs is
    pulled by the troposphere, with it much less. (Off by default: with the default 2 mm phase multipath the
    state is driven by it and the vertical gets worse, docs/rtk.md.)"""
    em = simulate.ErrorModel(multipath_code_m=0.0, multipath_phase_m=0.0, tropo_zwd_gradient_mm_per_km=2.0)
    nav, sims = _sim_other(3, 20.0, 135.0, 40.0, 4, em)
    v = {}
    for tropo in ("off", "estimate"):
        o = load_options(systems="C", tropo=tropo, **LONG)
        sol, rep = solve(sims["ROV"].block, sims["BASE"].block, nav, sims["BASE"].truth_ecef_m, o)
        fixed = sol.quality == Quality.FIX
        assert rep.time_to_first_fix_s <= 30.0 and fixed[30:].mean() >= 0.95
        up = ecef_to_enu(sol.ecef_m, sims["ROV"].truth_ecef_m)[:, 2]
        v[tropo] = abs(np.mean(up[30:][fixed[30:]]))
        print(f"\nrelative troposphere 4 cm, tropo {tropo}: vertical of the fixed epochs after 30 s: mean "
              f"{np.mean(up[30:][fixed[30:]]) * 1e3:.1f} mm, max |.| {np.abs(up[30:][fixed[30:]]).max() * 1e3:.1f} mm")
    assert v["estimate"] <= 0.005 and v["estimate"] <= 0.5 * v["off"]  # measured 2.1 against 10.4 mm
