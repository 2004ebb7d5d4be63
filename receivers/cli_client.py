"""``beidou client ntrip://user:pass@host:2101/MOUNT --gga "LAT,LON,H" --out serial:///dev/ttyUSB0:115200``

Relays corrections from a caster to a receiver (serial, TCP or file) and forwards the receiver's
own NMEA GGA upstream when it sends one (otherwise the fixed ``--gga`` position is used).
Reconnects with backoff; stops on SIGINT or after ``--duration`` seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import sys

from rtk_engine.formats.nmea import NmeaError, format_gga, parse_gga

from .ntrip_client import Backoff, NtripClient, NtripError
from .streams import ByteStream, FileStream, StreamError, open_stream

log = logging.getLogger("receivers.client")


class GgaSource:
    """The GGA to send upstream: the receiver's latest valid GGA, else a fixed position."""

    def __init__(self, fixed: tuple[float, float, float] | None = None, max_line: int = 256) -> None:
        self.fixed = fixed
        self.latest: str | None = None
        self._buf = bytearray()
        self.max_line = max_line
        self.seen = 0
        self.rejected = 0

    def __call__(self) -> str | None:
        if self.latest:
            return self.latest
        if self.fixed:
            now = dt.datetime.now(dt.timezone.utc)
            tod = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
            return format_gga(tod, *self.fixed)
        return None

    def feed(self, data: bytes) -> None:
        """Bytes from the receiver: remember its last valid GGA (other NMEA is not forwarded)."""
        self._buf += data
        while (nl := self._buf.find(b"\n")) >= 0:
            line = bytes(self._buf[:nl]).strip()
            del self._buf[:nl + 1]
            start = line.rfind(b"$")
            if start >= 0 and line[start + 3:start + 6] == b"GGA":
                try:
                    g = parse_gga(line[start:], require_checksum=True)
                except NmeaError:
                    self.rejected += 1
                    continue
                if g.quality > 0:
                    self.latest = line[start:].decode("ascii") + "\r\n"
                    self.seen += 1
        if len(self._buf) > self.max_line:
            del self._buf[:-self.max_line]


def parse_position(text: str) -> tuple[float, float, float]:
    """``"LAT,LON,H"`` in degrees and metres (ellipsoidal)."""
    try:
        lat, lon, h = (float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--gga needs LAT,LON,H in degrees and metres, got {text!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"--gga position out of range: {text!r}")
    return lat, lon, h


async def relay(url: str, out: ByteStream, gga: GgaSource | None = None, version: int = 2,
                gga_interval_s: float = 10.0, duration_s: float | None = None,
                backoff: Backoff | None = None) -> int:
    """Copy corrections to ``out`` until ``duration_s`` (None: forever); returns bytes relayed."""
    client = NtripClient(url, version=version, gga=gga, gga_interval_s=gga_interval_s, backoff=backoff)
    total = 0

    async def upstream_nmea() -> None:
        while data := await out.read(4096):
            gga.feed(data)

    reader = None
    if gga is not None and not isinstance(out, FileStream):
        reader = asyncio.create_task(upstream_nmea())

    async def copy() -> None:
        nonlocal total
        async for data in client.stream():
            await out.write(data)
            total += len(data)

    try:
        await asyncio.wait_for(copy(), duration_s)
    except asyncio.TimeoutError:
        pass
    finally:
        if reader:
            reader.cancel()
    return total


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="ntrip://user:pass@host:2101/MOUNT (ntrips:// for TLS)")
    parser.add_argument("--out", required=True,
                        help="serial:///dev/ttyUSB0:115200 | tcp://host:port | tcpsvr://:port | file://path")
    parser.add_argument("--gga", help='fixed position "LAT,LON,H" (deg, deg, m) sent until the receiver '
                                      "provides its own GGA")
    parser.add_argument("--ntrip-version", type=int, choices=(1, 2), default=2)
    parser.add_argument("--gga-interval", type=float, default=10.0, help="seconds between GGA sentences [10]")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--log-level", default="INFO")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        gga = GgaSource(parse_position(args.gga) if args.gga else None)
    except ValueError as exc:
        print(f"beidou client: {exc}", file=sys.stderr)
        return 2

    async def main() -> int:
        out = await open_stream(args.out, write=True)
        try:
            return await relay(args.url, out, gga, args.ntrip_version, args.gga_interval, args.duration)
        finally:
            await out.close()

    try:
        n = asyncio.run(main())
    except (NtripError, StreamError, OSError) as exc:
        print(f"beidou client: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    print(f"relayed {n} bytes", file=sys.stderr)
    return 0
