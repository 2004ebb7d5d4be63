"""Issue 5, item 1, the scripted check: the service with its demo network runs in-process; an NTRIP
client with the demo account receives RTCM3 from two demo mountpoints, decodes epochs and the
stream's own ephemerides, and the streaming RTK engine (``RtkStream``, one epoch per ``step``,
default options) solves one demo station as a rover against CQ00 as the base, held at its 1005
coordinate. It must fix and land on the rover's known coordinate (``DemoStation.ecef_m``, the
simulator's truth) to a few centimetres.

The rover: the shipped demo stations are 18 km from CQ00, and the simulated ionosphere (1.5 mm/km
gradient, docs/simulator.md) puts up to ~8 cm of double-difference delay on such a baseline at
midday. Replayed over a whole simulated day (45 s at every half hour), CQ01 against CQ00 with the
ionosphere ignored fixed with up to 7.8 cm horizontal / 8.4 cm vertical error, and around local
noon fixed 0-4 of 45 epochs (with ionosphere states: none within 90 s; and the engine did not always
survive: LinAlgError/ValueError from the LAMBDA search; see docs/network.md). A check that depends on the
time of day is no check, so the demo network ships one more station, CQ05, 3 km from CQ00,
streamed by the same simulated network through the same caster like every other demo station
(the distance a rover works at). Its day replay (45 s at every half hour, default options, the
ionosphere ignored below 10 km): first fix by epoch 3, at least 24 of 45 epochs fixed, worst fixed
epoch 2.0 cm horizontal (noon ionosphere) and 1.9 cm vertical from the truth, worst median 1.7 cm;
hence the bounds below (3 cm, 3 cm, median 2.5 cm, 40 % fixed). One of those 48 runs hit a
LinAlgError inside the engine's LAMBDA search (handled inside the engine since 1a8657e): should such
an epoch still raise, it is counted, not fatal, and at most two are tolerated.
"""
from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from api.service import Service
from cors_network.demo import CHONGQING, DemoStation, demo_stations
from receivers.ntrip_client import NtripClient
from rtk_engine import gnss_time as gt
from rtk_engine.formats.rtcm3.decoder import Rtcm3Decoder
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic, enu_rotation
from rtk_engine.obs import ObsBlock
from rtk_engine.simulate import network_around
from rtk_engine.solution import Quality
from rtk_engine.solvers.rtk import RtkStream, load_options
from tests.test_service_demo import _run_once

ROVER, BASE = "CQ05", "CQ00"
N_EPOCHS = 45  # seconds of streaming (1 Hz) after which the epochs are solved


async def _collect(svc: Service) -> tuple[list[ObsBlock], dict[int, ObsBlock], Rtcm3Decoder, Rtcm3Decoder]:
    t0 = time.monotonic()
    while not all(c in svc.live.ingests and svc.live.ingests[c].quality.epochs >= 1 for c in (ROVER, BASE)):
        if time.monotonic() - t0 > 45:  # the demo sources connect and send their first epoch
            raise AssertionError("demo stations did not start streaming within 45 s")
        await asyncio.sleep(0.2)
    port = svc.live.caster.port
    now = gt.now_gpst_ns()
    dec_r, dec_b = Rtcm3Decoder(now), Rtcm3Decoder(now)
    rover: list[ObsBlock] = []
    base: dict[int, ObsBlock] = {}

    def done() -> bool:
        return (len(rover) >= N_EPOCHS and dec_b.station is not None and len(dec_r.nav_data().kepler) >= 20
                and int(rover[-1].time_ns[0]) in base)

    async def follow(mount: str, dec: Rtcm3Decoder, keep) -> None:
        client = NtripClient(f"ntrip://demo:demo-rover@127.0.0.1:{port}/{mount}", version=2)
        async for chunk in client.stream(reconnect=False):
            for item in dec.feed(chunk):
                if isinstance(item, ObsBlock):
                    keep(item)
            if done():
                return

    tasks = [asyncio.create_task(follow(f"{ROVER}_MSM7", dec_r, rover.append)),
             asyncio.create_task(follow(f"{BASE}_MSM7", dec_b, lambda e: base.__setitem__(int(e.time_ns[0]), e)))]
    try:
        t0 = time.monotonic()
        while not done():
            for t in tasks:
                if t.done():
                    t.result()  # a client that ended early raises its error here
            if time.monotonic() - t0 > 90:
                raise AssertionError(f"after 90 s: {len(rover)} rover epochs, {len(base)} base epochs, "
                                     f"base 1005 {dec_b.station is not None}, "
                                     f"{len(dec_r.nav_data().kepler)} ephemerides")
            await asyncio.sleep(0.2)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return rover, base, dec_r, dec_b


@pytest.fixture
def demo_with_rover_site() -> list[DemoStation]:
    """The shipped demo network, which has CQ05 3 km north-east of CQ00 (see the module doc)."""
    stations = demo_stations()
    rover = next(s for s in stations if s.code == ROVER)
    expected = network_around(*CHONGQING, {ROVER: (3.0, 45.0)})[ROVER]
    assert np.allclose(rover.ecef_m, expected, atol=1e-6)
    return stations


@pytest.mark.slow
def test_rtk_on_the_demo_stream_fixes_on_the_known_coordinate(tmp_path, demo_with_rover_site):
    rover, base, dec_r, dec_b = asyncio.run(_run_once(tmp_path, _collect))
    truth = {s.code: np.array(s.ecef_m) for s in demo_with_rover_site}
    # the stream's 1005 is the registered coordinate (0.1 mm RTCM resolution)
    base_pos = np.asarray(dec_b.station.ecef_m, float)
    np.testing.assert_allclose(base_pos, truth[BASE], atol=2e-4)
    assert set(rover[-1].systems) >= {"G", "E", "C"}

    stream = RtkStream(dec_r.nav_data(), base_pos, load_options())  # the documented defaults
    q, pos, engine_errors = [], [], []
    for e in rover:
        try:
            row = stream.step(e, base.get(int(e.time_ns[0])))
        except (np.linalg.LinAlgError, ValueError) as exc:  # engine bug in the LAMBDA search (module doc)
            engine_errors.append(repr(exc))
            continue
        q.append(row.quality[0])
        pos.append(row.ecef_m[0])
    q, pos = np.array(q), np.array(pos).reshape(-1, 3)
    llh = ecef_to_geodetic(truth[ROVER])
    enu = (pos - truth[ROVER]) @ enu_rotation(llh[0], llh[1]).T
    fixed = q == Quality.FIX
    summary = (f"{fixed.sum()} of {len(q)} epochs fixed, first at {np.argmax(fixed) if fixed.any() else None}; "
               f"engine errors {engine_errors}; "
               f"skipped {stream.skipped[:3]}; fixed ENU mm {np.round(enu[fixed] * 1e3)[:5].tolist()}...")
    assert len(engine_errors) <= 2, summary
    # it fixes: within the first 10 s (the day replay: by epoch 3), and in most epochs after
    assert fixed.any() and np.argmax(fixed) < 10, summary
    assert fixed.sum() >= 0.4 * len(rover), summary  # the day replay's worst 45 s: 24 fixed (53 %)
    h = np.hypot(enu[fixed, 0], enu[fixed, 1])
    assert h.max() < 0.03 and np.abs(enu[fixed, 2]).max() < 0.03, summary
    assert np.median(h) < 0.025, summary
