"""Interoperability with RTKLIB ``str2str`` (Debian rtklib 2.4.3), software nobody here wrote.

1. str2str as NTRIP client (``-in ntrip://user:pass@host:port/MOUNT``) receives our mountpoint
   byte-exact.
2. str2str as NTRIP server (``-out ntrips://:pass@host:port/MOUNT``) uploads into our caster,
   and our rover receives what it uploaded byte-exact.
3. our NTRIP client reads from str2str's own caster (``-out ntripc://user:pass@:port/MOUNT``).

str2str's input is a TCP client connection to a feeder in the test (``tcpcli://``), so the data
flows only once both ends are connected and is paced like a receiver would send it.
"""
from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from ntrip_caster.server import Caster
from receivers.ntrip_client import NtripClient, NtripSource
from tests.conftest import require_tool
from tests.test_caster_server import Rover, capture_frames, make_config, run, wait_for

pytestmark = pytest.mark.rtklib


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


class Feeder:
    """A TCP server str2str connects to (``tcpcli://``); sends frames paced once ``go`` is set."""

    def __init__(self, frames: list[bytes], pace_s: float = 0.002) -> None:
        self.frames, self.pace_s = frames, pace_s
        self.go = asyncio.Event()
        self.connected = asyncio.Event()
        self.done = asyncio.Event()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._peer, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _peer(self, reader, writer) -> None:
        self.connected.set()
        await self.go.wait()
        for f in self.frames:
            writer.write(f)
            await writer.drain()
            await asyncio.sleep(self.pace_s)
        self.done.set()
        await reader.read()  # keep the connection until str2str goes away

    def close(self) -> None:
        self.server.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_size(path: Path, n: int, timeout_s: float) -> None:
    t0 = time.monotonic()
    while (not path.exists() or path.stat().st_size < n) and time.monotonic() - t0 < timeout_s:
        await asyncio.sleep(0.05)


def test_str2str_client_receives_our_mountpoint_byte_exact(tmp_path):
    str2str = require_tool("str2str")
    frames = capture_frames()
    out = tmp_path / "from_caster.rtcm"

    async def main():
        async with Caster(make_config()) as caster:
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO", version=2) as src:
                await src.send(frames[0])
                proc = await _start(str2str, "-in", f"ntrip://rover:rpass@127.0.0.1:{caster.port}/HIRO",
                                    "-out", f"file://{out}")
                try:
                    await wait_for(lambda: len(caster.rovers) == 1, 10)
                    assert caster.client_stats()[0]["user_agent"].startswith("NTRIP RTKLIB")
                    for k in range(1, len(frames), 8):
                        await src.send(b"".join(frames[k:k + 8]))
                    want = b"".join(frames[1:])
                    await _wait_size(out, len(want), 10)
                finally:
                    await _stop(proc)
        assert out.read_bytes() == want

    run(main())


def test_str2str_source_uploads_into_our_caster():
    str2str = require_tool("str2str")
    frames = capture_frames()[:400]

    async def main():
        feeder = Feeder(frames)
        fport = await feeder.start()
        async with Caster(make_config()) as caster:
            proc = await _start(str2str, "-in", f"tcpcli://127.0.0.1:{fport}",
                                "-out", f"ntrips://:spass@127.0.0.1:{caster.port}/HIRO")
            try:
                await wait_for(lambda: caster.mounts["HIRO"].live, 10)
                await asyncio.wait_for(feeder.connected.wait(), 10)
                rover = Rover(caster.port, "HIRO", 2)
                await wait_for(lambda: len(caster.rovers) == 1)
                feeder.go.set()
                await asyncio.wait_for(feeder.done.wait(), 15)
                want = b"".join(frames)
                await rover.wait_bytes(len(want))
                assert bytes(rover.data) == want
                ms = caster.mount_stats("HIRO")
                assert ms["source_agent"].startswith("NTRIP RTKLIB") and ms["bad_crc"] == 0
                rover.stop()
            finally:
                await _stop(proc)
                feeder.close()

    run(main())


def test_our_client_reads_from_str2str_caster():
    str2str = require_tool("str2str")
    frames = capture_frames()[:300]

    async def main():
        feeder = Feeder(frames)
        fport = await feeder.start()
        cport = _free_port()
        proc = await _start(str2str, "-in", f"tcpcli://127.0.0.1:{fport}",
                            "-out", f"ntripc://u:p@:{cport}/MNT:RTCM 3.3;;2;GPS")
        got = bytearray()
        try:
            await asyncio.wait_for(feeder.connected.wait(), 10)
            client = NtripClient(f"ntrip://u:p@127.0.0.1:{cport}/MNT", version=1, timeout_s=10)

            async def read():
                async for d in client.stream(reconnect=False):
                    got.extend(d)
                    if len(got) >= sum(map(len, frames)):
                        return
            for _ in range(50):  # str2str's caster socket may need a moment to listen
                try:
                    socket.create_connection(("127.0.0.1", cport), 1).close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            task = asyncio.create_task(read())
            await wait_for(lambda: client.connects >= 1, 10)  # str2str answered ICY 200 OK: rover registered
            feeder.go.set()
            await asyncio.wait_for(task, 15)
        finally:
            await _stop(proc)
            feeder.close()
        assert bytes(got) == b"".join(frames)

    run(main())
