"""``beidou serve``: the service (API, dashboard, caster, ingest) in one process."""
from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from .settings import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None, help="database, archive, secrets (default: ./var)")
    p.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the data dir)")
    p.add_argument("--host", default=None, help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default 8000)")
    p.add_argument("--caster-host", default=None, help="NTRIP bind address (default 127.0.0.1)")
    p.add_argument("--caster-port", type=int, default=None, help="NTRIP port (default 2101)")
    p.add_argument("--demo", action="store_true", help="register and run the simulated Chongqing demo network")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    over = {k: v for k, v in {"data_dir": args.data_dir, "database_url": args.database_url, "http_host": args.host,
                              "http_port": args.port, "caster_host": args.caster_host,
                              "caster_port": args.caster_port}.items() if v is not None}
    settings = Settings.from_env(**over)
    from .service import Service

    async def main() -> None:
        svc = Service(settings, demo=args.demo)
        if svc.app.state.generated_admin_password:
            print(f"admin account: {settings.admin_user} / {svc.app.state.generated_admin_password} (shown once)")
        if args.demo:
            from .demo_seed import DEMO_PASSWORD, DEMO_USER
            print(f"NTRIP demo account: {DEMO_USER} / {DEMO_PASSWORD}")
        await svc.run()

    asyncio.run(main())
    return 0
