"""``beidou ppp``: precise point positioning of a RINEX observation file with SP3/CLK products.

    beidou ppp --sp3 F [--sp3 F2] [--clk F] [--atx F] [--pcv F] [--bias F] OBS -o out.pos
               [--mode static|kinematic] [--systems GEC] [--products DIR] [--elmask DEG]

``--products DIR`` lets the product manager pick the files covering the observation span (and
say exactly which is missing); explicit ``--sp3/--clk`` files are used as given. Without
``--clk`` the SP3 clock column is used. A progress bar runs over the epochs, and a summary
line gives epochs, solved epochs, the final position and its sigma; per-satellite exclusions
(missing products, no second frequency) are printed as notes.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("obs", help="RINEX observation file (2.x/3.x/4.x, Hatanaka, .gz/.Z)")
    p.add_argument("-o", "--output", required=True, help="output file")
    p.add_argument("--sp3", action="append", default=[], help="SP3 orbit file (repeatable: previous/next day)")
    p.add_argument("--clk", action="append", default=[], help="RINEX clock file (default: SP3 clock column)")
    p.add_argument("--atx", help="ANTEX file (satellite and receiver PCO/PCV)")
    p.add_argument("--pcv", help="NGS antenna file (e.g. RTKLIB's ngs_abs.pcv) for receiver antennas not in --atx")
    p.add_argument("--bias", help="SINEX-BIAS file with code OSBs")
    p.add_argument("--products", action="append", default=[],
                   help="folder or file the product manager searches (repeatable)")
    p.add_argument("--agency", help="analysis centre to take from --products (e.g. GRG, COD, IAC)")
    p.add_argument("--mode", choices=("static", "kinematic"), default="static")
    p.add_argument("--systems", default="GEC", help="systems to use (G, E, C), default GEC")
    p.add_argument("--elmask", type=float, default=10.0, help="elevation mask [deg] (default 10)")
    p.add_argument("--coords", choices=("llh", "xyz"), default="llh", help=".pos coordinates (default llh)")
    p.add_argument("--format", choices=("pos", "csv", "nmea", "geojson"), default="pos", dest="fmt")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _products(args, obs):
    from ..formats.antex import Antex, read_antex
    from ..formats.ngs_pcv import read_ngs_pcv
    from ..formats.rinex_clk import read_clk
    from ..formats.sinex_bias import read_sinex_bias
    from ..formats.sp3 import read_sp3_many
    from ..solvers.ppp.products import find_products, merge_clk

    notes: list[str] = []
    sp3 = clk = atx = bias = None
    if args.products:
        ps = find_products(args.products, int(obs.time_ns[0]), int(obs.time_ns[-1]),
                           need_clk=False, agency=args.agency)
        notes += [f"missing product: {m}" for m in ps.missing] + ps.notes
        if ps.sp3 and not args.sp3:
            sp3_l, clk_l, atx_l, bias_l = ps.load()
            sp3, clk, atx, bias = sp3_l, clk_l, atx_l, bias_l
    if args.sp3:
        sp3 = read_sp3_many(args.sp3)
    if sp3 is None:
        raise ValueError("no SP3 orbits: give --sp3 FILE or --products DIR")
    if args.clk:
        parts = [read_clk(p, with_sigma=False) for p in args.clk]
        clk = parts[0] if len(parts) == 1 else merge_clk(parts)
    if args.atx:
        atx = read_antex(args.atx)
    if args.pcv:
        atx = atx or Antex()
        for k, v in read_ngs_pcv(args.pcv).receivers.items():
            atx.receivers.setdefault(k, v)
    if args.bias:
        bias = read_sinex_bias(args.bias)
    return sp3, clk, atx, bias, notes


def run(args: argparse.Namespace) -> int:
    from ..formats.rinex_obs import read_obs
    from ..formats.solution_export import write_solution
    from ..geodesy.ellipsoid import ecef_to_geodetic
    from ..solvers.ppp import PppOptions
    from ..solvers.ppp.batch import clock_interval_s, run_filter
    from ..solvers.ppp.filter import clock_interp_sigma_m
    from ..solvers.ppp.inputs import prepare
    from ..solvers.ppp.products import coverage_report

    t0 = time.perf_counter()
    try:
        obs = read_obs(args.obs)
        if obs.n_epochs == 0:
            raise ValueError(f"{args.obs}: no observation epochs")
        sp3, clk, atx, bias, notes = _products(args, obs)
        opts = PppOptions(mode=args.mode, systems=args.systems.upper(), elmask_deg=args.elmask)
    except (OSError, ValueError) as exc:
        print(f"beidou ppp: {exc}", file=sys.stderr)
        return 1
    t_read = time.perf_counter() - t0
    t1 = time.perf_counter()
    try:
        inp = prepare(obs, sp3, clk, atx, opts, bias)
    except ValueError as exc:
        print(f"beidou ppp: {exc}", file=sys.stderr)
        return 1
    from .. import gnss_time
    t_first, t_last = int(obs.time_ns[0]), int(obs.time_ns[-1])
    for name, prod in (("SP3", sp3), ("CLK", clk)):
        if prod is None or prod.time_ns.size == 0:
            continue
        if prod.time_ns[0] > t_first or prod.time_ns[-1] < t_last:
            n_out = int(np.sum((obs.time_ns < prod.time_ns[0]) | (obs.time_ns > prod.time_ns[-1])))
            notes.append(f"{name} spans {gnss_time.to_iso(int(prod.time_ns[0]))[:19]} - "
                         f"{gnss_time.to_iso(int(prod.time_ns[-1]))[:19]}, observations "
                         f"{gnss_time.to_iso(t_first)[:19]} - {gnss_time.to_iso(t_last)[:19]}: "
                         f"{n_out} epochs outside the product cannot be solved")
    for sat, problems in coverage_report(sp3, clk, inp.sats, t_first, t_last).items():
        notes.append(f"{sat}: " + "; ".join(problems))
    bar = None
    if not args.quiet and obs.n_epochs > 200:
        from tqdm import tqdm

        bar = tqdm(total=obs.n_epochs, unit="epoch", desc=f"PPP {args.mode}", file=sys.stderr)

    def progress(k, n):
        if bar is not None:
            bar.update(min(100, n - bar.n) if k else 0)

    extra = clock_interp_sigma_m(clock_interval_s(sp3, clk))
    res = run_filter(inp, opts, extra, progress)
    if bar is not None:
        bar.update(obs.n_epochs - bar.n)
        bar.close()
    t_solve = time.perf_counter() - t1
    sol = res.solution
    kwargs = {}
    if args.fmt == "pos":
        kwargs = {"coords": args.coords, "header": [f"inp file  : {args.obs}", *(f"inp file  : {p}" for p in args.sp3),
                                                    *(f"inp file  : {p}" for p in args.clk),
                                                    f"pos mode  : ppp-{args.mode}  systems {opts.systems}  "
                                                    f"elmask {opts.elmask_deg:g} deg"]}
    write_solution(args.output, sol, args.fmt, **kwargs)
    for line in [*obs.header.skipped, *notes, *res.diagnostics.notes][:40]:
        print(f"note: {line}", file=sys.stderr)
    solved = int(sol.valid.sum())
    if solved:
        last = np.flatnonzero(sol.valid)[-1]
        llh = ecef_to_geodetic(sol.ecef_m[last])
        sd = np.sqrt(np.diag(sol.cov_m2[last]))
        final = (f"final {np.degrees(llh[0]):.9f} {np.degrees(llh[1]):.9f} {llh[2]:.4f} m "
                 f"(sd x/y/z {sd[0]:.3f}/{sd[1]:.3f}/{sd[2]:.3f} m)")
    else:
        final = "no solution"
    per_sys = " ".join(f"{k} {v[sol.valid].mean():.1f}" for k, v in sorted(sol.sats_per_system.items())
                       if solved) or "-"
    print(f"epochs {len(sol)}  solved {solved} ({100.0 * solved / max(len(sol), 1):.1f} %)  satellites: {per_sys}  "
          f"{final}  (read {t_read:.1f} s, solve {t_solve:.1f} s) -> {args.output}")
    return 0 if solved else 2
