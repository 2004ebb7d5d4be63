"""The operator dashboard end to end in a real headless Chromium (Debian ``chromium``, driven by Playwright).

The app runs under uvicorn on 127.0.0.1 on a free port (a thread), on a temporary SQLite database
seeded with real stations (INVENTORY.md coordinates) and six hours of quality history, and a fake
live state whose caster has three rovers (two with a GGA position). The page must load, sign in,
show every station and rover on the map and in the tables, draw the quality and load plots,
refresh by itself, keep the session over a reload, sign out, and log NO console error or failed request.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time

import pytest

from api.app import create_app
from api.settings import Settings
from tests.test_api_live import ADMIN_PW, ROVERS_ECEF, STATIONS, fake_live, seed

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _require_browser():
    missing = [] if os.path.exists(CHROMIUM) else ["Debian chromium"]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package")
    if missing:
        msg = f"{' and '.join(missing)} missing (`make sysdeps`, requirements.lock)"
        if os.environ.get("CI"):
            pytest.fail(msg + " in CI")
        pytest.skip(msg)


def wait_js(page, expr: str, timeout: int = 15_000) -> None:
    """Poll a JS expression until truthy. (Playwright's wait_for_function evaluates a string with eval,
    which the page's Content-Security-Policy forbids; page.evaluate goes through DevTools and is allowed.)"""
    t_end = time.monotonic() + timeout / 1000
    while not page.evaluate(expr):
        assert time.monotonic() < t_end, f"timed out waiting for: {expr}"
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app):
    """Run ``app`` under uvicorn on 127.0.0.1 on a free port in a thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    th = threading.Thread(target=srv.run, name="dashboard-uvicorn", daemon=True)
    th.start()
    t0 = time.monotonic()
    while not srv.started:
        assert th.is_alive() and time.monotonic() - t0 < 15, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        th.join(10)


@pytest.fixture
def server(tmp_path):
    """A seeded network: five real stations, 6 h of quality history, a caster with three rovers."""
    app = create_app(Settings(data_dir=tmp_path / "var", admin_password=ADMIN_PW), live=fake_live())
    seed(app.state.sessions, hours=6.0, step_s=300)
    with serving(app) as url:
        yield url


@pytest.fixture
def browser_page(tmp_path):
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1600, "height": 1000})
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        # net::ERR_ABORTED is Chromium cancelling an in-flight fetch because the test itself reloads or
        # navigates (the page refreshes every second); every other network failure, and any HTTP >= 400, counts
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}")
                if "ERR_ABORTED" not in (r.failure or "") else None)
        page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        page.problems = problems
        try:
            yield page
        finally:
            ctx.close()


def test_dashboard_end_to_end_in_chromium(server, browser_page):
    page = browser_page
    resp = page.goto(f"{server}/dashboard?refresh=1")
    assert "script-src 'self'" in resp.headers["content-security-policy"]  # any CSP violation is a console error
    assert page.title().startswith("BeiDou CORS Network")
    assert page.is_visible("#login-form") and not page.is_visible("#app")

    page.fill("#login-user", "admin")
    page.fill("#login-pass", ADMIN_PW)
    page.click("#login-btn")
    page.wait_for_selector("#app", state="visible")
    codes = sorted(s[0] for s in STATIONS)
    wait_js(page, f"document.querySelectorAll('#health-table tbody tr[data-code]').length === {len(codes)}")

    # station health table: every station, its status, live quality where an ingest runs
    rows = page.eval_on_selector_all("#health-table tbody tr[data-code]", "rs => rs.map(r => r.dataset.code)")
    assert rows == codes
    g3034 = page.inner_text("#health-table tr[data-code='G3034']")
    assert "online" in g3034 and "44.2" in g3034 and "99.8 %" in g3034  # fake_quality figures
    assert "no live data" in page.inner_text("#health-table tr[data-code='NYA1']")
    assert "offline" in page.inner_text("#health-table tr[data-code='OPEC']")

    # map: one triangle per station, one circle per rover with a GGA position, country outlines drawn
    wait_js(page, f"document.querySelectorAll('.station-marker').length === {len(codes)}")
    wait_js(page, f"document.querySelectorAll('path.rover-marker').length === {len(ROVERS_ECEF)}")
    assert page.eval_on_selector_all(".station-marker .station-label", "ls => ls.map(l => l.textContent).sort()") == codes
    wait_js(page, "document.querySelectorAll('#map path.leaflet-interactive, #map svg path').length > 100")

    # rovers table and KPIs from the caster snapshot (3 rovers, one without GGA)
    assert page.inner_text("#kpi-rovers") == "3"
    assert page.eval_on_selector_all("#rovers-table tbody tr", "rs => rs.length") == 3
    assert "rover1" in page.inner_text("#rovers-table") and "G3034" in page.inner_text("#mounts-table")
    assert "auth_failure" in page.inner_text("#events")

    # quality plots of the first station: six charts with lines over the seeded 6 h history
    wait_js(page, "document.querySelectorAll('#quality-plots .chart path.series').length >= 6")
    counts = page.eval_on_selector_all("#quality-plots .chart", "cs => cs.map(c => Number(c.dataset.points))")
    assert len(counts) == 6 and min(counts) >= 72  # 72 stored samples (6 h every 5 min) per plotted series
    assert page.inner_text("#q-station") == codes[0]  # the first station of the table is selected
    # selecting another station from the table redraws for it
    page.click("#health-table tr[data-code='G3034']")
    wait_js(page, "document.getElementById('q-station').textContent === 'G3034'")
    wait_js(page, "document.getElementById('events').textContent.includes('G3034 stream started')")
    assert page.get_attribute("#health-table tr[data-code='G3034']", "class") == "selected"

    # auto-refresh (?refresh=1): the caster load history grows and gets a bytes/s rate
    wait_js(page, "Number(document.getElementById('load-rovers').dataset.points) >= 6", timeout=10_000)
    wait_js(page, "document.getElementById('kpi-in').textContent.endsWith('/s')", timeout=10_000)

    # the session survives a reload (token in sessionStorage) and sign-out returns to the login form
    page.reload()
    page.wait_for_selector("#app", state="visible")
    wait_js(page, f"document.querySelectorAll('#health-table tbody tr[data-code]').length === {len(codes)}")
    page.click("#logout-btn")
    page.wait_for_selector("#login-form", state="visible")
    assert page.evaluate("sessionStorage.getItem('beidou.token')") is None
    time.sleep(1.5)  # a refresh tick after sign-out must not call the API without a token
    assert page.problems == [], page.problems


def test_dashboard_on_an_empty_service_without_caster(tmp_path, browser_page):
    """A fresh install: no station, no caster in this process. The page says so, without errors."""
    page = browser_page
    app = create_app(Settings(data_dir=tmp_path / "empty", admin_password=ADMIN_PW))
    with serving(app) as url:
        page.goto(f"{url}/?refresh=1")
        page.fill("#login-user", "admin")
        page.fill("#login-pass", ADMIN_PW)
        page.click("#login-btn")
        wait_js(page, "document.getElementById('health-table').textContent.includes('no stations registered')")
        # rover and source counts (0) plotted over two refreshes: 2 series x 2 points
        wait_js(page, "Number(document.getElementById('load-rovers').dataset.points) >= 4")
        assert page.inner_text("#caster-status") == "Caster not running"
        assert "not running" in page.inner_text("#mounts-table")
        assert page.inner_text("#kpi-stations").replace("\n", " ") == "0 / 0"
        assert page.eval_on_selector_all(".station-marker, path.rover-marker", "m => m.length") == 0
    assert page.problems == [], page.problems


def test_dashboard_monitoring_point_plots_and_alarms(tmp_path, browser_page):
    """A monitoring point with real observations posted through the API (fujisawa-078 rover against
    GEONET 3034 from the archive, 20 mm horizontal injected from the 31st epoch): the point is on the
    map coloured by its alarm level, its E/N/U and trajectory plots have the solutions, the orange
    alarm is listed and an operator acknowledges it by clicking; a read-only user sees no buttons."""
    import httpx

    from tests.test_monitoring_api import RULES, TRUTH, archive_reference, rover_chunks

    page = browser_page
    app = create_app(Settings(data_dir=tmp_path / "mon", admin_password=ADMIN_PW))
    archive_reference(app)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as c:
        h = {"Authorization": "Bearer " + c.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PW})
             .json()["access_token"]}
        assert c.post("/api/operators", headers=h, json={"username": "viewer", "password": "viewer-pass-123",
                                                              "role": "readonly"}).status_code == 201
        r = c.post("/api/monitoring/points", headers=h, json={"code": "TOWER1", "name": "tower", "x_m": TRUTH[0],
                                                              "y_m": TRUTH[1], "z_m": TRUTH[2], "rules": RULES})
        assert r.status_code == 201, r.text
        for chunk in rover_chunks():
            assert c.post("/api/monitoring/points/TOWER1/observations", headers=h, content=chunk).status_code == 202
        t_end = time.monotonic() + 60
        while not all(u["status"] == "processed" for u in
                      c.get("/api/monitoring/points/TOWER1/uploads", headers=h).json()["items"]):
            assert time.monotonic() < t_end, "uploads not processed"
            time.sleep(0.2)
        alarms = c.get("/api/monitoring/alarms", headers=h).json()["items"]
        assert [(a["rule"], a["level"], a["state"]) for a in alarms] == [("horizontal", "orange", "open")]

        page.goto(f"{url}/dashboard?refresh=1")
        page.fill("#login-user", "admin")
        page.fill("#login-pass", ADMIN_PW)
        page.click("#login-btn")
        page.wait_for_selector("#app", state="visible")
        # the map: one monitoring marker, orange; the station triangle beside it
        wait_js(page, "document.querySelectorAll('.monitor-marker svg[data-level=\"orange\"]').length === 1")
        assert page.eval_on_selector_all(".station-marker", "m => m.length") == 1
        # plots: 60 solutions, all fixed (raw + filtered per component), and the trajectory
        wait_js(page, "document.getElementById('m-point').textContent === 'TOWER1'")
        wait_js(page, "document.querySelectorAll('#mon-plots .chart').length === 4")
        sols = c.get("/api/monitoring/points/TOWER1/displacements", headers=h).json()["items"]
        kept = sum(not s["outlier"] for s in sols)  # the filter's step detection flags the first displaced epochs
        assert len(sols) == 60 and kept >= 45
        counts = page.eval_on_selector_all("#mon-plots .chart", "cs => cs.map(c => Number(c.dataset.points))")
        assert counts == [60 + kept] * 3 + [kept], counts  # raw + filtered per component; the trajectory
        assert page.inner_text("#m-info") == "60 solutions shown, 60 fixed"
        assert "orange" in page.inner_text("#mpoints-table").lower()
        # the trajectory's read-out ends near the injected 20 mm (12 E, 16 N)
        total = page.evaluate("document.querySelector('#mon-plots .chart:nth-child(4) .legend-text').textContent")
        assert abs(float(total.split("·")[1].split()[0]) - 20.0) < 5.0, total
        # the alarm list, acknowledge by clicking
        row = "#alarms-table tr[data-alarm]"
        wait_js(page, f"document.querySelectorAll('{row}').length === 1")
        assert "horizontal" in page.inner_text(row) and "orange" in page.inner_text(row).lower()
        page.click(f"{row} button[data-action='acknowledge']")
        wait_js(page, f"document.querySelector('{row} .alarm-state').textContent.startsWith('acknowledged')")
        a = c.get("/api/monitoring/alarms", headers=h).json()["items"][0]
        assert a["state"] == "acknowledged" and a["acknowledged_by"] == "admin"
        assert page.eval_on_selector_all(f"{row} button[data-action='acknowledge']", "b => b.length") == 0
        # CSV export: a download of the series with a header row and the 60 solutions
        with page.expect_download() as dl:
            page.click("#m-exports button[data-format='csv']")
        lines = open(dl.value.path()).read().splitlines()
        assert lines[0].startswith("time_gpst_ns,") and len(lines) == 61

        # a read-only user sees the alarm but no buttons
        page.click("#logout-btn")
        page.fill("#login-user", "viewer")
        page.fill("#login-pass", "viewer-pass-123")
        page.click("#login-btn")
        wait_js(page, f"document.querySelectorAll('{row}').length === 1")
        assert page.eval_on_selector_all(f"{row} button", "b => b.length") == 0
        time.sleep(1.2)  # one more refresh tick without errors
    assert page.problems == [], page.problems
