"""RTK memory over a long run: a simulated 24 h base + rover pair at 1 Hz through one RTK filter.

The simulator streams the day in chunks (``iter_network``, ``SimConfig.chunk_epochs`` epochs); each
chunk is prepared (``prepare`` with the fixed signal layout of the first chunk) and stepped through
the SAME ``RtkFilter`` (the batch solver's code path, state carried across chunks as a stream
would). Only per-chunk counters are kept, so the process RSS should stay flat once the first chunk
has warmed up: current and peak RSS are printed after every chunk, with ms/epoch, fix rate and the
horizontal RMS of fixed epochs against the simulated truth.

    .venv/bin/python benchmarks/bench_rtk_memory.py [--hours 24] [--rate 1] [--km 2] [--systems GC] [--numpy]

A 24 h run takes several minutes (86 400 epochs simulated and solved); it is a benchmark, not a test.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
NAV = Path(os.environ.get("BEIDOU_SHARED_DATA", REPO.parent / "shared" / "data")) / \
    "nav" / "BRD400DLR_S_20230710000_01D_MN.rnx.gz"


def rss_mb() -> float:
    """Current resident set size [MB] (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def use_compiled(flag: bool) -> bool:
    """Route the LAMBDA kernels (compiled if built and ``flag``); returns whether compiled is used."""
    from rtk_engine import _ext
    from rtk_engine.solvers import lambda_search
    if not hasattr(use_compiled, "py_ref"):
        use_compiled.py_ref = (lambda_search.reduce, lambda_search.search)
    _ext.set_enabled(flag)
    red, sea = _ext.kernel("lambda_core", "reduce"), _ext.kernel("lambda_core", "search")
    on = red is not None
    lambda_search.reduce, lambda_search.search = (red, sea) if on else use_compiled.py_ref
    return on


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=1.0, help="epoch interval [s]")
    ap.add_argument("--km", type=float, default=2.0, help="baseline length [km]")
    ap.add_argument("--systems", default="GC")
    ap.add_argument("--chunk", type=int, default=3600, help="epochs per simulated chunk")
    ap.add_argument("--numpy", action="store_true", help="pure-numpy path (default: compiled kernels if built)")
    a = ap.parse_args(argv)
    if not NAV.exists():
        print(f"skip: {NAV} absent")
        return 0
    from rtk_engine import gnss_time as gt
    from rtk_engine.formats.rinex_nav import read_nav
    from rtk_engine.geodesy.ellipsoid import ecef_to_enu
    from rtk_engine.simulate import CHONGQING_LLH_DEG, SimConfig, iter_network, network_around
    from rtk_engine.solvers.rtk import load_options
    from rtk_engine.solvers.rtk.batch import make_filter
    from rtk_engine.solvers.rtk.prepare import layout_with_codes, prepare, signal_layout

    compiled = use_compiled(not a.numpy)
    nav = read_nav(NAV)
    stations = network_around(*CHONGQING_LLH_DEG, {"BASE": (0.0, 0.0), "ROVR": (a.km, 60.0)})
    t0 = int(gt.from_calendar(2023, 3, 12, 0, 0, 0))
    opts = load_options(systems=a.systems, max_freqs=2)
    cfg = SimConfig(systems=a.systems, chunk_epochs=a.chunk)
    print(f"{a.hours:g} h at {a.rate:g} s, {a.km:g} km, systems {a.systems}, "
          f"{'compiled kernels' if compiled else 'pure numpy'}; RSS after start-up {rss_mb():.0f} MB")
    print(f"{'hours':>6s} {'epochs':>7s} {'sim s':>6s} {'rtk ms/ep':>9s} {'fix %':>6s} {'H RMS mm':>8s} "
          f"{'RSS MB':>7s} {'peak MB':>8s}")
    flt = layout = None
    n_done = 0
    totals = {"epochs": 0, "fix": 0, "rtk_s": 0.0, "sim_s": 0.0}
    rss_seen = []
    tic = time.perf_counter()
    for chunk in iter_network(nav, stations, t0, a.hours * 3600.0, a.rate, cfg, seed=11):
        sim_s = time.perf_counter() - tic
        rover, base = chunk["ROVR"], chunk["BASE"]
        t_rtk = time.perf_counter()
        if layout is None:
            codes = signal_layout(rover.block, base.block, opts).codes
            layout = layout_with_codes(rover.block, base.block, rover.block.sats, codes)
        A = prepare(rover.block, base.block, nav, base.truth_ecef_m, opts, layout=layout)
        if flt is None:
            flt = make_filter(A, opts)
        pos = np.full((A.n_epochs, 3), np.nan)
        fixed = np.zeros(A.n_epochs, bool)
        for k in range(A.n_epochs):
            r = flt.step(A, k)
            pos[k], fixed[k] = r.pos, r.quality == 1
        rtk_s = time.perf_counter() - t_rtk
        enu = ecef_to_enu(pos[fixed], rover.truth_ecef_m) if fixed.any() else np.zeros((0, 3))
        h_rms = float(np.sqrt(np.mean(enu[:, 0] ** 2 + enu[:, 1] ** 2)) * 1e3) if len(enu) else float("nan")
        n_done += A.n_epochs
        totals["epochs"] += A.n_epochs
        totals["fix"] += int(fixed.sum())
        totals["rtk_s"] += rtk_s
        totals["sim_s"] += sim_s
        rss_seen.append(rss_mb())
        print(f"{n_done * a.rate / 3600:6.1f} {A.n_epochs:7d} {sim_s:6.1f} {rtk_s / A.n_epochs * 1e3:9.2f} "
              f"{fixed.mean() * 100:6.1f} {h_rms:8.1f} {rss_seen[-1]:7.0f} {peak_rss_mb():8.0f}", flush=True)
        del A, chunk, rover, base
        tic = time.perf_counter()
    n = max(totals["epochs"], 1)
    later = rss_seen[1:] or rss_seen
    print(f"total: {totals['epochs']} epochs, fix {totals['fix'] / n * 100:.1f} %, RTK {totals['rtk_s'] / n * 1e3:.2f} "
          f"ms/epoch, simulation {totals['sim_s'] / n * 1e3:.2f} ms/epoch; RSS after chunk 1 {rss_seen[0]:.0f} MB, "
          f"min/max after that {min(later):.0f}/{max(later):.0f} MB; peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
