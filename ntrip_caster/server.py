"""The asyncio NTRIP caster: one :class:`Connection` per peer, one :class:`Caster` owning everything.

Lifecycle: ``caster = Caster(cfg); await caster.start()`` (binds ``cfg.port`` and, if set,
``cfg.tls_port``; ports 0 pick ephemeral ports, read back from ``caster.port``/``caster.tls_port``),
``await caster.stop()`` closes listeners, all peers and the housekeeping task: the one place
that owns shutdown. ``caster.snapshot()`` is the statistics API for the service layer.

Connections are ``asyncio.Protocol`` objects (callbacks, no task per rover) so that tens of
thousands of rovers cost little memory; the only per-connection task is the short request
handler that may need to verify a password hash in a worker thread.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import socket
import ssl
import time
from collections import defaultdict, deque
from typing import Callable

from rtk_engine.formats.nmea import NmeaError, parse_gga
from rtk_engine.formats.rtcm3_frame import FrameScanner

from . import protocol as P
from . import sourcetable
from .abuse import AbuseControl, GgaRate
from .auth import Authenticator
from .cluster import split_frames
from .config import CasterConfig
from .mountpoints import Mount
from .nearest import choose
from .stats import ClientStats

log = logging.getLogger("ntrip_caster")

_HEADER, _PENDING, _CLIENT, _SOURCE, _CLOSED = range(5)
_ids = itertools.count(1)


class Connection(asyncio.Protocol):
    """One TCP (or TLS) peer: reads the request header, then acts as rover or source."""

    def __init__(self, caster: "Caster") -> None:
        self.caster = caster
        self.state = _HEADER
        self.buf = bytearray()
        self.transport = None
        self.address = "?"
        self.v2 = False
        self.stats: ClientStats | None = None
        self.mount: Mount | None = None       # mountpoint requested (rover) or fed (source)
        self.serving: Mount | None = None     # mount whose subscribers include this rover
        self.timer: asyncio.TimerHandle | None = None
        self.scanner: FrameScanner | None = None
        self.dechunk: P.ChunkedDecoder | None = None
        self.gga_rate: GgaRate | None = None
        self.last_gga_mono: float | None = None
        self.connected_mono = time.monotonic()
        self.last_frame_mono = self.connected_mono
        self.account: str | None = None
        self.counted_address = False

    # -- asyncio callbacks
    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.address = peer[0] if peer else "?"
        refusal = self.caster._admit(self)
        if refusal:
            self.close(refusal, P.error_response(503, False) if refusal.startswith("limit") else None)
            return
        self.timer = asyncio.get_running_loop().call_later(self.caster.cfg.limits.header_timeout_s,
                                                           self._header_timeout)

    def data_received(self, data: bytes) -> None:
        st = self.state
        if st == _CLIENT:
            self._rover_bytes(data)
        elif st == _SOURCE:
            self._source_bytes(data)
        elif st == _HEADER:
            self.buf += data
            end = P.find_header_end(self.buf)
            limit = self.caster.cfg.limits.max_header_bytes
            if end < 0 or end > limit:
                if len(self.buf) > limit:
                    self.caster.abuse.record("oversized-request", self.address, f"{len(self.buf)} header bytes")
                    self.close("oversized request", P.error_response(431, False))
                return
            head, rest = bytes(self.buf[:end]), bytes(self.buf[end:])
            self.buf = bytearray(rest)
            self.state = _PENDING
            if self.timer:
                self.timer.cancel()
                self.timer = None
            self.caster._spawn(self._handle(head))
        elif st == _PENDING:
            self.buf += data
            if len(self.buf) > 65536:
                self.close("too much data before the answer")

    def connection_lost(self, exc) -> None:
        if self.state != _CLOSED:
            self.state = _CLOSED
            self.caster._forget(self, "peer closed" if exc is None else f"peer error: {exc}")
        if self.timer:
            self.timer.cancel()

    def pause_writing(self) -> None:  # backlog is policed by fanout.deliver, not by flow control
        pass

    def resume_writing(self) -> None:
        pass

    # -- helpers
    def close(self, reason: str, answer: bytes | None = None) -> None:
        if self.state == _CLOSED:
            return
        self.state = _CLOSED
        if self.stats:
            self.stats.closed_reason = reason
        if self.timer:
            self.timer.cancel()
            self.timer = None
        t = self.transport
        if answer and t is not None and not t.is_closing():
            t.write(answer)
            t.close()  # flushes the answer first; a peer that never reads is aborted after 5 s
            asyncio.get_running_loop().call_later(5.0, t.abort)
        elif t is not None:
            t.abort()
        self.caster._forget(self, reason)

    def _header_timeout(self) -> None:
        self.timer = None
        if self.state == _HEADER:
            self.caster.abuse.record("slow-request", self.address,
                                     f"header incomplete after {self.caster.cfg.limits.header_timeout_s:g} s")
            self.close("request header timeout", P.error_response(408, False) if self.buf else None)

    async def _handle(self, head: bytes) -> None:
        if self.state == _CLOSED:
            return
        try:
            req = P.parse_request(head)
        except P.RequestError as exc:
            self.caster.abuse.record("bad-request", self.address, str(exc))
            self.close(f"bad request: {exc}", P.error_response(exc.status, True))
            return
        self.v2 = req.ntrip_version == 2
        if req.is_source:
            await self.caster._accept_source(self, req)
        else:
            await self.caster._accept_rover(self, req)

    # -- rover side: GGA lines
    def _rover_bytes(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        limit = self.caster.cfg.limits.gga_line_max_bytes
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > limit:
                    buf.clear()
                return
            line = bytes(buf[:nl]).strip()
            del buf[:nl + 1]
            if line.startswith(b"$") and line[3:6] == b"GGA":
                self.caster._rover_gga(self, line)

    # -- source side
    def _source_bytes(self, data: bytes) -> None:
        if self.dechunk is not None:
            try:
                data = self.dechunk.feed(data)
            except ValueError as exc:
                self.caster.abuse.record("bad-source-stream", self.address, str(exc))
                self.close(f"bad chunked upload: {exc}")
                return
            if self.dechunk.done:
                self.close("source finished")
                return
        sc = self.scanner
        bad0, garb0 = sc.stats.bad_crc, sc.stats.garbage_bytes
        frames = sc.feed(data)
        ms = self.mount.stats
        ms.bad_crc += sc.stats.bad_crc - bad0
        ms.garbage_bytes += sc.stats.garbage_bytes - garb0
        if frames:
            self.last_frame_mono = time.monotonic()
            t0 = time.perf_counter()
            bus = self.caster.bus
            if bus is not None:
                bus.send(b"F", self.mount.name, b"".join(frames))
            slow = self.mount.publish(frames, self.caster.cfg.limits.client_backlog_bytes)
            self.mount.stats.fanout_s.append(time.perf_counter() - t0)
            for rover in slow:
                self.caster._drop_slow(rover)


class Caster:
    """The NTRIP caster service (see module docstring)."""

    def __init__(self, cfg: CasterConfig, on_event: Callable[[dict], None] | None = None,
                 reuse_port: bool = False) -> None:
        cfg.validate()
        self.cfg = cfg
        self.reuse_port = reuse_port
        self.bus = None  # cluster.Bus when this caster is one worker of several
        self.auth = Authenticator(cfg.accounts)
        self.abuse = AbuseControl(cfg.abuse)
        self.mounts: dict[str, Mount] = {m.name: Mount(m) for m in cfg.mounts}
        for m in self.mounts.values():
            if m.cfg.kind == "view":
                m.base = self.mounts[m.cfg.view_of]
                m.base.views.append(m)
        self.rovers: set[Connection] = set()
        self.sources: set[Connection] = set()
        self.pending: set[Connection] = set()
        self.per_address: dict[str, int] = defaultdict(int)
        self.per_account: dict[str, int] = defaultdict(int)
        self.events: deque[dict] = deque(maxlen=1000)
        self.on_event = on_event
        self.counters: dict[str, int] = defaultdict(int)
        self.port: int | None = None
        self.tls_port: int | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self._tasks: set[asyncio.Task] = set()
        self._housekeeping: asyncio.Task | None = None
        self.started_at: float | None = None
        # scrypt needs 16 MB per hash: two hashing threads bound that memory and CPU
        self._hash_pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="caster-auth")
        self._inflight: dict[tuple, asyncio.Future] = {}

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(lambda: Connection(self), self.cfg.host, self.cfg.port, backlog=4096,
                                       reuse_address=True, reuse_port=self.reuse_port or None)
        self._servers.append(srv)
        self.port = srv.sockets[0].getsockname()[1]
        if self.cfg.tls_port is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.cfg.tls_cert, self.cfg.tls_key)
            tls = await loop.create_server(lambda: Connection(self), self.cfg.host, self.cfg.tls_port, ssl=ctx,
                                           backlog=4096, reuse_address=True, ssl_handshake_timeout=10.0)
            self._servers.append(tls)
            self.tls_port = tls.sockets[0].getsockname()[1]
        self._housekeeping = asyncio.create_task(self._tick())
        self.started_at = time.time()
        log.info("caster listening on %s:%s (TLS %s)", self.cfg.host, self.port, self.tls_port)

    async def stop(self) -> None:
        """Stop listening, close every peer, cancel background work. Safe to call twice."""
        for srv in self._servers:
            srv.close()
        if self._housekeeping:
            self._housekeeping.cancel()
        for conn in list(self.pending | self.rovers | self.sources):
            conn.close("caster shutting down")
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, *( [self._housekeeping] if self._housekeeping else []),
                             return_exceptions=True)
        for srv in self._servers:
            await srv.wait_closed()
        self._servers.clear()
        self._housekeeping = None
        self._hash_pool.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> "Caster":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _verify(self, key: tuple, fn, *args):
        """Run a password check in the small hashing pool; identical checks in flight share one
        hash (a thousand rovers reconnecting with the same account cost one scrypt, not 1000)."""
        fut = self._inflight.get(key)
        if fut is None:
            fut = asyncio.get_running_loop().run_in_executor(self._hash_pool, fn, *args)
            self._inflight[key] = fut
            fut.add_done_callback(lambda _f, k=key: self._inflight.pop(k, None))
        return await asyncio.shield(fut)

    def _spawn(self, coro) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def _event(self, kind: str, **info) -> None:
        ev = {"time": time.time(), "kind": kind, **info}
        self.events.append(ev)
        log.info("%s %s", kind, info)
        if self.on_event:
            try:
                self.on_event(ev)
            except Exception:  # the service layer's hook must not break the caster
                log.exception("on_event hook failed")

    # ------------------------------------------------------------------ admission and bookkeeping
    def _admit(self, conn: Connection) -> str | None:
        lim = self.cfg.limits
        refusal = self.abuse.on_connect(conn.address)
        if refusal:
            return refusal
        if self.per_address[conn.address] >= lim.max_connections_per_address:
            self.abuse.record("address-limit", conn.address, f"more than {lim.max_connections_per_address} "
                                                             "connections")
            return "limit: connections per address"
        if len(self.pending) >= lim.max_pending_headers:
            self.abuse.record("pending-limit", conn.address, "too many connections sending headers")
            return "limit: pending requests"
        self.per_address[conn.address] += 1
        conn.counted_address = True
        self.pending.add(conn)
        return None

    def _forget(self, conn: Connection, reason: str) -> None:
        self.pending.discard(conn)
        if getattr(conn, "counted_address", False):
            conn.counted_address = False
            n = self.per_address[conn.address] - 1
            if n <= 0:
                self.per_address.pop(conn.address, None)
            else:
                self.per_address[conn.address] = n
        if conn in self.rovers:
            self.rovers.discard(conn)
            if conn.serving is not None:
                conn.serving.subscribers.discard(conn)
            if conn.mount is not None:
                conn.mount.clients.discard(conn)
            if conn.account:
                self.per_account[conn.account] -= 1
            self.counters["rovers_closed"] += 1
        if conn in self.sources:
            self.sources.discard(conn)
            m = conn.mount
            if m is not None and m.source is conn:
                m.source = None
                m.lost_at = time.monotonic()
                m.stats.source_vanished += 1
                if self.bus is not None:
                    self.bus.send(b"L", m.name)
                self._event("source-lost", mount=m.name, address=conn.address, reason=reason,
                            rovers_waiting=len(m.subscribers))
                self._reassign_nearest()

    def _drop_slow(self, rover: Connection) -> None:
        if rover.state == _CLOSED:
            return
        m = rover.mount
        if m is not None:
            m.stats.clients_dropped_slow += 1
        self.counters["rovers_dropped_slow"] += 1
        self._event("rover-dropped-slow", mount=m.name if m else None, address=rover.address,
                    backlog=rover.transport.get_write_buffer_size())
        rover.close("fell behind (write backlog over limit)")

    # ------------------------------------------------------------------ sourcetable
    def sourcetable(self, query: str = "") -> str:
        strs = [m.str_record() for m in self.mounts.values()
                if m.live or (m.cfg.kind == "nearest" and self._live_bases(m))]
        cas = [sourcetable.CasRecord(self.cfg.host, self.port or self.cfg.port, self.cfg.name, self.cfg.operator,
                                     0, self.cfg.country, self.cfg.lat_deg, self.cfg.lon_deg)]
        net = [sourcetable.NetRecord(self.cfg.network, self.cfg.operator, "B", "N")]
        return sourcetable.build(cas, net, strs, query)

    # ------------------------------------------------------------------ sources
    async def _accept_source(self, conn: Connection, req: P.Request) -> None:
        v2 = req.ntrip_version == 2
        m = self.mounts.get(req.mount)
        password = req.source_password if req.method == "SOURCE" else req.password
        if m is None or m.cfg.kind != "base":
            self.abuse.record("source-unknown-mount", conn.address, f"/{req.mount}")
            conn.close("source for unknown mountpoint",
                       P.error_response(404, True) if v2 else P.source_error_v1("taken"))
            return
        stored = m.cfg.source_password_hash
        if self.auth.cache.known(password or "", stored or ""):
            ok = True
        else:
            ok = await self._verify(("source", password, stored), self.auth.check_source, password, stored)
        if conn.state == _CLOSED:
            return
        if not ok:
            m.stats.source_rejected += 1
            self.abuse.on_auth_failure(conn.address, f"bad source password for /{m.name}")
            conn.close("bad source password", P.error_response(401, True, f"/{m.name}") if v2
                       else P.source_error_v1("bad-password"))
            return
        if m.source is not None or m.remote_source or len(self.sources) >= self.cfg.limits.max_sources:
            m.stats.source_rejected += 1
            self.abuse.record("source-conflict", conn.address, f"/{m.name} already has a source")
            conn.close("mountpoint taken", P.error_response(409, True) if v2 else P.source_error_v1("taken"))
            return
        self.pending.discard(conn)
        conn.state = _SOURCE
        conn.mount = m
        conn.scanner = FrameScanner()
        conn.last_frame_mono = time.monotonic()
        if req.chunked:
            conn.dechunk = P.ChunkedDecoder()
        self.sources.add(conn)
        returned = m.lost_at is not None
        m.source = conn
        m.lost_at = None
        st = m.stats
        st.source_connects += 1
        st.source_address = conn.address
        st.source_agent = req.user_agent
        st.source_connected_at = time.time()
        conn.transport.write(P.source_ok(v2))
        if self.bus is not None:
            self.bus.send(b"S", m.name, req.user_agent.encode("utf-8", "replace")[:200])
        self._event("source-returned" if returned else "source-connected", mount=m.name, address=conn.address,
                    agent=req.user_agent)
        self._reassign_nearest()
        rest = bytes(conn.buf)
        conn.buf = bytearray()
        if rest:
            conn._source_bytes(rest)

    # ------------------------------------------------------------------ rovers
    def _live_bases(self, nearest: Mount) -> dict[str, tuple[float, float]]:
        names = nearest.cfg.candidates or [n for n, m in self.mounts.items() if m.cfg.kind == "base"]
        return {n: self.mounts[n].position_deg for n in names if n in self.mounts and self.mounts[n].live}

    async def _accept_rover(self, conn: Connection, req: P.Request) -> None:
        v2 = req.ntrip_version == 2
        if req.mount == "":
            self.counters["sourcetable_requests"] += 1
            conn.close("sourcetable sent", P.sourcetable_response(self.sourcetable(req.query if v2 else ""), v2))
            return
        m = self.mounts.get(req.mount)
        if m is None or not (m.live or (m.cfg.kind == "nearest" and self._live_bases(m))):
            self.counters["unknown_mount"] += 1
            if v2:
                conn.close("unknown mountpoint", P.error_response(404, True))
            else:
                conn.close("unknown mountpoint (sourcetable sent)", P.sourcetable_response(self.sourcetable(), False))
            return
        if m.cfg.auth:
            if not self.auth.is_cached(req.user, req.password):
                result = await self._verify(("user", req.user, req.password, m.name), self.auth.check_user,
                                            req.user, req.password, m.name)
            else:
                result = self.auth.check_user(req.user, req.password, m.name)
            if conn.state == _CLOSED:
                return
            ok, reason = result
            if not ok:
                if reason != "no-credentials":
                    self.abuse.on_auth_failure(conn.address, f"{reason} for user {req.user!r} on /{m.name}")
                self.counters["unauthorized"] += 1
                conn.close(f"unauthorized: {reason}", P.error_response(401, v2, f"/{m.name}"))
                return
        lim = self.cfg.limits
        acc = self.auth.accounts.get(req.user or "") if m.cfg.auth else None
        why = None
        if len(self.rovers) >= lim.max_clients:
            why = "caster full"
        elif m.cfg.max_clients and len(m.clients) >= m.cfg.max_clients:
            why = f"/{m.name} full"
        elif acc is not None and acc.max_connections and self.per_account[acc.name] >= acc.max_connections:
            why = f"account {acc.name} at its {acc.max_connections} connections"
        if why:
            self.counters["refused_full"] += 1
            self.abuse.record("limit", conn.address, why)
            conn.close(why, P.error_response(503, v2))
            return
        # accepted
        self.pending.discard(conn)
        conn.state = _CLIENT
        conn.mount = m
        conn.stats = ClientStats(next(_ids), conn.address, req.user, m.name, req.ntrip_version, req.user_agent)
        conn.gga_rate = GgaRate(self.cfg.abuse.gga_max_per_s)
        if acc is not None:
            conn.account = acc.name
            self.per_account[acc.name] += 1
        self.rovers.add(conn)
        m.clients.add(conn)
        m.stats.clients_total += 1
        conn.last_gga_mono = time.monotonic()  # GGA timeout counts from the connection
        if lim.rover_sndbuf_bytes:
            sock = conn.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, lim.rover_sndbuf_bytes)
        conn.transport.write(P.stream_ok(v2))
        if m.cfg.kind != "nearest":
            conn.serving = m
            conn.stats.serving = m.name
            m.subscribers.add(conn)
        if req.gga:
            self._rover_gga(conn, req.gga.encode("ascii", "replace"))
        rest = bytes(conn.buf)
        conn.buf = bytearray()
        if rest and conn.state == _CLIENT:
            conn._rover_bytes(rest)

    def _rover_gga(self, conn: Connection, line: bytes) -> None:
        st = conn.stats
        if not conn.gga_rate.allow():
            st.gga_rate_limited += 1
            if conn.gga_rate.excess >= self.cfg.abuse.gga_flood_ban_excess:
                self.abuse.on_gga_flood(conn.address, conn.gga_rate.excess)
                conn.close("GGA flood")
            return
        try:
            gga = parse_gga(line)
        except NmeaError as exc:
            st.gga_invalid += 1
            self.abuse.record("bad-gga", conn.address, f"{exc}: {line[:80]!r}")
            return
        if gga.quality == 0:
            st.gga_invalid += 1  # "no fix": position meaningless, keep the previous one
            return
        st.gga_count += 1
        st.last_gga = (gga.lat_deg, gga.lon_deg, gga.height_m)
        st.last_gga_at = time.time()
        conn.last_gga_mono = time.monotonic()
        if conn.mount.cfg.kind == "nearest":
            self._place_nearest(conn)

    def _place_nearest(self, conn: Connection) -> None:
        m = conn.mount
        if conn.stats.last_gga is None:
            return
        lat, lon, _ = conn.stats.last_gga
        current = conn.serving.name if conn.serving is not None else None
        live = self._live_bases(m)
        target = choose(lat, lon, live, current, m.cfg.hysteresis_m)
        if target == current:
            return
        if conn.serving is not None:
            conn.serving.subscribers.discard(conn)
            conn.stats.switches += 1
        conn.serving = self.mounts[target] if target else None
        conn.stats.serving = target
        if conn.serving is not None:
            conn.serving.subscribers.add(conn)
        self._event("nearest-switch", mount=m.name, client=conn.stats.id, from_=current, to=target)

    def _reassign_nearest(self) -> None:
        for m in self.mounts.values():
            if m.cfg.kind == "nearest":
                for conn in list(m.clients):
                    if conn.serving is None or not conn.serving.live:
                        lost = conn.serving is not None
                        if lost:
                            conn.serving.subscribers.discard(conn)
                            conn.serving = None
                        self._place_nearest(conn)
                        if lost and conn.serving is not None:
                            conn.stats.switches += 1

    # ------------------------------------------------------------------ housekeeping
    async def _tick(self) -> None:
        lim = self.cfg.limits
        while True:
            await asyncio.sleep(lim.tick_s)
            try:
                self.housekeeping()
            except Exception:
                log.exception("housekeeping failed")

    def housekeeping(self) -> None:
        """Timeouts: silent sources, rovers without GGA on GGA-dependent mounts, lost sources."""
        now = time.monotonic()
        lim = self.cfg.limits
        for src in list(self.sources):
            if now - src.last_frame_mono > lim.source_idle_timeout_s:
                self.abuse.on_silent_source(src.address, src.mount.name)
                src.close(f"no valid RTCM3 frame for {lim.source_idle_timeout_s:g} s")
        for m in self.mounts.values():
            if m.requires_gga:
                for rover in list(m.clients):
                    if now - rover.last_gga_mono > lim.gga_timeout_s:
                        m.stats.clients_dropped_gga_timeout += 1
                        self._event("rover-gga-timeout", mount=m.name, address=rover.address)
                        rover.close(f"no GGA for {lim.gga_timeout_s:g} s")
            if m.cfg.kind == "base" and m.source is None and m.lost_at is not None \
                    and now - m.lost_at > lim.source_lost_grace_s:
                m.lost_at = None
                waiting = [r for r in list(m.clients) + [r for v in m.views for r in v.clients]]
                for rover in waiting:
                    rover.mount.stats.clients_closed_source_lost += 1
                    rover.close("source did not return")
                if waiting:
                    self._event("rovers-closed-source-lost", mount=m.name, count=len(waiting))
        self.abuse.housekeeping(now)

    # ------------------------------------------------------------------ cluster bus
    def bus_message(self, kind: bytes, mount: str, payload: bytes) -> None:
        """A message from another worker: its source came (S) or went (L), or frames (F) to fan out."""
        m = self.mounts.get(mount)
        if m is None or m.cfg.kind != "base":
            return
        if kind == b"F":
            t0 = time.perf_counter()
            slow = m.publish(split_frames(payload), self.cfg.limits.client_backlog_bytes)
            m.stats.fanout_s.append(time.perf_counter() - t0)
            for rover in slow:
                self._drop_slow(rover)
        elif kind == b"S":
            if m.remote_source:  # already known (a hello answer can repeat an announcement)
                return
            m.remote_source = True
            m.lost_at = None
            m.stats.source_agent = payload.decode("utf-8", "replace")
            m.stats.source_connects += 1
            self._event("source-connected-elsewhere", mount=mount)
            self._reassign_nearest()
        elif kind == b"L":
            m.remote_source = False
            m.lost_at = time.monotonic()
            m.stats.source_vanished += 1
            self._event("source-lost", mount=mount, address="(other worker)", reason="source left",
                        rovers_waiting=len(m.subscribers))
            self._reassign_nearest()

    def local_sources(self) -> list[tuple[str, bytes]]:
        """(mountpoint, source agent) of every base fed by a source connected to this process."""
        return [(m.name, (m.stats.source_agent or "").encode("utf-8", "replace")[:200])
                for m in self.mounts.values() if m.source is not None]

    # ------------------------------------------------------------------ runtime configuration API
    def set_accounts(self, accounts: list) -> None:
        """Replace the rover accounts (operator edits); connected rovers keep their streams."""
        self.cfg.accounts = list(accounts)
        self.auth.accounts = {a.name: a for a in accounts}

    def set_mounts(self, mounts: list) -> None:
        """Make the mountpoints exactly ``mounts`` (``MountConfig`` list): new ones are added,
        changed ones updated in place (a kind change re-creates the mount), missing ones removed
        with their source and rovers closed. Raises ``ConfigError`` and changes nothing if invalid."""
        trial = CasterConfig(mounts=list(mounts))
        trial.validate()
        wanted = {m.name: m for m in mounts}
        for name in [n for n, m in self.mounts.items() if n not in wanted or m.cfg.kind != wanted[n].kind]:
            self.remove_mount(name)
        for mc in mounts:
            m = self.mounts.get(mc.name)
            if m is None:
                self.mounts[mc.name] = Mount(mc)
            else:
                m.cfg, m.allowed = mc, frozenset(mc.messages)
        for m in self.mounts.values():
            m.views = []
        for m in self.mounts.values():
            if m.cfg.kind == "view":
                m.base = self.mounts[m.cfg.view_of]
                m.base.views.append(m)
        self.cfg.mounts = list(mounts)
        self._reassign_nearest()

    def remove_mount(self, name: str) -> None:
        m = self.mounts.pop(name, None)
        if m is None:
            return
        if m.source is not None:
            m.source.close(f"mountpoint {name} removed")
        for rover in list(m.clients) + list(m.subscribers):
            rover.close(f"mountpoint {name} removed")
        if m.base is not None and m in m.base.views:
            m.base.views.remove(m)
        self._event("mount-removed", mount=name)
        self._reassign_nearest()

    # ------------------------------------------------------------------ statistics API
    def client_stats(self, mount: str | None = None) -> list[dict]:
        return [c.stats.as_dict() for c in self.rovers if c.stats and (mount is None or c.stats.mount == mount)]

    def mount_stats(self, name: str) -> dict:
        m = self.mounts[name]
        return m.stats.as_dict(len(m.clients), m.live)

    def snapshot(self, with_clients: bool = True) -> dict:
        """Everything an operator sees: mounts, rovers, sources, bans and abuse events, counters."""
        snap = {"uptime_s": None if self.started_at is None else round(time.time() - self.started_at, 3),
                "rovers": len(self.rovers), "sources": len(self.sources), "pending": len(self.pending),
                "counters": dict(self.counters),
                "mounts": {n: self.mount_stats(n) for n in self.mounts},
                "abuse": self.abuse.snapshot(), "events": list(self.events)[-100:]}
        if with_clients:
            snap["clients"] = self.client_stats()
        return snap
