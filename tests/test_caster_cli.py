"""``beidou caster --config caster.toml`` as a real process: starts, serves, stops on SIGTERM."""
from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

from ntrip_caster.auth import verify_password
from receivers.ntrip_client import fetch_sourcetable
from tests.conftest import REPO
from tests.test_caster_server import run


def test_hash_password_command():
    out = subprocess.run([sys.executable, "-m", "beidou.cli", "caster", "--hash-password"], input="s3cret\n",
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0 and verify_password("s3cret", out.stdout.strip())
    assert not verify_password("other", out.stdout.strip())


def test_caster_command_serves_and_stops(tmp_path):
    cfg = tmp_path / "caster.toml"
    cfg.write_text('[caster]\nhost = "127.0.0.1"\nport = 0\nname = "CLI test"\n'
                   '[[mountpoint]]\nname = "M"\nsource_password = "s"\n')

    async def main():
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "beidou.cli", "caster", "--config",
                                                    str(cfg), cwd=str(REPO), stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line.startswith("caster listening on 127.0.0.1:"), line
            port = int(line.split(":")[1].split(",")[0])
            table = await fetch_sourcetable("127.0.0.1", port, version=1)
            assert table.startswith("CAS;127.0.0.1;") and table.endswith("ENDSOURCETABLE\r\n")
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 15) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    run(main())

    bad = tmp_path / "bad.toml"
    bad.write_text("[caster\n")
    out = subprocess.run([sys.executable, "-m", "beidou.cli", "caster", "--config", str(bad)],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 2 and "bad.toml" in out.stderr


def test_caster_command_with_two_workers(tmp_path):
    cfg = tmp_path / "caster.toml"
    cfg.write_text('[caster]\nhost = "127.0.0.1"\nport = 0\n[[mountpoint]]\nname = "M"\nsource_password = "s"\n')

    async def main():
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "beidou.cli", "caster", "--config",
                                                    str(cfg), "--workers", "2", cwd=str(REPO),
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert "(2 worker processes)" in line, line
            port = int(line.split(":")[1].split()[0])
            for _ in range(4):  # whichever worker answers, the sourcetable is there
                assert (await fetch_sourcetable("127.0.0.1", port, version=2)).endswith("ENDSOURCETABLE\r\n")
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 20) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    run(main())
