"""Daily repeatability of hourly solutions on a static simulated point (issue 6, item 2), and where
the horizontal scatter comes from.

    .venv/bin/python benchmarks/bench_monitoring_repeatability.py [--hours 24] [--rate 30]

A point near Chongqing simulated for a day from the real BRD400DLR broadcast ephemerides
(rtk_engine.simulate, GPS+BeiDou, default error model without the per-station tropospheric random
walk, as the last line of bench_monitoring.py), solved epoch by epoch as the live service does
(LivePoint: streaming RTK, kinematic, L1+L2), fixed epochs averaged per hour, scatter of the hourly
means (goal <= 2 mm horizontal, <= 5 mm vertical):

1. one reference 2 km away, the RTK defaults (differential ionosphere ignored below 10 km);
2. the same with the simulator's ionosphere switched off: a diagnosis, not a result;
3. one reference, ``iono = "estimate"`` (the engine's ionosphere states);
4. two references, 2 km WNW and 2.5 km ESE, combined (cors_network.monitoring.multiref: the
   baselines' ionospheric scale learned from their disagreement, its changes removed);
5. two references on the same side (2 km WSW, 4 km W), combined.
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


def run(label: str, hours: float, rate: float, refs: dict, iono_sim: bool = True, **opts) -> None:
    from cors_network.monitoring.displacement import repeatability_mm, session_averages
    from cors_network.monitoring.point import LivePoint
    from rtk_engine import gnss_time as gt
    from rtk_engine.formats.rinex_nav import read_nav
    from rtk_engine.simulate import CHONGQING_LLH_DEG, ErrorModel, SimConfig, network_around, simulate_network
    from rtk_engine.solvers.rtk import load_options

    nav = read_nav(DATA / "nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz")
    st = network_around(*CHONGQING_LLH_DEG, {"PT01": (0, 0), **refs})
    em = ErrorModel().with_(tropo_zwd_random_walk_m_per_sqrt_h=0.0, ionosphere=iono_sim)
    sims = simulate_network(nav, st, int(gt.from_calendar(2023, 3, 12, 0, 0, 0)), duration_s=hours * 3600,
                            rate_s=rate, config=SimConfig(systems="GC", errors=em), seed=3)
    rover, truth = sims["PT01"]
    bases = {c: sims[c][1] for c in refs}
    p = LivePoint("PT01", truth, bases if len(bases) > 1 else next(iter(bases.values())), nav, [],
                  opts=load_options(systems="GC", max_freqs=2, **opts))
    tic = time.perf_counter()
    t, enu = [], []
    for k in range(rover.n_epochs):  # the live path: one epoch at a time
        for c in refs:
            p.on_reference_epoch(c, sims[c][0].select_epochs(k))
        for s in p.on_epoch(rover.select_epochs(k)):
            t.append(s.time_ns * 1e-9)
            enu.append(s.enu_mm)
    dt = time.perf_counter() - tic
    t, enu = np.array(t), np.array(enu)
    ok = np.all(np.isfinite(enu), axis=1)
    sa = session_averages(t[ok], enu[ok], 3600.0)
    r = repeatability_mm(sa["mean_mm"])
    m = np.asarray(sa["mean_mm"])
    print(f"[{label}] fixed {ok.mean():.3f}, {dt / rover.n_epochs * 1e3:.0f} ms/epoch: hourly repeatability "
          f"H {r['horizontal_mm']:.1f} mm, V {r['vertical_mm']:.1f} mm over {r['sessions']} sessions; hourly E range "
          f"{np.ptp(m[:, 0]):.1f} mm, N range {np.ptp(m[:, 1]):.1f} mm; mean {enu[ok].mean(axis=0).round(1)} mm", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=30.0)
    ap.add_argument("--cases", default="12345", help="which of the cases 1-5 to run")
    a = ap.parse_args()
    one = {"REFA": (2.0, 240.0)}
    cases = {"1": ("one reference 2 km, RTK defaults", one, {}),
             "2": ("diagnosis: simulator without ionosphere", one, {"iono_sim": False}),
             "3": ("one reference 2 km, iono estimated", one, {"iono": "estimate"}),
             "4": ("two references 2 / 2.5 km, combined", {"REFA": (2.0, 300.0), "REFB": (2.5, 120.0)}, {}),
             "5": ("two references on one side 2 / 4 km, combined", {"REFA": (2.0, 240.0), "REFB": (4.0, 260.0)}, {})}
    for c in a.cases:
        label, refs, kw = cases[c]
        run(label, a.hours, a.rate, refs, **kw)
