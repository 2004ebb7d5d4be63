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
    p.add_argument("rover", help="rover observations: RINEX (2/3/4, Hatanaka, gzip) or a recorded RTCM3 stream")
    p.add_argument("--base", required=True, help="base observations: RINEX or a recorded RTCM3 stream")
    p.add_argument("--base-pos", type=_xyz, help="base antenna ECEF X,Y,Z [m] (default: the 1005/1006 position of "
                                                 "an RTCM3 base; required for a RINEX base)")
    p.add_argument("--nav", action="append", help="RINEX navigation file (repeatable; default: the ephemerides "
                                                  "carried by RTCM3 inputs)")
    p.add_argument("--time", help="RTCM3 inputs: approximate UTC start, YYYY-MM-DDTHH:MM, to resolve their "
                                  "week/day-relative times (default: the file's modification time)")
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


def _is_rtcm3(path: str) -> bool:
    """An RTCM3 stream starts with the 0xD3 preamble (RINEX, Hatanaka, gzip and .Z never do)."""
    with open(path, "rb") as f:
        return f.read(1) == b"\xd3"


def _read_input(path: str, when_utc: str | None):
    """Observations of one receiver -> (ObsBlock, NavData or None, 1005/1006 ECEF [m] or None)."""
    from .. import gnss_time as gt
    from ..formats.rinex_obs import read_obs

    if not _is_rtcm3(path):
        return read_obs(path), None, None
    import datetime as dt
    import os

    from ..formats.rtcm3 import read_rtcm3

    if when_utc:
        unix_s = dt.datetime.fromisoformat(when_utc).replace(tzinfo=dt.timezone.utc).timestamp()
    else:
        unix_s = os.path.getmtime(path)
    obs, nav, dec = read_rtcm3(path, int(gt.gpst_from_unix(unix_s)))
    if obs.n_epochs == 0:
        raise ValueError(f"{path}: no observation epochs in the RTCM3 stream ({dec.counters.bad_crc} frames with a bad CRC)")
    pos = None if dec.station is None else np.asarray(dec.station.ecef_m, float)
    return obs, nav, pos


def run(args: argparse.Namespace) -> int:
    from ..formats.pos import write_pos
    from ..formats.rinex_nav import dedupe, read_navs
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
        rover, rover_nav, _ = _read_input(args.rover, args.time)
        base, base_nav, base_1005 = _read_input(args.base, args.time)
        if args.nav:
            nav = read_navs(args.nav)
        elif base_nav is not None or rover_nav is not None:
            navs = [n for n in (base_nav, rover_nav) if n is not None]
            nav = dedupe(navs[0].merge(navs[1]) if len(navs) == 2 else navs[0])
        else:
            raise ValueError("--nav is required: RINEX observation files carry no ephemerides")
        if args.base_pos is None and base_1005 is not None:
            args.base_pos = base_1005
            print(f"beidou rtk: base position from the base stream's 1005/1006: "
                  f"{' '.join(f'{v:.4f}' for v in base_1005)}", file=sys.stderr)
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
