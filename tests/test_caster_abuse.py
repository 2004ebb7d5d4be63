"""Abuse and bad input against a running caster while a normal rover keeps receiving.

The normal rover's stream is checked for completeness (every frame the source sent arrives,
in order, byte-exact) and for continuity (no long silence while the abuse happens).
"""
from __future__ import annotations

import asyncio
import socket
import time

from ntrip_caster.server import Caster
from receivers import ntrip_wire as W
from receivers.ntrip_client import NtripSource
from rtk_engine.formats.nmea import format_gga
from tests.test_caster_server import Rover, capture_frames, make_config, raw_exchange, run, wait_for

# The source sends one frame every 10 ms. A caster that is never blocked delivers each within a
# few ms; 0.5 s allows for a loaded 2-core CI machine yet catches any blocking step (a scrypt hash
# on the event loop, a slowloris holding the loop, a synchronous wait on a stalled peer).
MAX_GAP_S = 0.5


async def _abuse_all(port: int, caster: Caster) -> dict[str, bytes]:
    answers = {}
    answers["malformed"] = await raw_exchange(port, b"GET /HIRO HTTP/9.9\r\nUser-Agent: NTRIP x\r\n\r\n")
    answers["not-http"] = await raw_exchange(port, b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n")
    answers["bad-method"] = await raw_exchange(port, b"DELETE /HIRO HTTP/1.1\r\n\r\n")
    answers["oversized"] = await raw_exchange(port, b"GET /HIRO HTTP/1.1\r\nX-Pad: " + b"A" * 20000)
    answers["no-credentials"] = await raw_exchange(port, W.format_client_request("HIRO", "h", 2))
    answers["wrong-password"] = await raw_exchange(port, W.format_client_request("HIRO", "h", 1, "rover", "x"))
    answers["unknown-mount-v2"] = await raw_exchange(port, W.format_client_request("NOPE", "h", 2, "rover",
                                                                                   "rpass"))
    answers["second-source"] = await raw_exchange(port, W.format_source_request("HIRO", "h", "spass", 2, "u"))
    return answers


def test_bad_requests_answered_while_rover_keeps_receiving():
    frames = capture_frames()[:400]

    async def main():
        async with Caster(make_config(header_timeout_s=0.5, tick_s=0.1)) as caster:
            p = caster.port
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{p}/HIRO", version=1) as src:
                await src.send(frames[0])
                rover = Rover(p, "HIRO", 2)
                await wait_for(lambda: len(caster.rovers) == 1)

                async def feed():
                    for f in frames[1:]:
                        await src.send(f)
                        await asyncio.sleep(0.01)
                feeder = asyncio.create_task(feed())
                # slowloris: a header trickled one byte at a time, never finished
                slow_r, slow_w = await asyncio.open_connection("127.0.0.1", p)
                t_slow = time.monotonic()

                async def trickle():
                    for b in b"GET /HIRO HTTP/1.1\r\nUser-Agent: NTRIP slow\r\n":
                        if slow_w.is_closing():
                            return
                        slow_w.write(bytes([b]))
                        await asyncio.sleep(0.05)
                trickler = asyncio.create_task(trickle())
                # a rover on the same mount that sends nonsense GGA; it must stay connected
                # (valid checksum, impossible latitude 95.2 deg and longitude 183.46 deg)
                odd = Rover(p, "HIRO", 1, gga=lambda: format_gga(43200.0, 95.2, 183.46, 10.0))
                answers = await _abuse_all(p, caster)
                slow_answer = await asyncio.wait_for(slow_r.read(), 3)
                slow_closed_after = time.monotonic() - t_slow
                trickler.cancel()
                await feeder
                want = b"".join(frames[1:])
                await rover.wait_bytes(len(want))
                assert bytes(rover.data) == want
                gaps = [b - a for a, b in zip(rover.times, rover.times[1:])]
                assert max(gaps) < MAX_GAP_S, max(gaps)
                odd_stats = [c for c in caster.client_stats("HIRO") if c["ntrip_version"] == 1][0]
                assert odd_stats["gga_invalid"] >= 1 and odd_stats["last_gga"] is None
                assert odd_stats["bytes_sent"] > 0
                rover.stop(), odd.stop()

        assert answers["malformed"].startswith(b"HTTP/1.1 400 Bad Request")
        assert answers["not-http"].startswith(b"HTTP/1.1 4")
        assert answers["bad-method"].startswith(b"HTTP/1.1 501")
        assert answers["oversized"].startswith(b"HTTP/1.1 431")
        assert answers["no-credentials"].startswith(b"HTTP/1.1 401")
        assert answers["wrong-password"].startswith(b"HTTP/1.1 401")
        assert answers["unknown-mount-v2"].startswith(b"HTTP/1.1 404")
        assert answers["second-source"].startswith(b"HTTP/1.1 409")
        # the slowloris is cut at the 0.5 s header timeout (it had sent ~10 of its 45 bytes)
        assert slow_answer.startswith(b"HTTP/1.1 408") and slow_closed_after < 2.0
        ab = caster.abuse.snapshot()["counters"]
        assert any("out of range" in e["reason"] for e in caster.abuse.events if e["kind"] == "bad-gga")
        for kind in ("bad-request", "oversized-request", "slow-request", "auth-failure", "source-conflict",
                     "bad-gga"):
            assert ab.get(kind, 0) >= 1, kind

    run(main())


def test_reconnect_storm_is_banned_with_reason():
    async def main():
        cfg = make_config()
        cfg.abuse.max_connects_per_window = 10
        async with Caster(cfg) as caster:
            for _ in range(11):
                s = socket.create_connection(("127.0.0.1", caster.port))
                s.close()
            await wait_for(lambda: caster.abuse.bans)
            snap = caster.snapshot()["abuse"]
            assert snap["bans"][0]["address"] == "127.0.0.1"
            assert "reconnect storm" in snap["bans"][0]["reason"]
            # while banned, even a correct request gets no answer
            assert await raw_exchange(caster.port, W.format_client_request("", "h", 1), read_s=1) == b""
            assert caster.abuse.counters["refused-banned"] >= 1

    run(main())


def test_gga_flood_is_cut_and_banned_others_unaffected():
    frames = capture_frames()[:100]

    async def main():
        cfg = make_config()
        cfg.abuse.gga_flood_ban_excess = 50
        async with Caster(cfg) as caster:
            p = caster.port
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{p}/HIRO", version=1) as src:
                await src.send(frames[0])
                normal = Rover(p, "HIRO", 2, gga=lambda: format_gga(0.0, 34.4, 132.46, 10.0))
                r, w = await asyncio.open_connection("127.0.0.1", p)
                w.write(W.format_client_request("HIRO", "h", 1, "rover", "rpass"))
                await wait_for(lambda: len(caster.rovers) == 2)
                gga = format_gga(0.0, 34.4, 132.46, 10.0).encode()
                w.write(gga * 200)  # 200 GGAs at once, far above 2/s
                await wait_for(lambda: len(caster.rovers) == 1)
                for f in frames[1:]:
                    await src.send(f)
                await normal.wait_bytes(sum(map(len, frames[1:])))
                assert bytes(normal.data) == b"".join(frames[1:])
                ban = caster.abuse.snapshot()["bans"][0]
                assert "GGA flood" in ban["reason"]
                normal.stop()
                w.close()

    run(main())


def test_silent_source_is_cut_and_repeat_offender_banned():
    async def main():
        cfg = make_config(source_idle_timeout_s=0.3, tick_s=0.1)
        cfg.abuse.silent_source_strikes = 2
        async with Caster(cfg) as caster:
            url = f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO"
            for strike in range(2):
                src = NtripSource(url, version=1)
                await src.connect()
                await src.send(b"no rtcm here, just text\r\n" * 10)  # bytes, but never a valid frame
                await wait_for(lambda: not caster.mounts["HIRO"].live, 3)
                await src.close()
            counters = caster.abuse.snapshot()["counters"]
            assert counters["silent-source"] == 2
            assert "sent nothing" in caster.abuse.snapshot()["bans"][0]["reason"]
            assert caster.mount_stats("HIRO")["garbage_bytes"] >= 2 * 250

    run(main())
