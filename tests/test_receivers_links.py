"""Receiver links: file, TCP client/server and serial (a pseudo-terminal) streams; the NTRIP client's
reconnect, refusal handling and GGA; the ``beidou client`` relay with GGA forwarded upstream."""
from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from ntrip_caster.server import Caster
from receivers.cli_client import GgaSource, parse_position, relay
from receivers.ntrip_client import Backoff, NtripClient, NtripError, NtripSource, NtripUrl
from receivers.streams import StreamError, TcpServerStream, open_stream
from rtk_engine.formats.nmea import format_gga
from tests.conftest import REPO
from tests.test_caster_server import capture_frames, make_config, run, wait_for


def test_file_and_tcp_streams(tmp_path):
    frames = capture_frames()[:50]
    data = b"".join(frames)

    async def main():
        path = tmp_path / "x.rtcm"
        out = await open_stream(f"file://{path}", write=True)
        await out.write(data[:1000])
        await out.write(data[1000:])
        await out.close()
        src = await open_stream(f"file://{path}")
        got = bytearray()
        while chunk := await src.read(777):
            got += chunk
        await src.close()
        assert bytes(got) == data
        # tcpsvr: every connected peer gets each write; reads come from any peer
        svr = await open_stream("tcpsvr://127.0.0.1:0")
        assert isinstance(svr, TcpServerStream)
        a = await open_stream(f"tcp://127.0.0.1:{svr.port}")
        b = await open_stream(f"tcp://127.0.0.1:{svr.port}")
        await wait_for(lambda: len(svr.peers) == 2)
        await svr.write(data)
        for peer in (a, b):
            got = bytearray()
            while len(got) < len(data):
                got += await asyncio.wait_for(peer.read(), 5)
            assert bytes(got) == data
        await a.write(b"$GPGGA,hello\r\n")
        assert await asyncio.wait_for(svr.read(), 5) == b"$GPGGA,hello\r\n"
        await a.close(), await b.close(), await svr.close()
        with pytest.raises(StreamError):
            await open_stream("bogus://x")
        with pytest.raises(StreamError):
            await open_stream("/dev/ttyUSB0")

    run(main())


def test_serial_stream_on_a_pseudo_terminal():
    import serial  # noqa: F401 (pinned: a missing install must fail, not skip)
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    name = os.ttyname(slave)
    payload = b"".join(capture_frames()[:5])

    async def main():
        s = await open_stream(f"serial://{name}:115200")
        await s.write(payload)
        got = bytearray()
        while len(got) < len(payload):
            got += os.read(master, 65536)
        assert bytes(got) == payload
        os.write(master, b"$GNGGA,from-receiver\r\n")
        back = bytearray()
        while not back.endswith(b"\r\n"):
            back += await asyncio.wait_for(s.read(64), 5)
        assert bytes(back) == b"$GNGGA,from-receiver\r\n"
        await s.close()

    try:
        run(main())
    finally:
        os.close(master)
        os.close(slave)


def test_ntrip_url_and_backoff():
    u = NtripUrl.parse("ntrip://us%40er:p%3Ass@caster.example:2102/MOUNT")
    assert (u.host, u.port, u.mount, u.user, u.password, u.tls) == ("caster.example", 2102, "MOUNT", "us@er",
                                                                     "p:ss", False)
    assert NtripUrl.parse("ntrips://h/M").port == 443
    with pytest.raises(NtripError):
        NtripUrl.parse("http://h/M")
    b = Backoff(min_s=10, max_s=100)
    delays = [b.next() for _ in range(10)]
    # never faster than 10 s (RTK2go bans faster reconnects), capped at 100 s
    assert all(10 <= d <= 100 for d in delays) and b.cap == 100
    b.reset()
    assert b.cap == 10


def test_client_refusals_reconnect_and_gga():
    frames = capture_frames()[:20]

    async def main():
        async with Caster(make_config(tick_s=0.1)) as caster:
            p = caster.port
            src = NtripSource(f"ntrip://:spass@127.0.0.1:{p}/HIRO", version=1)
            await src.connect()
            await src.send(frames[0])
            # refusals are raised, not retried
            with pytest.raises(NtripError) as e:
                async for _ in NtripClient(f"ntrip://rover:bad@127.0.0.1:{p}/HIRO", version=2).stream():
                    pass
            assert e.value.status == 401
            with pytest.raises(NtripError) as e:
                async for _ in NtripClient(f"ntrip://rover:rpass@127.0.0.1:{p}/NONE", version=1).stream():
                    pass
            assert e.value.status == 404 and "ENDSOURCETABLE" in e.value.sourcetable
            # reconnect after the caster drops the rover (source vanished past its grace period)
            caster.cfg.limits.source_lost_grace_s = 0.2
            gga = format_gga(3600.0, 34.40, 132.46, 25.0)
            client = NtripClient(f"ntrip://rover:rpass@127.0.0.1:{p}/HIRO", version=1, gga=lambda: gga,
                                 gga_interval_s=0.2, backoff=Backoff(min_s=0.2, max_s=0.5))
            got = bytearray()

            async def read():
                async for d in client.stream():
                    got.extend(d)
            task = asyncio.create_task(read())
            await wait_for(lambda: caster.client_stats() and caster.client_stats()[0]["last_gga"])
            lat, lon, h = caster.client_stats()[0]["last_gga"]
            assert abs(lat - 34.40) < 1e-7 and abs(lon - 132.46) < 1e-7 and abs(h - 25.0) < 1e-3
            await src.send(frames[1])
            await wait_for(lambda: len(got) == len(frames[1]))
            await src.close()
            await wait_for(lambda: not caster.rovers, 5)  # closed after the grace period
            src = NtripSource(f"ntrip://:spass@127.0.0.1:{p}/HIRO", version=2)
            await src.connect()
            await wait_for(lambda: client.connects == 2, 5)  # came back by itself
            await src.send(frames[2])
            await wait_for(lambda: bytes(got) == frames[1] + frames[2])
            task.cancel()
            await src.close()

    run(main())


def test_gga_source_prefers_receiver_gga():
    g = GgaSource(parse_position("22.3,114.2,50"))
    assert g().startswith("$GPGGA") and ",2218.0000000,N,11412.0000000,E," in g()
    real = format_gga(100.0, 22.31, 114.18, 40.0, talker="GN")
    g.feed(b"\xd3\x00garbage$GPRMC,x*00\r\n" + real[:20].encode())
    assert g.latest is None
    g.feed(real[20:].encode() + b"$GNGGA,bad,checksum*00\r\n")
    assert g() == real and g.seen == 1 and g.rejected == 1
    with pytest.raises(ValueError):
        parse_position("91,0,0")


def test_relay_forwards_corrections_and_receiver_gga():
    frames = capture_frames()[:60]

    async def main():
        async with Caster(make_config()) as caster:
            p = caster.port
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{p}/HIRO", version=2) as src:
                await src.send(frames[0])
                out = await open_stream("tcpsvr://127.0.0.1:0")
                receiver = await open_stream(f"tcp://127.0.0.1:{out.port}")
                gga = GgaSource(parse_position("34.0,132.0,10"))
                task = asyncio.create_task(relay(f"ntrip://rover:rpass@127.0.0.1:{p}/HIRO", out, gga, 2,
                                                 gga_interval_s=0.1, duration_s=20))
                await wait_for(lambda: caster.client_stats() and caster.client_stats()[0]["last_gga"])
                assert abs(caster.client_stats()[0]["last_gga"][0] - 34.0) < 1e-7  # the fixed position
                # the receiver reports its own position: that one goes upstream from now on
                await receiver.write(format_gga(100.0, 34.5, 132.5, 12.0, talker="GN").encode())
                await wait_for(lambda: abs(caster.client_stats()[0]["last_gga"][0] - 34.5) < 1e-7)
                for f in frames[1:]:
                    await src.send(f)
                want = b"".join(frames[1:])
                got = bytearray()
                while len(got) < len(want):
                    got += await asyncio.wait_for(receiver.read(), 5)
                assert bytes(got) == want
                task.cancel()
                await receiver.close(), await out.close()

    run(main())


def test_beidou_client_command_writes_a_file(tmp_path):
    frames = capture_frames()[:40]
    out = tmp_path / "corr.rtcm"

    async def main():
        async with Caster(make_config()) as caster:
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO", version=1) as src:
                await src.send(frames[0])
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "beidou.cli", "client", f"ntrip://rover:rpass@127.0.0.1:{caster.port}/HIRO",
                    "--out", f"file://{out}", "--gga", "34.4,132.46,30", "--ntrip-version", "1", "--duration", "8",
                    cwd=str(REPO), stderr=asyncio.subprocess.PIPE)
                await wait_for(lambda: len(caster.rovers) == 1, 10)
                for f in frames[1:]:
                    await src.send(f)
                want = b"".join(frames[1:])
                t0 = time.monotonic()
                while (not out.exists() or out.stat().st_size < len(want)) and time.monotonic() - t0 < 10:
                    await asyncio.sleep(0.05)
                proc.terminate()
                await proc.wait()
                return want

    want = run(main())
    assert out.read_bytes() == want
