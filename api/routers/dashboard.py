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

# Only our own scripts, styles, images and API: an injected string cannot load or run anything else.
_PAGE_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                 "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                                            "base-uri 'none'; form-action 'none'"}


@router.get("/")
@router.get("/dashboard")
def dashboard_page() -> FileResponse:
    return FileResponse(DASHBOARD_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)


@router.get("/favicon.ico")
def favicon() -> Response:
    return FileResponse(DASHBOARD_DIR / "favicon.svg", media_type="image/svg+xml")


def install(app: FastAPI) -> None:
    """Add the page routes and mount the static assets."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=DASHBOARD_DIR), name="static")
