"""Monitoring figures: daily repeatability of hourly solutions on a static simulated point, and the
cost of the live (streaming) point against the batch solver on real data.

    .venv/bin/python benchmarks/bench_monitoring.py [--hours 24] [--rate 30]

1. Repeatability (issue 6, item 2): a 2 km GPS+BeiDou baseline near Chongqing simulated from the
   real BRD400DLR broadcast ephemerides (rtk_engine.simulate), solved by RTK (kinematic, L1+L2),
   fixed epochs averaged per hour (cors_network.monitoring.displacement.session_averages), scatter of
   the hourly means. Run with the default error model and with the per-station tropospheric random
   walk switched off, to show what dominates the vertical.
2. Live point vs batch: fujisawa-078 (60 s, 1 Hz), ms per epoch of LivePoint.on_epoch (RtkStream +
   filter + rules) over ms per epoch of the batch ``solve`` - the anchor measured in the same run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def repeatability(hours: float, rate: float) -> None:
    from cors_network.monitoring.displacement import enu_mm, repeatability_mm, session_averages
    from rtk_engine import gnss_time as gt
    from rtk_engine.formats.rinex_nav import read_nav
    from rtk_engine.simulate import CHONGQING_LLH_DEG, ErrorModel, SimConfig, network_around, simulate_network
    from rtk_engine.solvers.rtk import load_options, solve

    nav = read_nav(DATA / "nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz")
    st = network_around(*CHONGQING_LLH_DEG, {"BASE": (0, 0), "PT01": (2.0, 60.0)})
    t0 = int(gt.from_calendar(2023, 3, 12, 0, 0, 0))
    for label, em in (("default errors", ErrorModel()),
                      ("no tropo random walk", ErrorModel().with_(tropo_zwd_random_walk_m_per_sqrt_h=0.0))):
        sims = simulate_network(nav, st, t0, duration_s=hours * 3600, rate_s=rate,
                                config=SimConfig(systems="GC", errors=em), seed=3)
        rov, truth = sims["PT01"]
        base, bpos = sims["BASE"]
        tic = time.perf_counter()
        sol, rep = solve(rov, base, nav, bpos, load_options(systems="GC", max_freqs=2))
        dt = time.perf_counter() - tic
        fx = sol.quality == 1
        e = enu_mm(sol.ecef_m[fx], truth)
        sa = session_averages(sol.time_ns[fx] * 1e-9, e, 3600.0)
        r = repeatability_mm(sa["mean_mm"])
        print(f"[{label}] {hours:g} h at {rate:g} s: fix rate {rep.fix_rate:.3f}, RTK {dt / len(sol) * 1e3:.1f} ms/epoch; "
              f"epoch RMS E/N/U {np.sqrt(np.mean(e ** 2, axis=0)).round(1)} mm; hourly repeatability "
              f"H {r['horizontal_mm']:.1f} mm, V {r['vertical_mm']:.1f} mm over {r['sessions']} sessions; "
              f"mean offset {e.mean(axis=0).round(1)} mm")


def live_vs_batch() -> None:
    from cors_network.monitoring.point import LivePoint
    from cors_network.monitoring.rules import Rule
    from rtk_engine.formats.rinex_nav import read_nav
    from rtk_engine.formats.rinex_obs import read_obs
    from rtk_engine.solvers.rtk import load_options, solve

    d = DATA / "rtk/fujisawa-2021-078"
    rover, base, nav = read_obs(d / "SEPT078M1.21O"), read_obs(d / "3034078M1.21O"), read_nav(d / "SEPT078M.21P")
    bpos = np.array([-3959400.631, 3385704.533, 3667523.111])
    truth = np.array([-3962108.673, 3381309.574, 3668678.638])
    tic = time.perf_counter()
    solve(rover, base, nav, bpos, load_options(max_freqs=2))
    batch = (time.perf_counter() - tic) / rover.n_epochs
    p = LivePoint("F", truth, bpos, nav, [Rule("2d", {"red": 30.0}, persist_n=5),
                                          Rule("velocity", {"red": 10.0}, window_s=60.0, step_s=10.0)])
    p.on_reference_epoch("3034", base)
    tic = time.perf_counter()
    p.on_epoch(rover)
    live = (time.perf_counter() - tic) / rover.n_epochs
    print(f"fujisawa-078: batch solve {batch * 1e3:.1f} ms/epoch (anchor); live point {live * 1e3:.1f} ms/epoch "
          f"= {live / batch:.1f} x batch; one core keeps up with {1 / live:.0f} points at 1 Hz")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=30.0)
    a = ap.parse_args()
    live_vs_batch()
    repeatability(a.hours, a.rate)
