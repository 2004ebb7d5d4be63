"""``beidou job``: the post-processing job of the service, without the service.

    beidou job ROVER.obs --nav NAV [--nav NAV2] [--mode spp|ppk] [--base BASE.obs --base-pos=X,Y,Z]
               [--option key=value ...] -o OUTDIR

Writes the same files as ``POST /api/jobs``: solution.pos, solution.csv (with CGCS2000 Gauss-Krüger
columns), solution.geojson, solution.kml and summary.json (fix rate, span, final coordinate with
sigma in ITRF and CGCS2000/Gauss-Krüger), and prints the final coordinate.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _kv(text: str) -> tuple[str, object]:
    key, sep, val = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--option {text!r}: expected key=value")
    try:
        return key, json.loads(val)
    except json.JSONDecodeError:
        return key, val


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rover", help="rover RINEX observation file (2.x/3.x/4.x, Hatanaka, .gz/.Z)")
    p.add_argument("--nav", action="append", required=True, help="RINEX navigation file (repeatable)")
    p.add_argument("--mode", choices=("spp", "ppk"), default="ppk")
    p.add_argument("--base", action="append", default=[], help="base RINEX observation file(s) (ppk)")
    p.add_argument("--base-pos", help="base ECEF X,Y,Z [m] (default: the base file's header position)")
    p.add_argument("--option", action="append", type=_kv, default=[],
                   help="RTK option key=value (e.g. mode=\"static\", max_freqs=2), repeatable")
    p.add_argument("-o", "--output", required=True, help="output directory")


def run(args) -> int:
    from rtk_engine.formats.rinex_nav import read_navs
    from rtk_engine.formats.rinex_obs import read_obs

    from .jobs import summarise, write_outputs

    rover = read_obs(args.rover)
    nav = read_navs(args.nav)
    if args.mode == "spp":
        from rtk_engine.solvers import spp
        sol = spp.solve(rover, nav)
        extra = {}
    else:
        if not args.base:
            raise SystemExit("ppk needs --base (the service picks one from its archive; the CLI does not)")
        from rtk_engine.formats.rtcm3.decoder import stack_epochs
        from rtk_engine.solvers.rtk import load_options, solve
        blocks = [read_obs(b) for b in args.base]
        base = blocks[0] if len(blocks) == 1 else stack_epochs([e for b in blocks for e in b.epochs()])
        if args.base_pos:
            base_pos = np.array([float(v) for v in args.base_pos.split(",")])
        else:
            base_pos = np.asarray(base.header.approx_pos_ecef_m, float)
        sol, report = solve(rover, base, nav, base_pos, load_options(**dict(args.option)))
        extra = {"base_ecef_m": base_pos.tolist(), "time_to_first_fix_s": report.time_to_first_fix_s}
    summary = summarise(sol)
    summary.update(mode=args.mode, rover_file=Path(args.rover).name, **extra)
    write_outputs(Path(args.output), sol, summary, Path(args.rover).name)
    final = summary.get("final")
    if final is None:
        print(f"no solution: {summary['n_epochs']} epochs")
        return 1
    x = final["itrf"]["ecef_m"]
    print(f"{summary['n_epochs']} epochs, fix rate {summary['fix_rate']:.3f}; final ({final['solution_type']}) "
          f"ECEF {x[0]:.4f} {x[1]:.4f} {x[2]:.4f} m, sigma ENU {final['sigma_enu_m']} m -> {args.output}")
    return 0
