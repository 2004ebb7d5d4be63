"""The caster over real loopback sockets: v1/v2 rovers and sources, sourcetable, error answers,
views, NEAREST, fan-out isolation, vanished sources, TLS. Every server listens on 127.0.0.1 on
an ephemeral port and is stopped by the test. Data: a real NovAtel OEM729 capture."""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

from ntrip_caster import config as C
from ntrip_caster.server import Caster
from receivers.ntrip_client import NtripClient, NtripError, NtripSource, fetch_sourcetable
from receivers import ntrip_wire as W
from rtk_engine.formats.nmea import format_gga
from rtk_engine.formats.rtcm3_frame import iter_frames, message_number
from tests.conftest import shared_path

CAPTURE = "rtcm/novatel-hiroshima-2022/20221213-010900.rtcm"


def capture_frames() -> list[bytes]:
    return iter_frames(shared_path(CAPTURE).read_bytes())


def make_config(mounts=None, accounts=None, **limits) -> C.CasterConfig:
    data = {"caster": {"host": "127.0.0.1", "port": 0},
            "account": accounts if accounts is not None else [{"name": "rover", "password": "rpass"}],
            "mountpoint": mounts if mounts is not None else [
                {"name": "HIRO", "source_password": "spass", "lat_deg": 34.40, "lon_deg": 132.46}],
            "limits": limits}
    return C.from_dict(data)


def run(coro, timeout_s: float = 40.0):
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


async def raw_exchange(port: int, request: bytes, read_s: float = 2.0) -> bytes:
    """Send raw bytes, return everything the caster answers until it closes (or ``read_s``)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(request)
    await w.drain()
    out = bytearray()
    try:
        while data := await asyncio.wait_for(r.read(65536), read_s):
            out += data
    except (asyncio.TimeoutError, ConnectionError):
        pass
    w.close()
    return bytes(out)


class Rover:
    """A rover reading a mountpoint with our client; records bytes and arrival times."""

    def __init__(self, port: int, mount: str, version: int = 2, user="rover", password="rpass", gga=None):
        auth = f"{user}:{password}@" if user else ""
        self.client = NtripClient(f"ntrip://{auth}127.0.0.1:{port}/{mount}", version=version, gga=gga,
                                  gga_interval_s=0.2, timeout_s=10)
        self.data = bytearray()
        self.times: list[float] = []
        self.error: Exception | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self):
        try:
            async for d in self.client.stream(reconnect=False):
                self.data += d
                self.times.append(time.monotonic())
        except NtripError as exc:
            self.error = exc

    async def wait_bytes(self, n: int, timeout_s: float = 10.0):
        t0 = time.monotonic()
        while len(self.data) < n and time.monotonic() - t0 < timeout_s and not self.task.done():
            await asyncio.sleep(0.01)

    def stop(self):
        self.task.cancel()


async def wait_for(cond, timeout_s: float = 5.0):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def test_v1_and_v2_sources_and_rovers_get_byte_exact_frames():
    frames = capture_frames()

    async def main():
        async with Caster(make_config()) as caster:
            for src_version in (1, 2):
                async with NtripSource(f"ntrip://src:spass@127.0.0.1:{caster.port}/HIRO", version=src_version) \
                        as src:
                    await src.send(frames[0])
                    await wait_for(lambda: caster.mounts["HIRO"].live)
                    r1, r2 = Rover(caster.port, "HIRO", 1), Rover(caster.port, "HIRO", 2)
                    await wait_for(lambda: len(caster.rovers) == 2)
                    sent = frames[1:300]
                    for k in range(0, len(sent), 7):  # several frames per TCP write, as receivers do
                        await src.send(b"".join(sent[k:k + 7]))
                    expected = b"".join(sent)
                    await r1.wait_bytes(len(expected))
                    await r2.wait_bytes(len(expected))
                    assert bytes(r1.data) == expected and bytes(r2.data) == expected
                    st = {c["ntrip_version"]: c for c in caster.client_stats("HIRO")}
                    assert st[1]["bytes_sent"] == st[2]["bytes_sent"] == len(expected)
                    assert st[1]["messages_sent"] == len(sent)
                    r1.stop(), r2.stop()
                await wait_for(lambda: not caster.mounts["HIRO"].live)
            ms = caster.mount_stats("HIRO")
            assert ms["source_connects"] == 2 and ms["bad_crc"] == 0 and ms["frames_in"] == 2 * 300
            # per message type counts match an independent count of the capture
            want = {}
            for f in frames[:300]:
                want[message_number(f)] = want.get(message_number(f), 0) + 2
            assert ms["messages_by_type"] == want

    run(main())


def test_sourcetable_v1_v2_filter_and_unknown_mount():
    frames = capture_frames()
    mounts = [{"name": "HIRO", "source_password": "spass", "lat_deg": 34.40, "lon_deg": 132.46,
               "identifier": "Hiroshima", "country": "JPN"},
              {"name": "HIRO_MSM4", "view_of": "HIRO", "messages": [1005, 1074, 1124]},
              {"name": "IDLE", "source_password": "x"}]

    async def main():
        async with Caster(make_config(mounts)) as caster:
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO", version=1) as src:
                await src.send(b"".join(frames[:50]))
                await wait_for(lambda: caster.mount_stats("HIRO")["frames_in"] == 50)
                table = await fetch_sourcetable("127.0.0.1", caster.port, version=1)
                recs = {r[1] if r[0] == "STR" else r[0]: r for r in __import__(
                    "ntrip_caster.sourcetable", fromlist=["parse"]).parse(table)}
                # only mounts with a live source are listed; IDLE has none
                assert set(recs) == {"CAS", "NET", "HIRO", "HIRO_MSM4"}
                hiro = recs["HIRO"]
                assert len(hiro) == 19 and hiro[2] == "Hiroshima" and hiro[9:11] == ["34.40", "132.46"]
                assert set(hiro[4].split(",")) == {str(message_number(f)) for f in frames[:50]}
                assert recs["HIRO_MSM4"][4] == "1005,1074,1124"
                v2 = await fetch_sourcetable("127.0.0.1", caster.port, version=2, query="STR;;Hiro")
                assert [r[1] for r in __import__("ntrip_caster.sourcetable", fromlist=["x"]).parse(v2)] == ["HIRO"]
                # unknown mountpoint: v1 gets the sourcetable, v2 a 404
                a1 = await raw_exchange(caster.port, W.format_client_request("NOPE", "h", 1, "rover", "rpass"))
                assert a1.startswith(b"SOURCETABLE 200 OK\r\n") and a1.endswith(b"ENDSOURCETABLE\r\n")
                a2 = await raw_exchange(caster.port, W.format_client_request("NOPE", "h", 2, "rover", "rpass"))
                assert a2.startswith(b"HTTP/1.1 404 Not Found\r\n")
                a3 = await raw_exchange(caster.port, W.format_client_request("IDLE", "h", 2, "rover", "rpass"))
                assert a3.startswith(b"HTTP/1.1 404")

    run(main())


def test_credentials_acl_and_limits():
    frames = capture_frames()
    mounts = [{"name": "A", "source_password": "sa"}, {"name": "B", "source_password": "sb"},
              {"name": "OPEN", "source_password": "so", "auth": False}]
    accounts = [{"name": "rover", "password": "rpass", "max_connections": 1},
                {"name": "onlyb", "password": "bpass", "mounts": ["B"]}]

    async def main():
        cfg = make_config(mounts, accounts, max_connections_per_address=8)
        async with Caster(cfg) as caster:
            srcs = [NtripSource(f"ntrip://:{pw}@127.0.0.1:{caster.port}/{m}", version=1)
                    for m, pw in (("A", "sa"), ("B", "sb"), ("OPEN", "so"))]
            for s in srcs:
                await s.connect()
                await s.send(frames[0])
            p = caster.port
            for req in (W.format_client_request("A", "h", 2),                       # missing credentials
                        W.format_client_request("A", "h", 2, "rover", "wrong"),     # wrong password
                        W.format_client_request("A", "h", 2, "nobody", "x"),        # unknown user
                        W.format_client_request("A", "h", 2, "onlyb", "bpass")):    # not on the ACL
                ans = await raw_exchange(p, req)
                assert ans.startswith(b"HTTP/1.1 401 Unauthorized\r\n"), ans[:60]
                assert b'WWW-Authenticate: Basic realm="/A"' in ans
            ans = await raw_exchange(p, W.format_client_request("A", "h", 1, "rover", "wrong"))
            assert ans.startswith(b"HTTP/1.1 401")  # v1: same status line as BKG
            # the open mount needs no account; the ACL user gets B
            ok_open = await raw_exchange(p, W.format_client_request("OPEN", "h", 1), read_s=0.3)
            assert ok_open.startswith(b"ICY 200 OK\r\n")
            ok_b = await raw_exchange(p, W.format_client_request("B", "h", 2, "onlyb", "bpass"), read_s=0.3)
            assert ok_b.startswith(b"HTTP/1.1 200 OK\r\n") and b"Transfer-Encoding: chunked" in ok_b
            # account limit: rover may hold one connection; the second gets 503
            first = Rover(p, "A", 2)
            await wait_for(lambda: len(caster.client_stats("A")) == 1)
            second = await raw_exchange(p, W.format_client_request("A", "h", 2, "rover", "rpass"))
            assert second.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            first.stop()
            # address limit: 8 connections from 127.0.0.1 (3 sources + idle sockets); the next gets 503
            await wait_for(lambda: len(caster.rovers) == 0)
            idle = [await asyncio.open_connection("127.0.0.1", p) for _ in range(5)]
            refused = await raw_exchange(p, b"")
            assert refused.startswith(b"HTTP/1.1 503")
            for _, w in idle:
                w.close()
            for s in srcs:
                await s.close()
            snap = caster.snapshot()
            assert snap["counters"]["unauthorized"] == 5
            assert snap["abuse"]["counters"]["auth-failure"] == 4  # missing credentials are not a failure

    run(main())


def test_second_source_conflict_and_bad_source_password():
    async def main():
        async with Caster(make_config()) as caster:
            p = caster.port
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{p}/HIRO", version=1):
                await wait_for(lambda: caster.mounts["HIRO"].live)
                v1 = await raw_exchange(p, W.format_source_request("HIRO", "h", "spass", 1))
                assert v1 == b"ERROR - Mount Point Taken or Invalid\r\n"
                v2 = await raw_exchange(p, W.format_source_request("HIRO", "h", "spass", 2, "u"))
                assert v2.startswith(b"HTTP/1.1 409 Conflict\r\n")
                with pytest.raises(NtripError) as e:
                    await NtripSource(f"ntrip://u:spass@127.0.0.1:{p}/HIRO", version=2).connect()
                assert e.value.status == 409
            bad1 = await raw_exchange(p, W.format_source_request("HIRO", "h", "nope", 1))
            assert bad1 == b"ERROR - Bad Password\r\n"
            bad2 = await raw_exchange(p, W.format_source_request("HIRO", "h", "nope", 2, "u"))
            assert bad2.startswith(b"HTTP/1.1 401")
            unknown = await raw_exchange(p, W.format_source_request("ELSE", "h", "spass", 1))
            assert unknown == b"ERROR - Mount Point Taken or Invalid\r\n"
            assert caster.mount_stats("HIRO")["source_rejected"] == 5  # 3 conflicts + 2 bad passwords

    run(main())


def test_view_passes_only_listed_messages():
    frames = capture_frames()
    keep = {1005, 1033, 1127}
    mounts = [{"name": "HIRO", "source_password": "spass"},
              {"name": "HIRO_BDS", "view_of": "HIRO", "messages": sorted(keep)}]

    async def main():
        async with Caster(make_config(mounts)) as caster:
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO", version=2) as src:
                await src.send(frames[0])
                full, view = Rover(caster.port, "HIRO", 1), Rover(caster.port, "HIRO_BDS", 2)
                await wait_for(lambda: len(caster.rovers) == 2)
                for k in range(1, len(frames), 10):
                    await src.send(b"".join(frames[k:k + 10]))
                want_view = b"".join(f for f in frames[1:] if message_number(f) in keep)
                await full.wait_bytes(sum(map(len, frames[1:])))
                await view.wait_bytes(len(want_view))
                assert bytes(view.data) == want_view and bytes(full.data) == b"".join(frames[1:])
                assert {message_number(f) for f in iter_frames(bytes(view.data))} == keep

    run(main())


def test_garbage_and_bad_crc_in_source_stream_are_dropped_and_counted():
    frames = capture_frames()[:200]

    async def main():
        async with Caster(make_config()) as caster:
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO", version=1) as src:
                await src.send(frames[0])
                rover = Rover(caster.port, "HIRO", 2)
                await wait_for(lambda: len(caster.rovers) == 1)
                n_bad = 0
                for i, f in enumerate(frames[1:], start=1):
                    if i % 10 == 0:
                        broken = bytearray(f)
                        broken[len(f) // 2] ^= 0x40  # corrupt the payload: CRC must fail
                        await src.send(bytes(broken))
                        n_bad += 1
                    elif i % 10 == 5:
                        await src.send(b"\r\nGARBAGE\xd3\x00$GPGGA,junk\r\n" + f)  # text + false preamble
                    else:
                        await src.send(f)
                want = b"".join(f for i, f in enumerate(frames[1:], start=1) if i % 10)
                await rover.wait_bytes(len(want))
                await asyncio.sleep(0.1)
                assert bytes(rover.data) == want
                ms = caster.mount_stats("HIRO")
                assert ms["bad_crc"] >= n_bad and ms["garbage_bytes"] > 0
                assert ms["frames_in"] == 1 + len(frames[1:]) - n_bad

    run(main())


def test_slow_rover_is_dropped_fast_rover_unaffected():
    frames = capture_frames()

    async def main():
        async with Caster(make_config(client_backlog_bytes=32 * 1024)) as caster:
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO", version=1) as src:
                await src.send(frames[0])
                fast = Rover(caster.port, "HIRO", 1)
                # a rover that never reads, with a tiny receive buffer
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", caster.port))
                sock.sendall(W.format_client_request("HIRO", "h", 1, "rover", "rpass"))
                await wait_for(lambda: len(caster.rovers) == 2)
                sent = b""
                for _ in range(4):  # 4 x 152 kB, far beyond 32 kB backlog + socket buffers
                    for k in range(1, len(frames), 20):
                        chunk = b"".join(frames[k:k + 20])
                        await src.send(chunk)
                        sent += chunk
                        await asyncio.sleep(0.002)  # ~2 MB/s: a fast reader keeps up, a stalled one cannot
                await fast.wait_bytes(len(sent))
                assert bytes(fast.data) == sent
                ms = caster.mount_stats("HIRO")
                assert ms["clients_dropped_slow"] == 1 and len(caster.rovers) == 1
                assert any(e["kind"] == "rover-dropped-slow" for e in caster.events)
                sock.close()

    run(main())


def test_nearest_switches_with_hysteresis_and_replaces_a_vanished_base():
    # two bases 0.02 deg of latitude apart (~2.2 km); hysteresis 500 m
    mounts = [{"name": "SOUTH", "source_password": "s1", "lat_deg": 34.40, "lon_deg": 132.46},
              {"name": "NORTH", "source_password": "s2", "lat_deg": 34.42, "lon_deg": 132.46},
              {"name": "NEAREST", "kind": "nearest", "hysteresis_m": 500.0}]
    position = {"lat": 34.401}
    south_frame, north_frame = capture_frames()[0], capture_frames()[1]

    def gga():
        return format_gga(43200.0, position["lat"], 132.46, 30.0)

    async def main():
        async with Caster(make_config(mounts, gga_timeout_s=1.0, tick_s=0.1)) as caster:
            p = caster.port
            south = NtripSource(f"ntrip://:s1@127.0.0.1:{p}/SOUTH", version=1)
            north = NtripSource(f"ntrip://:s2@127.0.0.1:{p}/NORTH", version=2)
            await south.connect(), await north.connect()
            await south.send(south_frame), await north.send(north_frame)
            rover = Rover(p, "NEAREST", 2, gga=gga)
            await wait_for(lambda: caster.client_stats("NEAREST") and
                           caster.client_stats("NEAREST")[0]["serving"] == "SOUTH")

            async def served() -> str:
                return caster.client_stats("NEAREST")[0]["serving"]

            # just north of the midpoint (34.41): the distance difference is 2*(34.412-34.41) deg
            # = 0.004 deg = 445 m < 500 m hysteresis -> stays on SOUTH
            position["lat"] = 34.412
            await asyncio.sleep(0.6)
            assert await served() == "SOUTH"
            position["lat"] = 34.414  # difference 0.008 deg = 890 m > 500 m -> switch
            await wait_for(lambda: caster.client_stats("NEAREST")[0]["serving"] == "NORTH")
            n0 = len(rover.data)
            await north.send(north_frame)
            await south.send(south_frame)
            await rover.wait_bytes(n0 + len(north_frame))
            await asyncio.sleep(0.1)
            assert bytes(rover.data[n0:]) == north_frame  # only the serving base's data
            # NORTH vanishes: the rover is moved to SOUTH at once and gets its data
            await north.close()
            await wait_for(lambda: caster.client_stats("NEAREST")[0]["serving"] == "SOUTH")
            n1 = len(rover.data)
            await south.send(south_frame)
            await rover.wait_bytes(n1 + len(south_frame))
            assert bytes(rover.data[n1:]) == south_frame
            assert caster.client_stats("NEAREST")[0]["switches"] == 2
            # a nonsense GGA is counted and ignored, the rover keeps its base
            rover.client.gga = lambda: format_gga(43200.0, 99.2, 132.46, 30.0)  # latitude 99.2 deg
            await wait_for(lambda: caster.client_stats("NEAREST")[0]["gga_invalid"] >= 1)
            # ... and since no valid GGA arrives any more, the GGA timeout closes it
            await wait_for(lambda: not caster.client_stats("NEAREST"), 5)
            assert caster.mount_stats("NEAREST")["clients_dropped_gga_timeout"] == 1
            await south.close()
            rover.stop()

    run(main())


def test_vanished_source_returns_to_waiting_rovers():
    frames = capture_frames()

    async def main():
        async with Caster(make_config(source_lost_grace_s=5.0, tick_s=0.1)) as caster:
            url = f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO"
            src = NtripSource(url, version=1)
            await src.connect()
            await src.send(frames[0])
            rover = Rover(caster.port, "HIRO", 1)
            await wait_for(lambda: len(caster.rovers) == 1)
            await src.send(frames[1])
            await src.close()
            await wait_for(lambda: caster.mount_stats("HIRO")["source_vanished"] == 1)
            assert len(caster.rovers) == 1  # rover waits (grace period)
            src2 = NtripSource(url, version=2)
            await src2.connect()
            await src2.send(frames[2])
            await rover.wait_bytes(len(frames[1]) + len(frames[2]))
            assert bytes(rover.data) == frames[1] + frames[2]
            kinds = [e["kind"] for e in caster.events]
            assert kinds.count("source-lost") == 1 and "source-returned" in kinds
            await src2.close()
            rover.stop()

    run(main())


def test_tls_second_port(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI needed to make a throw-away certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    frames = capture_frames()

    async def main():
        import ssl
        cfg = make_config()
        cfg.tls_port, cfg.tls_cert, cfg.tls_key = 0, str(cert), str(key)
        async with Caster(cfg) as caster:
            ctx = ssl.create_default_context(cafile=str(cert))
            ctx.check_hostname = False
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{caster.tls_port}/HIRO", version=2, tls=ctx) as s:
                await s.send(frames[0])
                await wait_for(lambda: caster.mounts["HIRO"].live)
                c = NtripClient(f"ntrip://rover:rpass@127.0.0.1:{caster.tls_port}/HIRO", tls=ctx, timeout_s=5)
                got = bytearray()

                async def read():
                    async for d in c.stream(reconnect=False):
                        got.extend(d)
                        if len(got) >= len(frames[1]):
                            return
                t = asyncio.create_task(read())
                await wait_for(lambda: len(caster.rovers) == 1)
                await s.send(frames[1])
                await asyncio.wait_for(t, 5)
                assert bytes(got) == frames[1]

    run(main())


def test_config_toml_file(tmp_path):
    toml = tmp_path / "caster.toml"
    toml.write_text('[caster]\nport = 0\n[limits]\nclient_backlog_bytes = 1000\n'
                    '[[account]]\nname = "a"\npassword = "b"\nmounts = ["M"]\n'
                    '[[mountpoint]]\nname = "M"\nsource_password = "s"\n'
                    '[[mountpoint]]\nname = "M4"\nview_of = "M"\nmessages = [1074]\n')
    cfg = C.load(toml)
    assert cfg.limits.client_backlog_bytes == 1000 and cfg.mounts[1].kind == "view"
    assert cfg.accounts[0].password_hash.startswith("scrypt$") and "b" not in cfg.accounts[0].password_hash[:7]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[mountpoint]]\nname = "V"\nview_of = "MISSING"\n')
    with pytest.raises(C.ConfigError, match="bad.toml"):
        C.load(bad)
    bad.write_text('[limits]\nno_such_key = 1\n')
    with pytest.raises(C.ConfigError, match="no_such_key"):
        C.load(bad)


def test_msm4_view_of_an_msm7_station_matches_at_msm4_resolution():
    """A narrow-link view re-encodes MSM7 as MSM4; decoded observables agree with the MSM7 ones to the
    MSM4 resolution (independent parse by pyrtcm; our decoder for the values)."""
    from pyrtcm import RTCMReader

    from rtk_engine.formats.rtcm3.decoder import Rtcm3Decoder
    from rtk_engine.obs import ObsBlock

    frames = capture_frames()
    mounts = [{"name": "HIRO", "source_password": "spass"},
              {"name": "HIRO4", "view_of": "HIRO", "convert": "msm4"}]

    async def main():
        async with Caster(make_config(mounts)) as caster:
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{caster.port}/HIRO", version=1) as src:
                await src.send(frames[0])
                rover = Rover(caster.port, "HIRO4", 2)
                await wait_for(lambda: len(caster.rovers) == 1)
                for k in range(1, len(frames), 10):
                    await src.send(b"".join(frames[k:k + 10]))
                await asyncio.sleep(0.3)
                await rover.wait_bytes(1)
                rover.stop()
                table = caster.sourcetable()
                return bytes(rover.data), table, caster.mount_stats("HIRO4")

    data, table, stats = run(main())
    got = iter_frames(data)
    msm7 = [f for f in frames[1:] if 1071 <= message_number(f) <= 1137 and message_number(f) % 10 == 7]
    assert stats["frames_malformed"] == 0
    assert {message_number(f) for f in got} >= {1074, 1084, 1094, 1124}
    assert not any(message_number(f) % 10 == 7 and 1071 <= message_number(f) <= 1137 for f in got)
    assert len(got) == len(frames) - 1
    assert sum(map(len, got)) < 0.8 * sum(map(len, frames[1:]))  # 48 instead of 80 bits per cell
    assert "1074" in [r for r in table.splitlines() if r.startswith("STR;HIRO4;")][0]
    for f in got[:200]:  # pyrtcm parses every converted frame (and checks its CRC)
        msg = RTCMReader.parse(f)
        assert int(msg.identity) == message_number(f)
    t_ref = None
    a = [i for i in Rtcm3Decoder(t_ref).feed(b"".join(msm7)) if isinstance(i, ObsBlock)]
    b = [i for i in Rtcm3Decoder(t_ref).feed(data) if isinstance(i, ObsBlock)]
    assert len(a) == len(b) > 50
    n = 0
    for ea, eb in zip(a, b):
        assert ea.time_ns[0] == eb.time_ns[0] and list(ea.sats) == list(eb.sats)
        for s, codes in ea.signals.items():
            assert eb.signals[s] == codes
        ok = np.isfinite(ea.code_m)
        assert np.array_equal(ok, np.isfinite(eb.code_m))
        # MSM4 pseudorange step 2^-24 ms = 17.9 mm: rounding error <= 8.9 mm
        assert np.nanmax(np.abs(ea.code_m - eb.code_m)) <= 0.5 * 2.0 ** -24 * 299792.458 + 1e-6
        lam = ea.wavelength_m()[None]
        # MSM4 phase step 2^-29 ms = 0.56 mm: rounding error <= 0.28 mm
        assert np.nanmax(np.abs((ea.phase_cyc - eb.phase_cyc) * lam)) <= 0.5 * 2.0 ** -29 * 299792.458 + 1e-6
        assert np.nanmax(np.abs(ea.snr_dbhz - eb.snr_dbhz)) <= 0.5
        n += int(ok.sum())
    assert n > 1000


def test_runtime_accounts_and_mounts_for_the_service_layer():
    from ntrip_caster.auth import Account, hash_password

    frames = capture_frames()[:5]

    async def main():
        async with Caster(make_config()) as caster:
            p = caster.port
            async with NtripSource(f"ntrip://:spass@127.0.0.1:{p}/HIRO", version=1) as src:
                await src.send(frames[0])
                rover = Rover(p, "HIRO", 1)
                await wait_for(lambda: len(caster.rovers) == 1)
                # password change: the connected rover keeps its stream, new logins need the new one
                caster.set_accounts([Account("rover", hash_password("new"))])
                old = await raw_exchange(p, W.format_client_request("HIRO", "h", 2, "rover", "rpass"))
                assert old.startswith(b"HTTP/1.1 401")
                await src.send(frames[1])
                await rover.wait_bytes(len(frames[1]))
                assert bytes(rover.data) == frames[1]
                # add a mount, remove HIRO: its source and rover are closed, the new one accepts a source
                caster.set_mounts([C.mount_from_dict({"name": "NEW", "source_password": "n"})])
                await wait_for(lambda: not caster.rovers and not caster.sources)
                async with NtripSource(f"ntrip://:n@127.0.0.1:{p}/NEW", version=2) as s2:
                    await s2.send(frames[2])
                    await wait_for(lambda: caster.mounts["NEW"].live)
                with pytest.raises(C.ConfigError):
                    caster.set_mounts([C.mount_from_dict({"name": "V", "view_of": "GONE"})])
                assert set(caster.mounts) == {"NEW"}
                assert any(e["kind"] == "mount-removed" and e["mount"] == "HIRO" for e in caster.events)

    run(main())
