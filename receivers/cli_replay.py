"""``beidou replay OBS NAV --source ntrip://:pass@host:2101/MOUNT``: a recorded RINEX station as a live
RTCM 3 source at real pace (``--speed``), optionally shifted by whole GPS weeks to now (``--now``).
``--source`` may also be ``tcp://``, ``tcpsvr://``, ``serial://`` or ``file://`` (any stream URL)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from rtk_engine.formats.rinex_nav import read_nav
from rtk_engine.formats.rinex_obs import read_obs

from .ntrip_client import NtripError, NtripSource
from .replay import replay, shift_block, shift_nav, weeks_to_now
from .streams import StreamError, open_stream


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("obs", help="RINEX observation file (.rnx/.crx, gz ok)")
    parser.add_argument("nav", nargs="?", help="RINEX navigation file (ephemerides are sent every --eph-every s)")
    parser.add_argument("--source", required=True, help="ntrip://[user]:pass@host:port/MOUNT or a stream URL")
    parser.add_argument("--ntrip-version", type=int, choices=(1, 2), default=2)
    parser.add_argument("--msm", type=int, choices=(4, 7), default=7)
    parser.add_argument("--station-id", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0, help="x real time; 0 = as fast as possible")
    parser.add_argument("--now", action="store_true", help="shift times by whole GPS weeks to the current week")
    parser.add_argument("--eph-every", type=float, default=60.0, metavar="S")
    parser.add_argument("--loop", action="store_true", help="start again at the end (with --now: re-shifted)")
    parser.add_argument("--systems", default=None, help="keep only these systems, e.g. CGE")
    parser.add_argument("--log-level", default="INFO")


async def _run(args: argparse.Namespace) -> int:
    block0 = read_obs(args.obs, systems=args.systems)
    nav0 = read_nav(args.nav) if args.nav else None
    if args.source.startswith(("ntrip://", "ntrips://")):
        sink = NtripSource(args.source, version=args.ntrip_version, agent="NTRIP BeiDouReplay/0.1")
        await sink.connect()
        send, close = sink.send, sink.close
    else:
        stream = await open_stream(args.source, write=True)
        send, close = stream.write, stream.close
    total = 0
    try:
        while True:
            weeks = weeks_to_now(int(block0.time_ns[0])) if args.now else 0
            block = shift_block(read_obs(args.obs, systems=args.systems), weeks) if weeks else block0
            nav = shift_nav(read_nav(args.nav), weeks) if weeks and args.nav else nav0
            st = await replay(block, nav, send, speed=args.speed, msm=args.msm, station_id=args.station_id,
                              eph_every_s=args.eph_every)
            total += st.bytes
            logging.getLogger("receivers.replay").info("replayed %d epochs, %d frames, %d bytes (worst lateness "
                                                       "%.3f s)", st.epochs, st.frames, st.bytes, st.late_s)
            if not args.loop:
                return total
    finally:
        await close()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_run(args))
    except (NtripError, StreamError, OSError, ValueError) as exc:
        print(f"beidou replay: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
