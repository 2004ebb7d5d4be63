"""Reading RINEX observations: ours (in-process Hatanaka + numpy) versus georinex, same run.

Default: the ESBC full day (Hatanaka + gzip, 2880 epochs, 113 satellites), read by
``rtk_engine.formats.rinex_obs.read_obs`` and by ``georinex.load`` (which decompresses with the
`hatanaka` C tool, then parses in Python: about five minutes on this machine). Also printed:
crx2rnx alone (Hatanaka's C decompressor via the `hatanaka` package) and our reader on the
decompressed plain RINEX text, for scale.

``--quick``: georinex is timed on the 1-hour KMS3 Hatanaka file instead (19 epochs) and the
ratio printed is for that file; it says so.

Run: ``.venv/bin/python benchmarks/bench_rinex_read.py [--quick] [--repeat 3]``
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rtk_engine.formats.compressed import open_bytes  # noqa: E402
from rtk_engine.formats.rinex_obs import read_obs  # noqa: E402

DATA = REPO.parent / "shared" / "data"
ESBC = DATA / "spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz"
KMS3 = DATA / "spp/kms3-2022-159/KMS300DNK_R_20221591000_01H_30S_MO.crx"


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="time georinex on the small KMS3 file instead of ESBC")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for our reader")
    args = ap.parse_args()
    for p in (ESBC, KMS3):
        if not p.exists():
            sys.exit(f"missing test data {p}")

    t_ours, blk = best_of(lambda: read_obs(ESBC), args.repeat)
    print(f"ours     ESBC day (crx.gz)   {t_ours:8.2f} s  ({blk.n_epochs} epochs, {blk.n_sats} satellites, "
          f"{int(np.isfinite(blk.code_m).sum())} pseudoranges)")
    try:
        import hatanaka

        raw = open_bytes(ESBC)
        t_c, text = best_of(lambda: hatanaka.decompress(raw), args.repeat)
        print(f"crx2rnx  ESBC day (C tool)    {t_c:8.2f} s  (decompression only, no parsing)")
        t_plain, _ = best_of(lambda: read_obs(text), args.repeat)
        print(f"ours     ESBC day (plain RINEX text, {len(text) / 1e6:.0f} MB) {t_plain:8.2f} s")
    except ImportError:
        print("hatanaka package not installed: crx2rnx anchor skipped")

    try:
        import georinex
    except ImportError:
        sys.exit("georinex not installed: no anchor")
    warnings.simplefilter("ignore")
    if args.quick:
        t_small, _ = best_of(lambda: read_obs(KMS3), args.repeat)
        t0 = time.perf_counter()
        georinex.load(KMS3)
        t_geo = time.perf_counter() - t0
        print(f"ours     KMS3 1 h (crx)      {t_small:8.3f} s")
        print(f"georinex KMS3 1 h (crx)      {t_geo:8.3f} s")
        print(f"--quick: georinex timed on KMS3 (19 epochs), not on the ESBC day; "
              f"ratio georinex/ours on KMS3 = {t_geo / t_small:.0f}x")
    else:
        print("georinex ESBC day ... (about five minutes)", flush=True)
        t0 = time.perf_counter()
        georinex.load(ESBC)
        t_geo = time.perf_counter() - t0
        print(f"georinex ESBC day (crx.gz)   {t_geo:8.2f} s")
        print(f"ratio georinex/ours on the ESBC day = {t_geo / t_ours:.0f}x")


if __name__ == "__main__":
    main()
