"""Operator API: auth, roles on every state-changing route, stations/mountpoints/NTRIP users, errors."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings

ESBC_ECEF = (3582105.2910, 532589.7313, 5232754.8054)  # INVENTORY.md header position of ESBC


@pytest.fixture
def client(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, admin_password="admin-pass-123"))
    with TestClient(app) as c:
        yield c


def login(c, user, pw) -> dict:
    r = c.post("/api/auth/token", json={"username": user, "password": pw})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def make_user(c, admin, name, role) -> dict:
    r = c.post("/api/operators", json={"username": name, "password": "password-" + name, "role": role},
               headers=admin)
    assert r.status_code == 201, r.text
    return login(c, name, "password-" + name)


def test_login_rejects_wrong_password_with_problem_json(client):
    r = client.post("/api/auth/token", json={"username": "admin", "password": "nope"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401
    assert client.get("/api/stations").status_code == 401


def test_station_crud_with_cgcs2000_and_gauss_kruger(client):
    admin = login(client, "admin", "admin-pass-123")
    body = {"code": "esbc", "name": "Esbjerg", "x_m": ESBC_ECEF[0], "y_m": ESBC_ECEF[1], "z_m": ESBC_ECEF[2]}
    r = client.post("/api/stations", json=body, headers=admin)
    assert r.status_code == 201, r.text
    st = r.json()
    assert st["code"] == "ESBC"
    # Esbjerg is at about 55.49 N, 8.46 E (IGS site log); Gauss-Krüger 3-degree zone 3 (CM 9 E)
    assert st["cgcs2000"]["lat_deg"] == pytest.approx(55.4925, abs=0.01)
    assert st["cgcs2000"]["lon_deg"] == pytest.approx(8.4573, abs=0.01)
    assert st["gauss_kruger"]["zone"] == 3
    assert st["country"] == "CHN"  # the operator's default; Esbjerg's own is DNK
    assert client.patch("/api/stations/ESBC", json={"country": "DNK"}, headers=admin).json()["country"] == "DNK"
    assert client.patch("/api/stations/ESBC", json={"country": "Denmark"}, headers=admin).status_code == 422
    assert client.post("/api/stations", json=dict(body, code="ESB2", country="dk"), headers=admin).status_code == 422
    assert client.post("/api/stations", json=body, headers=admin).status_code == 409
    bad = dict(body, code="XX01", z_m=0.0, x_m=1.0, y_m=1.0)
    r = client.post("/api/stations", json=bad, headers=admin)
    assert r.status_code == 422 and "geocentre" in r.text
    assert client.get("/api/stations?limit=1", headers=admin).json()["total"] == 1
    r = client.patch("/api/stations/ESBC", json={"status": "maintenance"}, headers=admin)
    assert r.json()["status"] == "maintenance"
    assert client.get("/api/stations/NOPE", headers=admin).status_code == 404


def test_mountpoints_and_ntrip_users_hash_passwords(client):
    admin = login(client, "admin", "admin-pass-123")
    client.post("/api/stations", json={"code": "ESBC", "x_m": ESBC_ECEF[0], "y_m": ESBC_ECEF[1],
                                       "z_m": ESBC_ECEF[2]}, headers=admin)
    r = client.post("/api/mountpoints", json={"name": "ESBC0", "station_code": "ESBC",
                                              "source_password": "upload-secret"}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["has_source_password"] and r.json()["lat_deg"] == pytest.approx(55.49, abs=0.01)
    r = client.post("/api/ntrip-users", json={"username": "rover1", "password": "rover-secret",
                                              "mountpoints": ["ESBC0"]}, headers=admin)
    assert r.status_code == 201 and "password" not in r.text
    from sqlalchemy import select

    from api.models import Mountpoint, NtripUser
    with client.app.state.sessions() as db:
        u = db.scalar(select(NtripUser))
        m = db.scalar(select(Mountpoint))
        assert u.password_hash.startswith("scrypt$") and "rover-secret" not in u.password_hash
        assert m.source_password_hash.startswith("scrypt$")


def test_every_state_changing_route_requires_a_role(client):
    """Walk all routes: without a token -> 401; with a read-only token -> 403 on every change."""
    admin = login(client, "admin", "admin-pass-123")
    readonly = make_user(client, admin, "viewer", "readonly")
    operator = make_user(client, admin, "op", "operator")
    public = {("POST", "/api/auth/token"), ("GET", "/api/health")}
    checked = 0
    paths = client.get("/openapi.json").json()["paths"]
    for path, ops in paths.items():
        for method in (m.upper() for m in ops):
            if not path.startswith("/api") or (method, path) in public:
                continue
            url = path.replace("{code}", "ESBC").replace("{name}", "M1").replace("{username}", "u1") \
                      .replace("{user_id}", "1")
            assert client.request(method, url).status_code == 401, (method, path)
            if method != "GET" and not path.startswith("/api/auth/"):
                assert client.request(method, url, headers=readonly).status_code == 403, (method, path)
                checked += 1
            if path.startswith("/api/operators") and method != "GET":
                assert client.request(method, url, headers=operator).status_code == 403, (method, path)
    assert checked >= 8
