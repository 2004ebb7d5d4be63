"""``beidou`` console command. Each subcommand is a module with ``add_arguments(parser)`` and
``run(args) -> int``, imported only when that subcommand is used."""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

# One BLAS thread, set before any command imports NumPy (a user's own setting wins). The engine's
# matrices are at most a few hundred rows: OpenBLAS threads only spin (fujisawa-078 through
# `beidou rtk`: 284 ms of CPU with the default two threads, 190 ms with one), a server handling many
# rovers wants no oversubscription, and a threaded GEMM splits its sums by thread, so results would
# depend on the machine's cores (here two threads moved fujisawa-078 L1+L2+L5 positions by 0.2 mm).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "spp": ("rtk_engine.cli.spp", "single-point positioning of a RINEX observation file"),
    "rtk": ("rtk_engine.cli.rtk", "RTK / PPK of a rover RINEX file against a base"),
    "ppp": ("rtk_engine.cli.ppp", "precise point positioning with SP3/CLK products"),
    "caster": ("ntrip_caster.cli", "run the NTRIP caster"),
    "client": ("receivers.cli_client", "NTRIP client relaying corrections to a receiver"),
    "replay": ("receivers.cli_replay", "replay a recorded RINEX station as a live RTCM3 source"),
    "serve": ("api.cli", "the service: API, dashboard, caster and ingest in one process"),
    "job": ("api.cli_job", "post-processing job (SPP/PPK) writing .pos, CSV, GeoJSON, KML and a summary"),
    "demo": ("beidou.demo", "SPP showcase on the sample files in data/ (BeiDou B1I/B1C, GPS+Galileo)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beidou", description="BeiDou high-precision positioning service")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = sys.argv[1] if len(sys.argv) > 1 else None
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args()
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)


def console_main() -> int:
    """The ``beidou`` program: :func:`main`, then ``gc.freeze()``, so that the interpreter's exit skips
    its garbage collections over every object NumPy and the project created: ~20 ms of CPU, a tenth of
    a one-minute ``beidou rtk`` run. They would only free memory the OS takes back anyway; every file
    a command writes is closed when it returns. (Not in :func:`main`: tests call that in-process.)"""
    rc = main()
    gc.freeze()
    return rc


if __name__ == "__main__":
    raise SystemExit(console_main())
