"""Whole-process SPP on the ESBC day (2880 epochs, G+E+C, Hatanaka + gzip) versus RTKLIB.

Ours: ``beidou spp`` as a separate process (interpreter start, imports, reading the compressed file,
solving, writing the .pos) and, separately, the in-process read/solve/write split.
Anchor: ``rnx2rtkp`` single mode on the same observations (decompressed beforehand, which RTKLIB needs;
not counted), same navigation file, systems, elevation mask and models, measured in the same run.
Prints seconds and the ratio ours / rnx2rtkp (< 1 means faster than the C program).
"""
from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "spp" / "esbc-2020-177"
OBS = DATA / "ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz"
NAV = DATA / "ESBC00DNK_R_20201770000_01D_MN.rnx.gz"
SYSTEMS = "GEC"
NAVSYS = {"G": 1, "R": 2, "E": 8, "J": 16, "C": 32}


def best_of(n, fn):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    if not OBS.exists():
        print(f"ESBC data not found at {DATA}; skipping")
        return 0
    exe = shutil.which("rnx2rtkp")
    beidou = shutil.which("beidou", path=str(Path(sys.executable).parent)) or "beidou"
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        import hatanaka

        plain_obs = td / "ESBC.rnx"
        plain_obs.write_bytes(hatanaka.decompress(gzip.decompress(OBS.read_bytes())))
        plain_nav = td / "ESBC.nav"
        plain_nav.write_bytes(gzip.decompress(NAV.read_bytes()))

        def ours_process():
            subprocess.run([beidou, "spp", "--nav", str(NAV), str(OBS), "-o", str(td / "ours.pos"),
                            "--systems", SYSTEMS, "--quiet"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        t_ours = best_of(3, ours_process)

        # in-process split
        from rtk_engine.formats.pos import write_pos
        from rtk_engine.formats.rinex_nav import read_navs
        from rtk_engine.formats.rinex_obs import read_obs
        from rtk_engine.solvers.spp import SppOptions, solve

        t0 = time.perf_counter()
        obs = read_obs(OBS)
        nav = read_navs([NAV])
        t1 = time.perf_counter()
        sol = solve(obs, nav, SppOptions(systems=SYSTEMS))
        t2 = time.perf_counter()
        write_pos(td / "ours2.pos", sol)
        t3 = time.perf_counter()
        print(f"in-process: read {t1 - t0:.2f} s, solve {t2 - t1:.2f} s ({obs.n_epochs} epochs, "
              f"{1e3 * (t2 - t1) / obs.n_epochs:.2f} ms/epoch), write {t3 - t2:.2f} s")
        print(f"beidou spp (whole process, compressed input): {t_ours:.2f} s")
        if exe is None:
            print("rnx2rtkp not installed (Debian package rtklib): no anchor")
            return 0
        conf = td / "spp.conf"
        conf.write_text("\n".join(["pos1-posmode       =single", "pos1-frequency     =l1", "pos1-elmask        =10",
                                   "pos1-ionoopt       =brdc", "pos1-tropopt       =saas",
                                   f"pos1-navsys        ={sum(NAVSYS[s] for s in SYSTEMS)}",
                                   "out-solformat      =xyz", ""]))

        def rtklib():
            subprocess.run([exe, "-k", str(conf), "-o", str(td / "rtk.pos"), str(plain_obs), str(plain_nav)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        t_rtk = best_of(3, rtklib)
        print(f"rnx2rtkp -p 0 (decompressed input): {t_rtk:.2f} s")
        print(f"ratio ours/rnx2rtkp: {t_ours / t_rtk:.2f}  (in-process read+solve+write: "
              f"{(t3 - t0) / t_rtk:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
