"""Caster load on loopback: N concurrent rovers on one source at 1 Hz, ~1 kB per epoch.

For each N (default 1,000 / 5,000 / 10,000) it reports the added latency from the source's write
to the rover's read (p50, p99, max), the caster's CPU (% of one core), its memory per rover,
rovers dropped, and epochs missed. The anchor, measured in the same run, is RTKLIB ``str2str``'s
own caster (``ntripc://``) at its limit of 32 rovers, next to ours at 32 rovers.

How: the caster runs in its own process (so its CPU and RSS are its own); rovers are asyncio
protocols spread over several worker processes (half NTRIP v1, half v2 chunked); the source
is a v1 NTRIP source in the main process. Each epoch is real frames from a NovAtel capture
plus one proprietary RTCM frame (message 4095) carrying the send time (CLOCK_MONOTONIC ns,
system-wide on Linux) and the epoch number, so latency is measured per rover per epoch without
clock sync issues, and only the epochs sent inside the measurement window count. The rover
processes run at nice 10 so the load generator yields the CPU to the caster.

Run: ``.venv/bin/python benchmarks/bench_caster_load.py [--clients 1000,5000,10000] [--seconds 15]``
Bounded: each level runs ``--seconds`` epochs after the rovers are connected (ramp ~1-2 s per 1000).
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rtk_engine.formats.rtcm3_frame import frame, iter_frames  # noqa: E402

CAPTURE = REPO.parent / "shared" / "data" / "rtcm" / "novatel-hiroshima-2022" / "20221213-010900.rtcm"
MARK = b"\xd3\x00\x0e\xff\xf0"  # RTCM3 frame head of a 14-byte message 4095 (time stamp, sequence)
AUTH = "Basic " + base64.b64encode(b"bench:bench").decode()


from proc_stats import proc_cpu_user_sys_s, proc_rss_mb, raise_fd_limit  # noqa: E402  (benchmarks/ is on sys.path)

def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def stamp_frame(seq: int) -> bytes:
    return frame(b"\xff\xf0" + struct.pack(">qI", now_ns(), seq))


def epochs_of_about(size: int) -> list[bytes]:
    """Real frames from the capture, packed into epochs of ~``size`` bytes."""
    frames = iter_frames(CAPTURE.read_bytes()) if CAPTURE.exists() else [frame(bytes(200))] * 300
    out, cur = [], b""
    for f in frames:
        if len(f) > size:
            continue
        cur += f
        if len(cur) >= size - 100:
            out.append(cur)
            cur = b""
    return out


# ----------------------------------------------------------------------------- caster process

def bench_config(n_clients: int):
    from ntrip_caster import config as C

    return C.from_dict({"caster": {"host": "127.0.0.1", "port": 0},
                       "account": [{"name": "bench", "password": "bench"}],
                       "mountpoint": [{"name": "BENCH", "source_password": "src"}],
                       "limits": {"max_clients": n_clients + 100, "max_connections_per_address": n_clients + 100,
                                  "max_pending_headers": 5000},
                       "abuse": {"max_connects_per_window": 10 * n_clients + 100}})


def caster_main(conn, n_clients: int) -> None:
    raise_fd_limit()
    import logging

    from ntrip_caster.server import Caster

    logging.basicConfig(level=logging.ERROR)
    cfg = bench_config(n_clients)

    async def run():
        async with Caster(cfg) as caster:
            conn.send(caster.port)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, conn.recv)  # wait for "stop"
            snap = caster.snapshot(with_clients=False)
            conn.send({"counters": snap["counters"], "mount": snap["mounts"]["BENCH"]})

    asyncio.run(run())


# ----------------------------------------------------------------------------- rover workers

class BenchRover(asyncio.Protocol):
    def __init__(self, sink: dict) -> None:
        self.sink = sink
        self.head = True
        self.tail = b""
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        t = now_ns()
        buf = self.tail + data
        if self.head:
            if buf.startswith(b"ICY 200 OK\r\n"):
                buf = buf[12:]
            else:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    self.tail = buf
                    return
                if not buf.startswith(b"HTTP/1.1 200"):
                    self.sink["refused"] += 1
                    self.sink["answers"][buf[:40]] = self.sink["answers"].get(buf[:40], 0) + 1
                    self.head = None  # counted; connection_lost must not count it again
                    self.transport.close()
                    return
                buf = buf[end + 4:]
            self.head = False
            self.sink["connected"] += 1
        i, lat = 0, self.sink["lat"]
        while True:
            j = buf.find(MARK, i)
            if j < 0:
                self.tail = buf[max(i, len(buf) - 16):]
                break
            if j + 17 > len(buf):
                self.tail = buf[j:]
                break
            ts, seq = struct.unpack(">qI", buf[j + 5:j + 17])
            lat.append((seq, t - ts))
            i = j + 17

    def connection_lost(self, exc) -> None:
        if self.sink["stopping"]:
            return
        if self.head:
            self.sink["refused"] += 1  # closed without a 200 answer (e.g. str2str past 32 rovers)
        else:
            self.sink["lost"] += 1


def worker_main(conn, port: int, n: int, index: int, mount: str, user_agent: str) -> None:
    raise_fd_limit()
    os.nice(10)  # the load generator yields the CPU to the caster (real rovers are elsewhere)

    async def run():
        loop = asyncio.get_running_loop()
        sink = {"lat": [], "connected": 0, "refused": 0, "lost": 0, "stopping": False, "failed": 0, "answers": {}}
        transports = []
        sem = asyncio.Semaphore(200)

        async def one(k: int):
            v2 = k % 2 == 1
            req = (f"GET /{mount} HTTP/1.1\r\nHost: 127.0.0.1\r\nNtrip-Version: Ntrip/2.0\r\n" if v2 else
                   f"GET /{mount} HTTP/1.0\r\n") + f"User-Agent: {user_agent}\r\nAuthorization: {AUTH}\r\n\r\n"
            async with sem:
                try:
                    # spread rovers over 127.0.0.x source addresses (ephemeral ports per address)
                    t, _ = await loop.create_connection(lambda: BenchRover(sink), "127.0.0.1", port,
                                                        local_addr=(f"127.0.0.{2 + index}", 0))
                except OSError:
                    sink["failed"] += 1
                    return
                t.write(req.encode())
                transports.append(t)

        await asyncio.gather(*(one(k) for k in range(n)))
        t0 = time.monotonic()
        while sink["connected"] + sink["refused"] + sink["failed"] < n and time.monotonic() - t0 < 20:
            await asyncio.sleep(0.05)
        conn.send(("ready", sink["connected"], sink["refused"], sink["failed"], sink["answers"]))
        await loop.run_in_executor(None, conn.recv)  # "measure"
        sink["lost"] = 0
        await loop.run_in_executor(None, conn.recv)  # "stop"
        sink["stopping"] = True
        for t in transports:
            t.abort()
        conn.send((sink["lat"], sink["lost"]))

    asyncio.run(run())


# ----------------------------------------------------------------------------- source and one level

class Pacer(threading.Thread):
    """Sends one epoch + time stamp per second on a connected socket until stopped."""

    def __init__(self, sock: socket.socket, epochs: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.sock, self.epochs = sock, epochs
        self.count = 0
        self.stop_ev = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        t_next = time.monotonic()
        try:
            while not self.stop_ev.is_set():
                self.sock.sendall(self.epochs[self.count % len(self.epochs)] + stamp_frame(self.count))
                self.count += 1
                t_next += 1.0
                self.stop_ev.wait(max(0.0, t_next - time.monotonic()))
        except OSError as exc:
            self.error = exc


def _wait_count(pacer: Pacer, target: int) -> None:
    while pacer.count < target and pacer.is_alive():
        time.sleep(0.01)


def run_level(n: int, seconds: int, epochs: list[bytes], kind: str = "ours", caster_workers: int = 1) -> dict:
    ctx = mp.get_context("fork")
    workers_n = max(1, min(4, (n + 2999) // 3000))
    cluster = None
    if kind == "ours" and caster_workers > 1:
        from ntrip_caster.cluster import Cluster

        cluster = Cluster(bench_config(n), caster_workers)
        port = cluster.start()
        pids = cluster.pids
        feed = socket.create_connection(("127.0.0.1", port))
        feed.sendall(b"SOURCE src /BENCH\r\nSource-Agent: NTRIP bench\r\n\r\n")
        if b"OK" not in feed.recv(100):
            raise RuntimeError("source refused")
        time.sleep(0.5)  # the other workers learn about the source over the bus
    elif kind == "ours":
        parent, child = ctx.Pipe()
        caster = ctx.Process(target=caster_main, args=(child, n), daemon=True)
        caster.start()
        port = parent.recv()
        pids = [caster.pid]
        feed = socket.create_connection(("127.0.0.1", port))
        feed.sendall(b"SOURCE src /BENCH\r\nSource-Agent: NTRIP bench\r\n\r\n")
        if b"OK" not in feed.recv(100):
            raise RuntimeError("source refused")
    else:  # str2str's caster, fed through a tcp connection it makes to us
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        fs = socket.socket()
        fs.bind(("127.0.0.1", 0))
        fs.listen(1)
        str2str = subprocess.Popen(["str2str", "-in", f"tcpcli://127.0.0.1:{fs.getsockname()[1]}", "-out",
                                    f"ntripc://bench:bench@:{port}/BENCH:RTCM 3"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(lambda p=str2str: p.poll() is None and p.kill())
        pids = [str2str.pid]
        fs.settimeout(20.0)
        try:
            feed, _ = fs.accept()
        except socket.timeout:  # e.g. it exited because its caster port was taken meanwhile
            str2str.kill()
            raise RuntimeError(f"str2str did not connect within 20 s (exit code {str2str.poll()})") from None
        finally:
            fs.close()
        feed.settimeout(None)
        time.sleep(0.5)
    pacer = Pacer(feed, epochs)
    pacer.start()
    _wait_count(pacer, 1)
    time.sleep(0.3)
    for _ in range(20):  # warm-up logins: each worker's first scrypt (16 MB) must not count as rover memory
        with socket.create_connection(("127.0.0.1", port)) as w:
            w.sendall(f"GET /BENCH HTTP/1.0\r\nUser-Agent: NTRIP warm\r\nAuthorization: {AUTH}\r\n\r\n".encode())
            w.recv(100)
    time.sleep(0.3)
    rss0 = sum(proc_rss_mb(p) for p in pids)
    t_ramp = time.monotonic()
    wpipes, wprocs = [], []
    per = [n // workers_n + (1 if i < n % workers_n else 0) for i in range(workers_n)]
    for i, k in enumerate(per):
        a, b = ctx.Pipe()
        p = ctx.Process(target=worker_main, args=(b, port, k, i, "BENCH", "NTRIP bench"), daemon=True)
        p.start()
        wpipes.append(a)
        wprocs.append(p)
    ready = [a.recv() for a in wpipes]
    connected = sum(r[1] for r in ready)
    refused = sum(r[2] + r[3] for r in ready)
    answers = {}
    for r in ready:
        for k, v in r[4].items():
            answers[k] = answers.get(k, 0) + v
    if answers:
        print(f"  {kind}@{n}: refusals {answers}", flush=True)
    ramp_s = time.monotonic() - t_ramp
    # align to the middle of an epoch interval, then measure `seconds` epochs
    _wait_count(pacer, pacer.count + 1)
    time.sleep(0.5)
    rss1 = sum(proc_rss_mb(p) for p in pids)
    for a in wpipes:
        a.send("measure")
    s0 = pacer.count  # epochs with sequence numbers s0 .. s0 + seconds - 1 are measured
    split0 = [proc_cpu_user_sys_s(p) for p in pids]
    _wait_count(pacer, s0 + seconds)
    pacer.stop_ev.set()  # no further epoch: stragglers of the last one may take their time
    time.sleep(2.0)
    split1 = [proc_cpu_user_sys_s(p) for p in pids]
    usr = sum(a[0] for a in split1) - sum(a[0] for a in split0)
    sys_ = sum(a[1] for a in split1) - sum(a[1] for a in split0)
    cpu = usr + sys_  # user: the interpreter; system: the kernel (socket sends, loopback TCP)
    lat, lost = [], 0
    for a in wpipes:
        a.send("stop")
    for a in wpipes:
        part, lo = a.recv()
        lat += [x for seq, x in part if s0 <= seq < s0 + seconds]
        lost += lo
    for p in wprocs:
        p.join(10)
    pacer.stop_ev.set()
    pacer.join(5)
    feed.close()
    dropped = lost
    fan = {"p50": float("nan"), "p99": float("nan")}
    if cluster is not None:
        cluster.stop()
    elif kind == "ours":
        parent.send("stop")
        result = parent.recv()
        caster.join(10)
        dropped = result["counters"].get("rovers_dropped_slow", 0)
        print(f"  {kind}@{n}: caster counters {result['counters']}", flush=True)
        fan = result["mount"]["fanout_ms"]
    else:
        str2str.terminate()
        str2str.wait(10)
    lat_ms = sorted(x / 1e6 for x in lat)
    expected = connected * seconds
    return {"kind": kind if caster_workers == 1 else f"ours x{caster_workers}", "clients": n, "connected": connected, "refused": refused, "ramp_s": ramp_s,
            "epochs": seconds, "p50_ms": statistics.median(lat_ms) if lat_ms else float("nan"),
            "p99_ms": lat_ms[int(0.99 * (len(lat_ms) - 1))] if lat_ms else float("nan"),
            "max_ms": lat_ms[-1] if lat_ms else float("nan"),
            "cpu_pct": 100.0 * cpu / seconds,  # CPU per 1 s epoch, % of one core
            "us_per_rover": 1e6 * cpu / seconds / max(1, connected), "rss_mb": rss1,
            "us_user": 1e6 * usr / seconds / max(1, connected), "us_sys": 1e6 * sys_ / seconds / max(1, connected),
            "kb_per_client": 1024.0 * (rss1 - rss0) / max(1, connected),
            "dropped": dropped, "lost": lost, "missed_epochs": expected - len(lat_ms),
            "fan_p50_ms": fan["p50"], "fan_p99_ms": fan["p99"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="1000,5000,10000")
    ap.add_argument("--seconds", type=int, default=15, help="epochs (1 Hz) measured per level")
    ap.add_argument("--epoch-bytes", type=int, default=1000)
    ap.add_argument("--no-str2str", action="store_true")
    ap.add_argument("--cluster-clients", default="10000", help="levels also run with a caster cluster")
    ap.add_argument("--cluster-workers", type=int, default=2, help="caster processes in the cluster runs")
    args = ap.parse_args()
    hard = raise_fd_limit()
    levels = [int(x) for x in args.clients.split(",")]
    epochs = epochs_of_about(args.epoch_bytes)
    size = statistics.mean(len(e) for e in epochs) + 13
    print(f"fd limit {hard}; epoch {size:.0f} B at 1 Hz; {args.seconds} epochs per level; "
          f"{os.cpu_count()} CPUs (shared with the rover processes)")
    rows = []
    if not args.no_str2str and shutil.which("str2str"):
        try:
            rows.append(run_level(32, args.seconds, epochs, "str2str"))
        except RuntimeError as exc:
            print(f"  no str2str anchor this run: {exc}", flush=True)
    rows.append(run_level(32, args.seconds, epochs, "ours"))
    for n in levels:
        if 2 * n + 200 > hard * max(1, min(4, (n + 2999) // 3000)):
            print(f"skipping {n}: fd limit {hard}")
            continue
        rows.append(run_level(n, args.seconds, epochs, "ours"))
    for n in [int(x) for x in args.cluster_clients.split(",") if x]:
        rows.append(run_level(n, args.seconds, epochs, "ours", caster_workers=args.cluster_workers))
    print(f"{'caster':9} {'rovers':>7} {'conn':>6} {'refused':>7} {'ramp_s':>6} {'p50_ms':>7} {'p99_ms':>7} "
          f"{'max_ms':>7} {'fan50':>6} {'fan99':>6} {'cpu_%':>6} {'us/rov':>6} {'usr':>5} {'sys':>5} {'rss_MB':>7} {'kB/rov':>6} {'dropped':>7} "
          f"{'missed':>6}")
    for r in rows:
        print(f"{r['kind']:9} {r['clients']:7d} {r['connected']:6d} {r['refused']:7d} {r['ramp_s']:6.1f} "
              f"{r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['max_ms']:7.2f} {r['fan_p50_ms']:6.2f} "
              f"{r['fan_p99_ms']:6.2f} {r['cpu_pct']:6.1f} {r['us_per_rover']:6.1f} {r['us_user']:5.1f} {r['us_sys']:5.1f} {r['rss_mb']:7.1f} "
              f"{r['kb_per_client']:6.1f} {r['dropped']:7d} {r['missed_epochs']:6d}")
    anchor = next((r for r in rows if r["kind"] == "str2str" and r["clients"] == 32), None)
    ours32 = next((r for r in rows if r["kind"] == "ours" and r["clients"] == 32), None)
    if anchor and ours32:
        print(f"anchor str2str@32 (its MAXCLI limit; a 33rd rover's connect hangs): p99 ratio ours/str2str at "
              f"32 rovers = {ours32['p99_ms'] / anchor['p99_ms']:.2f}")
        for r in rows:
            if r["kind"].startswith("ours") and r["clients"] > 32:
                print(f"  {r['kind']}@{r['clients']}: {r['connected'] / 32:.0f}x the rovers, p99 "
                      f"{r['p99_ms'] / anchor['p99_ms']:.2f}x str2str's p99 at 32")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
