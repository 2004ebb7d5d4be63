"""Abuse control: reconnect storms, failed logins, silent sources, GGA floods -> bans with reasons.

Every decision is logged and kept in a bounded event list the operator can read
(:meth:`AbuseControl.snapshot`). Time is ``time.monotonic()`` seconds unless passed in.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from .config import AbuseConfig

log = logging.getLogger("ntrip_caster.abuse")


@dataclass
class Ban:
    address: str
    reason: str
    until: float  # monotonic seconds
    wall_time: float  # time.time() when banned


class AbuseControl:
    def __init__(self, cfg: AbuseConfig) -> None:
        self.cfg = cfg
        self.bans: dict[str, Ban] = {}
        self.events: deque[dict] = deque(maxlen=cfg.events_kept)
        self.counters: dict[str, int] = defaultdict(int)
        self._connects: dict[str, deque[float]] = {}
        self._auth_fail: dict[str, deque[float]] = {}
        self._silent: dict[str, int] = defaultdict(int)

    def record(self, kind: str, address: str, reason: str) -> None:
        self.counters[kind] += 1
        self.events.append({"time": time.time(), "kind": kind, "address": address, "reason": reason})
        log.warning("%s from %s: %s", kind, address, reason)

    def ban(self, address: str, reason: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.bans[address] = Ban(address, reason, now + self.cfg.ban_s, time.time())
        self.record("ban", address, reason)

    def banned(self, address: str, now: float | None = None) -> Ban | None:
        b = self.bans.get(address)
        if b is None:
            return None
        if (time.monotonic() if now is None else now) >= b.until:
            del self.bans[address]
            return None
        return b

    def _window(self, table: dict[str, deque[float]], address: str, now: float) -> deque[float]:
        q = table.get(address)
        if q is None:
            q = table[address] = deque()
        cut = now - self.cfg.connect_window_s
        while q and q[0] < cut:
            q.popleft()
        return q

    def on_connect(self, address: str, now: float | None = None) -> str | None:
        """Register a new TCP connection; returns a refusal reason or None if allowed."""
        now = time.monotonic() if now is None else now
        b = self.banned(address, now)
        if b is not None:
            self.counters["refused-banned"] += 1
            return f"banned: {b.reason}"
        q = self._window(self._connects, address, now)
        q.append(now)
        if len(q) > self.cfg.max_connects_per_window:
            q.clear()
            self.ban(address, f"reconnect storm: more than {self.cfg.max_connects_per_window} connections "
                              f"in {self.cfg.connect_window_s:g} s", now)
            return "banned: reconnect storm"
        return None

    def on_auth_failure(self, address: str, reason: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.record("auth-failure", address, reason)
        q = self._window(self._auth_fail, address, now)
        q.append(now)
        if len(q) >= self.cfg.auth_failures_ban:
            q.clear()
            self.ban(address, f"{self.cfg.auth_failures_ban} failed logins in {self.cfg.connect_window_s:g} s", now)

    def on_silent_source(self, address: str, mount: str) -> None:
        self._silent[address] += 1
        self.record("silent-source", address, f"source on {mount} sent no valid RTCM3 frame in time")
        if self._silent[address] >= self.cfg.silent_source_strikes:
            self._silent[address] = 0
            self.ban(address, f"source sent nothing {self.cfg.silent_source_strikes} times")

    def on_gga_flood(self, address: str, excess: int) -> None:
        self.ban(address, f"GGA flood: {excess} GGA sentences above {self.cfg.gga_max_per_s:g}/s")

    def housekeeping(self, now: float | None = None) -> None:
        """Forget expired bans and idle connection windows (bounded memory)."""
        now = time.monotonic() if now is None else now
        for a in [a for a, b in self.bans.items() if b.until <= now]:
            del self.bans[a]
        if len(self._silent) > 10_000:  # strikes are a heuristic: forget them rather than grow
            self._silent.clear()
        cut = now - self.cfg.connect_window_s
        for table in (self._connects, self._auth_fail):
            for a in [a for a, q in table.items() if not q or q[-1] < cut]:
                del table[a]

    def snapshot(self) -> dict:
        now = time.monotonic()
        return {"bans": [{"address": b.address, "reason": b.reason, "remaining_s": round(b.until - now, 1)}
                         for b in self.bans.values() if b.until > now],
                "counters": dict(self.counters), "events": list(self.events)[-100:]}


class GgaRate:
    """Token bucket for one rover's GGA sentences: ``allow()`` False when over the rate."""

    __slots__ = ("rate", "burst", "tokens", "last", "excess")

    def __init__(self, rate_per_s: float, burst: float = 5.0) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.tokens = burst
        self.last = time.monotonic()
        self.excess = 0

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.excess += 1
        return False
