"""NTRIP client (rover side, v1 and v2) and NTRIP source upload (v1 SOURCE, v2 POST).

:class:`NtripClient` yields RTCM bytes from a mountpoint, sends GGA periodically (from a
callable, so a receiver's latest position can be forwarded), de-chunks v2 answers, and
reconnects with exponential backoff and jitter (never faster than ``min_reconnect_s``: public
casters ban fast reconnects). Authentication failures and unknown mountpoints raise
:class:`NtripError` instead of hammering the caster.
"""
from __future__ import annotations

import asyncio
import logging
import random
import ssl as ssl_mod
from dataclasses import dataclass
from typing import AsyncIterator, Callable
from urllib.parse import unquote, urlsplit

from . import ntrip_wire as P

log = logging.getLogger("receivers.ntrip")


class NtripError(ValueError):
    """The caster refused (``status`` 401, 404, 409, 503...) or answered something unusable."""

    def __init__(self, message: str, status: int = 0, sourcetable: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.sourcetable = sourcetable


@dataclass
class NtripUrl:
    host: str
    port: int
    mount: str
    user: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> "NtripUrl":
        """``ntrip://user:pass@host:2101/MOUNT`` (``ntrips://`` for TLS)."""
        u = urlsplit(url)
        if u.scheme not in ("ntrip", "ntrips", "ntrip+tls"):
            raise NtripError(f"not an ntrip:// URL: {url!r}")
        if not u.hostname:
            raise NtripError(f"no host in {url!r}")
        tls = u.scheme != "ntrip"
        return cls(u.hostname, u.port or (443 if tls else 2101), u.path.lstrip("/"),
                   unquote(u.username) if u.username is not None else None,
                   unquote(u.password) if u.password is not None else None, tls)


class Backoff:
    """Exponential backoff delays with full jitter between ``min_s`` and the current cap."""

    def __init__(self, min_s: float = 10.0, max_s: float = 300.0, factor: float = 2.0) -> None:
        self.min_s, self.max_s, self.factor = min_s, max_s, factor
        self.cap = min_s

    def next(self) -> float:
        d = random.uniform(self.min_s, max(self.min_s, self.cap))
        self.cap = min(self.max_s, self.cap * self.factor)
        return d

    def reset(self) -> None:
        self.cap = self.min_s


async def _open(host: str, port: int, tls: bool | ssl_mod.SSLContext, timeout_s: float):
    ctx = None
    if tls:
        ctx = tls if isinstance(tls, ssl_mod.SSLContext) else ssl_mod.create_default_context()
    return await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx,
                                                          server_hostname=host if ctx else None), timeout_s)


async def _read_head(reader: asyncio.StreamReader, timeout_s: float) -> tuple[bytes, bytes]:
    """Read a caster answer head; returns (head, bytes after it). v1 ``ICY 200 OK\\r\\n`` may be
    followed at once by RTCM data (RTKLIB), by a blank line, or by header lines (others)."""
    buf = bytearray()
    while True:
        data = await asyncio.wait_for(reader.read(4096), timeout_s)
        if not data:
            if buf:
                return bytes(buf), b""
            raise NtripError("caster closed the connection without answering")
        buf += data
        if len(buf) > 16384:
            raise NtripError("response header too long")
        nl = buf.find(b"\n")
        if nl < 0:
            continue
        if buf.startswith((b"ICY 200", b"OK", b"ERROR")):
            rest = bytes(buf[nl + 1:])
            if rest[:1].isalpha():  # header lines follow the status line
                end = P.find_header_end(buf)
                if end < 0:
                    continue
                return bytes(buf[:end]), bytes(buf[end:])
            if rest.startswith(b"\r\n"):
                rest = rest[2:]
            elif rest.startswith(b"\n"):
                rest = rest[1:]
            return bytes(buf[:nl + 1]), rest
        end = P.find_header_end(buf)
        if end >= 0:
            return bytes(buf[:end]), bytes(buf[end:])


class NtripClient:
    """Rover connection to a caster mountpoint.

    ``gga`` is a callable returning the current GGA sentence (or None); it is sent right after
    connecting (v2: also in the ``Ntrip-GGA`` header) and then every ``gga_interval_s`` seconds.
    """

    def __init__(self, url: str | NtripUrl, version: int = 2, gga: Callable[[], str | None] | None = None,
                 gga_interval_s: float = 10.0, tls: bool | ssl_mod.SSLContext | None = None,
                 timeout_s: float = 30.0, backoff: Backoff | None = None,
                 agent: str = "NTRIP BeiDouClient/0.1") -> None:
        self.url = NtripUrl.parse(url) if isinstance(url, str) else url
        self.version = version
        self.gga = gga
        self.gga_interval_s = gga_interval_s
        self.tls = self.url.tls if tls is None else tls
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff()
        self.agent = agent
        self.bytes_received = 0
        self.connects = 0
        self.last_error: str | None = None

    async def _connect(self):
        u = self.url
        reader, writer = await _open(u.host, u.port, self.tls, self.timeout_s)
        gga = self.gga() if self.gga else None
        writer.write(P.format_client_request(u.mount, f"{u.host}:{u.port}", self.version, u.user, u.password,
                                             gga, self.agent))
        await writer.drain()
        head, rest = await _read_head(reader, self.timeout_s)
        resp = P.parse_response_head(head)
        if resp.kind == "sourcetable":
            body = rest + await asyncio.wait_for(reader.read(1 << 20), self.timeout_s)
            writer.close()
            raise NtripError(f"mountpoint {u.mount!r} not on the caster (sourcetable returned)", 404,
                             body.decode("utf-8", "replace"))
        if resp.kind == "error":
            writer.close()
            raise NtripError(f"caster answered {head.splitlines()[0].decode('latin-1', 'replace')}", resp.status)
        if gga and self.version == 1:
            writer.write(gga.encode("ascii") if gga.endswith("\r\n") else (gga + "\r\n").encode("ascii"))
        return reader, writer, resp, rest

    async def _gga_loop(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self.gga_interval_s)
            g = self.gga() if self.gga else None
            if g:
                writer.write(g.encode("ascii") if g.endswith("\r\n") else (g + "\r\n").encode("ascii"))
                await writer.drain()

    async def stream(self, reconnect: bool = True) -> AsyncIterator[bytes]:
        """Yield corrections as they arrive; reconnects (with backoff) unless ``reconnect`` is False.
        Refusals (401/404/409) are raised, a 503 is retried after a backoff."""
        while True:
            writer = None
            gga_task = None
            try:
                reader, writer, resp, rest = await self._connect()
                self.connects += 1
                self.backoff.reset()
                if self.gga:
                    gga_task = asyncio.create_task(self._gga_loop(writer))
                dechunk = P.ChunkedDecoder() if resp.chunked else None
                data = rest
                first = not resp.chunked
                while True:
                    if first and data:
                        first = False
                        if data.startswith(b"\r\n"):  # ICY 200 OK's blank line in its own segment
                            data = data[2:]
                    if data:
                        if dechunk is not None:
                            data = dechunk.feed(data)
                        if data:
                            self.bytes_received += len(data)
                            yield data
                        if dechunk is not None and dechunk.done:
                            break
                    data = await asyncio.wait_for(reader.read(65536), self.timeout_s)
                    if not data:
                        break
                self.last_error = "caster closed the stream"
            except NtripError as exc:
                self.last_error = str(exc)
                if exc.status != 503 or not reconnect:
                    raise
            except (OSError, asyncio.TimeoutError, ValueError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if not reconnect:
                    raise NtripError(self.last_error) from exc
            finally:
                if gga_task:
                    gga_task.cancel()
                if writer is not None:
                    writer.close()
            if not reconnect:
                return
            delay = self.backoff.next()
            log.warning("ntrip %s: %s; reconnecting in %.1f s", self.url.mount, self.last_error, delay)
            await asyncio.sleep(delay)


async def fetch_sourcetable(host: str, port: int, version: int = 2, tls: bool = False, timeout_s: float = 10.0,
                            query: str = "") -> str:
    """The caster's sourcetable text (up to ENDSOURCETABLE)."""
    reader, writer = await _open(host, port, tls, timeout_s)
    try:
        writer.write(P.format_client_request("" + (f"?{query}" if query else ""), f"{host}:{port}", version))
        await writer.drain()
        head, rest = await _read_head(reader, timeout_s)
        resp = P.parse_response_head(head)
        if resp.kind != "sourcetable":
            raise NtripError("no sourcetable in the answer", resp.status)
        body = bytearray(rest)
        while b"ENDSOURCETABLE" not in body:
            data = await asyncio.wait_for(reader.read(65536), timeout_s)
            if not data:
                break
            body += data
        return body.decode("utf-8", "replace")
    finally:
        writer.close()


class NtripSource:
    """Upload side: connects as a source (v1 ``SOURCE`` or v2 ``POST``, chunked) and writes frames."""

    def __init__(self, url: str | NtripUrl, version: int = 2, str_record: str | None = None,
                 tls: bool | ssl_mod.SSLContext | None = None, timeout_s: float = 10.0, chunked: bool = True,
                 agent: str = "NTRIP BeiDouSource/0.1") -> None:
        self.url = NtripUrl.parse(url) if isinstance(url, str) else url
        self.version, self.str_record, self.timeout_s = version, str_record, timeout_s
        self.tls = self.url.tls if tls is None else tls
        self.chunked = chunked and version == 2
        self.agent = agent
        self.writer: asyncio.StreamWriter | None = None
        self.bytes_sent = 0

    async def connect(self) -> None:
        u = self.url
        reader, writer = await _open(u.host, u.port, self.tls, self.timeout_s)
        writer.write(P.format_source_request(u.mount, f"{u.host}:{u.port}", u.password or "", self.version,
                                             u.user or "", self.str_record, self.chunked, self.agent))
        await writer.drain()
        head, _ = await _read_head(reader, self.timeout_s)
        resp = P.parse_response_head(head)
        if resp.kind == "error" or resp.status != 200:
            writer.close()
            raise NtripError(f"caster refused the source: {head.splitlines()[0].decode('latin-1', 'replace')}",
                             resp.status)
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        if self.writer is None:
            raise NtripError("source not connected")
        if not data:
            return  # an empty chunk would end a chunked upload
        self.writer.write(P.chunk(data) if self.chunked else data)
        self.bytes_sent += len(data)
        await self.writer.drain()

    async def close(self) -> None:
        if self.writer is not None:
            try:
                if self.chunked:
                    self.writer.write(P.chunk(b""))
                self.writer.close()
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            self.writer = None

    async def __aenter__(self) -> "NtripSource":
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
