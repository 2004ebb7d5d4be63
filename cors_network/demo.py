"""The demo network: simulated reference stations around Chongqing streaming RTCM3 into the caster,
and simulated monitoring receivers (a transmission tower on a creeping slope) streaming the same way.

Observations come from :mod:`rtk_engine.simulate`, driven by a real broadcast navigation file
(``data/nav``). That file is of a past day, so the whole simulated world is shifted by a whole
number of days (``shift_ns``): simulated time ``t_sim = now - shift``; every time tag that leaves
this module (MSM epochs, ephemeris toe/toc) is ``t_sim + shift``. The shift is the same for
observations and ephemerides, so a rover solving with the stream's own ephemerides is exact.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from receivers.ntrip_client import NtripSource
from rtk_engine import gnss_time as gt
from rtk_engine.formats.rinex_nav import read_nav
from rtk_engine.formats.rinex_obs import read_obs
from rtk_engine.formats.rtcm3.encoder import Rtcm3Encoder
from rtk_engine.formats.rtcm3.station import StationDescriptor, StationPosition
from rtk_engine.nav import NavData
from rtk_engine.orbits.ephemeris_select import select, time_span_ns
from rtk_engine.simulate import SimConfig, iter_network, network_around, ring_network

log = logging.getLogger("beidou.demo")

REPO = Path(__file__).resolve().parents[1]
DEMO_NAV = REPO / "data" / "nav" / "BRD400DLR_S_20230710000_01D_MN.rnx.gz"
DAY_NS = 86_400 * gt.NS
CHONGQING = (29.56, 106.55, 300.0)  # lat deg, lon deg, ellipsoidal height m


@dataclass(frozen=True)
class DemoStation:
    code: str
    ecef_m: tuple[float, float, float]
    mount: str
    station_id: int


def demo_stations(n_ring: int = 4, radius_km: float = 18.0, near_km: float = 3.0) -> list[DemoStation]:
    """A centre station, a ring of ``n_ring`` stations ``radius_km`` around Chongqing (CORS spacing),
    and one dense-urban station ``near_km`` north-east of the centre (``CQ05``): rovers and the
    RTK demo get centimetres from it at any hour, while the simulated midday ionosphere can keep
    18 km baselines from fixing (docs/network.md)."""
    pos = ring_network(*CHONGQING, n=n_ring, radius_km=radius_km, prefix="CQ", centre_name="CQ00")
    pos.update(network_around(*CHONGQING, {f"CQ{n_ring + 1:02d}": (near_km, 45.0)}))
    return [DemoStation(code, tuple(float(v) for v in xyz), f"{code}_MSM7", 100 + i)
            for i, (code, xyz) in enumerate(pos.items())]


@dataclass(frozen=True)
class DemoMonitor:
    """A simulated monitoring receiver: a static antenna at ``ecef_m`` (its reference coordinate) that
    starts creeping ``quiet_s`` seconds after ``t0_unix_s`` at ``rate_enu_mm_h`` until it has moved
    ``max_mm`` (3D); the motion is put into its observations by ``inject_displacement``."""

    code: str
    name: str
    ecef_m: tuple[float, float, float]
    mount: str
    station_id: int
    references: tuple[str, ...]
    t0_unix_s: float = 0.0
    quiet_s: float = 300.0
    rate_enu_mm_h: tuple[float, float, float] = (24.0, -32.0, -10.0)  # 40 mm/h downslope (SSE), sinking
    max_mm: float = 120.0

    def displacement_enu_m(self, time_gpst_ns: np.ndarray) -> np.ndarray:
        """[E, 3] ENU displacement (m) at the (live, not simulated) GPST times."""
        t_s = np.asarray(gt.unix_from_gpst(np.asarray(time_gpst_ns, np.int64)), float) - self.t0_unix_s - self.quiet_s
        rate = np.asarray(self.rate_enu_mm_h, float) / 3600.0 / 1000.0  # m/s
        t_cap = self.max_mm / 1000.0 / max(float(np.linalg.norm(rate)), 1e-12)
        return np.clip(t_s, 0.0, t_cap)[:, None] * rate[None, :]


def demo_monitors(t0_unix_s: float = 0.0, quiet_s: float = 300.0, rate_mm_h: float = 40.0,
                  max_mm: float = 120.0) -> list[DemoMonitor]:
    """One transmission tower on a hillside 5 km north-east of Chongqing, 60 m above the centre and
    ~2.2 km from ``CQ05`` (its reference station; ``CQ00`` is the second reference), creeping
    downslope at ``rate_mm_h`` (horizontal) after ``quiet_s``."""
    xyz = network_around(*CHONGQING, {"TWR1": (5.2, 50.0, 60.0)})["TWR1"]
    unit = np.array([0.6, -0.8, -0.25])  # horizontal unit vector SSE, vertical 1/4 of it, sinking
    return [DemoMonitor("TWR1", "Transmission tower TWR1 on a creeping slope (simulated)",
                        tuple(float(v) for v in xyz), "TWR1_MSM7", 150, ("CQ05", "CQ00"), t0_unix_s, quiet_s,
                        tuple(float(v) for v in unit * rate_mm_h), max_mm)]


def day_shift_ns(nav: NavData, now_gpst_ns: int) -> int:
    """Whole days to subtract from now to land inside the navigation file's span."""
    span = time_span_ns(nav)
    if span is None:
        raise ValueError("demo navigation file holds no ephemerides")
    mid = (span[0] + span[1]) // 2
    day_of_mid = mid // DAY_NS
    return int((now_gpst_ns // DAY_NS - day_of_mid) * DAY_NS)


def shifted_ephemerides(nav: NavData, t_sim_ns: int, shift_ns: int) -> NavData:
    """The ephemeris per satellite valid at ``t_sim_ns``, with its times moved by ``shift_ns``."""
    sats = np.unique(nav.kepler.sat[np.isin(nav.kepler.sat.astype("<U1"), list("GEC"))])
    idx = select(nav, sats, np.full(sats.shape, t_sim_ns))
    k = nav.kepler.take(idx[idx >= 0])
    k = replace(k, toe_ns=k.toe_ns + shift_ns, toc_ns=k.toc_ns + shift_ns, ttr_ns=k.ttr_ns + shift_ns)
    return NavData(kepler=k, iono=nav.iono)


class SimulatedNetwork:
    """Simulates the demo stations in real time and uploads each as an NTRIP source."""

    def __init__(self, host: str, port: int, passwords: dict[str, str], stations: list[DemoStation] | None = None,
                 nav_path: Path = DEMO_NAV, systems: str = "GEC", seed: int = 7,
                 monitors: list[DemoMonitor] | None = None) -> None:
        self.host, self.port, self.passwords = host, port, passwords
        self.stations = stations or demo_stations()
        self.monitors = [m for m in (monitors or []) if m.code in passwords]
        self.nav = read_nav(nav_path)
        self.systems, self.seed = systems, seed
        self.epochs_sent = 0
        self.errors = 0

    async def _connect(self, st: DemoStation) -> NtripSource:
        src = NtripSource(f"ntrip://:{self.passwords[st.code]}@{self.host}:{self.port}/{st.mount}", version=2)
        await src.connect()
        return src

    async def run(self) -> None:
        """Forever: one simulated day at a time, each epoch sent when its (shifted) time comes."""
        while True:
            try:
                await self._run_day()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the demo alive: log, wait, start over with fresh sources
                self.errors += 1
                log.exception("demo network failed; restarting in 5 s")
                await asyncio.sleep(5.0)

    async def _run_day(self) -> None:
        now = gt.now_gpst_ns()
        shift = day_shift_ns(self.nav, now)
        start_sim = (now - shift) // gt.NS * gt.NS + gt.NS
        span = time_span_ns(self.nav)
        duration_s = max(60.0, (span[1] + 2 * 3600 * gt.NS - start_sim) / gt.NS)
        duration_s = min(duration_s, (DAY_NS - start_sim % DAY_NS) / gt.NS)  # until the simulated midnight
        senders = [*self.stations, *self.monitors]
        sources = {st.code: await self._connect(st) for st in senders}
        encoders = {st.code: Rtcm3Encoder(station_id=st.station_id, msm=7, systems=self.systems) for st in senders}
        station_frames = {st.code: [Rtcm3Encoder.encode_station(StationPosition(st.station_id, np.array(st.ecef_m),
                                                                                gps=True, galileo=True)),
                                    Rtcm3Encoder.encode_descriptor(StationDescriptor(
                                        st.station_id, antenna_descriptor="TRM59800.80     NONE",
                                        receiver_type="SIMULATED"))]
                          for st in senders}
        cfg = SimConfig(systems=self.systems, chunk_epochs=30)
        refs = {st.code: np.array(st.ecef_m) for st in self.stations}
        # the atmosphere's centre stays that of the reference stations, with or without monitoring points
        chunks = iter_network(self.nav, {**refs, **{m.code: np.array(m.ecef_m) for m in self.monitors}}, start_sim,
                              duration_s, 1.0, cfg, seed=self.seed, centre_ecef_m=np.mean(list(refs.values()), axis=0))
        last_eph = None
        try:
            while True:
                chunk = await asyncio.to_thread(next, chunks, None)
                if chunk is None:
                    return
                moved = {m.code: await asyncio.to_thread(self._moved, m, chunk[m.code].block, shift)
                         for m in self.monitors}
                any_block = next(iter(chunk.values())).block
                for e in range(any_block.n_epochs):
                    t_sim = int(any_block.time_ns[e])
                    wait = float(gt.unix_from_gpst(t_sim + shift)) - time.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    eph_frames = []
                    if last_eph is None or t_sim - last_eph >= 30 * gt.NS:
                        eph_frames = Rtcm3Encoder.encode_nav(shifted_ephemerides(self.nav, t_sim, shift))
                        last_eph = t_sim
                    for st in senders:
                        epoch = moved.get(st.code, chunk[st.code].block).select_epochs(e)
                        epoch.time_ns = epoch.time_ns + shift
                        frames = encoders[st.code].encode_epoch(epoch)
                        if t_sim // gt.NS % 10 == 0:
                            frames = station_frames[st.code] + frames
                        await sources[st.code].send(b"".join(eph_frames + frames))
                    self.epochs_sent += 1
        finally:
            for src in sources.values():
                await src.close()

    def _moved(self, mon: DemoMonitor, block, shift_ns: int):
        """The monitoring receiver's simulated (static) block with its creep injected."""
        from .monitoring.inject import inject_displacement
        return inject_displacement(block, self.nav, mon.ecef_m, mon.displacement_enu_m(block.time_ns + shift_ns))


@dataclass(frozen=True)
class RecordedStation:
    """A real recorded station replayed live (looping) as a demo reference station."""

    code: str
    obs_path: Path
    nav_path: Path
    ecef_m: tuple[float, float, float]  # the station's known coordinate (not the RINEX header's approximation)
    mount: str
    station_id: int
    country: str  # ISO 3166 alpha-3


def recorded_stations() -> list[RecordedStation]:
    folder = REPO / "data" / "fujisawa-2021-265"
    return [RecordedStation("FUJI", folder / "3034265G.21O.gz", folder / "SEPT2650.21P",
                            (-3959400.631, 3385704.533, 3667523.111), "FUJI_MSM7", 200, "JPN")]


def shift_nav_ns(nav: NavData, shift_ns: int) -> NavData:
    """Every ephemeris time moved by ``shift_ns`` (observations are moved by the same amount)."""
    k = replace(nav.kepler, toe_ns=nav.kepler.toe_ns + shift_ns, toc_ns=nav.kepler.toc_ns + shift_ns,
                ttr_ns=nav.kepler.ttr_ns + shift_ns)
    g = replace(nav.glonass, toe_ns=nav.glonass.toe_ns + shift_ns, tof_ns=nav.glonass.tof_ns + shift_ns)
    return NavData(kepler=k, glonass=g, iono=nav.iono, leap_seconds=nav.leap_seconds)


class ReplayedStation:
    """Replays a recorded station into the caster at real pace, its times moved so the first epoch is now;
    at the end of the recording it starts again (the encoder restarts, so rovers see fresh lock times)."""

    def __init__(self, station: RecordedStation, host: str, port: int, password: str) -> None:
        self.station, self.host, self.port, self.password = station, host, port, password
        self.loops = 0
        self.errors = 0

    async def run(self) -> None:
        from receivers.replay import replay

        st = self.station
        block = await asyncio.to_thread(read_obs, st.obs_path)
        nav = await asyncio.to_thread(read_nav, st.nav_path)
        block.header.approx_pos_ecef_m = np.array(st.ecef_m)
        while True:
            try:
                shift = (gt.now_gpst_ns() - int(block.time_ns[0])) // gt.NS * gt.NS + gt.NS
                live = replace(block, time_ns=block.time_ns + shift)
                src = NtripSource(f"ntrip://:{self.password}@{self.host}:{self.port}/{st.mount}", version=2)
                await src.connect()
                try:
                    await replay(live, shift_nav_ns(nav, shift), src.send, speed=1.0, msm=7,
                                 station_id=st.station_id)
                finally:
                    await src.close()
                self.loops += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self.errors += 1
                log.exception("replay of %s failed; restarting in 5 s", st.code)
                await asyncio.sleep(5.0)
