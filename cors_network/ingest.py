"""Ingest of one reference station's stream: decode RTCM3 into epochs while the raw bytes keep
flowing to rovers through the caster untouched.

The ingest is an NTRIP client of the caster (over loopback in one process, or across machines when
casters scale out): it sees exactly what rovers see. Each decoded epoch updates the station's
:class:`~cors_network.quality.StationQuality`, goes to the hourly archive, and to any other sinks
(monitoring, integrity). Decoded ephemerides go to the archive's hourly navigation files (and stay in
the decoder's navigation store, which integrity and monitoring read).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from receivers.ntrip_client import NtripClient, NtripError
from rtk_engine import gnss_time as gt
from rtk_engine.formats.rtcm3.decoder import Rtcm3Decoder
from rtk_engine.formats.rtcm3.ephemeris import EphemerisMessage
from rtk_engine.formats.rtcm3.station import StationPosition
from rtk_engine.obs import ObsBlock

from .archive import HourlyArchive
from .quality import StationQuality

log = logging.getLogger("beidou.ingest")


@dataclass
class StationIngest:
    code: str
    url: str  # ntrip://user:pass@127.0.0.1:2101/MOUNT
    archive: HourlyArchive | None = None
    interval_s: float = 1.0
    sinks: list[Callable[[str, ObsBlock], None]] = field(default_factory=list)
    quality: StationQuality = None
    decoder: Rtcm3Decoder = None
    position_ecef_m: tuple[float, float, float] | None = None
    last_error: str | None = None
    last_data_unix: float | None = None

    def __post_init__(self) -> None:
        self.quality = self.quality or StationQuality(interval_s=self.interval_s)
        self.decoder = self.decoder or Rtcm3Decoder(gt.now_gpst_ns())

    def feed(self, data: bytes, received_unix_s: float | None = None) -> int:
        """Decode a chunk; returns the number of epochs it completed."""
        now = time.time() if received_unix_s is None else received_unix_s
        self.last_data_unix = now
        n = 0
        for item in self.decoder.feed(data):
            if isinstance(item, ObsBlock):
                n += 1
                self.quality.update(item, now)
                if self.archive is not None:
                    try:
                        self.archive.add(self.code, item)
                    except Exception:  # an archive failure must not stop quality/rover service
                        log.exception("archive of %s failed", self.code)
                for sink in self.sinks:
                    try:
                        sink(self.code, item)
                    except Exception:
                        log.exception("sink failed for %s", self.code)
            elif isinstance(item, EphemerisMessage) and self.archive is not None:
                try:
                    self.archive.add_nav(self.code, item.nav, item.t_ref_ns)
                except Exception:
                    log.exception("navigation archive of %s failed", self.code)
            elif isinstance(item, StationPosition):
                self.position_ecef_m = tuple(float(v) for v in item.ecef_m)
        return n

    async def run(self, retry_s: float = 2.0) -> None:
        """Follow the mountpoint forever, reconnecting when the source is absent (404) or the link
        breaks; returns only when the caster refuses our credentials (401/403)."""
        while True:
            client = NtripClient(self.url, version=2)
            client.backoff.min_s = retry_s
            try:
                async for chunk in client.stream(reconnect=True):
                    self.feed(chunk)
            except NtripError as exc:
                self.last_error = str(exc)
                if exc.status in (401, 403):
                    log.error("ingest of %s stopped: %s", self.code, exc)
                    return
                log.info("ingest of %s waiting for its source: %s", self.code, exc)
            await asyncio.sleep(retry_s)
