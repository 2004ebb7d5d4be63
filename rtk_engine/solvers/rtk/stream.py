"""Streaming RTK: one rover epoch (and the latest base epoch) in, one solution row out.

:class:`RtkStream` runs the same :class:`RtkFilter.step` as the batch :func:`solve`; only the
preparation is per epoch (``E = 1`` blocks). The satellite axis is a fixed catalogue (every PRN of
the configured systems) so satellites can rise at any time; the signal codes are chosen from the
first epoch pair and kept.
"""
from __future__ import annotations

import numpy as np

from ...obs import ObsBlock
from ...satellites import is_bds_geo, sat_id
from ...solution import Quality, Solution
from .batch import _to_solution
from .filter import EpochResult, RtkFilter
from .options import RtkOptions
from .prepare import RtkInputError, check_base_position, layout_with_codes, prepare, signal_layout

MAX_PRN = {"G": 32, "E": 36, "C": 63, "J": 10, "R": 27}


def catalogue(systems: str) -> np.ndarray:
    """Every satellite id of the given systems, sorted as ObsBlock sorts them."""
    return np.array(sorted(sat_id(s, p) for s in systems for p in range(1, MAX_PRN[s] + 1)), "<U3")


class RtkStream:
    """Real-time RTK: ``step(rover_epoch, base_epoch)`` -> one-row :class:`Solution`.

    ``base_epoch`` may be None to reuse the last base epoch (its age grows; beyond
    ``opts.max_age_s`` the epoch is skipped and counted in ``skipped``).
    """

    def __init__(self, nav, base_pos, opts: RtkOptions | None = None, sats=None):
        self.nav = nav
        self.opts = opts or RtkOptions()
        self.base_pos = check_base_position(base_pos)
        self.sats = np.asarray(sats, "<U3") if sats is not None else catalogue(self.opts.systems)
        self.codes: dict | None = None
        self.filter: RtkFilter | None = None
        self.base: ObsBlock | None = None
        self.skipped: list[str] = []

    def step(self, rover_epoch: ObsBlock, base_epoch: ObsBlock | None = None) -> Solution:
        if base_epoch is not None:
            self.base = base_epoch
        if self.base is None:
            return self._skip(rover_epoch, "no base epoch yet")
        if self.codes is None:
            self.codes = signal_layout(rover_epoch, self.base, self.opts).codes
        layout = layout_with_codes(rover_epoch, self.base, self.sats, self.codes)
        try:
            A = prepare(rover_epoch, self.base, self.nav, self.base_pos, self.opts, layout=layout)
        except RtkInputError as exc:
            return self._skip(rover_epoch, str(exc))
        if self.filter is None:
            fixable = ~is_bds_geo(self.sats) if self.opts.ar.exclude_bds_geo else np.ones(self.sats.size, bool)
            fixable &= ~np.char.startswith(self.sats, "R")  # GLONASS stays float
            self.filter = RtkFilter(self.sats, A.wavelength_m, A.group, fixable, self.base_pos, self.opts)
        return _to_solution([self.filter.step(A, 0)])

    def _skip(self, rover_epoch: ObsBlock, why: str) -> Solution:
        t = int(rover_epoch.time_ns[0]) if rover_epoch.n_epochs else 0
        self.skipped.append(f"{t}: {why}")
        return _to_solution([EpochResult(time_ns=t, pos=np.full(3, np.nan), cov=np.full((3, 3), np.nan),
                                         quality=int(Quality.NONE), n_sats=0, ratio=0.0, age_s=float("nan"))])
