"""``beidou rtk``: RTK / PPK of a rover RINEX file against a base RINEX file.

    beidou rtk --nav NAV [--nav NAV2] --base BASE --base-pos X,Y,Z ROVER -o out.pos
               [--mode kinematic|static] [--combined | --backward] [--coords xyz|llh]
               [--options file.toml] [--systems GEC] [--freqs 2] [--ar fix-and-hold]
               [--antex FILE.atx [--rover-ant "TYPE RADOME"] [--base-ant "TYPE RADOME"]]

Writes an RTKLIB-compatible ``.pos`` (Q=1 fixed, Q=2 float, ns, ratio), shows a progress bar over
epochs and prints a summary: epochs, fix rate, time to first fix, skipped input and slips.
Options come from the documented defaults (``rtk_engine/solvers/rtk_defaults.toml``), then the
``--options`` TOML, then the flags given here.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _xyz(text: str) -> np.ndarray:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--base-pos needs X,Y,Z in ECEF metres, got {text!r}") from None
    if len(vals) != 3:
        raise argparse.ArgumentTypeError(f"--base-pos needs three numbers X,Y,Z, got {text!r}")
    return np.array(vals)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rover", help="rover RINEX observation file")
    p.add_argument("--base", required=True, help="base RINEX observation file")
    p.add_argument("--base-pos", type=_xyz, help="base antenna ECEF X,Y,Z [m] (default: none, required)")
    p.add_argument("--nav", action="append", required=True, help="RINEX navigation file (repeatable)")
    p.add_argument("-o", "--output", required=True, help="output .pos file")
    p.add_argument("--mode", choices=("kinematic", "static"), help="rover motion model (default kinematic)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--combined", action="store_true", help="forward + backward, merged per epoch")
    g.add_argument("--backward", action="store_true", help="process the epochs in reverse time order")
    p.add_argument("--coords", choices=("llh", "xyz"), default="llh", help=".pos coordinates (default llh)")
    p.add_argument("--options", help="TOML options file (see rtk_engine/solvers/rtk_defaults.toml)")
    p.add_argument("--systems", help="systems, e.g. GEC (default GECJ; R adds GLONASS as float)")
    p.add_argument("--freqs", type=int, help="bands per system: 1 = L1 only, 2 = L1+L2, 3 = +L5")
    p.add_argument("--antex", help="ANTEX file: receiver PCO/PCV for rover and base (types from the headers "
                                    "or --rover-ant/--base-ant)")
    p.add_argument("--rover-ant", help='rover antenna "TYPE RADOME" as in ANTEX (overrides the header)')
    p.add_argument("--base-ant", help='base antenna "TYPE RADOME" as in ANTEX (overrides the header)')
    p.add_argument("--ar", choices=("off", "instantaneous", "continuous", "fix-and-hold"), help="AR mode")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..formats.pos import write_pos
    from ..formats.rinex_nav import read_navs
    from ..formats.rinex_obs import read_obs
    from ..solvers.rtk import RtkInputError, RtkOptionsError, load_options, solve

    over: dict = {}
    if args.mode:
        over["mode"] = args.mode
    if args.combined:
        over["direction"] = "combined"
    elif args.backward:
        over["direction"] = "backward"
    if args.systems:
        over["systems"] = args.systems.upper()
    if args.freqs:
        over["max_freqs"] = args.freqs
    if args.ar:
        over["ar"] = {"mode": args.ar}
    ant = {k: v for k, v in (("antex", args.antex), ("rover_type", args.rover_ant), ("base_type", args.base_ant)) if v}
    if ant:
        over["antenna"] = ant
    t0 = time.perf_counter()
    try:
        opts = load_options(args.options, **over)
        rover = read_obs(args.rover)
        base = read_obs(args.base)
        nav = read_navs(args.nav)
    except (OSError, ValueError) as exc:
        print(f"beidou rtk: {exc}", file=sys.stderr)
        return 1
    n_steps = rover.n_epochs * (2 if opts.direction == "combined" else 1)
    bar = None
    if not args.quiet and n_steps > 1:
        from tqdm import tqdm

        bar = tqdm(total=n_steps, unit="ep", desc="RTK", file=sys.stderr)
    try:
        sol, rep = solve(rover, base, nav, args.base_pos, opts, progress=bar.update if bar else None)
    except (RtkInputError, RtkOptionsError) as exc:
        print(f"beidou rtk: {exc}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    hdr = [f"rover: {args.rover}", f"base: {args.base}", f"mode: {opts.mode}, {opts.direction}, AR {opts.ar.mode}",
           f"ref pos: {' '.join(f'{v:.4f}' for v in np.asarray(args.base_pos, float))}"]
    write_pos(args.output, sol, coords=args.coords, header=hdr)
    dt = time.perf_counter() - t0
    ttff = "never" if np.isnan(rep.time_to_first_fix_s) else f"{rep.time_to_first_fix_s:.0f} s"
    print(f"beidou rtk: {rep.n_epochs} epochs, fixed {rep.n_fix} ({rep.fix_rate:.1%}), float {rep.n_float}, "
          f"none {rep.n_none}; time to first fix {ttff}; {dt:.2f} s ({dt / max(rep.n_epochs, 1) * 1e3:.1f} ms/epoch)",
          file=sys.stderr)
    slips = ", ".join(f"{k} {v}" for k, v in rep.slips.items() if v)
    if slips or rep.rejected:
        print(f"  slips: {slips or 'none'}; rejected measurements: {rep.rejected}", file=sys.stderr)
    for note in rep.skipped:
        print(f"  skipped: {note}", file=sys.stderr)
    return 0
