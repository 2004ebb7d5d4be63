"""Columnar observation blocks: the one data model every reader, solver and stream shares.

An :class:`ObsBlock` holds ``E`` epochs of ``S`` satellites with ``F`` signal slots:

* ``time_ns[E]``: receiver epoch, GPST int64 nanoseconds since 1980-01-06 (see ``gnss_time``).
* ``sats[S]``: RINEX 3 satellite ids (``"G05"``, ``"C19"``), sorted.
* ``signals``: per system, the RINEX 3 codes held in slots ``0..F-1`` (``{"C": ("2I", "6I", "7I")}``).
  Slots are per system: slot 0 of a GPS satellite and slot 0 of a BeiDou satellite are
  different signals; nothing is forced into a shared frequency index.
* ``code_m``, ``phase_cyc``, ``doppler_hz``, ``snr_dbhz`` ``[E, S, F]`` float, NaN where absent.
  Pseudorange [m], carrier phase [cycles], Doppler [Hz], C/N0 [dB-Hz].
* ``lli[E, S, F]`` uint8: RINEX loss-of-lock indicator bits (bit 0 = lost lock / cycle slip possible,
  bit 1 = half-cycle ambiguity).

A real-time epoch is a block with ``E = 1``; a whole file is one block.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import signals as _sig
from .satellites import systems_of


@dataclass
class ObsHeader:
    """Station metadata (from a RINEX header or RTCM 1005/1006/1007/1008/1033)."""

    marker_name: str = ""
    marker_number: str = ""
    receiver_type: str = ""
    receiver_version: str = ""
    antenna_type: str = ""  # 20 characters, radome in columns 17-20 as in ANTEX/IGS names
    antenna_serial: str = ""
    antenna_delta_hen_m: np.ndarray = field(default_factory=lambda: np.zeros(3))  # height, east, north
    approx_pos_ecef_m: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    interval_s: float = float("nan")
    rinex_version: float = 3.04
    time_system: str = "GPS"
    glonass_channels: dict[str, int] = field(default_factory=dict)  # "R01" -> FDMA channel k
    comments: list[str] = field(default_factory=list)
    # What a reader skipped or repaired, one human-readable line each ("line 1234: bad epoch flag 9, epoch skipped").
    # Readers also log these; callers report the count. Nothing is skipped silently.
    skipped: list[str] = field(default_factory=list)


@dataclass
class ObsBlock:
    time_ns: np.ndarray
    sats: np.ndarray
    signals: dict[str, tuple[str, ...]]
    code_m: np.ndarray
    phase_cyc: np.ndarray
    doppler_hz: np.ndarray
    snr_dbhz: np.ndarray
    lli: np.ndarray
    header: ObsHeader = field(default_factory=ObsHeader)

    # ------------------------------------------------------------------ shape
    @property
    def n_epochs(self) -> int:
        return int(self.time_ns.shape[0])

    @property
    def n_sats(self) -> int:
        return int(self.sats.shape[0])

    @property
    def n_slots(self) -> int:
        return int(self.code_m.shape[2])

    @property
    def systems(self) -> np.ndarray:
        """System letter of each satellite [S]."""
        return systems_of(self.sats)

    # ---------------------------------------------------------------- signals
    def signal_codes(self) -> np.ndarray:
        """RINEX 3 code held in each (satellite, slot) [S, F]; "" where the slot is unused."""
        out = np.full((self.n_sats, self.n_slots), "", dtype="<U2")
        sys_ = self.systems
        for s, codes in self.signals.items():
            rows = sys_ == s
            for f, c in enumerate(codes):
                out[rows, f] = c
        return out

    def frequency_hz(self) -> np.ndarray:
        """Carrier frequency of each (satellite, slot) [S, F] in Hz, NaN if unknown."""
        chans = np.array([self.header.glonass_channels.get(s, np.nan) for s in self.sats], float)
        return _sig.frequencies_hz(self.systems[:, None], self.signal_codes(), chans[:, None])

    def wavelength_m(self) -> np.ndarray:
        """Carrier wavelength of each (satellite, slot) [S, F] in metres."""
        from .constants import CLIGHT

        return CLIGHT / self.frequency_hz()

    def slot(self, system: str, code: str) -> int:
        """Slot index of a signal; ``KeyError`` if the block does not carry it."""
        try:
            return self.signals.get(system, ()).index(code)
        except ValueError:
            raise KeyError(f"{system}{code} not in block") from None

    # -------------------------------------------------------------- selection
    def select_sats(self, mask: np.ndarray) -> "ObsBlock":
        """Keep the satellites where ``mask[S]`` is true."""
        mask = np.asarray(mask, bool)
        keep_sys = set(self.systems[mask].tolist())
        return replace(self, sats=self.sats[mask],
                       signals={k: v for k, v in self.signals.items() if k in keep_sys},
                       code_m=self.code_m[:, mask], phase_cyc=self.phase_cyc[:, mask],
                       doppler_hz=self.doppler_hz[:, mask], snr_dbhz=self.snr_dbhz[:, mask],
                       lli=self.lli[:, mask])

    def select_systems(self, systems: str) -> "ObsBlock":
        """Keep only the satellites of the given systems, e.g. ``"GEC"``."""
        return self.select_sats(np.isin(self.systems, list(systems)))

    def select_epochs(self, index) -> "ObsBlock":
        """Keep epochs by slice, index array or boolean mask; a single int keeps E = 1."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1)
        return replace(self, time_ns=self.time_ns[index], code_m=self.code_m[index],
                       phase_cyc=self.phase_cyc[index], doppler_hz=self.doppler_hz[index],
                       snr_dbhz=self.snr_dbhz[index], lli=self.lli[index])

    def epochs(self):
        """Iterate over single-epoch blocks (for streaming code paths)."""
        for i in range(self.n_epochs):
            yield self.select_epochs(i)

    @staticmethod
    def empty(signals: dict[str, tuple[str, ...]], sats, n_epochs: int, header: ObsHeader | None = None) -> "ObsBlock":
        """An all-absent block of the given shape (NaN values, zero LLI)."""
        sats = np.asarray(sats, dtype="<U3")
        n_f = max((len(v) for v in signals.values()), default=0)
        shape = (n_epochs, sats.size, n_f)
        return ObsBlock(time_ns=np.zeros(n_epochs, np.int64), sats=sats, signals=dict(signals),
                        code_m=np.full(shape, np.nan), phase_cyc=np.full(shape, np.nan),
                        doppler_hz=np.full(shape, np.nan), snr_dbhz=np.full(shape, np.nan, np.float32),
                        lli=np.zeros(shape, np.uint8), header=header or ObsHeader())
