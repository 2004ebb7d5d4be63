"""NTRIP 1.0 / 2.0 wire protocol: parse request headers, format responses, HTTP chunking.

Pure functions and small state machines on bytes; no sockets, so everything here can be
fuzzed. Requests handled:

* client (rover):  ``GET /MOUNT HTTP/1.0`` (v1) or ``GET /MOUNT HTTP/1.1`` + ``Ntrip-Version: Ntrip/2.0``
* sourcetable:     ``GET /`` (v2 may add a filter query ``GET /?STR;;;RTCM 3``)
* source v1:       ``SOURCE <password> /MOUNT`` (+ ``Source-Agent``, ``STR:``)
* source v2:       ``POST /MOUNT HTTP/1.1`` + ``Ntrip-Version: Ntrip/2.0`` (chunked or not)
"""
from __future__ import annotations

import base64
import binascii
import email.utils
import re
from dataclasses import dataclass, field

MAX_HEADER_BYTES = 8192
MAX_HEADER_LINES = 64
MAX_MOUNT_LEN = 100
MAX_CHUNK_BYTES = 65536
_MOUNT_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
_CTRL_RE = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")
_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z\-]+$")

SERVER_NAME = "NTRIP BeiDouCaster/0.1"

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests", 431:
           "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable"}


class RequestError(ValueError):
    """A request the caster rejects; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    """A parsed NTRIP request header. Header names are lower-cased in ``headers``."""

    method: str                # "GET", "POST" or "SOURCE"
    path: str                  # request target as sent, e.g. "/MOUNT" or "/?STR;;"
    http_version: str          # "HTTP/1.0", "HTTP/1.1" or "" (SOURCE requests have none)
    ntrip_version: int         # 1 or 2
    mount: str                 # mountpoint name without '/', "" for the sourcetable
    query: str = ""            # text after '?' (v2 sourcetable filter)
    headers: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    password: str | None = None
    source_password: str | None = None  # v1 SOURCE password (v2 sources use Basic auth)
    gga: str | None = None     # Ntrip-GGA header (v2)
    chunked: bool = False      # request body uses Transfer-Encoding: chunked (v2 POST)
    str_record: str | None = None  # STR line sent by a source

    @property
    def is_source(self) -> bool:
        return self.method in ("SOURCE", "POST")

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent") or self.headers.get("source-agent") or ""


def find_header_end(buf: bytes | bytearray) -> int:
    """Index just past the blank line ending the header (CRLFCRLF or LFLF), or -1 if incomplete."""
    i = buf.find(b"\r\n\r\n")
    j = buf.find(b"\n\n")
    if i < 0 and j < 0:
        return -1
    if j < 0 or (0 <= i < j):
        return i + 4
    return j + 2


def _decode_basic(value: str) -> tuple[str, str]:
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        raise RequestError("only HTTP Basic authorization is supported", 401)
    try:
        raw = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise RequestError("malformed Basic authorization", 401) from None
    user, sep, password = raw.partition(":")
    if not sep:
        raise RequestError("Basic authorization without ':'", 401)
    return user, password


def basic_auth(user: str, password: str) -> str:
    """``Authorization`` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _mount_from_target(target: str) -> tuple[str, str]:
    if not target.startswith("/"):
        raise RequestError("request target must start with '/'")
    path, _, query = target[1:].partition("?")
    if path == "":
        return "", query
    if not _MOUNT_RE.match(path):
        raise RequestError("invalid mountpoint name", 400)
    return path, query


def parse_request(head: bytes) -> Request:
    """Parse a complete request header block (up to and including the blank line).

    Raises :class:`RequestError` (with the status to answer) on anything malformed:
    oversized, non-ASCII, bad request line, unsupported method, invalid mountpoint,
    duplicate or malformed headers, malformed Basic credentials.
    """
    if len(head) > MAX_HEADER_BYTES:
        raise RequestError("request header too large", 431)
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise RequestError("non-ASCII bytes in request header") from None
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise RequestError("empty request")
    if len(lines) > MAX_HEADER_LINES:
        raise RequestError("too many header lines", 431)
    if _CTRL_RE.search(text) or "\r" in text.replace("\r\n", ""):
        raise RequestError("stray control characters in header")
    parts = lines[0].split(" ")
    method = parts[0]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or not _TOKEN_RE.match(name):
            raise RequestError(f"malformed header line {line[:40]!r}")
        key = name.lower()
        if key in headers and key not in ("str", "ntrip-str"):
            raise RequestError(f"duplicate header {name!r}")
        headers[key] = value.strip()

    if method == "SOURCE":
        # SOURCE <password> /MOUNT  (some servers add " HTTP/1.0"; the password may be empty)
        if len(parts) < 3 or len(parts) > 4:
            raise RequestError("malformed SOURCE line")
        password, target = parts[1], parts[2]
        if not target.startswith("/"):
            target = "/" + target
        mount, query = _mount_from_target(target)
        if not mount or query:
            raise RequestError("SOURCE needs a mountpoint")
        return Request("SOURCE", target, parts[3] if len(parts) == 4 else "", 1, mount, "", headers,
                       source_password=password, str_record=headers.get("str"))

    if len(parts) != 3 or method not in ("GET", "POST"):
        if method in ("GET", "POST", "SOURCE"):
            raise RequestError("malformed request line")
        raise RequestError(f"method {method[:16]!r} not implemented", 501)
    target, http_version = parts[1], parts[2]
    if http_version not in ("HTTP/1.0", "HTTP/1.1"):
        raise RequestError("unsupported protocol version")
    mount, query = _mount_from_target(target)
    nv = headers.get("ntrip-version", "")
    ntrip_version = 2 if nv.lower().replace(" ", "") == "ntrip/2.0" else 1
    req = Request(method, target, http_version, ntrip_version, mount, query, headers)
    if "authorization" in headers:
        req.user, req.password = _decode_basic(headers["authorization"])
    gga = headers.get("ntrip-gga")
    if gga:
        req.gga = gga
    te = headers.get("transfer-encoding", "").lower()
    if te and te != "chunked":
        raise RequestError("unsupported transfer encoding", 501)
    req.chunked = te == "chunked"
    if method == "POST":
        if not mount:
            raise RequestError("POST needs a mountpoint")
        if ntrip_version != 2:
            raise RequestError("POST upload needs Ntrip-Version: Ntrip/2.0")
        req.str_record = headers.get("ntrip-str")
    elif req.chunked:
        raise RequestError("a GET request has no body")
    return req


# ----------------------------------------------------------------------------- responses

def http_date(ts: float | None = None) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _head(status: int, v2: bool, extra: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    if v2:
        lines.append("Ntrip-Version: Ntrip/2.0")
    lines += [f"Server: {SERVER_NAME}", f"Date: {http_date()}"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def stream_ok(v2: bool) -> bytes:
    """Answer to a client GET that gets data. v1: ``ICY 200 OK``; v2: HTTP 200 with chunked body."""
    if not v2:
        return b"ICY 200 OK\r\n"  # exactly RTKLIB/go-ntrip; str2str passes any extra CRLF on as data
    return _head(200, True, [("Cache-Control", "no-store,no-cache,max-age=0"), ("Pragma", "no-cache"),
                             ("Connection", "close"), ("Content-Type", "gnss/data"),
                             ("Transfer-Encoding", "chunked")])


def source_ok(v2: bool) -> bytes:
    """Answer to an accepted source. v1 ``ICY 200 OK`` (RTKLIB looks for ``OK\\r\\n``)."""
    if not v2:
        return b"ICY 200 OK\r\n"
    return _head(200, True, [("Connection", "close")])


def sourcetable_response(table: str, v2: bool) -> bytes:
    """The sourcetable answer; ``table`` must already end with ``ENDSOURCETABLE\\r\\n``."""
    body = table.encode("utf-8")
    if v2:
        return _head(200, True, [("Connection", "close"), ("Content-Type", "gnss/sourcetable"),
                                 ("Content-Length", str(len(body)))]) + body
    head = (f"SOURCETABLE 200 OK\r\nServer: {SERVER_NAME}\r\nDate: {http_date()}\r\nConnection: close\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


def error_response(status: int, v2: bool, realm: str | None = None, message: str = "") -> bytes:
    """HTTP error answer with a short HTML body; 401 carries ``WWW-Authenticate``."""
    reason = REASONS.get(status, "Error")
    body = f"<html><head><title>{status} {reason}</title></head><body>{reason}</body></html>\r\n".encode()
    extra = []
    if status == 401:
        extra.append(("WWW-Authenticate", f'Basic realm="{realm or "/"}"'))
    if status == 503:
        extra.append(("Retry-After", "60"))
    extra += [("Connection", "close"), ("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
    return _head(status, v2, extra) + body


def source_error_v1(kind: str) -> bytes:
    """v1 source errors as BKG/RTKLIB expect them: ``bad-password`` or ``taken``."""
    if kind == "bad-password":
        return b"ERROR - Bad Password\r\n"
    return b"ERROR - Mount Point Taken or Invalid\r\n"


# ----------------------------------------------------------------------------- chunking

def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (empty data gives the terminating chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class ChunkedDecoder:
    """Incremental ``Transfer-Encoding: chunked`` decoder with bounded memory.

    ``feed(data)`` returns the payload bytes decoded so far; ``done`` is set after the
    terminating zero chunk. Raises :class:`ValueError` on a malformed chunk header or a
    chunk larger than ``max_chunk`` bytes.
    """

    def __init__(self, max_chunk: int = MAX_CHUNK_BYTES) -> None:
        self._buf = bytearray()
        self._remaining = -1  # -1: expecting a size line; >= 0: payload bytes left (then CRLF)
        self._need_crlf = False
        self.max_chunk = max_chunk
        self.done = False

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return b""
        self._buf += data
        out = bytearray()
        buf = self._buf
        while buf:
            if self._need_crlf:
                if len(buf) < 2:
                    break
                if buf[:2] != b"\r\n":
                    raise ValueError("chunk not terminated by CRLF")
                del buf[:2]
                self._need_crlf = False
                continue
            if self._remaining < 0:
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > 64:
                        raise ValueError("chunk size line too long")
                    break
                line = bytes(buf[:nl]).rstrip(b"\r").split(b";")[0].strip()
                del buf[:nl + 1]
                try:
                    size = int(line, 16)
                except ValueError:
                    raise ValueError(f"bad chunk size {line[:20]!r}") from None
                if size < 0 or size > self.max_chunk:
                    raise ValueError(f"chunk of {size} bytes exceeds {self.max_chunk}")
                if size == 0:
                    self.done = True
                    buf.clear()
                    break
                self._remaining = size
                continue
            take = min(self._remaining, len(buf))
            out += buf[:take]
            del buf[:take]
            self._remaining -= take
            if self._remaining == 0:
                self._remaining = -1
                self._need_crlf = True
        return bytes(out)
