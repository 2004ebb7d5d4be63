"""How long does the hour rollover of the RINEX archive hold up the caller? (issue 5, archive)

The station ingest runs on the service's event loop, which also fans corrections out to every rover,
so an ``ingest.feed`` that closes an archive hour must not take seconds. One hour (3,600 epochs at
1 Hz) of a simulated BeiDou + GPS + Galileo station (the demo network's first station), MSM7 with
ephemerides every 30 s, goes through ``StationIngest.feed`` in 4 kB chunks into a synchronous
archive (the anchor: formatting and compression in the caller) and into the service's archive
(``background=True``: a writer thread). Printed: the slowest ``feed`` call (the one that closes the
hour), the median call, the ratio of the slowest calls, and file sizes of Hatanaka+gzip (.crx.gz,
the default) against plain gzip (.rnx.gz). Then the memory the open hour takes (tracemalloc, after
59 minutes of the hour) with the spool (default: every 30 epochs appended to disk) against an
archive that keeps the hour in memory (``spool_epochs`` larger than the hour).

    .venv/bin/python benchmarks/bench_archive_rollover.py
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def hour_stream() -> tuple[bytes, int]:
    import numpy as np

    from cors_network.demo import DEMO_NAV, demo_stations, shifted_ephemerides
    from rtk_engine import gnss_time as gt
    from rtk_engine.formats.rinex_nav import read_nav
    from rtk_engine.formats.rtcm3.encoder import Rtcm3Encoder
    from rtk_engine.simulate import SimConfig, iter_network

    nav = read_nav(DEMO_NAV)
    st = demo_stations()[0]
    start = int(gt.from_calendar(2023, 3, 12, 4, 0, 0))
    cfg = SimConfig(systems="GEC", chunk_epochs=3600)
    block = next(iter_network(nav, {st.code: np.array(st.ecef_m)}, start, 3600, 1.0, cfg, seed=3))[st.code].block
    enc = Rtcm3Encoder(station_id=st.station_id, msm=7, systems="GEC")
    frames: list[bytes] = []
    for e in range(block.n_epochs):
        if e % 30 == 0:
            frames += Rtcm3Encoder.encode_nav(shifted_ephemerides(nav, int(block.time_ns[e]), 0))
        frames += enc.encode_epoch(block, e)
    # one epoch of the next hour closes the first
    nxt = block.select_epochs(slice(0, 1))
    nxt.time_ns = nxt.time_ns + 3600 * gt.NS
    frames += Rtcm3Encoder(station_id=st.station_id, msm=7, systems="GEC").encode_epoch(nxt, 0)
    return b"".join(frames), start


def run(data: bytes, t_ref: int, **archive_kw) -> tuple[list[float], list]:
    from cors_network.archive import HourlyArchive
    from cors_network.ingest import StationIngest

    files: list = []
    archive = HourlyArchive(Path(tempfile.mkdtemp()), on_file=files.append, **archive_kw)
    ing = StationIngest("CQ00", "ntrip://127.0.0.1:1/X", archive=archive)
    ing.decoder.t_ref_ns = t_ref
    calls = []
    for i in range(0, len(data), 4096):
        t = time.perf_counter()
        ing.feed(data[i:i + 4096], received_unix_s=0.0)
        calls.append(time.perf_counter() - t)
    archive.close()
    return calls, files


def open_hour_memory(data: bytes, t_ref: int, spool_epochs: int | None) -> int:
    """Bytes (tracemalloc) still allocated after 59 minutes of the hour went into the archive."""
    import tracemalloc

    from cors_network.archive import HourlyArchive
    from cors_network.ingest import StationIngest

    kw = {} if spool_epochs is None else {"spool_epochs": spool_epochs}
    archive = HourlyArchive(Path(tempfile.mkdtemp()), max_epochs=10**9, **kw)
    ing = StationIngest("CQ00", "ntrip://127.0.0.1:1/X", archive=archive)
    ing.decoder.t_ref_ns = t_ref
    part = data[: len(data) * 3540 // 3601]
    ing.feed(part[:4096], received_unix_s=0.0)  # decoder caches warm before counting
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(4096, len(part), 4096):
        ing.feed(part[i:i + 4096], received_unix_s=0.0)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return held


def main() -> int:
    print("simulating one hour of a station (3,600 epochs, GEC) ...", flush=True)
    data, t_ref = hour_stream()
    print(f"stream {len(data) / 1e6:.1f} MB of RTCM3, {len(data) // 4096 + 1} feed calls of 4 kB")
    rows: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for label, kw in (("synchronous, .rnx.gz", {"hatanaka": False}),
                      ("synchronous, .crx.gz", {}),
                      ("writer thread, .crx.gz (service)", {"background": True})):
        calls, files = run(data, t_ref, **kw)
        obs = [f for f in files if f.kind == "obs"]
        rows[label], sizes[label] = max(calls), obs[0].size_bytes
        print(f"{label:34s} slowest feed {max(calls) * 1e3:8.1f} ms, median {statistics.median(calls) * 1e3:6.2f} ms; "
              f"obs file {obs[0].n_epochs} epochs {obs[0].size_bytes / 1e6:.2f} MB")
    anchor = rows["synchronous, .crx.gz"]
    print(f"slowest feed, writer thread / synchronous: {rows['writer thread, .crx.gz (service)'] / anchor:.3f}")
    print(f"observation file size, .crx.gz / .rnx.gz: "
          f"{sizes['synchronous, .crx.gz'] / sizes['synchronous, .rnx.gz']:.3f}")
    held = {}
    for label, spool in (("hour in memory", 10**9), ("spool (default)", None)):
        held[label] = open_hour_memory(data, t_ref, spool)
        print(f"open hour after 59 min, {label:16s}: {held[label] / 1e6:7.2f} MB traced")
    print(f"memory of the open hour, spool / in memory: {held['spool (default)'] / held['hour in memory']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
