"""Where the caster's per-rover cost goes: kernel send versus Python, on N loopback TCP sockets.

One process, one core's worth of work: N accepted server-side sockets (as in the caster) each get
one ~1 kB epoch per round, written by

* ``bare send``: ``sock.send(data)`` in a plain loop: the kernel floor (a loopback send also runs
  the receiver's TCP input in the sender's context) plus the least Python possible;
* ``fanout.deliver``: the caster's fan-out as it is (``ntrip_caster.fanout``: every rover through
  its asyncio transport's ``write``, with the backlog check and per-rover statistics);
* ``loop only``: the same Python loop with no send, the pure interpreter part of a bare send.

Receivers are either sockets of this process drained between rounds (not timed: the kernel send alone)
or, with ``--reader-process``, sockets of a child process that waits on them with epoll and reads
as data arrives, as rovers do (each send then also wakes a waiting reader). Prints microseconds per rover per epoch (CPU of
this process and wall clock) and the floor for 10,000 rovers: ``bare send`` x 10,000 is the least
a single-threaded caster can spend on one epoch, hence its best-case p99 latency.

    .venv/bin/python benchmarks/bench_fanout_floor.py [--rovers 4000] [--rounds 15] [--bytes 1013]
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proc_stats import raise_fd_limit  # noqa: E402  (benchmarks/ is on sys.path)

from ntrip_caster import fanout  # noqa: E402
from ntrip_caster.stats import ClientStats  # noqa: E402


class _Sink(asyncio.Protocol):
    def __init__(self, out: list) -> None:
        self.out = out

    def connection_made(self, transport) -> None:
        self.out.append(transport)


class _Sub:
    __slots__ = ("transport", "v2", "stats")

    def __init__(self, transport, v2: bool) -> None:
        self.transport, self.v2 = transport, v2
        self.stats = ClientStats(0, "127.0.0.1", None, "M", 2 if v2 else 1, "bench")


def _drain(peers: list[socket.socket]) -> None:
    for s in peers:
        try:
            while s.recv(65536):
                pass
        except BlockingIOError:
            pass


def _reader(port: int, n: int, conn) -> None:
    """Child process: open ``n`` connections, then read whatever arrives (epoll) until told to stop."""
    import selectors
    os.nice(10)  # like the load benchmark's rover processes
    sel = selectors.DefaultSelector()
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        c.setblocking(False)
        sel.register(c, selectors.EVENT_READ)
    conn.send("ready")
    while not conn.poll():
        for key, _ in sel.select(0.1):
            try:
                key.fileobj.recv(65536)
            except BlockingIOError:
                pass


async def _run(n: int, rounds: int, size: int, reader_process: bool) -> dict[str, tuple[float, float]]:
    loop = asyncio.get_running_loop()
    transports: list = []
    server = await loop.create_server(lambda: _Sink(transports), "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    peers = []
    child = None
    if reader_process:
        parent, child_end = mp.get_context("fork").Pipe()
        child = mp.get_context("fork").Process(target=_reader, args=(port, n, child_end), daemon=True)
        child.start()
        while not parent.poll():
            await asyncio.sleep(0.01)
        parent.recv()
    else:
        for _ in range(n):
            c = socket.create_connection(("127.0.0.1", port))
            c.setblocking(False)
            peers.append(c)
            if len(peers) % 500 == 0:
                await asyncio.sleep(0)
    while len(transports) < n:
        await asyncio.sleep(0.01)
    subs = [_Sub(t, k % 2 == 1) for k, t in enumerate(transports)]
    socks = [t.get_extra_info("socket")._sock for t in transports]  # the real socket objects
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)

    def bare() -> None:
        for s in socks:
            s.send(data)

    def loop_only() -> None:
        for s in socks:
            len(data)

    def deliver() -> None:
        fanout.deliver(subs, data, 4, 1 << 20)

    runs = (("loop only", loop_only), ("bare send", bare), ("fanout.deliver", deliver))
    best = {name: [float("inf"), float("inf")] for name, _ in runs}
    for _ in range(rounds):  # interleaved, so load from elsewhere disturbs every variant alike
        for name, fn in runs:
            _drain(peers)
            await asyncio.sleep(0)
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            c1, w1 = time.process_time(), time.perf_counter()
            b = best[name]
            b[0], b[1] = min(b[0], c1 - c0), min(b[1], w1 - w0)
            await asyncio.sleep(0.05 if reader_process else 0)  # transports flush what they buffered; readers read
    res = {name: (1e6 * cpu / n, 1e6 * wall / n) for name, (cpu, wall) in best.items()}
    if child is not None:
        parent.send("stop")
        child.join(10)
    for c in peers:
        c.close()
    for t in transports:
        t.abort()
    server.close()
    await server.wait_closed()
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rovers", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--bytes", type=int, default=1013)
    ap.add_argument("--reader-process", action="store_true", help="rovers read in a child process (epoll)")
    args = ap.parse_args()
    hard = raise_fd_limit()
    n = min(args.rovers, (hard - 100) // 2)
    res = asyncio.run(_run(n, args.rounds, args.bytes, args.reader_process))
    readers = "read by a child process (epoll)" if args.reader_process else "drained between rounds"
    print(f"{n} loopback TCP rovers {readers}, {args.bytes} B per epoch, best of {args.rounds} rounds; "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, (cpu, wall) in res.items():
        print(f"  {name:16} {cpu:6.2f} us CPU/rover  {wall:6.2f} us wall/rover  -> {wall * 10:6.1f} ms per epoch at 10k")
    bare, fd = res["bare send"][1], res["fanout.deliver"][1]
    print(f"floor at 10,000 rovers (bare send): {bare * 10:.1f} ms per epoch; "
          f"fanout.deliver: {fd * 10:.1f} ms ({fd / bare:.2f}x the floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
