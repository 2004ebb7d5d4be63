"""The RINEX archive: list a station's hourly files (observations ``obs``, navigation ``nav``) and
download them. ``n_epochs`` counts epochs of an observation file, ephemeris records of a navigation file."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from sqlalchemy import select

from ..models import ArchiveFile
from ..pagination import PageParams, paginate
from ..security import Db, Reader
from .stations import get_station

router = APIRouter(prefix="/api", tags=["archive"])


def file_out(f: ArchiveFile) -> dict:
    return {"id": f.id, "kind": f.kind, "start": f.start, "end": f.end, "name": Path(f.path).name,
            "size_bytes": f.size_bytes, "n_epochs": f.n_epochs, "download": f"/api/archive/{f.id}/download"}


@router.get("/stations/{code}/archive")
def list_archive(code: str, db: Db, _: Reader, page: PageParams = Depends(),
                 kind: Literal["obs", "nav"] | None = None) -> dict:
    """A station's archive files, newest first; ``kind`` selects observation or navigation files."""
    st = get_station(db, code)
    stmt = select(ArchiveFile).where(ArchiveFile.station_id == st.id)
    if kind is not None:
        stmt = stmt.where(ArchiveFile.kind == kind)
    stmt = stmt.order_by(ArchiveFile.start.desc(), ArchiveFile.kind.desc())
    return paginate(db, stmt, page, file_out)


@router.get("/archive/{file_id}/download")
def download(file_id: int, db: Db, _: Reader, request: Request) -> FileResponse:
    f = db.get(ArchiveFile, file_id)
    if f is None:
        raise HTTPException(404, f"no archive file {file_id}")
    path = Path(f.path).resolve()
    root = (Path(request.app.state.settings.data_dir) / "archive").resolve()
    if root not in path.parents or not path.is_file():  # only files the archive wrote, and still there
        raise HTTPException(410, f"archive file {path.name} is no longer available (retention)")
    return FileResponse(path, media_type="application/gzip", filename=path.name)
