"""Fan-out of a batch of RTCM3 frames to many rovers without letting one slow rover hurt others.

Each rover's buffer is its transport's write buffer, bounded by ``backlog_limit``: a rover whose
unsent bytes exceed it is not written to and is returned as *slow* for the caller to drop and
count. A write never blocks. v2 rovers get the same bytes in one HTTP chunk, built once per batch.

Per rover the cost is the kernel's send (loopback: ~5-8 us, it also runs the receiver's TCP input);
the transport's own bookkeeping adds ~1 us (``benchmarks/bench_fanout_floor.py``). Sending on the
transport's socket directly saved 0.15-0.5 us per rover and no measurable latency, so it was not kept:
it needs asyncio's private socket attribute.
"""
from __future__ import annotations

from typing import Iterable, Protocol

from .protocol import chunk


class Subscriber(Protocol):
    transport: object
    v2: bool
    stats: object


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
        t.write(data)
        st = sub.stats
        st.bytes_sent += n
        st.messages_sent += n_frames
    return slow
