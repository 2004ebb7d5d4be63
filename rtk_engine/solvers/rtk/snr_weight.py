"""C/N0-drop weighting: down-weight a signal whose carrier-to-noise density falls below its own recent level.

A satellite that is about to be blocked (a vehicle passing a building or a tree) is first diffracted:
its C/N0 falls by several dB-Hz over a few seconds and its carrier phase picks up a centimetre-level,
nearly non-dispersive error while the receiver still reports continuous lock. On fujisawa-2021-265
(G14 at 16 deg, every lap) the L1 C/N0 fell from 44 to 36 dB-Hz and the held phase pulled the fixed
position by 1.5 cm one way in the forward run and the other way in the backward run (3.1 cm apart).

The elevation model already covers the slow, geometric C/N0 change, so only the *drop* below the
signal's own leaky maximum counts (elevation-neutral, works forwards, backwards and in real time):

    ref_k  = max(snr_k, ref_{k-1} - decay_db_per_s * |dt|)        (restarted after a gap)
    drop_k = ref_k - snr_k
    factor = 10 ** (max(drop_k - free_db, 0) / 10)                 (variance multiplier, capped)

i.e. the phase variance follows the C/N0 loss in linear units (sigma-epsilon style), beyond ``free_db``
of ordinary tracking fluctuation. Signals without a reported C/N0 keep factor 1.
"""
from __future__ import annotations

import numpy as np

from ... import _ext


class SnrDropWeights:
    """Per-receiver tracker of the C/N0 drop of every (satellite, slot) signal [S, F]."""

    def __init__(self, shape: tuple[int, int], decay_db_per_s: float, free_db: float, db_per_decade: float,
                 max_factor: float, max_gap_s: float = 10.0):
        self.ref = np.full(shape, np.nan)
        self.t_prev: int | None = None
        self.decay = decay_db_per_s
        self.free = free_db
        self.db_per_decade = db_per_decade
        self.max_factor = max_factor
        self.max_gap_s = max_gap_s

    def factor(self, t_ns: int, snr_dbhz: np.ndarray | None) -> np.ndarray:
        """Variance multipliers [S, F] (>= 1) for this epoch's C/N0 [dB-Hz]; updates the state."""
        if snr_dbhz is None:
            return np.ones(self.ref.shape)
        dt = None if self.t_prev is None else abs(t_ns - self.t_prev) * 1e-9
        self.t_prev = t_ns
        compiled = _ext.kernel("slip_core", "snr_drop")  # optional Cython kernel, same numbers
        if compiled is not None and dt is not None and dt <= self.max_gap_s:
            expo = compiled(self.ref, np.ascontiguousarray(snr_dbhz, dtype=float), self.decay * dt, self.free,
                            self.db_per_decade)
            return np.minimum(10.0 ** expo, self.max_factor)
        snr = np.where(np.isfinite(snr_dbhz) & (snr_dbhz > 0), snr_dbhz, np.nan)
        if dt is None or dt > self.max_gap_s:
            self.ref = snr.copy()
            return np.ones(self.ref.shape)
        with np.errstate(invalid="ignore"):
            decayed = self.ref - self.decay * dt
            ref = np.where(np.isfinite(decayed), np.fmax(snr, decayed), snr)
        self.ref = np.where(np.isfinite(snr), ref, np.nan)  # a lost signal restarts its reference
        drop = self.ref - snr
        drop[np.isnan(drop)] = 0.0
        return np.minimum(10.0 ** (np.maximum(drop - self.free, 0.0) / self.db_per_decade), self.max_factor)
