"""Mountpoints at run time: a base fed by one source, filtered views of a base, and NEAREST.

A base publishes each batch of valid frames to its own rovers and to each view, which keeps only
the message numbers it lists (e.g. an MSM4-only view of a station that also sends MSM7).
"""
from __future__ import annotations

import time

from rtk_engine.formats.rtcm3.msm_tables import msm_kind
from rtk_engine.formats.rtcm3_frame import message_number

from .config import MountConfig
from .fanout import deliver
from .msm_convert import frame_to_msm4
from .sourcetable import StrRecord
from .stats import MountStats


def _msm4_number(m: int) -> int:
    kind = msm_kind(m)
    return m - kind[1] + 4 if kind and kind[1] >= 5 else m


class Mount:
    def __init__(self, cfg: MountConfig) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.stats = MountStats(cfg.name, cfg.kind)
        self.subscribers: set = set()     # rovers written to when this mount publishes
        self.clients: set = set()         # rovers connected to this mountpoint name (stats)
        self.source = None                # the live source connection (base only)
        self.remote_source = False        # a source feeds this base on another cluster worker
        self.base: Mount | None = None    # for a view: its base
        self.views: list[Mount] = []      # for a base: its views
        self.lost_at: float | None = None  # monotonic time the source vanished
        self.allowed = frozenset(cfg.messages)

    @property
    def requires_gga(self) -> bool:
        return self.cfg.kind == "nearest"

    @property
    def live(self) -> bool:
        if self.cfg.kind == "view":
            return self.base is not None and self.base.live
        return self.source is not None or self.remote_source

    @property
    def position_deg(self) -> tuple[float, float]:
        src = self.base.cfg if self.cfg.kind == "view" and self.base else self.cfg
        return src.lat_deg, src.lon_deg

    def str_record(self) -> StrRecord:
        c = self.cfg
        details = c.format_details
        if not details and self.cfg.kind == "view" and self.allowed:
            details = ",".join(str(m) for m in sorted(self.allowed))
        if not details:
            ref = self.base if self.cfg.kind == "view" and self.base else self
            types = set(ref.stats.messages_by_type)
            if self.cfg.convert == "msm4":
                types = {_msm4_number(m) for m in types}
            details = ",".join(str(m) for m in sorted(types) if not self.allowed or m in self.allowed)
        lat, lon = self.position_deg
        return StrRecord(c.name, c.identifier, c.format, details, c.carrier, c.nav_system, c.network, c.country,
                         lat, lon, 1 if self.requires_gga else 0, 1 if c.kind == "nearest" else 0,
                         c.generator or (self.stats.source_agent or ""), "none", "B" if c.auth else "N", c.fee,
                         c.bitrate, c.misc)

    def convert_msm4(self, frames: list[bytes]) -> tuple[list[bytes], list[int]]:
        """MSM5/6/7 frames re-encoded as MSM4 (once per batch, not per rover); bad ones dropped."""
        out = []
        for f in frames:
            try:
                out.append(frame_to_msm4(f))
            except ValueError:
                self.stats.frames_malformed += 1
        return out, [message_number(f) for f in out]

    def publish(self, frames: list[bytes], backlog_limit: int) -> list:
        """Account and fan out one batch of valid frames; returns rovers too slow to keep."""
        st = self.stats
        raw = frames[0] if len(frames) == 1 else b"".join(frames)
        numbers = [message_number(f) for f in frames]
        st.frames_in += len(frames)
        st.bytes_in += len(raw)
        st.last_frame_at = time.time()
        by = st.messages_by_type
        for m in numbers:
            by[m] += 1
        slow = []
        if self.subscribers:
            slow += deliver(self.subscribers, raw, len(frames), backlog_limit)
            st.bytes_out += len(raw) * len(self.subscribers)
            st.frames_out += len(frames) * len(self.subscribers)
        for view in self.views:
            if not view.subscribers:
                continue
            if view.cfg.convert == "msm4":
                vframes, vnumbers = view.convert_msm4(frames)
            else:
                vframes, vnumbers = frames, numbers
            keep = [f for f, m in zip(vframes, vnumbers) if not view.allowed or m in view.allowed]
            if keep:
                vraw = b"".join(keep)
                slow += deliver(view.subscribers, vraw, len(keep), backlog_limit)
                view.stats.bytes_out += len(vraw) * len(view.subscribers)
                view.stats.frames_out += len(keep) * len(view.subscribers)
        return slow
