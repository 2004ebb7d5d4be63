"""The operator dashboard: one static page (``/`` and ``/dashboard``) and its assets under ``/static``.

The page is plain HTML/JS/CSS in ``api/dashboard`` with Leaflet and a Natural Earth country outline
vendored under ``api/dashboard/vendor`` (no CDN, no tile server: the machines have no internet).
It logs in through ``POST /api/auth/token`` and reads the read-only live endpoints.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

DASHBOARD_DIR = Path(__file__).resolve().parents[1] / "dashboard"

router = APIRouter(include_in_schema=False)

_NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/")
@router.get("/dashboard")
def dashboard_page() -> FileResponse:
    return FileResponse(DASHBOARD_DIR / "index.html", media_type="text/html", headers=_NO_CACHE)


@router.get("/favicon.ico")
def favicon() -> Response:
    return FileResponse(DASHBOARD_DIR / "favicon.svg", media_type="image/svg+xml")


def install(app: FastAPI) -> None:
    """Add the page routes and mount the static assets."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=DASHBOARD_DIR), name="static")
