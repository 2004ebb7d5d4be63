"""Simulator throughput: wall time per (epoch x satellite) against the anchor of one broadcast
evaluation of the same rows, measured in the same run; and a 24 h, 1 Hz single-station run streamed
in chunks (wall time, peak RSS).

    .venv/bin/python benchmarks/bench_simulate.py [--hours 24] [--systems GEC]
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from rtk_engine import gnss_time as gt
from rtk_engine.formats.rinex_nav import read_nav
from rtk_engine.orbits.broadcast import sat_states
from rtk_engine.simulate import CHONGQING_LLH_DEG, SimConfig, iter_network, network_around
from rtk_engine.simulate.observations import candidate_satellites

NAV = Path(__file__).resolve().parents[1].parent / "shared/data/nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--systems", default="GEC")
    ap.add_argument("--rate", type=float, default=1.0)
    a = ap.parse_args()
    nav = read_nav(NAV)
    cfg = SimConfig(systems=a.systems)
    st = network_around(*CHONGQING_LLH_DEG, {"CQ01": (0.0, 0.0)})
    t0 = int(gt.from_calendar(2023, 3, 12, 0, 0, 0))
    sats = candidate_satellites(nav, cfg)

    # anchor: one broadcast evaluation of every (epoch, satellite) of a 1 h chunk
    n_e = cfg.chunk_epochs
    tic = time.perf_counter()
    sat_states(nav, np.tile(sats, n_e), np.repeat(t0 + np.arange(n_e, dtype=np.int64) * gt.NS, sats.size))
    anchor = time.perf_counter() - tic

    tic = time.perf_counter()
    n_epochs = n_obs = 0
    for chunk in iter_network(nav, st, t0, a.hours * 3600, a.rate, cfg, seed=1):
        b = chunk["CQ01"].block
        n_epochs += b.n_epochs
        n_obs += int(np.isfinite(b.code_m).sum())
    wall = time.perf_counter() - tic
    per_chunk = wall / (n_epochs / n_e)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"satellites {sats.size}, epochs {n_epochs}, observations {n_obs}")
    print(f"anchor: broadcast states for {n_e} x {sats.size} rows: {anchor:.2f} s")
    print(f"simulator: {wall:.1f} s total, {1e3 * wall / n_epochs:.2f} ms/epoch, "
          f"{per_chunk / anchor:.2f} x anchor per {n_e}-epoch chunk; peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
