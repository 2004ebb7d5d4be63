"""The FastAPI application factory."""
from __future__ import annotations

import logging
import secrets
from typing import Callable

from fastapi import FastAPI
from sqlalchemy import select

from . import errors
from .db import make_engine, migrate, session_factory
from .live import LiveState
from .models import OperatorUser
from .routers import archive, auth, dashboard, mountpoints, ntrip_users, stations
from .routers import live as live_views
from .routers import jobs as jobs_routes, monitoring as monitoring_routes
from .security import hash_password
from .settings import Settings

log = logging.getLogger("beidou.api")


def bootstrap_admin(sessions, settings: Settings) -> str | None:
    """Create the first admin account if there is no operator yet; returns a generated password."""
    with sessions() as db:
        if db.scalar(select(OperatorUser).limit(1)) is not None:
            return None
        password = settings.admin_password or secrets.token_urlsafe(12)
        db.add(OperatorUser(username=settings.admin_user, password_hash=hash_password(password), role="admin"))
        db.commit()
    if not settings.admin_password:
        log.warning("created admin account %r with password %s (shown once)", settings.admin_user, password)
        return password
    return None


def create_app(settings: Settings | None = None, live: LiveState | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    migrate(engine)
    sessions = session_factory(engine)
    app = FastAPI(title="BeiDou positioning service", version="0.1.0",
                  description="Operator API: reference stations, mountpoints, NTRIP accounts, quality, archive.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.live = live or LiveState()
    app.state.listeners: list[Callable[[str], None]] = []

    def changed(what: str) -> None:
        """Tell the live parts (caster, ingest) that a resource changed in the database."""
        for fn in app.state.listeners:
            try:
                fn(what)
            except Exception:  # a listener failure must not fail the API request that committed
                log.exception("listener failed on change of %s", what)

    app.state.changed = changed
    app.state.generated_admin_password = bootstrap_admin(sessions, settings)
    errors.install(app)
    for r in (auth.router, stations.router, archive.router, mountpoints.router, ntrip_users.router, live_views.router,
              monitoring_routes.router, jobs_routes.router):
        app.include_router(r)
    dashboard.install(app)

    @app.get("/api/health", tags=["health"])
    def health() -> dict:
        return {"status": "ok"}

    return app
