"""Does post-processing and monitoring intake starve the real-time caster? (issue 6, item 5)

The whole service (``api.service.Service``: API + caster + ingest in one asyncio process) runs in a
child process. A v1 NTRIP source sends 10 stamped RTCM frames a second (message 4095 carrying the
CLOCK_MONOTONIC send time) plus ~1 kB of real RTCM per epoch; one rover measures the added latency of
every stamp. Phase 1 (baseline, no other load) is the anchor; phase 2 runs ten PPK jobs on the
fujisawa-078 rover (automatic base from the archive) and a flood of monitoring observation posts
(10-epoch RINEX chunks of the same rover, as fast as one client can post). Reported: p50 / p99 / max
latency of each phase and the ratio loaded / baseline, for jobs on threads (default) and on a
process pool (``extra.job_executor = "process"``).

    .venv/bin/python benchmarks/bench_monitoring_load.py [--seconds 15]
"""
from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
F078 = DATA / "rtk" / "fujisawa-2021-078"
CAPTURE = DATA / "rtcm" / "novatel-hiroshima-2022" / "20221213-010900.rtcm"
BASE = [-3959400.631, 3385704.533, 3667523.111]
TRUTH = [-3962108.673, 3381309.574, 3668678.638]
MARK = b"\xd3\x00\x0e\xff\xf0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def service_main(settings) -> None:
    import asyncio

    from api.service import Service
    asyncio.run(Service(settings).run())


def prepare(settings) -> None:
    """Schema, admin, reference station 3034 with its archive (obs + nav) before the service starts."""
    from api.app import create_app
    from api.models import ArchiveFile, Station
    from rtk_engine import gnss_time as gt
    from rtk_engine.formats.rinex_obs import read_obs
    app = create_app(settings)
    base = read_obs(F078 / "3034078M1.21O")
    s, e = gt.to_datetime(int(base.time_ns[0])), gt.to_datetime(int(base.time_ns[-1]))
    with app.state.sessions() as db:
        st = Station(code="3034", x_m=BASE[0], y_m=BASE[1], z_m=BASE[2])
        db.add(st)
        db.flush()
        db.add(ArchiveFile(station_id=st.id, kind="obs", start=s, end=e, path=str(F078 / "3034078M1.21O")))
        db.add(ArchiveFile(station_id=st.id, kind="nav", start=s, end=e, path=str(F078 / "SEPT078M.21P")))
        db.commit()
    app.state.engine.dispose()


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.h = {}
        tok = self.call("POST", "/api/auth/token", {"username": "admin", "password": "bench-admin-1"})["access_token"]
        self.h = {"Authorization": f"Bearer {tok}"}

    def call(self, method, path, body=None, raw: bytes | None = None, ctype="application/json"):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={**self.h, "Content-Type": ctype})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"null")


def rtcm_epochs(size: int = 1000) -> list[bytes]:
    from rtk_engine.formats.rtcm3_frame import iter_frames
    frames = [f for f in iter_frames(CAPTURE.read_bytes()) if len(f) < size]
    out, cur = [], b""
    for f in frames:
        cur += f
        if len(cur) >= size - 100:
            out.append(cur)
            cur = b""
    return out


class Probe:
    """Source at 10 Hz with stamps, one rover collecting (phase, latency_ms)."""

    def __init__(self, port: int) -> None:
        from rtk_engine.formats.rtcm3_frame import frame
        self.frame = frame
        self.phase = "warmup"
        self.lat: list[tuple[str, float]] = []
        self.stop = threading.Event()
        self.src = socket.create_connection(("127.0.0.1", port))
        self.src.sendall(b"SOURCE bench-source /BENCH\r\nSource-Agent: NTRIP bench\r\n\r\n")
        if b"OK" not in self.src.recv(100):
            raise RuntimeError("source refused")
        time.sleep(0.5)
        self.rov = socket.create_connection(("127.0.0.1", port))
        self.rov.settimeout(2.0)
        auth = base64.b64encode(b"rover:rover-pass").decode()
        self.rov.sendall(f"GET /BENCH HTTP/1.0\r\nUser-Agent: NTRIP bench\r\nAuthorization: Basic {auth}\r\n\r\n".encode())
        self.epochs = rtcm_epochs()
        threading.Thread(target=self._send, daemon=True).start()
        threading.Thread(target=self._read, daemon=True).start()

    def _send(self) -> None:
        k = 0
        t_next = time.monotonic()
        while not self.stop.is_set():
            stamp = self.frame(b"\xff\xf0" + struct.pack(">qI", now_ns(), k))
            self.src.sendall(stamp + (self.epochs[k % len(self.epochs)] if k % 10 == 0 else b""))
            k += 1
            t_next += 0.1
            time.sleep(max(0.0, t_next - time.monotonic()))

    def _read(self) -> None:
        buf = b""
        while not self.stop.is_set():
            try:
                d = self.rov.recv(65536)
            except socket.timeout:
                continue
            if not d:
                return
            buf += d
            while True:
                i = buf.find(MARK)
                if i < 0 or len(buf) < i + 20:
                    buf = buf[i:] if i >= 0 else buf[-5:]
                    break
                t_sent, _ = struct.unpack(">qI", buf[i + 5:i + 17])
                self.lat.append((self.phase, (now_ns() - t_sent) / 1e6))
                buf = buf[i + 20:]


def stats(v: list[float]) -> str:
    if not v:
        return "no samples"
    v = sorted(v)
    p99 = v[min(len(v) - 1, int(0.99 * len(v)))]
    return f"n={len(v)} p50 {statistics.median(v):.2f} ms, p99 {p99:.2f} ms, max {v[-1]:.2f} ms"


def run(executor: str, seconds: float, load: str = "both") -> None:
    from api.settings import Settings
    from rtk_engine.formats.rinex_obs import read_obs
    from rtk_engine.formats.rinex_obs_writer import obs_text
    tmp = Path(tempfile.mkdtemp(prefix="bench-mon-"))
    http, caster = free_port(), free_port()
    settings = Settings(data_dir=tmp, admin_password="bench-admin-1", http_port=http, caster_port=caster,
                        extra={"job_executor": executor, "job_workers": 2})
    prepare(settings)
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=service_main, args=(settings,))  # not daemonic: it may start a job pool
    proc.start()
    try:
        for _ in range(200):
            try:
                api = Api(http)
                break
            except OSError:
                time.sleep(0.1)
        api.call("POST", "/api/stations", {"code": "BNCH", "x_m": BASE[0] + 100.0, "y_m": BASE[1], "z_m": BASE[2]})
        api.call("POST", "/api/mountpoints", {"name": "BENCH", "station_code": "BNCH", "source_password": "bench-source"})
        api.call("POST", "/api/ntrip-users", {"username": "rover", "password": "rover-pass"})
        time.sleep(1.0)
        probe = Probe(caster)
        time.sleep(2.0)
        probe.phase = "baseline"
        time.sleep(seconds)
        # load: 10 PPK jobs + a flood of monitoring posts
        rover_bytes = (F078 / "SEPT078M1.21O").read_bytes()
        fid = api.call("POST", "/api/jobs/files?kind=obs", raw=rover_bytes, ctype="application/octet-stream")["file_id"]
        api.call("POST", "/api/monitoring/points", {"code": "FUJI", "x_m": TRUTH[0], "y_m": TRUTH[1], "z_m": TRUTH[2],
                                                    "rules": [{"kind": "2d", "thresholds": {"red": 30}, "persist_n": 5}]})
        rover = read_obs(F078 / "SEPT078M1.21O")
        chunks = [obs_text(rover.select_epochs(slice(k, k + 10))) for k in range(0, 60, 10)]
        probe.phase = "loaded"
        t_load = time.monotonic()
        jobs = [api.call("POST", "/api/jobs", {"rover_file": fid, "mode": "ppk",
                                               "options": {"direction": "combined"}})["id"]
                for _ in range(10 if load in ("jobs", "both") else 0)]
        posts = 0
        while time.monotonic() - t_load < seconds:
            if load == "jobs":
                time.sleep(0.1)
                continue
            # each post differs (a comment line), so each is stored and solved, not deduplicated
            body = chunks[posts % len(chunks)].replace(b"END OF HEADER", b"END OF HEADER", 1)
            body = body.replace(b"\n", f"\nbench {posts:<54d}COMMENT\n".encode(), 1)
            try:
                api.call("POST", "/api/monitoring/points/FUJI/observations", raw=body, ctype="text/plain")
                posts += 1
            except Exception:
                pass
        probe.phase = "after"
        done = sum(api.call("GET", f"/api/jobs/{j}")["status"] == "done" for j in jobs)
        probe.stop.set()
        base = [v for p, v in probe.lat if p == "baseline"]
        loaded = [v for p, v in probe.lat if p == "loaded"]
        print(f"[{executor} pool, load {load}] baseline: {stats(base)}")
        print(f"[{executor} pool, load {load}] loaded ({posts} observation posts, {len(jobs)} PPK jobs, {done} done within "
              f"{seconds:g} s): {stats(loaded)}")
        if base and loaded:
            b, l_ = sorted(base), sorted(loaded)
            print(f"[{executor} pool, load {load}] p99 loaded / baseline = "
                  f"{l_[int(0.99 * (len(l_) - 1))] / max(b[int(0.99 * (len(b) - 1))], 1e-3):.1f}")
    finally:
        proc.terminate()
        proc.join(10)
        if proc.is_alive():
            proc.kill()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--executor", choices=("thread", "process", "both"), default="both")
    ap.add_argument("--load", choices=("jobs", "posts", "both"), default="both")
    a = ap.parse_args()
    for ex in (("thread", "process") if a.executor == "both" else (a.executor,)):
        run(ex, a.seconds, a.load)
