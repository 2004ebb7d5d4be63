"""``beidou replay``: a recorded BeiDou station (KMS3, B1I/B1C/B2a/B3I...) becomes a live RTCM 3 source
in our caster; a rover's stream decodes back to the RINEX epochs, station position and ephemerides."""
from __future__ import annotations

import asyncio
import sys

import numpy as np

from ntrip_caster.server import Caster
from receivers.ntrip_client import NtripSource
from receivers.replay import replay, shift_block, shift_nav, weeks_to_now
from rtk_engine import gnss_time as gt
from rtk_engine.formats.rinex_nav import read_nav
from rtk_engine.formats.rinex_obs import read_obs
from rtk_engine.formats.rtcm3.decoder import Rtcm3Decoder
from rtk_engine.formats.rtcm3.ephemeris import EphemerisMessage
from rtk_engine.formats.rtcm3.station import StationPosition
from rtk_engine.obs import ObsBlock
from tests.conftest import REPO, shared_path
from tests.test_caster_server import Rover, make_config, run, wait_for

OBS = "spp/kms3-2022-159/KMS300DNK_R_20221591000_01H_30S_MO.crx"
NAV = "spp/kms3-2022-159/KMS300DNK_R_20221591000_01H_MN.rnx.gz"


def _decode(data: bytes, t_ref: int) -> tuple[list[ObsBlock], list, list]:
    items = Rtcm3Decoder(t_ref).feed(data)
    return ([i for i in items if isinstance(i, ObsBlock)], [i for i in items if isinstance(i, StationPosition)],
            [i for i in items if isinstance(i, EphemerisMessage)])


def test_replay_through_caster_decodes_back_to_the_rinex_file():
    obs, nav = read_obs(shared_path(OBS)), read_nav(shared_path(NAV))
    weeks = weeks_to_now(int(obs.time_ns[0]), int(obs.time_ns[0]) + 200 * gt.WEEK_NS + 5)
    assert weeks == 200
    block = shift_block(read_obs(shared_path(OBS)), weeks)
    shifted_nav = shift_nav(read_nav(shared_path(NAV)), weeks)

    async def main():
        async with Caster(make_config()) as caster:
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO", version=2) as src:
                await src.send(b"")  # must not be sent as the terminating zero chunk
                await wait_for(lambda: caster.mounts["HIRO"].live)
                rover = Rover(caster.port, "HIRO", 1)
                await wait_for(lambda: len(caster.rovers) == 1)
                stats = await replay(block, shifted_nav, src.send, speed=0, msm=7)
                await rover.wait_bytes(stats.bytes)
                rover.stop()
                return bytes(rover.data), stats

    data, stats = run(main())
    assert len(data) == stats.bytes and stats.epochs == obs.n_epochs
    epochs, positions, ephs = _decode(data, int(block.time_ns[0]))
    # every epoch arrives, at the original time of week, in the shifted week
    assert [int(e.time_ns[0]) for e in epochs] == (obs.time_ns + 200 * gt.WEEK_NS).tolist()
    # 1006 carries the header position at 0.1 mm resolution (DF025-027)
    assert np.max(np.abs(positions[0].ecef_m - obs.header.approx_pos_ecef_m)) <= 0.5e-4 + 1e-9
    assert any(str(e.nav.sat[0]).startswith("C") for e in ephs)  # 1042 BeiDou ephemerides
    # BeiDou pseudoranges: MSM7 resolution is 2^-29 ms (0.56 mm); compare every B1I/B1C/B2a/B3I cell
    n_cmp = 0
    for e, dec in enumerate(epochs):
        for code in obs.signals["C"]:
            if code not in dec.signals.get("C", ()):
                continue
            so = obs.slot("C", code)
            sd = dec.slot("C", code)
            for k, sat in enumerate(dec.sats):
                if not sat.startswith("C"):
                    continue
                i = int(np.nonzero(obs.sats == sat)[0][0])
                a, b = obs.code_m[e, i, so], dec.code_m[0, k, sd]
                if np.isfinite(a) and np.isfinite(b):
                    assert abs(a - b) < 1e-3, (sat, code, a, b)
                    n_cmp += 1
    assert n_cmp > 19 * 10  # ~15 BeiDou satellites x several signals x 19 epochs


def test_beidou_replay_command_to_a_file(tmp_path):
    out = tmp_path / "kms3.rtcm"
    obs, nav = shared_path(OBS), shared_path(NAV)

    async def main():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "beidou.cli", "replay", str(obs), str(nav), "--source", f"file://{out}",
            "--speed", "0", "--msm", "4", cwd=str(REPO), stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode, err

    rc, err = run(main(), 90)
    assert rc == 0, err
    block = read_obs(obs)
    epochs, positions, _ = _decode(out.read_bytes(), int(block.time_ns[0]))
    assert len(epochs) == block.n_epochs and len(positions) == block.n_epochs  # 1006 every 30 s epoch
