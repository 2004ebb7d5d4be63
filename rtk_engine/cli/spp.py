"""``beidou spp``: single-point positioning of a RINEX observation file.

    beidou spp --nav NAV [--nav NAV2 ...] OBS -o out.pos [--systems GEC] [--coords xyz|llh]
               [--elmask DEG] [--format pos|csv|nmea|geojson]

The file is solved in vectorised chunks of epochs (a progress bar shows them on long files) and a
summary line reports epochs, solved epochs and the mean number of satellites used per system.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

CHUNK_EPOCHS = 1000  # epochs per vectorised batch: bounded memory, visible progress on long files


def _codes(text: str | None) -> dict[str, str]:
    """"C:1P,G:1C" -> {"C": "1P", "G": "1C"}."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        sys_, _, code = item.strip().partition(":")
        if len(sys_) != 1 or len(code) != 2:
            raise argparse.ArgumentTypeError(f"bad --codes item {item!r}: expected SYSTEM:CODE such as C:1P")
        out[sys_.upper()] = code
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("obs", help="RINEX observation file (2.x/3.x/4.x, Hatanaka, .gz/.Z)")
    p.add_argument("--nav", action="append", required=True, help="RINEX navigation file (repeatable)")
    p.add_argument("-o", "--output", required=True, help="output file")
    p.add_argument("--systems", default="GREC", help="systems to use, e.g. GEC (default GREC)")
    p.add_argument("--coords", choices=("llh", "xyz"), default="llh", help=".pos coordinates (default llh)")
    p.add_argument("--format", choices=("pos", "csv", "nmea", "geojson"), default="pos", dest="fmt")
    p.add_argument("--elmask", type=float, default=10.0, help="elevation mask [deg] (default 10)")
    p.add_argument("--snrmask", type=float, default=0.0, help="C/N0 mask [dB-Hz] (default off)")
    p.add_argument("--codes", type=_codes, default={}, help="code per system, e.g. C:1P,G:1C")
    p.add_argument("--iono-free", action="store_true", help="dual-frequency ionosphere-free pseudoranges")
    p.add_argument("--no-fde", action="store_true", help="no fault detection and exclusion")
    p.add_argument("--allow-missing-tgd", action="store_true",
                   help="use codes whose group delay the nav file lacks (e.g. B1C/B2a with D1/D2 only)")
    p.add_argument("--gk", type=int, choices=(3, 6), help="CSV: add CGCS2000 Gauss-Krüger grid of this zone width")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..formats.rinex_nav import read_navs
    from ..formats.rinex_obs import read_obs
    from ..formats.solution_export import write_solution
    from ..solution import Solution
    from ..solvers.spp import SppOptions, solve_detailed

    t0 = time.perf_counter()
    try:
        obs = read_obs(args.obs)
        nav = read_navs(args.nav)
    except (OSError, ValueError) as exc:
        print(f"beidou spp: {exc}", file=sys.stderr)
        return 1
    t_read = time.perf_counter() - t0
    opts = SppOptions(systems=args.systems.upper(), elevation_mask_deg=args.elmask, snr_mask_dbhz=args.snrmask,
                      codes=args.codes, iono="iono-free" if args.iono_free else "broadcast",
                      raim_fde=not args.no_fde, allow_missing_group_delay=args.allow_missing_tgd)
    starts = range(0, obs.n_epochs, CHUNK_EPOCHS)
    if len(starts) > 1 and not args.quiet:
        from tqdm import tqdm

        starts = tqdm(starts, unit="chunk", desc=f"SPP {obs.n_epochs} epochs", file=sys.stderr)
    parts, hdops, notes = [], [], []
    t1 = time.perf_counter()
    try:
        for s in starts:
            sol, diag, meas = solve_detailed(obs.select_epochs(slice(s, s + CHUNK_EPOCHS)), nav, opts)
            parts.append(sol)
            hdops.append(diag.hdop)
            notes.extend(meas.notes)
    except ValueError as exc:
        print(f"beidou spp: {exc}", file=sys.stderr)
        return 1
    sol = Solution.concat(parts) if len(parts) > 1 else parts[0] if parts else None
    t_solve = time.perf_counter() - t1
    if sol is None:
        print("beidou spp: the observation file holds no epochs", file=sys.stderr)
        return 1
    kwargs = {}
    if args.fmt == "pos":
        kwargs = {"coords": args.coords, "header": [f"inp file  : {args.obs}", *(f"inp file  : {n}" for n in args.nav),
                                                    f"systems   : {opts.systems}  elmask {opts.elevation_mask_deg:g} deg"]}
    elif args.fmt == "csv" and args.gk:
        kwargs = {"gauss_kruger_zone_width": args.gk}
    elif args.fmt == "nmea":
        kwargs = {"hdop": np.concatenate(hdops)}
    write_solution(args.output, sol, args.fmt, **kwargs)
    for line in [*obs.header.skipped, *getattr(nav, "skipped", []), *notes][:20]:
        print(f"note: {line}", file=sys.stderr)
    solved = int(sol.valid.sum())
    per_sys = " ".join(f"{k} {v[sol.valid].mean():.1f}" for k, v in sorted(sol.sats_per_system.items())
                       if solved) or "-"
    print(f"epochs {len(sol)}  solved {solved} ({100.0 * solved / max(len(sol), 1):.1f} %)  "
          f"mean satellites used: {per_sys}  (read {t_read:.1f} s, solve {t_solve:.1f} s) -> {args.output}")
    return 0 if solved else 2
