"""Two caster processes on one port (SO_REUSEPORT) joined by the frame bus: every rover gets the
source's frames byte-exact whichever worker it and the source landed on; a second source gets
409 whichever worker it lands on; the sourcetable is the same from both."""
from __future__ import annotations

import asyncio

from ntrip_caster.cluster import Cluster, split_frames
from receivers import ntrip_wire as W
from receivers.ntrip_client import NtripSource
from tests.test_caster_server import Rover, capture_frames, make_config, raw_exchange, run


def test_split_frames_inverts_concatenation():
    frames = capture_frames()[:100]
    assert split_frames(b"".join(frames)) == frames


def test_two_workers_serve_every_rover_byte_exact():
    frames = capture_frames()[:200]
    cfg = make_config()
    with Cluster(cfg, workers=2) as cluster:
        port = cfg.port
        assert len(set(cluster.pids)) == 2

        async def main():
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{port}/HIRO", version=1) as src:
                await src.send(frames[0])
                await asyncio.sleep(0.3)  # S message crosses the bus
                # 12 rovers from different source ports: the kernel spreads them over both workers
                rovers = [Rover(port, "HIRO", 1 + k % 2) for k in range(12)]
                await asyncio.sleep(0.8)
                assert all(r.error is None for r in rovers), [r.error for r in rovers]
                for k in range(1, len(frames), 5):
                    await src.send(b"".join(frames[k:k + 5]))
                want = b"".join(frames[1:])
                for r in rovers:
                    await r.wait_bytes(len(want))
                    assert bytes(r.data) == want
                    r.stop()
                # second sources: every attempt is refused, on whichever worker it lands
                answers = [await raw_exchange(port, W.format_source_request("HIRO", "h", "spass", 2, "u"))
                           for _ in range(8)]
                assert all(a.startswith(b"HTTP/1.1 409") for a in answers), answers
                tables = {(await raw_exchange(port, W.format_client_request("", "h", 1))).split(b"\r\n\r\n", 1)[1]
                          for _ in range(8)}
                assert len(tables) == 1 and b"STR;HIRO;" in tables.pop()

        run(main())


def test_worker_whose_bus_starts_after_the_source_learns_about_it():
    """Caster A holds a source before any bus link exists; B's link starts later: B's hello makes A announce
    the source, so B's rovers are served (and A's frames reach them); a repeated announcement counts once."""
    import socket

    from ntrip_caster.cluster import Bus
    from ntrip_caster.server import Caster

    frames = capture_frames()[:40]

    async def main():
        a_sock, b_sock = socket.socketpair()
        async with Caster(make_config()) as a, Caster(make_config()) as b:
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{a.port}/HIRO", version=2) as src:
                await src.send(frames[0])
                await asyncio.sleep(0.2)
                assert a.mounts["HIRO"].source is not None and not b.mounts["HIRO"].live
                a.bus, b.bus = Bus(a, [a_sock]), Bus(b, [b_sock])
                await a.bus.start()
                await b.bus.start()
                for _ in range(50):
                    if b.mounts["HIRO"].live:
                        break
                    await asyncio.sleep(0.05)
                assert b.mounts["HIRO"].remote_source and b.mounts["HIRO"].stats.source_connects == 1
                b.bus_message(b"S", "HIRO", b"again")  # idempotent
                assert b.mounts["HIRO"].stats.source_connects == 1
                rover = Rover(b.port, "HIRO", 1)
                await asyncio.sleep(0.5)
                assert rover.error is None
                want = b"".join(frames[1:])
                for k in range(1, len(frames), 5):
                    await src.send(b"".join(frames[k:k + 5]))
                await rover.wait_bytes(len(want))
                assert bytes(rover.data) == want
                rover.stop()
            await a.bus.stop()
            await b.bus.stop()

    run(main())
