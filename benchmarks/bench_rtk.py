"""RTK speed against RTKLIB, measured in the same run on the same files and settings.

Whole-process wall time per epoch (start, read RINEX, solve, write .pos) of ``beidou rtk`` on the
pure-numpy path and with the compiled kernels (``rtk_engine._ext``, ``make ext``), and of
``rnx2rtkp`` (L1+L2, GPS+Galileo+QZSS, 15 deg mask, fix-and-hold, ratio 3, forward), on
fujisawa-2021-078 (static roof, 60 epochs) and fujisawa-2021-265 (vehicle, 360 epochs); then the
in-process engine time on both paths (prepared arrays + filter, files already read) and peak RSS.
The three programs run interleaved, best of ``--repeat`` each (the machine is shared: the best
run is the least disturbed one); each table is printed as wall time and as the CPU time (user +
sys) the program itself used, which other jobs on a loaded machine disturb far less. The project's
modules are byte-compiled first, as an installed package is: with ``PYTHONDONTWRITEBYTECODE=1``
(set on the test machine) every run would otherwise recompile its ~40 modules from source, about
100 ms per process that no installed ``beidou`` pays.

    .venv/bin/python benchmarks/bench_rtk.py [--repeat 7] [--instructions]

``--instructions`` also counts the instructions of one compiled run and one rnx2rtkp run per file with
``valgrind --tool=callgrind`` (about a minute per file): a ratio no other load on the machine moves,
though not a time ratio (the interpreter runs fewer instructions per cycle than rnx2rtkp's C).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: the in-process runs as the beidou program (beidou/cli.py)
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("BEIDOU_SHARED_DATA", REPO.parent / "shared" / "data")) / "rtk"
BASE = (-3959400.631, 3385704.533, 3667523.111)
CASES = {
    "078 static roof": ("fujisawa-2021-078", "SEPT078M1.21O", "3034078M1.21O", "SEPT078M.21P", 60),
    "265 vehicle": ("fujisawa-2021-265", "SEPT265G.21O", "3034265G.21O", "SEPT2650.21P", 360),
}
CONF = """pos1-posmode=kinematic
pos1-frequency=2
pos1-soltype=forward
pos1-elmask=15
pos1-navsys=25
pos1-tropopt=saas
pos2-armode=fix-and-hold
pos2-arthres=3
out-solformat=xyz
ant2-postype=xyz
ant2-pos1={}
ant2-pos2={}
ant2-pos3={}
""".format(*BASE)
# `beidou` with the compiled LAMBDA kernels routed into lambda_search (BEIDOU_NO_EXT=1 -> the numpy
# path); the same wrapper runs both paths so start-up costs are equal. (Once lambda_search dispatches
# through rtk_engine._ext.kernel itself, the routing lines are redundant but harmless.)
WRAPPER = """
import sys
from rtk_engine import _ext
from rtk_engine.solvers import lambda_search
if _ext.kernel("lambda_core", "reduce") is not None:
    lambda_search.reduce = _ext.kernel("lambda_core", "reduce")
    lambda_search.search = _ext.kernel("lambda_core", "search")
from beidou.cli import console_main
sys.exit(console_main())
"""


def _cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run_once(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall, CPU user+sys) seconds of one run of ``cmd``; the CPU time is what the program itself
    used, so it is far less disturbed by other jobs on a shared machine than the wall time."""
    c0, t = _cpu_children(), time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t, _cpu_children() - c0


def _wall_once(cmd: list[str], env: dict | None = None) -> float:
    return _run_once(cmd, env)[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--instructions", action="store_true", help="also count instructions with callgrind")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"skip: {DATA} absent")
        return 0
    from rtk_engine import _ext
    rnx = shutil.which("rnx2rtkp")
    if rnx is None:
        print("rnx2rtkp missing (Debian rtklib, `make sysdeps`): no anchor, nothing to compare")
        return 0
    have_ext = _ext.available("lambda_core")
    _byte_compile()
    py = str(REPO / ".venv" / "bin" / "python")
    tmp = Path(tempfile.mkdtemp())
    conf = tmp / "k.conf"
    conf.write_text(CONF)
    env_np = dict(os.environ, BEIDOU_NO_EXT="1", OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    env_c = dict(env_np, BEIDOU_NO_EXT="0")
    print(f"compiled kernels: {'built' if have_ext else 'NOT built (run `make ext`); compiled columns = numpy'}")
    print(f"{'case':16s} {'epochs':>6s} {'rnx2rtkp':>9s} {'numpy':>8s} {'compiled':>9s} {'numpy/rtklib':>13s} "
          f"{'compiled/rtklib':>16s}   (whole process, ms/epoch, best of {args.repeat})")
    imports = [py, "-c", "import beidou.cli, rtk_engine.solvers.rtk, rtk_engine.formats.rinex_obs, "
               "rtk_engine.formats.rinex_nav"]
    startup = min(_wall_once(imports, env_c) for _ in range(args.repeat))
    engine_rows, cpu_rows, runs = [], [], []
    for name, (folder, rover, base, nav, n_ep) in CASES.items():
        d = DATA / folder
        ours = [py, "-c", WRAPPER, "rtk", "--quiet", "--nav", str(d / nav), "--base", str(d / base),
                "--base-pos=" + ",".join(map(str, BASE)), str(d / rover), "-o", str(tmp / "b.pos")]
        theirs = [rnx, "-k", str(conf), "-o", str(tmp / "r.pos"), str(d / rover), str(d / base), str(d / nav)]
        best = {"rtklib": float("inf"), "numpy": float("inf"), "compiled": float("inf")}
        best_cpu = dict(best)
        for _ in range(args.repeat):  # interleaved: load changes hit all three alike
            for key, cmd, env in (("rtklib", theirs, None), ("numpy", ours, env_np), ("compiled", ours, env_c)):
                wall, cpu = _run_once(cmd, env)
                best[key], best_cpu[key] = min(best[key], wall), min(best_cpu[key], cpu)
        runs.append((name, ours, theirs))
        ms = {k: v / n_ep * 1e3 for k, v in best.items()}
        print(f"{name:16s} {n_ep:6d} {ms['rtklib']:9.2f} {ms['numpy']:8.2f} {ms['compiled']:9.2f} "
              f"{ms['numpy'] / ms['rtklib']:13.2f} {ms['compiled'] / ms['rtklib']:16.2f}")
        cpu_rows.append((name, n_ep, {k: v / n_ep * 1e3 for k, v in best_cpu.items()}))
        eng = _engine_time(d / rover, d / base, d / nav, args.repeat)
        engine_rows.append((name, n_ep, ms["rtklib"], eng))
    print(f"\n{'CPU user+sys':16s} {'epochs':>6s} {'rnx2rtkp':>9s} {'numpy':>8s} {'compiled':>9s} {'numpy/rtklib':>13s} "
          f"{'compiled/rtklib':>16s}   (whole process, ms/epoch, best of {args.repeat})")
    for name, n_ep, c in cpu_rows:
        print(f"{name:16s} {n_ep:6d} {c['rtklib']:9.2f} {c['numpy']:8.2f} {c['compiled']:9.2f} "
              f"{c['numpy'] / c['rtklib']:13.2f} {c['compiled'] / c['rtklib']:16.2f}")
    print(f"\n{'engine only':16s} {'epochs':>6s} {'numpy':>8s} {'compiled':>9s} {'speed-up':>9s} "
          f"{'numpy/rtklib':>13s} {'compiled/rtklib':>16s}   (files read, ms/epoch; rtklib: its whole process)")
    for name, n_ep, rt, eng in engine_rows:
        for label, pre in ((name, ""), ("  CPU user+sys", "cpu ")):
            e_np, e_c = eng[pre + "numpy"] / n_ep * 1e3, eng[pre + "compiled"] / n_ep * 1e3
            rt_ref = rt if not pre else next(c["rtklib"] for nm, _, c in cpu_rows if nm == name)
            print(f"{label:16s} {n_ep:6d} {e_np:8.2f} {e_c:9.2f} {e_np / e_c:9.2f} {e_np / rt_ref:13.2f} "
                  f"{e_c / rt_ref:16.2f}")
    print(f"start-up alone (python + imports, no work): {startup * 1e3:.0f} ms per process")
    if args.instructions:
        _instruction_counts(runs, env_c)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (engine runs): {rss:.0f} MB")
    return 0


def _instruction_counts(runs: list, env: dict) -> None:
    """Instructions executed by one compiled ``beidou rtk`` run and one rnx2rtkp run (callgrind)."""
    vg = shutil.which("valgrind")
    if vg is None:
        print("valgrind missing: no instruction counts")
        return
    print(f"\n{'instructions':16s} {'rnx2rtkp':>14s} {'compiled':>14s} {'compiled/rtklib':>16s}   (callgrind, whole process)")
    for name, ours, theirs in runs:
        counts = []
        for cmd in (theirs, ours):
            out = subprocess.run([vg, "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd], env=env,
                                 capture_output=True, text=True, check=True).stderr
            counts.append(int(next(ln for ln in out.splitlines() if "Collected" in ln).split()[-1]))
        print(f"{name:16s} {counts[0]:14,d} {counts[1]:14,d} {counts[1] / counts[0]:16.2f}")


def _byte_compile() -> None:
    """Write the .pyc files of the project's packages (what ``pip install`` does), so the timed
    processes measure start-up as installed rather than compile-from-source every run."""
    import compileall

    for pkg in ("beidou", "rtk_engine"):
        compileall.compile_dir(str(REPO / pkg), quiet=1)


def _engine_time(rover, base, nav, repeat: int) -> dict[str, float]:
    from rtk_engine import _ext
    from rtk_engine.formats.rinex_nav import read_nav
    from rtk_engine.formats.rinex_obs import read_obs
    from rtk_engine.solvers import lambda_search
    from rtk_engine.solvers.rtk import load_options, solve

    r, b, n = read_obs(rover), read_obs(base), read_nav(nav)
    opts = load_options()
    py_ref = (lambda_search.reduce, lambda_search.search)
    compiled = (_ext.kernel("lambda_core", "reduce"), _ext.kernel("lambda_core", "search"))
    best = {"numpy": float("inf"), "compiled": float("inf")}
    for _ in range(repeat):
        for path in ("numpy", "compiled"):
            use = path == "compiled" and compiled[0] is not None
            _ext.set_enabled(use)
            lambda_search.reduce, lambda_search.search = compiled if use else py_ref
            t, c = time.perf_counter(), time.process_time()
            solve(r, b, n, BASE, opts)
            best[path] = min(best[path], time.perf_counter() - t)
            best["cpu " + path] = min(best.get("cpu " + path, float("inf")), time.process_time() - c)
    lambda_search.reduce, lambda_search.search = py_ref
    _ext.set_enabled(True)
    return best


if __name__ == "__main__":
    raise SystemExit(main())
