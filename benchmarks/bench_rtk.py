"""RTK speed against RTKLIB, measured in the same run on the same files and settings.

Whole-process wall time per epoch (start, read RINEX, solve, write .pos) of ``beidou rtk`` and
of ``rnx2rtkp`` (L1+L2, GPS+Galileo+QZSS, 15 deg mask, fix-and-hold, ratio 3, forward), on
fujisawa-2021-078 (static roof, 60 epochs) and fujisawa-2021-265 (vehicle, 360 epochs); then the
in-process engine time (prepared arrays + filter, files already read) and peak RSS.

    .venv/bin/python benchmarks/bench_rtk.py
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BEIDOU_SHARED_DATA", REPO.parent / "shared" / "data")) / "rtk"
BASE = (-3959400.631, 3385704.533, 3667523.111)
CASES = {
    "078 static roof": ("fujisawa-2021-078", "SEPT078M1.21O", "3034078M1.21O", "SEPT078M.21P", 60),
    "265 vehicle": ("fujisawa-2021-265", "SEPT265G.21O", "3034265G.21O", "SEPT2650.21P", 360),
}
CONF = """pos1-posmode=kinematic
pos1-frequency=2
pos1-soltype=forward
pos1-elmask=15
pos1-navsys=25
pos1-tropopt=saas
pos2-armode=fix-and-hold
pos2-arthres=3
out-solformat=xyz
ant2-postype=xyz
ant2-pos1={}
ant2-pos2={}
ant2-pos3={}
""".format(*BASE)


def _wall(cmd: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    if not DATA.is_dir():
        print(f"skip: {DATA} absent")
        return 0
    rnx = shutil.which("rnx2rtkp")
    beidou = str(REPO / ".venv" / "bin" / "beidou")
    tmp = Path(tempfile.mkdtemp())
    conf = tmp / "k.conf"
    conf.write_text(CONF)
    print(f"{'case':18s} {'epochs':>6s} {'rnx2rtkp ms/ep':>15s} {'beidou ms/ep':>13s} {'ratio':>6s} "
          f"{'engine ms/ep':>13s} {'engine/rnx2rtkp':>15s}")
    for name, (folder, rover, base, nav, n_ep) in CASES.items():
        d = DATA / folder
        ours = _wall([beidou, "rtk", "--quiet", "--nav", str(d / nav), "--base", str(d / base),
                      "--base-pos=" + ",".join(map(str, BASE)), str(d / rover), "-o", str(tmp / "b.pos")])
        theirs = _wall([rnx, "-k", str(conf), "-o", str(tmp / "r.pos"), str(d / rover), str(d / base), str(d / nav)]) \
            if rnx else float("nan")
        engine = _engine_time(d / rover, d / base, d / nav)
        print(f"{name:18s} {n_ep:6d} {theirs / n_ep * 1e3:15.2f} {ours / n_ep * 1e3:13.2f} {ours / theirs:6.1f} "
              f"{engine / n_ep * 1e3:13.2f} {engine / theirs:15.1f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (engine runs): {rss:.0f} MB")
    return 0


def _engine_time(rover, base, nav) -> float:
    sys.path.insert(0, str(REPO))
    from rtk_engine.formats.rinex_nav import read_nav
    from rtk_engine.formats.rinex_obs import read_obs
    from rtk_engine.solvers.rtk import load_options, solve

    r, b, n = read_obs(rover), read_obs(base), read_nav(nav)
    opts = load_options()
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        solve(r, b, n, BASE, opts)
        best = min(best, time.perf_counter() - t)
    return best


if __name__ == "__main__":
    raise SystemExit(main())
