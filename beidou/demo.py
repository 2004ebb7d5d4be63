"""``beidou demo`` (what ``make run`` starts until the service exists): single-point positioning of
the recorded files in ``data/``, with the error against the surveyed positions and the solutions
written as RTKLIB-compatible ``.pos`` files:

* ``data/kms3-2022-159``: BeiDou alone, B1I (BDS-2 + BDS-3) and BDS-3 B1C, RINEX 4 navigation;
* ``data/fujisawa-2021-078``: GPS + Galileo + QZSS, one minute at 1 Hz."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data"
# (title, obs, nav, truth ECEF m from each ORIGIN.md, SPP options)
RUNS = (
    ("BeiDou B1I, KMS3", "kms3-2022-159/KMS300DNK_R_20221591000_01H_30S_MO.crx",
     "kms3-2022-159/KMS300DNK_R_20221591000_01H_MN.rnx.gz", (3516213.4380, 781859.8595, 5246037.9660),
     {"systems": "C"}),
    ("BeiDou-3 B1C, KMS3", "kms3-2022-159/KMS300DNK_R_20221591000_01H_30S_MO.crx",
     "kms3-2022-159/KMS300DNK_R_20221591000_01H_MN.rnx.gz", (3516213.4380, 781859.8595, 5246037.9660),
     {"systems": "C", "codes": {"C": "1P"}, "allow_missing_group_delay": True}),
    ("GPS+Galileo+QZSS, Fujisawa", "fujisawa-2021-078/SEPT078M1.21O", "fujisawa-2021-078/SEPT078M.21P",
     (-3962108.673, 3381309.574, 3668678.638), {"systems": "GEJ"}),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="where to write the .pos file (default: a temporary directory)")


def run(args: argparse.Namespace) -> int:
    from rtk_engine.formats.pos import write_pos
    from rtk_engine.formats.rinex_nav import read_navs
    from rtk_engine.formats.rinex_obs import read_obs
    from rtk_engine.geodesy.ellipsoid import ecef_to_enu
    from rtk_engine.solvers.spp import SppOptions, solve_detailed

    out_dir = Path(args.output) if getattr(args, "output", None) else Path(tempfile.mkdtemp(prefix="beidou_demo_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print("BeiDou positioning demo: single-point positioning of recorded stations in data/")
    status = 0
    for k, (title, obs_rel, nav_rel, truth, opts) in enumerate(RUNS):
        obs_path, nav_path = DATA / obs_rel, DATA / nav_rel
        if not obs_path.exists() or not nav_path.exists():
            print(f"  {title}: demo data missing ({obs_path})")
            status = 1
            continue
        obs = read_obs(obs_path)
        nav = read_navs([nav_path])
        sol, diag, meas = solve_detailed(obs, nav, SppOptions(**opts))
        out = out_dir / f"spp_{k + 1}_{obs_path.name.split('.')[0]}.pos"
        write_pos(out, sol, header=[f"inp file  : {obs_path}", f"inp file  : {nav_path}"])
        ok = sol.valid
        if not ok.any():
            print(f"  {title}: no epoch solved")
            status = 2
            continue
        enu = ecef_to_enu(sol.ecef_m[ok], np.asarray(truth))
        h = np.hypot(enu[:, 0], enu[:, 1])
        used = ", ".join(f"{s} {v[ok].mean():.1f}" for s, v in sorted(sol.sats_per_system.items()))
        print(f"  {title}: {ok.sum()}/{len(sol)} epochs, signals {meas.codes}, satellites {used}; "
              f"error H {np.sqrt(np.mean(h ** 2)):.2f} m, V {np.sqrt(np.mean(enu[:, 2] ** 2)):.2f} m (RMS)"
              f" -> {out}")
    return status
