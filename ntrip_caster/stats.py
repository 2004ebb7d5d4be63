"""Statistics records per rover, per mountpoint and for the caster (read by the service layer).

Times: ``*_at`` are UNIX seconds (``time.time()``); durations in seconds.
"""
from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class ClientStats:
    id: int
    address: str
    user: str | None
    mount: str
    ntrip_version: int
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    bytes_sent: int = 0
    messages_sent: int = 0
    serving: str | None = None        # base actually served (differs from mount for NEAREST)
    switches: int = 0                 # NEAREST base changes
    last_gga: tuple[float, float, float] | None = None  # lat_deg, lon_deg, height_m
    last_gga_at: float | None = None
    gga_count: int = 0
    gga_invalid: int = 0
    gga_rate_limited: int = 0
    closed_reason: str | None = None

    def as_dict(self) -> dict:
        now = time.time()
        return {"id": self.id, "address": self.address, "user": self.user, "mount": self.mount,
                "serving": self.serving, "ntrip_version": self.ntrip_version, "user_agent": self.user_agent,
                "connected_s": round(now - self.connected_at, 3), "bytes_sent": self.bytes_sent,
                "messages_sent": self.messages_sent, "switches": self.switches,
                "last_gga": self.last_gga, "last_gga_age_s": None if self.last_gga_at is None
                else round(now - self.last_gga_at, 3), "gga_count": self.gga_count,
                "gga_invalid": self.gga_invalid, "gga_rate_limited": self.gga_rate_limited}


@dataclass
class MountStats:
    name: str
    kind: str
    bytes_in: int = 0
    frames_in: int = 0
    bad_crc: int = 0
    garbage_bytes: int = 0
    frames_malformed: int = 0      # views: frames that could not be converted (dropped)
    messages_by_type: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    bytes_out: int = 0
    frames_out: int = 0
    source_address: str | None = None
    source_agent: str | None = None
    source_connected_at: float | None = None
    source_connects: int = 0
    source_vanished: int = 0
    source_rejected: int = 0
    last_frame_at: float | None = None
    clients_total: int = 0
    clients_dropped_slow: int = 0
    clients_dropped_gga_timeout: int = 0
    clients_closed_source_lost: int = 0
    fanout_s: deque = field(default_factory=lambda: deque(maxlen=1000))  # time to fan out each batch

    def fanout_ms(self) -> dict:
        """p50/p99/max over the last 1000 batches of the time spent writing them to all rovers."""
        v = sorted(self.fanout_s)
        if not v:
            return {"p50": None, "p99": None, "max": None, "batches": 0}
        return {"p50": round(1e3 * v[len(v) // 2], 3), "p99": round(1e3 * v[int(0.99 * (len(v) - 1))], 3),
                "max": round(1e3 * v[-1], 3), "batches": len(v)}

    def as_dict(self, clients_now: int, live: bool) -> dict:
        now = time.time()
        d = {k: getattr(self, k) for k in (
            "name", "kind", "bytes_in", "frames_in", "bad_crc", "garbage_bytes", "frames_malformed", "bytes_out", "frames_out",
            "source_address", "source_agent", "source_connects", "source_vanished", "source_rejected",
            "clients_total", "clients_dropped_slow", "clients_dropped_gga_timeout",
            "clients_closed_source_lost")}
        d["messages_by_type"] = dict(sorted(self.messages_by_type.items()))
        d["source_connected_s"] = None if self.source_connected_at is None or not live \
            else round(now - self.source_connected_at, 3)
        d["last_frame_age_s"] = None if self.last_frame_at is None else round(now - self.last_frame_at, 3)
        d["fanout_ms"] = self.fanout_ms()
        d["clients"] = clients_now
        d["live"] = live
        return d
