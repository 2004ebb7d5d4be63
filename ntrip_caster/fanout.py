"""Fan-out of a batch of RTCM3 frames to many rovers without letting one slow rover hurt others.

Each rover's buffer is its transport's write buffer, bounded by ``backlog_limit``: a rover whose
unsent bytes exceed it is not written to and is returned as *slow* for the caller to drop and
count. A write never blocks. v2 rovers get the same bytes in one HTTP chunk, built once per batch.

The hot path: a plain-TCP rover with nothing queued in its transport (nearly all of them) gets the
batch with one ``socket.send`` on its own socket, skipping the asyncio transport's bookkeeping;
whatever the kernel does not take (or an error) goes through ``transport.write``, which queues it
after the bytes already sent (order kept) or closes the connection as usual. TLS rovers always go
through their transport. The kernel's own cost per send stays: ``benchmarks/bench_fanout_floor.py``.
"""
from __future__ import annotations

import socket
from typing import Iterable, Protocol

from .protocol import chunk


class Subscriber(Protocol):
    transport: object
    sock: socket.socket | None  # see raw_socket(); None: always through the transport
    v2: bool
    stats: object


def raw_socket(transport) -> socket.socket | None:
    """The transport's own TCP socket when bytes may be sent on it directly, else None (TLS, other)."""
    if transport.get_extra_info("sslcontext") is not None or transport.get_extra_info("ssl_object") is not None:
        return None
    ts = transport.get_extra_info("socket")
    sock = getattr(ts, "_sock", ts)  # asyncio hands out a TransportSocket wrapper around the real socket
    return sock if isinstance(sock, socket.socket) and sock.type == socket.SOCK_STREAM else None


def deliver(subscribers: Iterable[Subscriber], raw: bytes, n_frames: int, backlog_limit: int) -> list:
    """Write ``raw`` (``n_frames`` whole frames) to every subscriber; return those too far behind."""
    chunked = None
    slow = []
    n = len(raw)
    for sub in subscribers:
        t = sub.transport
        backlog = t.get_write_buffer_size()
        if backlog > backlog_limit:
            slow.append(sub)
            continue
        if sub.v2:
            if chunked is None:
                chunked = chunk(raw)
            data = chunked
        else:
            data = raw
        sock = sub.sock
        if backlog or sock is None:
            t.write(data)
        else:
            try:
                sent = sock.send(data)
            except OSError:  # full (BlockingIOError) or a dead peer: the transport queues it or closes
                sent = 0
            if sent < len(data):
                t.write(data[sent:] if sent else data)
        st = sub.stats
        st.bytes_sent += n
        st.messages_sent += n_frames
    return slow
