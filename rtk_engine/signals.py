"""Signals keyed by RINEX 3 observation codes.

A signal is (system letter, two-character RINEX 3 code such as ``"1C"``, ``"2I"``, ``"5Q"``):
band digit then tracking attribute. Carrier frequencies in Hz. Every (system, code) pair is its
own signal; there are no frequency-index slots shared between systems, so BeiDou B1I (``2I``)
and B1C (``1P``/``1D``/``1X``) never collide.
"""
from __future__ import annotations

import numpy as np

MHZ = 1e6

# (system, band digit) -> carrier frequency [Hz]; GLONASS FDMA bands 1 and 2 are special-cased.
BAND_FREQ_HZ: dict[tuple[str, str], float] = {
    ("G", "1"): 1575.42 * MHZ, ("G", "2"): 1227.60 * MHZ, ("G", "5"): 1176.45 * MHZ,
    ("E", "1"): 1575.42 * MHZ, ("E", "5"): 1176.45 * MHZ, ("E", "7"): 1207.14 * MHZ,
    ("E", "8"): 1191.795 * MHZ, ("E", "6"): 1278.75 * MHZ,
    ("C", "2"): 1561.098 * MHZ,  # B1I
    ("C", "1"): 1575.42 * MHZ,  # B1C / B1A (BDS-3)
    ("C", "5"): 1176.45 * MHZ,  # B2a (BDS-3)
    ("C", "7"): 1207.14 * MHZ,  # B2I (BDS-2, codes 7I/7Q/7X) and B2b (BDS-3, codes 7D/7P/7Z)
    ("C", "8"): 1191.795 * MHZ,  # B2a+b
    ("C", "6"): 1268.52 * MHZ,  # B3I / B3A
    ("J", "1"): 1575.42 * MHZ, ("J", "2"): 1227.60 * MHZ, ("J", "5"): 1176.45 * MHZ,
    ("J", "6"): 1278.75 * MHZ,
    ("S", "1"): 1575.42 * MHZ, ("S", "5"): 1176.45 * MHZ,
    ("I", "5"): 1176.45 * MHZ, ("I", "9"): 2492.028 * MHZ, ("I", "1"): 1575.42 * MHZ,
    ("R", "4"): 1600.995 * MHZ, ("R", "6"): 1248.06 * MHZ, ("R", "3"): 1202.025 * MHZ,
}
GLO_G1_HZ, GLO_G1_STEP_HZ = 1602.0 * MHZ, 0.5625 * MHZ
GLO_G2_HZ, GLO_G2_STEP_HZ = 1246.0 * MHZ, 0.4375 * MHZ

# Human names of BeiDou signals, with the generation that transmits them
BDS_SIGNALS = {
    "2I": ("B1I", "BDS-2/3"), "2Q": ("B1I", "BDS-2/3"), "2X": ("B1I", "BDS-2/3"),
    "7I": ("B2I", "BDS-2"), "7Q": ("B2I", "BDS-2"), "7X": ("B2I", "BDS-2"),
    "6I": ("B3I", "BDS-2/3"), "6Q": ("B3I", "BDS-2/3"), "6X": ("B3I", "BDS-2/3"),
    "1D": ("B1C", "BDS-3"), "1P": ("B1C", "BDS-3"), "1X": ("B1C", "BDS-3"),
    "5D": ("B2a", "BDS-3"), "5P": ("B2a", "BDS-3"), "5X": ("B2a", "BDS-3"),
    "7D": ("B2b", "BDS-3"), "7P": ("B2b", "BDS-3"), "7Z": ("B2b", "BDS-3"),
    "8D": ("B2a+b", "BDS-3"), "8P": ("B2a+b", "BDS-3"), "8X": ("B2a+b", "BDS-3"),
    "6D": ("B3A", "BDS-3"), "6P": ("B3A", "BDS-3"), "6Z": ("B3A", "BDS-3"),
}

# Preferred code order per band when several are tracked (best first), used to pick one signal
PRIORITY = {
    "G": {"1": "CWPXSLY", "2": "WLXSPCDY", "5": "QXI"},
    "R": {"1": "CP", "2": "CP", "3": "QXI", "4": "ABX", "6": "ABX"},
    "E": {"1": "CXBA", "5": "QXI", "7": "QXI", "8": "QXI", "6": "CXB"},
    "C": {"2": "IXQ", "7": "IXQDPZ", "6": "IXQ", "1": "PXD", "5": "PXD", "8": "PXD"},
    "J": {"1": "CXSL", "2": "LXS", "5": "QXI", "6": "LXS"},
    "S": {"1": "C", "5": "IXQ"},
    "I": {"5": "AXBC", "9": "AXBC", "1": "DPX"},
}


def frequency_hz(system: str, code: str, glo_channel: int | None = None) -> float:
    """Carrier frequency [Hz] of a signal; NaN if unknown (or GLONASS FDMA without a channel)."""
    band = code[0]
    if system == "R" and band in "12":
        if glo_channel is None:
            return float("nan")
        if band == "1":
            return GLO_G1_HZ + glo_channel * GLO_G1_STEP_HZ
        return GLO_G2_HZ + glo_channel * GLO_G2_STEP_HZ
    if system == "C" and code == "1I":  # RINEX 3.02 wrote B1I as band 1
        return BAND_FREQ_HZ[("C", "2")]
    return BAND_FREQ_HZ.get((system, band), float("nan"))


def frequencies_hz(systems: np.ndarray, codes: np.ndarray, glo_channels: np.ndarray | None = None) -> np.ndarray:
    """Vectorised :func:`frequency_hz` over broadcastable arrays of systems and codes.

    ``glo_channels`` holds the GLONASS FDMA channel per element (ignored for other systems;
    NaN or a missing array gives NaN frequencies for GLONASS G1/G2).
    """
    systems, codes = np.broadcast_arrays(np.asarray(systems, "<U1"), np.asarray(codes, "<U2"))
    out = np.full(systems.shape, np.nan)
    chans = None if glo_channels is None else np.broadcast_to(np.asarray(glo_channels, float), systems.shape)
    for (sys_, band), f in BAND_FREQ_HZ.items():
        out[(systems == sys_) & (np.char.ljust(codes, 1).astype("<U1") == band)] = f
    bands = codes.astype("<U1")
    c1i = (systems == "C") & (codes == "1I")
    out[c1i] = BAND_FREQ_HZ[("C", "2")]
    if chans is not None:
        g1 = (systems == "R") & (bands == "1")
        g2 = (systems == "R") & (bands == "2")
        out[g1] = GLO_G1_HZ + chans[g1] * GLO_G1_STEP_HZ
        out[g2] = GLO_G2_HZ + chans[g2] * GLO_G2_STEP_HZ
    return out


def is_bds3_only(code: str) -> bool:
    """True for BeiDou signals that only BDS-3 satellites transmit (B1C, B2a, B2b, B2a+b, B3A)."""
    return BDS_SIGNALS.get(code, ("", ""))[1] == "BDS-3"


def rank(system: str, code: str) -> int:
    """Priority rank of a code within its band (0 = best); large if unknown."""
    order = PRIORITY.get(system, {}).get(code[0], "")
    i = order.find(code[1]) if len(code) > 1 else -1
    return i if i >= 0 else 99
