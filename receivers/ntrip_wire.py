"""Client side of the NTRIP wire protocol (rover requests, source uploads, caster answers).

Kept separate from ``ntrip_caster.protocol`` (the caster's side) because receivers sit below
the caster in the layering; the two sides are independent implementations and the tests run
them against each other.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass


def basic_auth(user: str, password: str) -> str:
    """``Authorization`` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def find_header_end(buf: bytes | bytearray) -> int:
    """Index just past the blank line that ends a header block, or -1."""
    ends = [(i + len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := buf.find(sep)) >= 0]
    return min(ends) if ends else -1


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk; empty ``data`` gives the terminating chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class ChunkedDecoder:
    """Incremental de-chunker for v2 caster answers (bounded: chunks over ``max_chunk`` raise)."""

    def __init__(self, max_chunk: int = 1 << 20) -> None:
        self.pending = bytearray()
        self.left = 0          # payload bytes still due in the current chunk
        self.trailer = 0       # CRLF bytes still due after the current chunk
        self.max_chunk = max_chunk
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.pending += data
        out = bytearray()
        p = self.pending
        while p and not self.done:
            if self.left:
                n = min(self.left, len(p))
                out += p[:n]
                del p[:n]
                self.left -= n
                if not self.left:
                    self.trailer = 2
            elif self.trailer:
                n = min(self.trailer, len(p))
                if p[:n] != b"\r\n"[2 - self.trailer:2 - self.trailer + n]:
                    raise ValueError("chunk data not followed by CRLF")
                del p[:n]
                self.trailer -= n
            else:
                nl = p.find(b"\r\n")
                if nl < 0:
                    if len(p) > 32:
                        raise ValueError("chunk size line too long")
                    break
                size = int(bytes(p[:nl]).split(b";")[0].strip() or b"x", 16)
                del p[:nl + 2]
                if size > self.max_chunk:
                    raise ValueError(f"chunk of {size} bytes too large")
                if size == 0:
                    self.done = True
                self.left = size
        return bytes(out)


@dataclass
class Response:
    """A parsed caster answer (client side)."""

    kind: str            # "stream" (ICY/200 data), "sourcetable", "error", "source-ok"
    status: int
    headers: dict[str, str]
    chunked: bool = False


def parse_response_head(head: bytes) -> Response:
    """Parse a caster's status line + headers (``ICY 200 OK``, ``SOURCETABLE 200 OK``, ``HTTP/1.x``)."""
    text = head.decode("latin-1").replace("\r\n", "\n")
    lines = [ln for ln in text.split("\n") if ln != ""]
    if not lines:
        raise ValueError("empty response")
    first = lines[0]
    headers = {}
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if sep:
            headers[k.strip().lower()] = v.strip()
    if first.startswith("ICY 200"):
        return Response("stream", 200, headers)
    if first.startswith("SOURCETABLE 200"):
        return Response("sourcetable", 200, headers)
    if first.startswith("ERROR"):
        return Response("error", 401 if "password" in first.lower() else 409, headers)
    if first.startswith("OK"):
        return Response("stream", 200, headers)
    m = re.match(r"HTTP/1\.[01] (\d{3})", first)
    if not m:
        raise ValueError(f"unrecognised status line {first[:60]!r}")
    status = int(m.group(1))
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    if status != 200:
        return Response("error", status, headers)
    ctype = headers.get("content-type", "")
    kind = "sourcetable" if "sourcetable" in ctype else "stream"
    return Response(kind, 200, headers, chunked)


def format_client_request(mount: str, host: str, version: int = 2, user: str | None = None,
                          password: str | None = None, gga: str | None = None,
                          agent: str = "NTRIP BeiDouClient/0.1") -> bytes:
    """A rover's GET request (v1 or v2)."""
    lines = [f"GET /{mount} HTTP/1.{1 if version == 2 else 0}"]
    if version == 2:
        lines += [f"Host: {host}", "Ntrip-Version: Ntrip/2.0"]
    lines.append(f"User-Agent: {agent}")
    if user is not None:
        lines.append(f"Authorization: {basic_auth(user, password or '')}")
    if gga and version == 2:
        lines.append(f"Ntrip-GGA: {gga.strip()}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def format_source_request(mount: str, host: str, password: str, version: int = 2, user: str = "",
                          str_record: str | None = None, chunked: bool = True,
                          agent: str = "NTRIP BeiDouSource/0.1") -> bytes:
    """A source's upload request: v1 ``SOURCE pass /MOUNT`` or v2 ``POST /MOUNT``."""
    if version == 1:
        lines = [f"SOURCE {password} /{mount}", f"Source-Agent: {agent}"]
        if str_record:
            lines.append(f"STR: {str_record}")
    else:
        lines = [f"POST /{mount} HTTP/1.1", f"Host: {host}", "Ntrip-Version: Ntrip/2.0",
                 f"Authorization: {basic_auth(user, password)}", f"User-Agent: {agent}"]
        if str_record:
            lines.append(f"Ntrip-STR: {str_record}")
        lines.append("Connection: close")
        if chunked:
            lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
