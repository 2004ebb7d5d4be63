"""Several caster processes behind one port (``SO_REUSEPORT``), joined by a frame bus.

The kernel spreads incoming connections over the worker processes. A source lands on one worker,
which fans its frames out to its own rovers and forwards them over the bus (a mesh of Unix
socket pairs) to every other worker, which fans them out to theirs. So the per-rover write cost,
the caster's hot path, runs on as many cores as there are workers.

Bus messages: 4-byte big-endian length, then kind (``S`` source up, ``L`` source lost,
``F`` frames, ``H`` hello), a 1-byte mountpoint name length, the name, and for ``F`` the valid
frames of one batch. A peer that stops reading has its messages dropped past ``BUS_BACKLOG_BYTES``
(counted). A worker whose bus link starts sends ``H``; the peer answers on that link with an ``S``
for each source it holds, so a worker that joins (or whose link starts) after a source connected
still learns about it.

Limits: account and address limits, statistics and bans are per worker.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import signal
import socket
import time

from .config import CasterConfig

log = logging.getLogger("ntrip_caster.cluster")

BUS_BACKLOG_BYTES = 8 << 20


def split_frames(raw: bytes) -> list[bytes]:
    """Whole RTCM3 frames from a concatenation of valid frames (lengths from the headers)."""
    out, i, n = [], 0, len(raw)
    while i + 6 <= n:
        total = (((raw[i + 1] & 0x03) << 8) | raw[i + 2]) + 6
        out.append(raw[i:i + total])
        i += total
    return out


def _message(kind: bytes, mount: str, payload: bytes = b"") -> bytes:
    name = mount.encode()
    msg = kind + bytes([len(name)]) + name + payload
    return len(msg).to_bytes(4, "big") + msg


class Bus:
    """This worker's links to every other worker."""

    def __init__(self, caster, socks: list[socket.socket]) -> None:
        self.caster = caster
        self.socks = socks
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task] = []
        self.dropped = 0
        self.sent = 0
        self.received = 0

    async def start(self) -> None:
        for s in self.socks:
            r, w = await asyncio.open_connection(sock=s)
            self.writers.append(w)
            self.tasks.append(asyncio.create_task(self._read(r, w)))
            self._send_to(w, _message(b"H", ""))

    def send(self, kind: bytes, mount: str, payload: bytes = b"") -> None:
        data = _message(kind, mount, payload)
        for w in self.writers:
            self._send_to(w, data)

    def _send_to(self, w: asyncio.StreamWriter, data: bytes) -> None:
        if w.transport.is_closing() or w.transport.get_write_buffer_size() > BUS_BACKLOG_BYTES:
            self.dropped += 1
            return
        w.write(data)
        self.sent += 1

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                n = int.from_bytes(await reader.readexactly(4), "big")
                msg = await reader.readexactly(n)
                ln = msg[1]
                self.received += 1
                if msg[:1] == b"H":  # a peer's link started: tell it about the sources held here
                    for mount, agent in self.caster.local_sources():
                        self._send_to(writer, _message(b"S", mount, agent))
                    continue
                self.caster.bus_message(msg[:1], msg[2:2 + ln].decode(), msg[2 + ln:])
        except (asyncio.IncompleteReadError, ConnectionError):
            log.warning("bus peer gone")

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        for w in self.writers:
            w.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _serve_worker(cfg: CasterConfig, socks: list[socket.socket], index: int, ready) -> None:
    from .server import Caster

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    caster = Caster(cfg, reuse_port=True)
    caster.bus = Bus(caster, socks)
    await caster.bus.start()
    await caster.start()
    if ready is not None:
        ready.send((index, os.getpid(), caster.port))
    await stop.wait()
    await caster.bus.stop()
    await caster.stop()


def _worker(cfg: CasterConfig, socks: list[socket.socket], index: int, ready) -> None:
    asyncio.run(_serve_worker(cfg, socks, index, ready))


class Cluster:
    """Start ``workers`` caster processes on ``cfg.port`` (0: one ephemeral port chosen for all)."""

    def __init__(self, cfg: CasterConfig, workers: int = 2) -> None:
        if workers < 2:
            raise ValueError("a cluster needs at least 2 workers")
        self.cfg, self.n = cfg, workers
        self.procs: list[mp.Process] = []
        self.pids: list[int] = []
        self._reserve: socket.socket | None = None

    def start(self, timeout_s: float = 30.0) -> int:
        """Fork the workers; returns the shared port once every worker listens."""
        if self.cfg.port == 0:  # pick one port for everybody; bound but never listening
            self._reserve = socket.socket()
            self._reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            self._reserve.bind((self.cfg.host, 0))
            self.cfg.port = self._reserve.getsockname()[1]
        mesh: list[list[socket.socket]] = [[] for _ in range(self.n)]
        for i in range(self.n):
            for j in range(i + 1, self.n):
                a, b = socket.socketpair()
                mesh[i].append(a)
                mesh[j].append(b)
        ctx = mp.get_context("fork")
        pipes = []
        for i in range(self.n):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(self.cfg, mesh[i], i, child), daemon=True)
            p.start()
            self.procs.append(p)
            pipes.append(parent)
        for row in mesh:
            for s in row:
                s.close()
        t0 = time.monotonic()
        for parent in pipes:
            if not parent.poll(max(0.1, timeout_s - (time.monotonic() - t0))):
                self.stop()
                raise RuntimeError("a caster worker did not start")
            _, pid, _ = parent.recv()
            self.pids.append(pid)
        return self.cfg.port

    def stop(self, timeout_s: float = 10.0) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: each worker shuts down cleanly
        for p in self.procs:
            p.join(timeout_s)
            if p.is_alive():
                p.kill()
                p.join()
        if self._reserve is not None:
            self._reserve.close()
            self._reserve = None

    def __enter__(self) -> "Cluster":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
