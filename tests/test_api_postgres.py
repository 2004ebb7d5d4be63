"""The API on a real PostgreSQL (Debian ``postgresql``, psycopg 3 driver) instead of SQLite.

A throwaway cluster is created in a temporary directory with ``initdb`` and started with ``pg_ctl``
(as the ``postgres`` OS user when running as root: PostgreSQL refuses to run as root), listening on a
free port on 127.0.0.1 and a private unix socket; it is stopped and removed at the end. Each test gets
a fresh database. The Alembic migrations must build exactly the ORM schema on PostgreSQL, go down and up
again, and the API flows of ``test_api_resources`` and ``test_api_live`` run here unchanged.
Skips (outside CI only) when PostgreSQL or psycopg is not installed; ``make sysdeps`` installs it.
"""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.test_api_live import ADMIN_PW, admin_headers, fake_live

# The API flows, collected again here with this module's PostgreSQL `client` fixture.
from tests.test_api_resources import (  # noqa: F401
    test_every_state_changing_route_requires_a_role, test_login_rejects_wrong_password_with_problem_json,
    test_mountpoints_and_ntrip_users_hash_passwords, test_station_crud_with_cgcs2000_and_gauss_kruger)
from tests.test_api_live import (  # noqa: F401
    test_caster_load_rate_is_bytes_over_time_between_calls, test_live_routes_need_a_token,
    test_quality_history_filters_orders_and_paginates, test_rovers_geojson_and_caster_snapshot_from_fake_caster,
    test_stations_geojson_positions_match_pyproj)


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} in CI: `make sysdeps` installs Debian postgresql, requirements.lock pins psycopg")
    pytest.skip(f"{reason} (Debian postgresql via `make sysdeps`; psycopg from requirements.lock)")


def _pg_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb is None:
        _unavailable("PostgreSQL (initdb, pg_ctl) is not installed")
    return os.path.dirname(os.path.realpath(initdb))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_server():
    """Start a private PostgreSQL cluster; yields a function giving the SQLAlchemy URL of a new database."""
    try:
        import psycopg
    except ImportError:
        _unavailable("the psycopg driver is not installed")
    bindir = _pg_bin()
    root = tempfile.mkdtemp(prefix="beidou-pg-")
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: hand the directory to the postgres user
        if shutil.which("runuser") is None or subprocess.run(["id", "-u", "postgres"], capture_output=True).returncode:
            _unavailable("running as root without a `postgres` OS user")
        shutil.chown(root, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, sock, log = os.path.join(root, "data"), os.path.join(root, "sock"), os.path.join(root, "server.log")
    port = _free_port()

    def run(*cmd: str) -> None:
        r = subprocess.run([*as_postgres, *cmd], capture_output=True, text=True, timeout=60)
        if r.returncode:
            tail = open(log).read()[-2000:] if os.path.exists(log) else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}\n{tail}")

    try:
        run(f"{bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
            "--no-sync")
        run("mkdir", sock)
        # fsync off: a throwaway cluster; durability is not under test here
        run(f"{bindir}/pg_ctl", "-D", data, "-l", log, "-w", "-t", "30", "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", "start")
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    names = (f"beidou_test_{i}" for i in itertools.count())

    def new_database() -> str:
        name = next(names)
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"

    try:
        yield new_database
    finally:
        subprocess.run([*as_postgres, f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server) -> str:
    return pg_server()


@pytest.fixture
def app(tmp_path, pg_url):
    a = create_app(Settings(data_dir=tmp_path, database_url=pg_url, admin_password=ADMIN_PW), live=fake_live())
    yield a
    a.state.engine.dispose()


@pytest.fixture
def client(app):
    assert app.state.engine.dialect.name == "postgresql"
    with TestClient(app) as c:
        yield c


def test_alembic_migrations_build_the_orm_schema_on_postgresql(pg_url):
    """upgrade head == the models (autogenerate finds no difference), then down to base and up again."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from api.db import MIGRATIONS, make_engine, migrate
    from api.models import Base

    engine = make_engine(pg_url)
    try:
        migrate(engine)
        migrate(engine)  # a second start on a migrated database changes nothing
        with engine.connect() as conn:
            assert conn.exec_driver_sql("select version()").scalar().startswith("PostgreSQL")
            ctx = MigrationContext.configure(conn)
            heads = ctx.get_current_heads()
            assert heads and heads == tuple(sorted(heads))
            diff = compare_metadata(ctx, Base.metadata)
            assert diff == [], f"migrations and models differ on PostgreSQL: {diff}"
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(engine)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_committed_data_survives_a_restart_on_postgresql(tmp_path, pg_url):
    """Stations and accounts written by one app instance are there for the next one; no second admin."""
    settings = Settings(data_dir=tmp_path, database_url=pg_url, admin_password=ADMIN_PW)
    first = create_app(settings)
    with TestClient(first) as c:
        h = admin_headers(c)
        r = c.post("/api/stations", json={"code": "OPEC", "name": "Oslo", "x_m": 3149785.9652, "y_m": 598260.8822,
                                          "z_m": 5495348.4927}, headers=h)
        assert r.status_code == 201, r.text
        r = c.post("/api/operators", json={"username": "viewer", "password": "viewer-pass-1", "role": "readonly"},
                   headers=h)
        assert r.status_code == 201, r.text
    first.state.engine.dispose()

    second = create_app(settings)
    try:
        assert second.state.generated_admin_password is None
        with TestClient(second) as c:
            h = admin_headers(c)
            st = c.get("/api/stations/OPEC", headers=h).json()
            assert st["ecef_m"] == [3149785.9652, 598260.8822, 5495348.4927]  # float64 round trip, exact
            ops = c.get("/api/operators", headers=h).json()
            assert sorted(o["username"] for o in ops["items"]) == ["admin", "viewer"]
            r = c.post("/api/auth/token", json={"username": "viewer", "password": "viewer-pass-1"})
            assert r.status_code == 200 and r.json()["role"] == "readonly"
    finally:
        second.state.engine.dispose()
