"""Live quality of one reference station's observation stream.

:class:`StationQuality` takes single-epoch :class:`~rtk_engine.obs.ObsBlock` s as they are decoded
(vectorised over satellites inside each epoch) and keeps bounded running figures:

* satellites per system and mean C/N0 [dB-Hz] of the last epoch;
* completeness: epochs received / epochs expected from the nominal interval, over a window;
* latency [s]: wall-clock arrival minus the epoch's GPST instant (converted to UTC);
* cycle slips per 1000 phase observations: LLI bit 0 or a geometry-free phase jump;
* code multipath MP1/MP2 [m] (RMS about the per-arc mean of the classical combination
  MP_i = P_i - L_i - 2/(a-1)(L1 - L2) scaled, a = (f1/f2)^2, L in metres), per system's first two bands.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from rtk_engine import gnss_time as gt
from rtk_engine.constants import CLIGHT
from rtk_engine.obs import ObsBlock

GF_SLIP_M = 0.05  # geometry-free jump between consecutive epochs taken as a slip [m] ...
GF_RATE_MPS = 0.004  # ... plus this much per second of gap (ionospheric change over 30 s reaches decimetres)
ARC_GAP_S = 120.0  # a satellite unseen this long starts a new arc


@dataclass
class QualitySnapshot:
    sats_per_system: dict[str, int]
    cn0_mean_dbhz: float | None
    completeness: float | None
    latency_s: float | None
    slips_per_1000: float | None
    mp1_m: float | None
    mp2_m: float | None
    last_epoch_gpst_ns: int | None
    epochs: int


class _Ring:
    """The last ``capacity`` values as one float64 array (8 bytes a value; a deque of Python floats
    takes ~40): hundreds of stations keep their multipath residuals in memory."""

    def __init__(self, capacity: int) -> None:
        self.buf = np.empty(capacity)
        self.end = 0  # total values ever written
        self.capacity = capacity

    def __len__(self) -> int:
        return min(self.end, self.capacity)

    def extend(self, values: np.ndarray) -> None:
        values = np.asarray(values, float)[-self.capacity:]
        i = (self.end + np.arange(values.size)) % self.capacity
        self.buf[i] = values
        self.end += values.size

    def values(self) -> np.ndarray:
        return self.buf[: len(self)]


class _ArcTable:
    """Per-satellite arc state as arrays (one row per satellite id ever seen): running MP means,
    sample count, last epoch [GPST ns] and last geometry-free value [m]."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.mean1 = np.zeros(0)
        self.mean2 = np.zeros(0)
        self.n = np.zeros(0, np.int64)
        self.last_t = np.zeros(0, np.int64)
        self.last_gf = np.zeros(0)

    def rows(self, sats: np.ndarray) -> np.ndarray:
        for sat in sats.tolist():  # new satellite ids only grow the table (a few hundred at most)
            if sat not in self.index:
                self.index[sat] = len(self.index)
        grow = len(self.index) - self.n.size
        if grow > 0:
            self.mean1 = np.concatenate([self.mean1, np.zeros(grow)])
            self.mean2 = np.concatenate([self.mean2, np.zeros(grow)])
            self.n = np.concatenate([self.n, np.zeros(grow, np.int64)])
            self.last_t = np.concatenate([self.last_t, np.full(grow, np.iinfo(np.int64).min // 2)])
            self.last_gf = np.concatenate([self.last_gf, np.full(grow, np.nan)])
        return np.fromiter((self.index[x] for x in sats.tolist()), np.int64, sats.size)


@dataclass
class StationQuality:
    interval_s: float = 1.0
    window_s: float = 600.0
    # epoch times [GPST ns] of the completeness window only (older ones dropped as epochs arrive)
    _times: deque = field(default_factory=lambda: deque(maxlen=100_000))
    _first_t: int | None = None  # the first epoch time seen: completeness spans from there at most
    _latency: deque = field(default_factory=lambda: deque(maxlen=600))
    _mp1: _Ring = field(default_factory=lambda: _Ring(20_000))
    _mp2: _Ring = field(default_factory=lambda: _Ring(20_000))
    _arcs: _ArcTable = field(default_factory=_ArcTable)
    _phase_obs: int = 0
    _slips: int = 0
    _last: ObsBlock | None = None
    epochs: int = 0
    _freq_cache: tuple = (None, None)  # (layout key, carrier frequencies [S, F] Hz) of the last layout

    def update(self, epoch: ObsBlock, received_unix_s: float | None = None) -> None:
        """Add one epoch (E = 1)."""
        t_ns = int(epoch.time_ns[0])
        times = self._times
        times.append(t_ns)
        if self._first_t is None:
            self._first_t = t_ns
        oldest = t_ns - int(self.window_s * gt.NS)
        while times[0] <= oldest:
            times.popleft()
        self.epochs += 1
        self._last = epoch
        recv = time.time() if received_unix_s is None else received_unix_s
        self._latency.append(recv - float(gt.unix_from_gpst(t_ns)))
        self._dual_frequency(epoch, t_ns)

    def _frequencies(self, epoch: ObsBlock) -> np.ndarray:
        """Carrier frequencies [S, F] in Hz, computed once per layout (satellites, signals, GLONASS
        channels): a stream repeats its layout epoch after epoch, and the lookup is most of the cost."""
        key = (epoch.sats.tobytes(), tuple((k, tuple(v)) for k, v in epoch.signals.items()),
               tuple(sorted(epoch.header.glonass_channels.items())))
        if self._freq_cache[0] != key:
            self._freq_cache = (key, epoch.frequency_hz())
        return self._freq_cache[1]

    def _dual_frequency(self, epoch: ObsBlock, t_ns: int) -> None:
        lli = epoch.lli[0]
        phase = epoch.phase_cyc[0]
        have = np.isfinite(phase)
        self._phase_obs += int(have.sum())
        slip = (lli & 1).astype(bool) & have
        freq = self._frequencies(epoch)
        wl = CLIGHT / freq
        code = epoch.code_m[0]
        sys_ = epoch.systems
        for s in np.unique(sys_):
            rows = np.flatnonzero(sys_ == s)
            codes = epoch.signals.get(s, ())
            bands = [c[0] for c in codes]
            first = {}
            for i, b in enumerate(bands):
                first.setdefault(b, i)
            if len(first) < 2:
                continue
            i1, i2 = list(first.values())[:2]
            f1, f2 = freq[rows, i1], freq[rows, i2]
            l1, l2 = phase[rows, i1] * wl[rows, i1], phase[rows, i2] * wl[rows, i2]
            p1, p2 = code[rows, i1], code[rows, i2]
            a = (f1 / f2) ** 2
            gf = l1 - l2
            mp1 = p1 - l1 - 2.0 / (a - 1.0) * gf
            mp2 = p2 - l2 - 2.0 * a / (a - 1.0) * gf
            ok = np.isfinite(mp1) & np.isfinite(mp2)
            sl = slip[rows, i1] | slip[rows, i2]
            idx = np.flatnonzero(ok)
            if idx.size == 0:
                continue
            arcs = self._arcs
            r = arcs.rows(epoch.sats[rows[idx]])
            gap_s = (t_ns - arcs.last_t[r]) / gt.NS
            new_arc = (arcs.n[r] == 0) | (gap_s > ARC_GAP_S)
            jump = ~new_arc & (np.abs(gf[idx] - arcs.last_gf[r]) > GF_SLIP_M + GF_RATE_MPS * gap_s)
            flagged = sl[idx]
            self._slips += int(np.count_nonzero(jump | flagged))
            restart = new_arc | jump | flagged
            arcs.n[r[restart]] = 0
            arcs.mean1[r[restart]] = 0.0
            arcs.mean2[r[restart]] = 0.0
            arcs.n[r] += 1
            arcs.mean1[r] += (mp1[idx] - arcs.mean1[r]) / arcs.n[r]
            arcs.mean2[r] += (mp2[idx] - arcs.mean2[r]) / arcs.n[r]
            settled = arcs.n[r] >= 10  # skip the first epochs of an arc while its mean settles
            self._mp1.extend((mp1[idx] - arcs.mean1[r])[settled])
            self._mp2.extend((mp2[idx] - arcs.mean2[r])[settled])
            arcs.last_t[r] = t_ns
            arcs.last_gf[r] = gf[idx]

    def snapshot(self) -> QualitySnapshot:
        last = self._last
        if last is None:
            return QualitySnapshot({}, None, None, None, None, None, None, None, 0)
        present = np.isfinite(last.code_m[0]).any(axis=1)
        systems, counts = np.unique(last.systems[present], return_counts=True)
        snr = last.snr_dbhz[0]
        cn0 = float(np.nanmean(snr)) if np.isfinite(snr).any() else None
        t = np.fromiter(self._times, np.int64)
        t_end = int(t[-1])
        in_win = t[t > t_end - int(self.window_s * gt.NS)]
        span = min(self.window_s, (t_end - self._first_t) / gt.NS + self.interval_s)
        completeness = min(1.0, len(np.unique(in_win)) / max(1.0, round(span / self.interval_s)))

        def rms(ring: _Ring):
            return float(np.sqrt(np.mean(np.square(ring.values())))) if len(ring) else None

        return QualitySnapshot(
            sats_per_system={str(s): int(c) for s, c in zip(systems, counts)},
            cn0_mean_dbhz=cn0, completeness=completeness,
            latency_s=float(np.median(np.fromiter(self._latency, float))) if self._latency else None,
            slips_per_1000=1000.0 * self._slips / self._phase_obs if self._phase_obs else None,
            mp1_m=rms(self._mp1), mp2_m=rms(self._mp2), last_epoch_gpst_ns=int(t_end), epochs=self.epochs)
