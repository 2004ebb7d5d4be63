"""Pulled reference stations: a station whose receiver is reached over TCP, a serial line or another
caster is relayed into its mountpoint on our caster, as if it uploaded there itself.

Many CORS receivers serve RTCM 3 on a TCP port or a serial line and never connect anywhere; others
are on a partner's caster. The operator registers the station with ``source_kind`` ``tcp``,
``serial`` or ``ntrip`` and ``source_url`` ``tcp://10.1.2.3:5018``, ``serial:///dev/ttyUSB0:115200``
or ``ntrip://user:pass@host:2101/MOUNT``; :class:`StationRelay` reads that link and uploads every
byte unchanged to the station's mountpoint (a v2 NTRIP source on 127.0.0.1, authenticated with the
service's relay secret). Both sides reconnect with backoff (1 s doubling to 30 s) when they fail;
the rovers see "source lost" / "source returned" like for any source, and the station's ingest
decodes the same bytes.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field

from receivers.ntrip_client import NtripClient, NtripSource
from receivers.streams import open_stream

log = logging.getLogger("beidou.relay")
PULLED_KINDS = ("tcp", "serial", "ntrip")


class LinkSilent(ConnectionError):
    """The station's link delivered nothing for ``idle_timeout_s``."""


def pulled_url(source_kind: str, source_url: str) -> str | None:
    """The link to pull a station from, or None when the station uploads to us (or is simulated)."""
    url = (source_url or "").strip()
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if source_kind in PULLED_KINDS and (scheme == source_kind or (source_kind, scheme) == ("ntrip", "ntrips")):
        return url
    return None


def source_problem(kind: str, url: str) -> str | None:
    """Why a station's data source cannot work, or None. ``tcp`` and ``serial`` stations are pulled
    from ``source_url`` (``tcp://host:port``, ``serial:///dev/ttyUSB0:115200``); an ``ntrip`` station
    uploads to our caster (no URL) or is pulled from another caster (``ntrip://user:pass@host:port/MOUNT``)."""
    url = (url or "").strip()
    if kind in ("tcp", "serial"):
        if not url.startswith(f"{kind}://") or len(url) <= len(kind) + 3:
            return f"source_kind {kind!r} needs source_url {kind}://..., got {url!r}"
        if kind == "tcp" and not re.fullmatch(r"tcp://[^/:]+:\d{1,5}/?", url):
            return f"source_url must be tcp://host:port, got {url!r}"
    if kind == "ntrip" and url and not re.fullmatch(r"ntrips?://[^/]+/[A-Za-z0-9_\-]{1,64}", url):
        return f"an ntrip station pulled from another caster needs source_url ntrip://user:pass@host:port/MOUNT, got {url!r}"
    return None


@dataclass
class StationRelay:
    """Relay of one station: ``source_url`` -> ``upload_url`` (our caster's mountpoint, as a source)."""

    code: str
    source_url: str
    upload_url: str
    max_backoff_s: float = 30.0
    idle_timeout_s: float = 30.0  # a link silent this long is dropped and reopened (hung receiver, half-open TCP)
    state: str = "starting"  # connecting | streaming | waiting (after an error)
    last_error: str | None = None
    bytes_relayed: int = 0
    link_connects: int = 0
    last_data_unix: float | None = None
    _backoff_s: float = field(default=1.0, repr=False)

    async def run(self) -> None:
        """Relay until cancelled; every failure is logged, shown in ``state``/``last_error`` and retried."""
        while True:
            self.state = "connecting"
            try:
                await self._relay_once()
                self.last_error = "link closed by the station"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any link or caster error: report, back off, retry
                self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.warning("relay %s (%s): %s; retrying in %.0f s", self.code, _safe(self.source_url),
                        self.last_error, self._backoff_s)
            self.state = "waiting"
            await asyncio.sleep(self._backoff_s)
            self._backoff_s = min(self._backoff_s * 2.0, self.max_backoff_s)

    async def _relay_once(self) -> None:
        upload = NtripSource(self.upload_url, version=2, agent=f"NTRIP BeiDouRelay/{self.code}")
        await upload.connect()
        try:
            async for chunk in self._chunks():
                if self.state != "streaming":
                    self.state, self._backoff_s = "streaming", 1.0
                    log.info("relay %s: streaming from %s", self.code, _safe(self.source_url))
                await upload.send(chunk)
                self.bytes_relayed += len(chunk)
                self.last_data_unix = time.time()
        finally:
            await upload.close()

    async def _chunks(self):
        """The link's bytes; ends when the link closes, raises :class:`LinkSilent` when it falls silent."""
        if self.source_url.startswith(("ntrip://", "ntrips://")):
            self.link_connects += 1
            chunks = NtripClient(self.source_url, version=2).stream(reconnect=False)
            try:
                while True:
                    try:
                        chunk = await self._within_idle(chunks.__anext__())
                    except StopAsyncIteration:
                        return
                    yield chunk
            finally:
                await chunks.aclose()
        stream = await open_stream(self.source_url)
        self.link_connects += 1
        try:
            while chunk := await self._within_idle(stream.read(65536)):
                yield chunk
        finally:
            await stream.close()

    async def _within_idle(self, read):
        try:
            return await asyncio.wait_for(read, self.idle_timeout_s)
        except TimeoutError:
            raise LinkSilent(f"no data from the station for {self.idle_timeout_s:g} s") from None

    def snapshot(self) -> dict:
        return {"state": self.state, "source": _safe(self.source_url), "bytes_relayed": self.bytes_relayed,
                "link_connects": self.link_connects, "last_error": self.last_error,
                "last_data_unix": self.last_data_unix}


def _safe(url: str) -> str:
    """A URL without its password (for logs and the API)."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    cred, _, host = rest.rpartition("@")
    return f"{scheme}://{cred.split(':', 1)[0]}:***@{host}"
