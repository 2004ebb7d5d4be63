"""Build the optional Cython kernels of ``rtk_engine/_ext`` in place (``make ext``).

    .venv/bin/python tools/build_ext.py [--force]

Needs Cython (pinned in requirements.lock), numpy headers and a C compiler. Without them it
prints a note and exits 0: the engine then runs its pure-numpy path (same numbers, slower).
``-ffp-contract=off`` keeps the compiled arithmetic identical to Python's (no fused multiply-add).
"""
from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXT_DIR = REPO / "rtk_engine" / "_ext"


def _note(msg: str) -> int:
    print(f"build_ext: {msg}; the pure-numpy path will be used", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    sources = sorted(EXT_DIR.glob("*.pyx"))
    if not sources:
        return _note("no .pyx sources")
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    built = [p.with_name(p.stem + suffix) for p in sources]
    if "--force" not in argv and all(b.exists() and b.stat().st_mtime >= p.stat().st_mtime
                                     for p, b in zip(sources, built)):
        print("build_ext: up to date")
        return 0
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    if shutil.which(cc.split()[0]) is None:
        return _note(f"no C compiler ({cc.split()[0]!r} not found)")
    try:
        import numpy
        from Cython.Build import cythonize
        from setuptools import Extension
        from setuptools.dist import Distribution
    except ImportError as exc:
        return _note(f"missing build tool ({exc.name})")
    exts = [Extension(f"rtk_engine._ext.{p.stem}", [str(p.relative_to(REPO))],
                      include_dirs=[numpy.get_include()],
                      define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                      extra_compile_args=["-O2", "-ffp-contract=off"])
            for p in sources]
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        modules = cythonize(exts, quiet=True, force="--force" in argv,
                            compiler_directives={"language_level": 3})
        dist = Distribution({"name": "rtk-engine-ext", "ext_modules": modules})
        cmd = dist.get_command_obj("build_ext")
        cmd.inplace = True
        cmd.ensure_finalized()
        cmd.run()
    except Exception as exc:  # compiler errors: never break the install
        return _note(f"build failed ({type(exc).__name__}: {exc})")
    finally:
        os.chdir(cwd)
    print("build_ext: built " + ", ".join(m.name for m in modules))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
