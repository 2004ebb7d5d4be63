"""Optional compiled (Cython) kernels for the hottest loops of the engine, with a numpy fallback.

The sources are ``*.pyx`` files here; ``make ext`` (``tools/build_ext.py``) compiles them in place
when a C compiler is present. Nothing requires them: :func:`kernel` returns ``None`` when a module
is not built (or is disabled), and the caller then runs its pure-Python/numpy reference, which
gives the same numbers (``tests/test_rtk_ext.py``).

Kernels:

* ``lambda_core.reduce(L, D) -> (L, D, Z)`` and ``lambda_core.search(L, D, zs, m) -> (cand, sq)``:
  drop-in for :func:`rtk_engine.solvers.lambda_search.reduce` / ``search`` (LAMBDA decorrelation and
  MLAMBDA search, about half of the RTK engine's time per epoch in pure Python); ``ltdl_reduce_inv(C)``:
  LtDL from numpy's Cholesky factor, the reduction and the exact Z^-1 in one call.
* ``rtcm3_core``: RTCM 3 decoding on live streams: CRC-24Q and the frame scan of
  :mod:`rtk_engine.formats.rtcm3_frame`, the per-cell MSM arithmetic of
  :func:`rtk_engine.formats.rtcm3.msm_batch.decode_run`, the loss-of-lock rule, the epoch cell scatter,
  fixed-layout field reading (ephemerides, station, 1230) and legacy 1002/1004/1010/1012 (the list with
  each kernel's numpy reference is in the module's docstring).
* ``slip_core.detect(...)``: one epoch of :meth:`rtk_engine.solvers.rtk.cycle_slip.SlipDetector.detect`
  (LLI, geometry-free, Melbourne-Wuebbena, Doppler tests) in one pass instead of ~40 numpy calls;
  ``slip_core.snr_drop(...)``: the leaky C/N0 maximum of
  :meth:`rtk_engine.solvers.rtk.snr_weight.SnrDropWeights.factor` and its variance exponent.
* ``rtk_core.group_refs(group, elev)``: :func:`rtk_engine.solvers.rtk.ambiguity.group_refs` (reference
  satellite per (system, band) group, twice per RTK epoch) in one pass instead of a lexsort and 7 calls.
* ``rinex_core.parse_f14_3(fields)``: the F14.3 observation fields of a RINEX file
  (:func:`rtk_engine.formats.rinex_obs.parse_f14_3`), about 60 % of reading a RINEX 3 file.

Switches: the environment variable ``BEIDOU_NO_EXT=1`` (read at import) or :func:`set_enabled`.
"""
from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType
from typing import Callable

__all__ = ["available", "enabled", "kernel", "set_enabled", "status"]

log = logging.getLogger(__name__)
_MODULES = ("lambda_core", "rinex_core", "rtcm3_core", "rtk_core", "slip_core")
_loaded: dict[str, ModuleType | None] = {}
_missing: set[tuple[str, str]] = set()
_enabled = os.environ.get("BEIDOU_NO_EXT", "") in ("", "0")


def _load(name: str) -> ModuleType | None:
    if name not in _loaded:
        try:
            _loaded[name] = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:  # not built (no compiler at install time)
            _loaded[name] = None
        except (ImportError, ValueError) as exc:  # built for another Python / numpy ABI: rebuild
            log.warning("compiled kernel %s unusable (%s); using the numpy path - run `make ext`", name, exc)
            _loaded[name] = None
    return _loaded[name]


def available(name: str = "lambda_core") -> bool:
    """True when the compiled module ``name`` is built and importable (regardless of the switch)."""
    return _load(name) is not None


def enabled() -> bool:
    """The process-wide switch (``BEIDOU_NO_EXT`` / :func:`set_enabled`)."""
    return _enabled


def set_enabled(flag: bool) -> bool:
    """Turn the compiled kernels on or off for this process; returns the previous setting."""
    global _enabled
    prev, _enabled = _enabled, bool(flag)
    return prev


def kernel(module: str, func: str) -> Callable | None:
    """The compiled function ``module.func``, or ``None`` (not built or switched off) -> use numpy."""
    if not _enabled:
        return None
    mod = _load(module)
    if mod is None:
        return None
    fn = getattr(mod, func, None)
    if fn is None and (module, func) not in _missing:  # a build older than its .pyx: numpy until `make ext`
        _missing.add((module, func))
        log.warning("compiled kernel %s.%s missing (stale build); using the numpy path - run `make ext`", module, func)
    return fn


def status() -> dict[str, bool]:
    """Which compiled modules are built, e.g. ``{"lambda_core": True}``."""
    return {name: available(name) for name in _MODULES}
