"""Replay a recorded RINEX station as a live RTCM 3 stream at real pace.

Per epoch: MSM4 or MSM7 for every system in the file; every ``station_every_s`` a 1006 (antenna
reference point from the header's approximate position and antenna height) and a 1033
descriptor; every ``eph_every_s`` the ephemeris closest in time per satellite (1019, 1020, 1042,
1044, 1045/1046). ``shift_weeks`` moves all times (observations and ephemerides) by whole GPS
weeks, which keeps every time-of-week field unchanged, so a recorded station looks current.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import numpy as np

from rtk_engine import gnss_time as gt
from rtk_engine.formats.rtcm3.encoder import Rtcm3Encoder
from rtk_engine.formats.rtcm3.station import StationDescriptor, StationPosition
from rtk_engine.nav import NavData
from rtk_engine.obs import ObsBlock


@dataclass
class ReplayStats:
    epochs: int = 0
    frames: int = 0
    bytes: int = 0
    ephemerides: int = 0
    late_s: float = 0.0  # worst lateness of an epoch against its schedule


def weeks_to_now(first_epoch_ns: int, now_gpst_ns: int | None = None) -> int:
    """Whole GPS weeks to add so the first epoch falls in the current week (or the one before)."""
    now = gt.now_gpst_ns() if now_gpst_ns is None else now_gpst_ns
    return int((now - first_epoch_ns) // gt.WEEK_NS)


def shift_block(block: ObsBlock, weeks: int) -> ObsBlock:
    if weeks:
        block.time_ns = block.time_ns + weeks * gt.WEEK_NS
    return block


def shift_nav(nav: NavData, weeks: int) -> NavData:
    if weeks:
        d = weeks * gt.WEEK_NS
        k, g = nav.kepler, nav.glonass
        k.toe_ns, k.toc_ns, k.ttr_ns = k.toe_ns + d, k.toc_ns + d, k.ttr_ns + d
        g.toe_ns, g.tof_ns = g.toe_ns + d, g.tof_ns + d
    return nav


def closest_ephemerides(nav: NavData, t_ns: int) -> NavData:
    """Per satellite, the row whose toe is closest to ``t_ns`` (Kepler and GLONASS)."""
    out = NavData()
    for name in ("kepler", "glonass"):
        tab = getattr(nav, name)
        if len(tab) == 0:
            continue
        dt = np.abs(tab.toe_ns - t_ns)
        order = np.lexsort((dt, tab.sat))
        sats = tab.sat[order]
        first = np.ones(len(order), bool)
        first[1:] = sats[1:] != sats[:-1]
        setattr(out, name, tab.take(order[first]))
    return out


def station_frames(block: ObsBlock, station_id: int) -> list[bytes]:
    h = block.header
    out = []
    if np.all(np.isfinite(h.approx_pos_ecef_m)) and np.any(h.approx_pos_ecef_m != 0):
        systems = set(block.signals)
        out.append(Rtcm3Encoder.encode_station(StationPosition(
            station_id, np.asarray(h.approx_pos_ecef_m, float), float(h.antenna_delta_hen_m[0]),
            gps="G" in systems, glonass="R" in systems, galileo="E" in systems, msg_type=1006)))
    out.append(Rtcm3Encoder.encode_descriptor(StationDescriptor(
        station_id, antenna_descriptor=h.antenna_type[:31], antenna_serial=h.antenna_serial[:31],
        receiver_type=h.receiver_type[:31], receiver_firmware=h.receiver_version[:31], msg_type=1033)))
    return out


async def replay(block: ObsBlock, nav: NavData | None, send: Callable[[bytes], Awaitable[None]], *,
                 speed: float = 1.0, msm: int = 7, station_id: int = 0, station_every_s: float = 10.0,
                 eph_every_s: float = 60.0, max_epochs: int | None = None) -> ReplayStats:
    """Send the epochs of ``block`` through ``send`` at ``speed`` x real time (0: as fast as possible)."""
    enc = Rtcm3Encoder(station_id=station_id, msm=msm)
    stats = ReplayStats()
    n = block.time_ns.size if max_epochs is None else min(max_epochs, block.time_ns.size)
    if n == 0:
        return stats
    t0 = int(block.time_ns[0])
    wall0 = time.monotonic()
    next_station = next_eph = None
    for e in range(n):
        t = int(block.time_ns[e])
        if speed > 0:
            due = wall0 + (t - t0) / gt.NS / speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                stats.late_s = max(stats.late_s, -delay)
        frames: list[bytes] = []
        if next_station is None or t >= next_station:
            frames += station_frames(block, station_id)
            next_station = t + int(station_every_s * gt.NS)
        if nav is not None and (next_eph is None or t >= next_eph):
            eph = Rtcm3Encoder.encode_nav(closest_ephemerides(nav, t))
            frames += eph
            stats.ephemerides += len(eph)
            next_eph = t + int(eph_every_s * gt.NS)
        frames += enc.encode_epoch(block, e)
        data = b"".join(frames)
        await send(data)
        stats.epochs += 1
        stats.frames += len(frames)
        stats.bytes += len(data)
    return stats
