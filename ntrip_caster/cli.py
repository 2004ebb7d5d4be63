"""``beidou caster --config caster.toml``: run the NTRIP caster until SIGINT/SIGTERM.

``beidou caster --hash-password`` reads a password on stdin and prints the ``scrypt$...`` string
to put in ``password_hash`` / ``source_password_hash`` so plain passwords stay out of the file.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time

from .auth import hash_password
from .config import CasterConfig, ConfigError, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="TOML configuration (see docs/caster.md); "
                        "without it: an empty caster on 127.0.0.1:2101")
    parser.add_argument("--host", help="override [caster] host")
    parser.add_argument("--port", type=int, help="override [caster] port")
    parser.add_argument("--stats-every", type=float, default=0.0, metavar="S",
                        help="log a JSON statistics snapshot every S seconds (0: never)")
    parser.add_argument("--workers", type=int, default=1,
                        help="caster processes sharing the port (SO_REUSEPORT + frame bus); 1 = single process")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--hash-password", action="store_true", help="hash a password read from stdin and exit")


async def serve(cfg: CasterConfig, stats_every_s: float = 0.0) -> None:
    """Run until SIGINT/SIGTERM, then shut down cleanly."""
    from .server import Caster

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    async with Caster(cfg) as caster:
        print(f"caster listening on {cfg.host}:{caster.port}" + (f", TLS on {caster.tls_port}" if caster.tls_port
              else ""), flush=True)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), stats_every_s or None)
            except asyncio.TimeoutError:
                logging.getLogger("ntrip_caster").info("stats %s", json.dumps(caster.snapshot(False)))


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.hash_password:
        print(hash_password(sys.stdin.readline().rstrip("\n")))
        return 0
    try:
        cfg = load(args.config) if args.config else CasterConfig()
    except (ConfigError, OSError) as exc:
        print(f"beidou caster: {exc}", file=sys.stderr)
        return 2
    if args.host:
        cfg.host = args.host
    if args.port is not None:
        cfg.port = args.port
    if args.workers > 1:
        return serve_cluster(cfg, args.workers)
    asyncio.run(serve(cfg, args.stats_every))
    return 0


def serve_cluster(cfg: CasterConfig, workers: int) -> int:
    """Run ``workers`` caster processes on one port until SIGINT/SIGTERM."""
    from .cluster import Cluster

    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(1))
    cluster = Cluster(cfg, workers)
    port = cluster.start()
    print(f"caster listening on {cfg.host}:{port} ({workers} worker processes)", flush=True)
    try:
        while not stop and all(p.is_alive() for p in cluster.procs):
            time.sleep(0.2)
    finally:
        cluster.stop()
    return 0
