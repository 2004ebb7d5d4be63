"""Pulled stations: a reference receiver that serves RTCM 3 on a TCP port or a serial line (no NTRIP
upload of its own) is relayed by the service into its mountpoint: rovers get its bytes unchanged,
the ingest decodes them, a dropped link is reconnected, and a source URL that cannot work is refused
by the API."""
from __future__ import annotations

import asyncio
import os
import time
import tty

import httpx
import pytest

from api.service import Service
from api.settings import Settings
from receivers.ntrip_client import NtripClient, NtripError
from rtk_engine.formats.rtcm3.decoder import decode_bytes
from rtk_engine import gnss_time as gt
from tests.conftest import shared_path

CAPTURE = "rtcm/novatel-hiroshima-2022/20221213-010900.rtcm"


class PacedReceiver:
    """A TCP 'receiver' streaming the capture at ~20 kB/s; the first connection drops after 40 %, the
    next ones stream it over and over, like a receiver that never stops."""

    def __init__(self, data: bytes) -> None:
        self.data, self.connections = data, 0

    async def serve(self, reader, writer) -> None:
        self.connections += 1
        end = len(self.data) * 2 // 5 if self.connections == 1 else len(self.data)
        try:
            while True:
                for i in range(0, end, 1024):
                    writer.write(self.data[i:min(i + 1024, end)])
                    await writer.drain()
                    await asyncio.sleep(0.05)
                if self.connections == 1:
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def _wait(cond, timeout_s: float, what: str) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def test_tcp_and_serial_stations_are_relayed_into_their_mountpoints(tmp_path):
    data = shared_path(CAPTURE).read_bytes()
    _, dec = decode_bytes(data, int(gt.from_calendar(2022, 12, 13, 1, 9, 0)))
    x, y, z = dec.station.ecef_m.tolist()  # the station's own 1005 position

    async def main():
        recv = PacedReceiver(data)
        server = await asyncio.start_server(recv.serve, "127.0.0.1", 0)
        tcp_port = server.sockets[0].getsockname()[1]
        master, slave = os.openpty()  # a serial line: the service reads the pty's far end with pyserial
        tty.setraw(slave)  # binary from the first byte (a terminal's line discipline would rewrite CR/LF)
        os.set_blocking(master, False)  # a full pty buffer must not stop the event loop the service runs on
        svc = Service(Settings(data_dir=tmp_path, http_port=0, caster_port=0, admin_password="admin-pass-123"))
        task = asyncio.create_task(svc.run())
        try:
            await asyncio.wait_for(svc.ready.wait(), 60)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{svc.http_port}") as http:
                tok = (await http.post("/api/auth/token", json={"username": "admin", "password": "admin-pass-123"})).json()
                h = {"Authorization": f"Bearer {tok['access_token']}"}
                base = {"x_m": x, "y_m": y, "z_m": z}
                # a source URL that cannot work is refused, not stored
                r = await http.post("/api/stations", headers=h, json={**base, "code": "BAD1", "source_kind": "tcp",
                                                                      "source_url": "serial:///dev/ttyS0:9600"})
                assert r.status_code == 422 and "tcp://" in r.text
                r = await http.post("/api/stations", headers=h, json={**base, "code": "HIRO", "mountpoint": "HIRO0",
                                                                      "source_kind": "tcp",
                                                                      "source_url": f"tcp://127.0.0.1:{tcp_port}"})
                assert r.status_code == 201, r.text
                assert (await http.patch("/api/stations/HIRO", headers=h, json={"source_url": ""})).status_code == 422
                r = await http.post("/api/stations", headers=h, json={
                    **base, "code": "SER1", "mountpoint": "SER10", "source_kind": "serial",
                    "source_url": f"serial://{os.ttyname(slave)}:115200"})
                assert r.status_code == 201, r.text
                for mount, code in (("HIRO0", "HIRO"), ("SER10", "SER1")):
                    r = await http.post("/api/mountpoints", headers=h, json={"name": mount, "station_code": code})
                    assert r.status_code == 201, r.text
                r = await http.post("/api/ntrip-users", headers=h, json={"username": "rover", "password": "rover-secret"})
                assert r.status_code == 201
                port = svc.live.caster.port
                # a rover on the TCP station's mountpoint receives the receiver's bytes unchanged
                got = bytearray()

                async def rover():  # a 404 while the relay is between two links: ask again
                    client = NtripClient(f"ntrip://rover:rover-secret@127.0.0.1:{port}/HIRO0")
                    while True:
                        try:
                            async for chunk in client.stream():
                                got.extend(chunk)
                        except NtripError:
                            await asyncio.sleep(0.5)
                rov = asyncio.create_task(rover())
                async def serial_receiver():  # the serial station: the capture written into the line at ~40 kB/s
                    for _ in range(3):
                        for i in range(0, len(data), 2048):
                            chunk = data[i:i + 2048]
                            while chunk:
                                try:
                                    chunk = chunk[os.write(master, chunk):]
                                except BlockingIOError:  # nobody reads the line yet: wait, as a UART would not
                                    pass
                                await asyncio.sleep(0.05)
                ser = asyncio.create_task(serial_receiver())
                await _wait(lambda: "HIRO" in svc.live.relays, 10, "the relay of HIRO")
                relay = svc.live.relays["HIRO"]
                await _wait(lambda: recv.connections >= 2 and len(got) > 30_000 and relay.state == "streaming"
                            and relay.link_connects >= 2, 40,
                            f"link drop, reconnect, data ({recv.connections} connections, {len(got)} bytes, "
                            f"{relay.snapshot()})")
                rov.cancel()
                assert bytes(got[:20_000]) in data + data  # byte for byte a piece of what the receiver sent (it loops)
                assert relay.bytes_relayed > 30_000
                await _wait(lambda: svc.live.ingests["HIRO"].quality.epochs >= 5, 20, "HIRO epochs decoded")
                await _wait(lambda: "SER1" in svc.live.ingests and svc.live.ingests["SER1"].quality.epochs >= 5, 20,
                            "SER1 epochs decoded (serial line)")
                ser.cancel()
                assert svc.live.ingests["HIRO"].position_ecef_m is not None
                feats = (await http.get("/api/stations.geojson", headers=h)).json()["features"]
                link = {f["id"]: f["properties"]["link"] for f in feats}
                assert {f["properties"]["country"] for f in feats} == {"CHN"}
                assert link["HIRO"]["state"] == "streaming" and link["HIRO"]["source"].startswith("tcp://127.0.0.1")
                assert link["SER1"]["bytes_relayed"] > 10_000
                # nobody else can upload into a pulled station's mountpoint
                from receivers.ntrip_client import NtripSource
                with pytest.raises(NtripError):
                    await NtripSource(f"ntrip://:guess@127.0.0.1:{port}/SER10").connect()
                # the station switched to NTRIP upload: its relay stops
                assert (await http.patch("/api/stations/SER1", headers=h,
                                         json={"source_kind": "ntrip", "source_url": ""})).status_code == 200
                await _wait(lambda: "SER1" not in svc.live.relays, 10, "relay stopped")
        finally:
            svc.stop()
            await asyncio.wait_for(task, 30)
            server.close()
            os.close(master)
            os.close(slave)

    asyncio.run(main())


def test_a_silent_link_is_dropped_after_the_idle_timeout():
    """A receiver that hangs (or a half-open TCP connection) must not leave the station dead."""
    from cors_network.relay import LinkSilent, StationRelay, pulled_url

    async def main():
        accepted = []

        async def silent(reader, writer):
            accepted.append(writer)
            await asyncio.sleep(30)
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        relay = StationRelay("HUNG", f"tcp://127.0.0.1:{port}", "ntrip://:x@127.0.0.1:1/HUNG", idle_timeout_s=0.3)
        t0 = time.monotonic()
        with pytest.raises(LinkSilent, match="no data from the station for 0.3 s"):
            async for _ in relay._chunks():
                pass
        assert time.monotonic() - t0 > 0.25 and accepted and relay.link_connects == 1  # fired, after the timeout
        server.close()

    asyncio.run(main())
    assert pulled_url("tcp", "tcp://10.0.0.5:5018") == "tcp://10.0.0.5:5018"
    assert pulled_url("ntrip", "") is None and pulled_url("replay", "x.rnx") is None
    assert pulled_url("ntrip", "ntrips://u:p@caster.example:443/M") is not None
