"""Reading precise products and interpolating precise orbits, against anchors measured in the same run.

* GRG 30 s clock file (215,999 AS records, 4 MB gzip / 17 MB text): ``read_clk`` versus the I/O floor
  (gunzip + split into lines, nothing parsed) and versus a plain Python ``line.split()`` parse of
  the AS records into arrays (the "obvious" implementation).
* SP3 (IAC, 97 epochs x 121 satellites): ``read_sp3`` versus georinex's SP3 reader.
* Orbit interpolation: ``precise.sat_states`` (positions, velocities, clocks) for a full day of
  30 s epochs x all GPS/Galileo/BeiDou satellites in the IAC product, versus positions alone from
  scipy's BarycentricInterpolator built for the same 11-node window of each satellite and
  15-min interval (the straightforward scipy implementation); the two must agree to < 1 mm.

Run: ``.venv/bin/python benchmarks/bench_precise_products.py`` (needs ../shared/data).
"""
from __future__ import annotations

import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("BEIDOU_SHARED_DATA", REPO.parent / "shared" / "data"))

from rtk_engine.formats.rinex_clk import read_clk  # noqa: E402
from rtk_engine.formats.sp3 import read_sp3  # noqa: E402
from rtk_engine.orbits import precise  # noqa: E402


def best_of(fn, n=3):
    best = float("inf")
    out = None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def naive_clk(path: Path):
    text = gzip.decompress(path.read_bytes()).decode()
    body = text.split("END OF HEADER", 1)[1].splitlines()
    sats, times, vals = [], [], []
    for ln in body:
        if ln.startswith("AS "):
            f = ln.split()
            sats.append(f[1])
            times.append(tuple(f[2:8]))
            vals.append(float(f[9]))
    return np.array(sats), times, np.array(vals)


def main() -> None:
    clk_path = DATA / "ppp/esbc-2020-177/GRG0MGXFIN_20201770000_01D_30S_CLK.CLK.gz"
    sp3_path = DATA / "ppp/esbc-2020-177/Sta21114.sp3.gz"
    if not clk_path.exists():
        print(f"skipped: real data {clk_path} is absent")
        return

    t_floor, _ = best_of(lambda: gzip.decompress(clk_path.read_bytes()).split(b"\n"))
    t_ours, clk = best_of(lambda: read_clk(clk_path))
    t_naive, _ = best_of(lambda: naive_clk(clk_path), n=1)
    print(f"CLK  {clk.time_ns.size} epochs x {clk.sats.size} sats")
    print(f"  read_clk            {t_ours:7.3f} s   {t_ours / t_floor:5.1f} x the gunzip+split floor ({t_floor:.3f} s)")
    print(f"  naive split() parse {t_naive:7.3f} s   ours is {t_naive / t_ours:5.1f} x faster")

    t_sp3, sp3 = best_of(lambda: read_sp3(sp3_path))
    try:
        import georinex

        t_gr, _ = best_of(lambda: georinex.load(str(sp3_path)))
        print(f"SP3  read_sp3 {t_sp3:.3f} s, georinex {t_gr:.3f} s: ours {t_gr / t_sp3:.1f} x faster")
    except ImportError:
        print(f"SP3  read_sp3 {t_sp3:.3f} s (georinex not installed: no anchor)")

    sats = sp3.sats[np.isin(sp3.sats.astype("<U1"), ["G", "E", "C"])]
    t = sp3.time_ns[0] + np.arange(0, 86400, 30, dtype=np.int64) * 1_000_000_000
    sq, tq = np.tile(sats, t.size), np.repeat(t, sats.size)
    t_int, st = best_of(lambda: precise.sat_states(sp3, sq, tq))

    from scipy.interpolate import BarycentricInterpolator

    def scipy_anchor():
        x = (sp3.time_ns - sp3.time_ns[0]) / 1e9
        xq = (t - sp3.time_ns[0]) / 1e9
        out = np.full((sats.size, t.size, 3), np.nan)
        for j, s in enumerate(sats):
            y = sp3.pos_ecef_m[:, sp3.sat_index(s)[0]]
            for k in range(x.size - 1):  # one 11-node polynomial per 15-min interval
                lo = min(max(k - 5, 0), x.size - 11)
                m = (xq >= x[k]) & (xq < x[k + 1])
                if m.any() and np.all(np.isfinite(y[lo:lo + 11])):
                    out[j, m] = BarycentricInterpolator(x[lo:lo + 11], y[lo:lo + 11])(xq[m])
        return out

    t_sc, ref = best_of(scipy_anchor, n=1)
    ours = st.pos_ecef_m.reshape(t.size, sats.size, 3).transpose(1, 0, 2)
    both = np.isfinite(ref[..., 0]) & np.isfinite(ours[..., 0])
    print(f"ORB  {tq.size} states (day at 30 s x {sats.size} sats): ours {t_int:.3f} s, "
          f"scipy per-interval {t_sc:.3f} s: ours {t_sc / t_int:.1f} x faster; "
          f"max |diff| {np.max(np.abs(ours[both] - ref[both])):.1e} m")


if __name__ == "__main__":
    main()
