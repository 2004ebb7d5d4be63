"""Post-processing jobs: upload files, start a job (SPP or PPK), follow its progress, fetch results.

1. ``POST /api/jobs/files?kind=obs|nav&filename=NAME`` with the file as the raw body (RINEX
   observation: plain, Hatanaka and/or gzip/.Z; navigation: RINEX 2/3/4). Validated (type, size),
   stored by content hash: ``201 {"file_id": sha256, ...}`` (the same file again: ``200``).
2. ``POST /api/jobs`` ``{"rover_file": id, "nav_file": id?, "mode": "spp"|"ppk", "base_station": code?,
   "options": {...RTK options...}}`` -> ``202`` with the job (``status`` queued -> running -> done | failed,
   ``progress`` 0..1). Without ``base_station`` the nearest archived station overlapping the rover's
   span is used; without ``nav_file`` archived navigation files.
3. ``GET /api/jobs/{id}``; ``GET /api/jobs/{id}/files/{pos|csv|geojson|kml|summary}``.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select

from rtk_engine.formats.compressed import CompressedDataError, decompress_bytes

from ..jobs import FILES, MEDIA, MODES, JobRunner, job_dir, new_job_id
from ..models_monitoring import Job
from ..monitoring_service import fsync_write
from ..pagination import PageParams, paginate
from ..security import Db, Operator, Reader
from .monitoring import read_limited

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # a day of 1 Hz multi-GNSS Hatanaka+gzip is ~60-100 MB
_lock = threading.Lock()


def runner(request: Request) -> JobRunner:
    st = request.app.state
    with _lock:
        r = getattr(st, "job_runner", None)
        if r is None:
            extra = st.settings.extra
            r = JobRunner(st.settings.db_url, st.settings.data_dir, workers=extra.get("job_workers", 2),
                          executor=extra.get("job_executor", "thread"))
            st.job_runner = r
            with st.sessions() as db:  # jobs interrupted by a restart run again
                for j in db.scalars(select(Job).where(Job.status.in_(("queued", "running")))).all():
                    j.status, j.progress = "queued", 0.0
                    db.commit()
                    r.submit(j.id)
    return r


def upload_dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir) / "uploads"


def classify(data: bytes, name: str) -> dict:
    """What a file is: {"kind": "obs"|"nav", "format": "rinex"|"crinex", "version": str}; ValueError if neither."""
    try:
        text = decompress_bytes(data, name)
    except CompressedDataError as exc:
        raise ValueError(str(exc)) from None
    first = text[:200].split(b"\n", 1)[0]
    if b"CRINEX VERS" in first:
        return {"kind": "obs", "format": "crinex", "version": first[:9].decode(errors="replace").strip()}
    if b"RINEX VERSION / TYPE" in first:
        t = first[20:21].upper()
        version = first[:9].decode(errors="replace").strip()
        if t == b"O":
            return {"kind": "obs", "format": "rinex", "version": version}
        if t in (b"N", b"G", b"L", b"C", b"E", b"J", b"I", b"F"):
            return {"kind": "nav", "format": "rinex", "version": version}
        raise ValueError(f"RINEX file of type {t.decode(errors='replace')!r}: only observation and navigation files")
    raise ValueError("not a RINEX observation or navigation file (plain, Hatanaka, gzip or .Z)")


@router.post("/files", status_code=201)
async def upload_file(request: Request, _: Operator, kind: str = Query(..., pattern="^(obs|nav)$"),
                      filename: str = Query("upload", max_length=128)) -> JSONResponse:
    limit = request.app.state.settings.extra.get("job_max_bytes", MAX_UPLOAD_BYTES)
    body = await read_limited(request, limit)
    if not body:
        raise HTTPException(400, "empty body: send the file as the request body")
    out, existed = await run_in_threadpool(_store_file, upload_dir(request), body, kind, filename)
    return JSONResponse(out, status_code=200 if existed else 201)


def _store_file(folder: Path, body: bytes, kind: str, filename: str) -> tuple[dict, bool]:
    """Validate and store an uploaded file (blocking: thread pool, not the event loop)."""
    try:
        info = classify(body, filename)
    except ValueError as exc:
        raise HTTPException(415, f"{filename}: {exc}") from None
    if info["kind"] != kind:
        raise HTTPException(415, f"{filename} is a RINEX {info['kind']} file, not {kind}")
    digest = hashlib.sha256(body).hexdigest()
    path = folder / f"{digest}.{kind}"
    existed = path.exists()
    if not existed:
        fsync_write(path, body)
    out = {"file_id": digest, "kind": kind, "filename": filename, "size_bytes": len(body), **{
        k: v for k, v in info.items() if k != "kind"}}
    return out, existed


class JobIn(BaseModel):
    rover_file: str = Field(pattern="^[0-9a-f]{64}$")
    nav_file: str = Field("", pattern="^([0-9a-f]{64})?$")
    mode: str = Field("ppk", pattern="^(spp|ppk|ppp)$")
    base_station: str = Field("", max_length=16)
    options: dict = Field(default_factory=dict)


def job_out(j: Job) -> dict:
    return {"id": j.id, "mode": j.mode, "status": j.status, "progress": j.progress, "owner": j.owner,
            "base_station": j.base_station, "options": j.options, "summary": j.summary, "error": j.error,
            "created_at": j.created_at, "started_at": j.started_at, "finished_at": j.finished_at,
            "files": {k: f"/api/jobs/{j.id}/files/{k}" for k in FILES} if j.status == "done" else {}}


@router.post("", status_code=202)
def create_job(body: JobIn, db: Db, user: Operator, request: Request) -> dict:
    if body.mode not in MODES:
        raise HTTPException(422, f"mode must be one of {MODES}")
    rover = upload_dir(request) / f"{body.rover_file}.obs"
    if not rover.exists():
        raise HTTPException(404, f"no uploaded observation file {body.rover_file}")
    nav = ""
    if body.nav_file:
        navp = upload_dir(request) / f"{body.nav_file}.nav"
        if not navp.exists():
            raise HTTPException(404, f"no uploaded navigation file {body.nav_file}")
        nav = str(navp)
    if body.mode == "ppk":
        from rtk_engine.solvers.rtk import RtkOptionsError, load_options
        try:
            load_options(**body.options)
        except (RtkOptionsError, TypeError) as exc:
            raise HTTPException(422, f"options: {exc}") from None
    if body.mode == "ppp":
        from rtk_engine.solvers.ppp import PppOptions
        try:
            PppOptions(**body.options)
        except TypeError as exc:
            raise HTTPException(422, f"options: {exc}") from None
    j = Job(id=new_job_id(), owner=user.username, mode=body.mode, rover_path=str(rover), nav_path=nav,
            base_station=body.base_station.upper(), options=body.options)
    db.add(j)
    db.commit()
    runner(request).submit(j.id)
    return job_out(j)


@router.get("")
def list_jobs(db: Db, _: Reader, page: PageParams = Depends(),
              status: str | None = Query(None, pattern="^(queued|running|done|failed)$")) -> dict:
    q = select(Job)
    if status:
        q = q.where(Job.status == status)
    return paginate(db, q.order_by(Job.created_at.desc()), page, job_out)


@router.get("/{job_id}")
def read_job(job_id: str, db: Db, _: Reader) -> dict:
    j = db.get(Job, job_id)
    if j is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return job_out(j)


@router.get("/{job_id}/files/{what}")
def job_file(job_id: str, what: str, db: Db, _: Reader, request: Request):
    j = db.get(Job, job_id)
    if j is None:
        raise HTTPException(404, f"no job {job_id!r}")
    if what not in FILES:
        raise HTTPException(404, f"no result {what!r}; one of {sorted(FILES)}")
    if j.status != "done":
        raise HTTPException(409, f"job {job_id} is {j.status}" + (f": {j.error}" if j.error else ""))
    path = job_dir(request.app.state.settings.data_dir, j.id) / FILES[what]
    return FileResponse(path, media_type=MEDIA[what], filename=f"{j.id}_{FILES[what]}")
