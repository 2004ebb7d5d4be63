"""Post-processing jobs: a rover RINEX in, SPP or PPK solution files and a summary out.

:class:`JobRunner` runs jobs in a worker pool (threads by default; ``executor="process"`` for a
process pool so CPU-heavy jobs never compete with the caster's event loop for the GIL). Each job
opens its own database session from the URL, so one failing job is marked ``failed`` with its
reason and never stops the others. :func:`execute` is the whole job and can be called directly
(the CLI does).

PPK base: the station given, or automatically the nearest station (to the rover's header or
SPP position) whose archive (``ArchiveFile`` rows) overlaps the rover's time span. Navigation: the
file uploaded with the rover, else archived navigation files overlapping the span.

Outputs in ``<data_dir>/jobs/<id>/``: ``solution.pos`` (RTKLIB format), ``solution.csv`` (with
CGCS2000 Gauss-Krüger columns), ``solution.geojson``, ``solution.kml``, ``summary.json``.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from sqlalchemy import select

from rtk_engine import gnss_time as gt
from rtk_engine.formats.pos import format_pos
from rtk_engine.formats.solution_export import format_csv, to_geojson
from rtk_engine.geodesy.ellipsoid import ecef_to_enu, ecef_to_geodetic
from rtk_engine.geodesy.projections import ecef_to_cgcs2000, gauss_kruger
from rtk_engine.solution import Quality, Solution

from .db import make_engine, session_factory
from .models import ArchiveFile, Station, utcnow
from .models_monitoring import Job

log = logging.getLogger("beidou.jobs")
MODES = ("spp", "ppk", "ppp")
FILES = {"pos": "solution.pos", "csv": "solution.csv", "geojson": "solution.geojson", "kml": "solution.kml",
         "summary": "summary.json"}
MEDIA = {"pos": "text/plain", "csv": "text/csv", "geojson": "application/geo+json",
         "kml": "application/vnd.google-earth.kml+xml", "summary": "application/json"}


class JobInputError(ValueError):
    """A job that cannot run on its inputs (no overlap with any station, no navigation data...)."""


def new_job_id() -> str:
    return uuid.uuid4().hex[:16]


def job_dir(data_dir: Path, job_id: str) -> Path:
    return Path(data_dir) / "jobs" / job_id


# ------------------------------------------------------------------------------------------ summary
def summarise(sol: Solution) -> dict:
    """Fix rate, span and the final coordinate (mean of fixed epochs, else of all valid epochs) with
    its sigma (epoch scatter / sqrt(n) combined with the mean formal sigma, per ENU axis) in ITRF
    (the frame of the broadcast orbits: ECEF and geodetic on WGS 84) and CGCS2000 + Gauss-Krüger (3 deg)."""
    ok = sol.valid & np.isfinite(sol.ecef_m).all(axis=1)
    fixed = ok & (sol.quality == Quality.FIX)
    use = fixed if fixed.any() else ok
    out: dict = {"n_epochs": len(sol), "n_solved": int(ok.sum()), "n_fixed": int(fixed.sum()),
                 "fix_rate": float(fixed.sum() / max(len(sol), 1)),
                 "quality_counts": {Quality(q).name.lower(): int(np.sum(sol.quality == q)) for q in np.unique(sol.quality)}}
    if len(sol):
        out["start_gpst"] = gt.to_iso(int(sol.time_ns[0]))
        out["end_gpst"] = gt.to_iso(int(sol.time_ns[-1]))
        out["span_s"] = int(sol.time_ns[-1] - sol.time_ns[0]) / 1e9
    if not use.any():
        out["final"] = None
        return out
    x = sol.ecef_m[use]
    mean = x.mean(axis=0)
    enu = ecef_to_enu(x, mean)
    n = x.shape[0]
    scatter = enu.std(axis=0, ddof=1) if n > 1 else np.zeros(3)
    llh = ecef_to_geodetic(mean)
    cg = ecef_to_cgcs2000(mean)
    north, east, zone = gauss_kruger(mean)
    out["final"] = {
        "solution_type": "fixed" if fixed.any() else Quality(int(np.bincount(sol.quality[ok]).argmax())).name.lower(),
        "n_epochs_used": int(n),
        "itrf": {"ecef_m": [round(float(v), 4) for v in mean], "lat_deg": float(np.degrees(llh[0])),
                 "lon_deg": float(np.degrees(llh[1])), "h_m": round(float(llh[2]), 4)},
        "sigma_enu_m": [round(float(v), 4) for v in np.sqrt(scatter ** 2 / n + _formal_enu_var(sol, use))],
        "scatter_enu_m": [round(float(v), 4) for v in scatter],
        "cgcs2000": {"lat_deg": float(cg[0]), "lon_deg": float(cg[1]), "h_m": round(float(cg[2]), 4)},
        "gauss_kruger": {"northing_m": round(float(north), 4), "easting_m": round(float(east), 4), "zone": int(zone),
                         "zone_width_deg": 3},
    }
    return out


def _formal_enu_var(sol: Solution, use: np.ndarray) -> np.ndarray:
    from rtk_engine.geodesy.ellipsoid import enu_rotation
    llh = ecef_to_geodetic(sol.ecef_m[use][0])
    r = enu_rotation(llh[0], llh[1])
    cov = np.nanmean(np.asarray(sol.cov_m2, float)[use], axis=0)
    v = np.diag(r @ cov @ r.T) / max(int(use.sum()), 1)
    return np.where(np.isfinite(v), np.clip(v, 0, None), 0.0)


def format_kml(sol: Solution, name: str = "solution") -> str:
    """KML 2.2: one LineString of the valid epochs plus the final point (lon, lat, ellipsoidal h)."""
    ok = sol.valid & np.isfinite(sol.ecef_m).all(axis=1)
    llh = ecef_to_geodetic(sol.ecef_m[ok]) if ok.any() else np.zeros((0, 3))
    coords = " ".join(f"{np.degrees(b[1]):.9f},{np.degrees(b[0]):.9f},{b[2]:.4f}" for b in llh)
    last = coords.split(" ")[-1] if coords else ""
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<kml xmlns=\"http://www.opengis.net/kml/2.2\"><Document>"
            f"<name>{escape(name)}</name>"
            f"<Placemark><name>track</name><LineString><altitudeMode>absolute</altitudeMode>"
            f"<coordinates>{coords}</coordinates></LineString></Placemark>"
            f"<Placemark><name>last</name><Point><altitudeMode>absolute</altitudeMode><coordinates>{last}</coordinates>"
            "</Point></Placemark></Document></kml>\n")


def write_outputs(out_dir: Path, sol: Solution, summary: dict, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / FILES["pos"]).write_text(format_pos(sol, coords="xyz"))
    (out_dir / FILES["csv"]).write_text(format_csv(sol, gauss_kruger_zone_width=3))
    (out_dir / FILES["geojson"]).write_text(json.dumps(to_geojson(sol)))
    (out_dir / FILES["kml"]).write_text(format_kml(sol, name))
    (out_dir / FILES["summary"]).write_text(json.dumps(summary, indent=1))


# ----------------------------------------------------------------------------------------- the job
def _span(obs) -> tuple[dt.datetime, dt.datetime]:
    return gt.to_datetime(int(obs.time_ns[0])), gt.to_datetime(int(obs.time_ns[-1]))


def _approx_position(obs, nav) -> np.ndarray:
    p = np.asarray(obs.header.approx_pos_ecef_m, float)
    if np.all(np.isfinite(p)) and np.linalg.norm(p) > 6.0e6:
        return p
    from rtk_engine.solvers import spp
    sol = spp.solve(obs.select_epochs(slice(0, min(obs.n_epochs, 10))), nav)
    ok = sol.valid
    if not ok.any():
        raise JobInputError("the rover file has no header position and no single-point solution in its first epochs")
    return np.nanmedian(sol.ecef_m[ok], axis=0)


def pick_base(db, rover_pos: np.ndarray, start: dt.datetime, end: dt.datetime, code: str = "") -> tuple[Station, list[ArchiveFile]]:
    """The given station, or the nearest station whose archived observation files overlap [start, end]."""
    q = select(ArchiveFile).where(ArchiveFile.kind == "obs", ArchiveFile.start <= end, ArchiveFile.end >= start)
    files = db.scalars(q.order_by(ArchiveFile.start)).all()
    by_station: dict[int, list[ArchiveFile]] = {}
    for f in files:
        by_station.setdefault(f.station_id, []).append(f)
    if code:
        st = db.scalar(select(Station).where(Station.code == code.upper()))
        if st is None:
            raise JobInputError(f"no station {code!r}")
        if st.id not in by_station:
            raise JobInputError(f"station {st.code} has no archived observations overlapping {start}..{end} (GPST)")
        return st, by_station[st.id]
    if not by_station:
        raise JobInputError(f"no station has archived observations overlapping the rover's span {start}..{end} (GPST)")
    stations = db.scalars(select(Station).where(Station.id.in_(list(by_station)))).all()
    dist = [np.linalg.norm(np.array([s.x_m, s.y_m, s.z_m]) - rover_pos) for s in stations]
    st = stations[int(np.argmin(dist))]
    return st, by_station[st.id]


def _nav_for(db, job: Job, start: dt.datetime, end: dt.datetime):
    from rtk_engine.formats.rinex_nav import read_navs
    if job.nav_path:
        return read_navs([job.nav_path])
    files = db.scalars(select(ArchiveFile).where(ArchiveFile.kind == "nav", ArchiveFile.start <= end,
                                                 ArchiveFile.end >= start)).all()
    if not files:
        raise JobInputError("no navigation data: upload a navigation file with the rover, or archive one "
                            "covering the rover's span")
    return read_navs([f.path for f in files])


def execute(job_id: str, db_url: str, data_dir: str | os.PathLike) -> str:
    """Run one job to completion; returns its final status. Never raises for a bad job."""
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    try:
        with sessions() as db:
            job = db.get(Job, job_id)
            if job is None:
                return "missing"
            job.status, job.started_at, job.progress = "running", utcnow(), 0.02
            db.commit()
            try:
                summary = _run(db, job, Path(data_dir))
                job.summary, job.status, job.progress = summary, "done", 1.0
            except Exception as exc:  # one bad job never stops the others: record why and move on
                if not isinstance(exc, (ValueError, JobInputError)):
                    log.exception("job %s failed", job_id)
                job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            job.finished_at = utcnow()
            db.commit()
            return job.status
    finally:
        engine.dispose()


def _run(db, job: Job, data_dir: Path) -> dict:
    from rtk_engine.formats.rinex_obs import read_obs

    def progress(p: float) -> None:
        job.progress = round(float(p), 3)
        db.commit()

    rover = read_obs(job.rover_path)
    if rover.n_epochs == 0:
        raise JobInputError("the rover file holds no observation epochs")
    start, end = _span(rover)
    progress(0.1)
    if job.mode == "ppp":
        sol, extra = _run_ppp(rover, data_dir, dict(job.options or {}))
        summary = summarise(sol)
        summary.update(mode=job.mode, rover_file=Path(job.rover_path).name, **extra)
        progress(0.97)
        write_outputs(job_dir(data_dir, job.id), sol, summary, Path(job.rover_path).name)
        return summary
    nav = _nav_for(db, job, start, end)
    progress(0.15)
    opts = dict(job.options or {})
    if job.mode == "spp":
        from rtk_engine.solvers import spp
        sol = spp.solve(rover, nav)
        extra = {}
    elif job.mode == "ppk":
        from rtk_engine.formats.rtcm3.decoder import stack_epochs
        from rtk_engine.solvers.rtk import load_options, solve
        rover_pos = _approx_position(rover, nav)
        st, files = pick_base(db, rover_pos, start, end, job.base_station)
        job.base_station = st.code
        job.base_paths = [f.path for f in files]
        progress(0.2)
        blocks = [read_obs(f.path) for f in files]
        base = blocks[0] if len(blocks) == 1 else stack_epochs([e for b in blocks for e in b.epochs()])
        base_pos = np.array([st.x_m, st.y_m, st.z_m])
        rtk_opts = load_options(**opts)
        n_pass = 2 if rtk_opts.direction == "combined" else 1
        total = max(rover.n_epochs * n_pass, 1)
        done = [0]

        def step(k: int) -> None:
            done[0] += k
            if done[0] % 50 == 0:
                progress(0.2 + 0.75 * done[0] / total)

        sol, report = solve(rover, base, nav, base_pos, rtk_opts, progress=step)
        extra = {"base_station": st.code, "base_ecef_m": base_pos.tolist(),
                 "baseline_km": round(float(np.linalg.norm(rover_pos - base_pos)) / 1000.0, 3),
                 "time_to_first_fix_s": getattr(report, "time_to_first_fix_s", None),
                 "skipped": len(report.skipped)}
    else:
        raise JobInputError(f"unknown mode {job.mode!r} (spp, ppk, ppp)")
    summary = summarise(sol)
    summary.update(mode=job.mode, rover_file=Path(job.rover_path).name, **extra)
    progress(0.97)
    write_outputs(job_dir(data_dir, job.id), sol, summary, Path(job.rover_path).name)
    return summary


def _run_ppp(rover, data_dir: Path, options: dict):
    """PPP with the precise products an operator keeps in ``<data_dir>/products`` (SP3, CLK, ATX, BIA;
    no network access). A missing product is named exactly (which kind, which span, expected file)."""
    from rtk_engine.solvers.ppp import PppOptions, solve_detailed
    from rtk_engine.solvers.ppp.products import find_products

    folder = data_dir / "products"
    ps = find_products([folder], int(rover.time_ns[0]), int(rover.time_ns[-1]), need_clk=False)
    if not ps.sp3:
        raise JobInputError(f"no precise orbits for this span in {folder}: " + "; ".join(ps.missing))
    sp3, clk, atx, bias = ps.load()
    known = set(PppOptions.__dataclass_fields__)
    unknown = set(options) - known
    if unknown:
        raise JobInputError(f"unknown PPP options {sorted(unknown)}")
    res = solve_detailed(rover, sp3, clk, atx, PppOptions(**options), osb=bias)
    return res.solution, {"products": [str(p.name) for p in ps.sp3 + ps.clk],
                          "missing_products": ps.missing, "notes": ps.notes[:50]}


# ------------------------------------------------------------------------------------------ runner
def _lower_priority(niceness: int) -> None:
    """Worker initializer: jobs yield the CPU to the caster (Linux: per thread or per process)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (OSError, AttributeError):
        pass


def _process_worker_init(niceness: int) -> None:
    """Process-pool worker: lower priority, and die with the service (Linux PR_SET_PDEATHSIG) so a
    killed service leaves no orphaned job processes."""
    _lower_priority(niceness)
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class JobRunner:
    """A bounded worker pool for jobs. ``submit(job_id)``; ``shutdown()`` waits for running jobs.

    Workers run at ``niceness`` (default 10) so the real-time caster keeps its CPU when jobs run."""

    def __init__(self, db_url: str, data_dir: Path, workers: int = 2, executor: str = "thread",
                 niceness: int = 10) -> None:
        self.db_url, self.data_dir = db_url, str(data_dir)
        if executor == "process":
            import multiprocessing as mp
            self.pool: Executor = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                                      initializer=_process_worker_init, initargs=(niceness,))
        else:
            self.pool = ThreadPoolExecutor(workers, thread_name_prefix="job", initializer=_lower_priority,
                                           initargs=(niceness,))
        self.futures: dict = {}

    def submit(self, job_id: str):
        fut = self.pool.submit(execute, job_id, self.db_url, self.data_dir)
        self.futures[job_id] = fut
        return fut

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=not wait)
