"""The whole service in one asyncio process: API + dashboard (uvicorn), NTRIP caster, station ingest,
quality persistence, archive, and (``demo=True``) the simulated demo network.

One place owns start-up and shutdown (:func:`run_service`); SIGINT/SIGTERM stop it cleanly, writing
partial archive hours and the last quality samples, so a restart loses no committed data.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import secrets
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import uvicorn
from sqlalchemy import delete, select

from cors_network.archive import ArchivedFile, HourlyArchive
from cors_network.ingest import StationIngest
from cors_network.integrity import IntegrityCycle, IntegrityMonitor, run_cycle_on
from cors_network.relay import StationRelay, pulled_url
from ntrip_caster.auth import Account, hash_password
from ntrip_caster.config import CasterConfig
from ntrip_caster.server import Caster
from rtk_engine import gnss_time as gt

from .app import create_app
from .caster_sync import accounts_from_db, monitoring_receiver_codes, mounts_from_db
from .live import LiveState
from .models import ArchiveFile, QualitySample, Station, StationEvent, utcnow
from .settings import Settings

log = logging.getLogger("beidou.service")
SILENT_S = 30.0  # a station without data this long is offline
QUALITY_PERIOD_S = 10.0
INTEGRITY_PERIOD_S = 3600.0  # one coordinate-integrity cycle per hour over the last hour of epochs
PRUNE_PERIOD_S = 3600.0  # archive retention applied at start-up and then hourly


@dataclass
class Service:
    settings: Settings
    demo: bool = False
    live: LiveState = field(default_factory=LiveState)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    http_port: int | None = None

    def __post_init__(self) -> None:
        self.app = create_app(self.settings, self.live)
        self.sessions = self.app.state.sessions
        self.archive = HourlyArchive(self.settings.data_dir / "archive", on_file=self._archived, background=True)
        self._ingest_pw = secrets.token_urlsafe(16)
        self._ingest_hash = hash_password(self._ingest_pw)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._relay_pw = secrets.token_urlsafe(16)  # pulled stations upload into their mountpoints with it
        self._relay_hash = hash_password(self._relay_pw)
        self.integrity = IntegrityMonitor(self._registered_ecef)  # 1 h window, 30 s epochs
        self._tasks: dict[str, asyncio.Task] = {}
        self._stop = asyncio.Event()

    # ---------------------------------------------------------------- database glue
    def _archived(self, f: ArchivedFile) -> None:
        with self.sessions() as db:
            st = db.scalar(select(Station).where(Station.code == f.station))
            if st is None:
                return
            db.add(ArchiveFile(station_id=st.id, kind=f.kind, start=gt.to_datetime(f.start_gpst_ns),
                               end=gt.to_datetime(f.end_gpst_ns), path=str(f.path), size_bytes=f.size_bytes,
                               n_epochs=f.n_epochs))
            db.commit()

    def _recover_archive(self) -> None:
        """Archive hours a previous process left in the spool (it died without a shutdown) -> files."""
        with self.sessions() as db:
            self.archive.countries.update({s.code: s.country for s in db.scalars(select(Station)).all()})
        self.archive.recover()

    def prune_archive(self, now_unix: float | None = None) -> list[Path]:
        """Retention: delete archive files older than ``settings.archive_keep_days`` and their rows."""
        days = self.settings.archive_keep_days
        if days <= 0:
            return []
        gone = self.archive.prune(days, now_unix)
        paths = [str(p) for p in gone]
        with self.sessions() as db:
            for i in range(0, len(paths), 500):  # bounded IN lists
                db.execute(delete(ArchiveFile).where(ArchiveFile.path.in_(paths[i:i + 500])))
            db.commit()
        if gone:
            log.info("archive retention (%g days): %d files removed", days, len(gone))
        return gone

    async def _prune_loop(self, period_s: float = PRUNE_PERIOD_S) -> None:
        while True:
            try:
                await asyncio.to_thread(self.prune_archive)
            except Exception:
                log.exception("archive retention failed")
            await asyncio.sleep(period_s)

    def _registered_ecef(self) -> dict:
        with self.sessions() as db:
            return {s.code: (s.x_m, s.y_m, s.z_m) for s in db.scalars(select(Station)).all()}

    def _integrity_events(self, cycle: IntegrityCycle) -> None:
        """A station that moved relative to its neighbours is a critical event: every rover on it inherits it."""
        with self.sessions() as db:
            for code in cycle.flagged:
                st = db.scalar(select(Station).where(Station.code == code))
                r = cycle.results[code]
                if st is not None:
                    db.add(StationEvent(station_id=st.id, kind="coordinate-moved", severity="critical",
                                        message=f"{code} is {r.horizontal_m * 100:.1f} cm horizontally / "
                                                f"{float(r.offset_enu_m[2]) * 100:.1f} cm vertically from its "
                                                f"registered coordinate ({r.n_consistent} of {r.n_used} "
                                                f"baselines agree) {r.note}".strip()))
            db.commit()

    async def _integrity_loop(self, period_s: float = INTEGRITY_PERIOD_S) -> None:
        """Integrity cycles run in a separate process: a cycle is seconds of CPU per baseline."""
        loop = asyncio.get_running_loop()
        pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            while True:
                await asyncio.sleep(period_s)
                try:
                    cycle = self.integrity.record(
                        await loop.run_in_executor(pool, run_cycle_on, self.integrity.inputs()))
                    await asyncio.to_thread(self._integrity_events, cycle)
                except Exception:
                    log.exception("integrity cycle failed")
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _caster_config(self) -> CasterConfig:
        with self.sessions() as db:
            accounts, mounts = accounts_from_db(db), mounts_from_db(db)
            pulled = {s.mountpoint for s in db.scalars(select(Station)).all()
                      if s.mountpoint and pulled_url(s.source_kind, s.source_url)}
        # a pulled station's mountpoint takes its source from our relay only
        mounts = [replace(m, source_password_hash=self._relay_hash) if m.name in pulled else m for m in mounts]
        accounts.append(Account("_ingest", self._ingest_hash))
        return CasterConfig(host=self.settings.caster_host, port=self.settings.caster_port, name="BeiDou CORS",
                            operator="demo" if self.demo else "", accounts=accounts, mounts=mounts)

    def _on_change(self, what: str) -> None:
        """A resource changed in the database. API routes run on worker threads: the database reads
        happen here, the caster, ingests and relays (event-loop objects) are updated on the loop."""
        if self.live.caster is None or self._loop is None:
            return
        cfg = self._caster_config()
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._apply_change(cfg, what)
        else:
            self._loop.call_soon_threadsafe(self._apply_change, cfg, what)

    def _apply_change(self, cfg: CasterConfig, what: str) -> None:
        caster = self.live.caster
        caster.set_accounts(cfg.accounts)
        caster.set_mounts(cfg.mounts)
        log.info("caster reconfigured after a change of %s", what)
        self._sync_ingests()
        if getattr(self, "monitoring", None) is not None:
            self.monitoring.sync()

    def _sync_ingests(self) -> None:
        """One ingest per station whose mountpoint exists on the caster."""
        with self.sessions() as db:
            rows = [s for s in db.scalars(select(Station)).all() if s.mountpoint]
            wanted = {s.code: s.mountpoint for s in rows}
            pulled = {s.code: (url, s.mountpoint) for s in rows if (url := pulled_url(s.source_kind, s.source_url))}
            self.archive.countries.update({s.code: s.country for s in rows})
            monitors = monitoring_receiver_codes(db)
        port = self.live.caster.port
        for code, mount in wanted.items():
            if code not in self.live.ingests:
                ing = StationIngest(code, f"ntrip://_ingest:{self._ingest_pw}@127.0.0.1:{port}/{mount}",
                                    archive=self.archive)
                self.live.ingests[code] = ing
                self._tasks[f"ingest:{code}"] = asyncio.create_task(ing.run(), name=f"ingest:{code}")
        for code, ing in self.live.ingests.items():  # a monitoring receiver may move: never an integrity neighbour
            if code in monitors:
                self.integrity.detach(code, ing)
            else:
                self.integrity.attach(ing)
        for code in list(self.live.ingests):
            if code not in wanted:
                self.integrity.detach(code, self.live.ingests.pop(code))
                t = self._tasks.pop(f"ingest:{code}", None)
                if t:
                    t.cancel()
        self._sync_relays(pulled, port)

    def _sync_relays(self, pulled: dict[str, tuple[str, str]], port: int) -> None:
        """One relay per pulled station (TCP / serial / remote caster link -> its mountpoint here);
        a changed link or mountpoint restarts it, a station no longer pulled stops it."""
        for code, relay in list(self.live.relays.items()):
            if pulled.get(code) != (relay.source_url, relay.upload_url.rsplit("/", 1)[-1]):
                self.live.relays.pop(code)
                t = self._tasks.pop(f"relay:{code}", None)
                if t:
                    t.cancel()
        for code, (url, mount) in pulled.items():
            if code not in self.live.relays and mount in self.live.caster.mounts:  # never upload to a 404
                relay = StationRelay(code, url, f"ntrip://:{self._relay_pw}@127.0.0.1:{port}/{mount}")
                self.live.relays[code] = relay
                self._tasks[f"relay:{code}"] = asyncio.create_task(relay.run(), name=f"relay:{code}")

    def persist_quality(self) -> None:
        """Store a quality sample per live station; update status and raise events on changes."""
        now = time.time()
        with self.sessions() as db:
            for st in db.scalars(select(Station)).all():
                ing = self.live.ingests.get(st.code)
                if ing is None:
                    continue
                q = ing.quality.snapshot()
                silent = ing.last_data_unix is None or now - ing.last_data_unix > SILENT_S
                if q.epochs and not silent:
                    db.add(QualitySample(station_id=st.id, time=utcnow(),
                                         sats_per_system=q.sats_per_system, cn0_mean_dbhz=q.cn0_mean_dbhz,
                                         completeness=q.completeness, latency_s=q.latency_s,
                                         slips_per_1000=q.slips_per_1000, mp1_m=q.mp1_m, mp2_m=q.mp2_m,
                                         last_epoch=gt.to_datetime(q.last_epoch_gpst_ns)))
                n_sats = sum(q.sats_per_system.values())
                status = ("offline" if silent else
                          "degraded" if (q.completeness or 0) < 0.9 or n_sats < 8 else "online")
                if st.status == "maintenance" or status == st.status:
                    continue
                if st.status != "unknown" or status != "online":
                    sev = {"offline": "critical", "degraded": "warning", "online": "info"}[status]
                    db.add(StationEvent(station_id=st.id, kind=f"station-{status}", severity=sev,
                                        message=f"{st.code} {st.status} -> {status}; {n_sats} satellites, "
                                                f"completeness {q.completeness}"))
                st.status = status
            db.commit()

    async def _quality_loop(self) -> None:
        while True:
            await asyncio.sleep(QUALITY_PERIOD_S)
            try:
                await asyncio.to_thread(self.persist_quality)
            except Exception:
                log.exception("quality persistence failed")

    # ---------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        if self.demo:
            from .demo_seed import seed_demo_network

            seed_demo_network(self.sessions, self.settings)
        self._loop = asyncio.get_running_loop()
        caster = Caster(self._caster_config(), on_event=None)
        await caster.start()
        self.live.caster = caster
        self.app.state.listeners.append(self._on_change)
        await asyncio.to_thread(self._recover_archive)  # before any ingest adds to an open hour
        self._sync_ingests()
        from .monitoring_live import LiveMonitoring
        from .routers.monitoring import ensure_processor

        # monitoring: recover uploads acknowledged before a crash, then follow live points
        self.monitoring = LiveMonitoring(await asyncio.to_thread(ensure_processor, self.app), self.live)
        self.monitoring.sync()
        self._tasks["quality"] = asyncio.create_task(self._quality_loop())
        self._tasks["integrity"] = asyncio.create_task(self._integrity_loop())
        self._tasks["prune"] = asyncio.create_task(self._prune_loop(), name="archive-retention")
        if self.demo:
            from cors_network.demo import ReplayedStation, SimulatedNetwork, recorded_stations

            from .demo_seed import demo_monitors_for, demo_source_passwords

            passwords = demo_source_passwords(self.settings)
            net = SimulatedNetwork("127.0.0.1", caster.port, passwords, monitors=demo_monitors_for(self.settings))
            self.live.demo = net
            self._tasks["demo"] = asyncio.create_task(net.run(), name="demo-network")
            for st in recorded_stations():  # real recorded stations replayed live
                rep = ReplayedStation(st, "127.0.0.1", caster.port, passwords[st.code])
                self._tasks[f"replay:{st.code}"] = asyncio.create_task(rep.run(), name=f"replay:{st.code}")
        config = uvicorn.Config(self.app, host=self.settings.http_host, port=self.settings.http_port,
                                log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # we own the signals
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        http = asyncio.create_task(server.serve(), name="http")
        while not server.started and not http.done():
            await asyncio.sleep(0.05)
        if http.done():
            await caster.stop()
            http.result()
            raise RuntimeError("HTTP server did not start")
        self.http_port = server.servers[0].sockets[0].getsockname()[1] if server.servers else None
        log.warning("service up: API/dashboard http://%s:%s/  caster %s:%s%s", self.settings.http_host,
                    self.http_port, self.settings.caster_host, caster.port, "  (demo network)" if self.demo else "")
        self.ready.set()
        await self._stop.wait()
        server.should_exit = True
        for t in self._tasks.values():
            t.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self.monitoring.stop()
        runner = getattr(self.app.state, "job_runner", None)
        if runner is not None:
            await asyncio.to_thread(runner.shutdown, True)
        await asyncio.to_thread(self.archive.close)
        self.persist_quality()
        await caster.stop()
        await http

    def stop(self) -> None:
        self._stop.set()
