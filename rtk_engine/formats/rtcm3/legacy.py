"""Legacy RTK observation messages 1002/1004 (GPS L1, L1/L2) and 1010/1012 (GLONASS L1, L1/L2), decode only.

Each satellite is a fixed-width record; all records are decoded at once by reshaping the bit
array to [Nsat, record bits] and gathering columns.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...constants import CLIGHT
from ...signals import frequency_hz
from .bits import Rtcm3DecodeError, unpack

# (name, bits, signed) per satellite record
_REC_1004 = (("sat", 6, 0), ("l1code", 1, 0), ("pr1", 24, 0), ("ph1", 20, 1), ("lock1", 7, 0), ("amb", 8, 0),
             ("cnr1", 8, 0), ("l2code", 2, 0), ("pr21", 14, 1), ("ph2", 20, 1), ("lock2", 7, 0), ("cnr2", 8, 0))
_REC_1012 = (("sat", 6, 0), ("l1code", 1, 0), ("chan", 5, 0), ("pr1", 25, 0), ("ph1", 20, 1), ("lock1", 7, 0),
             ("amb", 7, 0), ("cnr1", 8, 0), ("l2code", 2, 0), ("pr21", 14, 1), ("ph2", 20, 1), ("lock2", 7, 0),
             ("cnr2", 8, 0))
GPS_L2_CODES = ("2X", "2P", "2D", "2W")  # DF016 0..3, as RTKLIB maps them
AMB_GPS_M = CLIGHT * 1e-3  # DF014: whole light-milliseconds
AMB_GLO_M = 599_584.916  # DF044: units of 2 light-milliseconds


@dataclass
class LegacyObs:
    """Decoded 1004/1012: per-satellite L1/L2 observables (GLONASS epoch is time of day in GLONASS time)."""

    msg_type: int
    station_id: int
    epoch_ms: int  # 1004: GPS TOW ms; 1012: GLONASS time of day ms
    multiple: bool
    sats: np.ndarray  # "G05"
    codes: np.ndarray  # [N, 2] RINEX codes of L1, L2
    code_m: np.ndarray  # [N, 2]
    phase_cyc: np.ndarray  # [N, 2]
    snr_dbhz: np.ndarray  # [N, 2]
    lock: np.ndarray  # [N, 2] 7-bit lock indicators
    channels: dict[str, int]
    fields: dict[str, np.ndarray]


def _records(bits: np.ndarray, pos: int, n: int, layout) -> dict[str, np.ndarray]:
    width = sum(w for _, w, _ in layout)
    if pos + n * width > bits.size:
        raise Rtcm3DecodeError("legacy observation message truncated")
    rec = bits[pos:pos + n * width].reshape(n, width).astype(np.int64)
    out, c = {}, 0
    for name, w, signed in layout:
        v = rec[:, c:c + w] @ (1 << np.arange(w - 1, -1, -1, dtype=np.int64))
        if signed:
            v = np.where(v >= 1 << (w - 1), v - (1 << w), v)
        out[name] = v
        c += w
    return out


_REC_1002 = _REC_1004[:7]
_REC_1010 = _REC_1012[:8]
LEGACY_TYPES = frozenset({1002, 1004, 1010, 1012})


def decode_legacy(payload: bytes) -> LegacyObs:
    bits = unpack(payload)
    if bits.size < 64:
        raise Rtcm3DecodeError("legacy observation message truncated")
    head = int.from_bytes(payload[:8], "big")
    def f(pos: int, n: int) -> int:
        return (head >> (64 - pos - n)) & ((1 << n) - 1)
    t = f(0, 12)
    if t in (1002, 1004):
        epoch, sync, n, pos, layout = f(24, 30), f(54, 1), f(55, 5), 64, _REC_1004 if t == 1004 else _REC_1002
    elif t in (1010, 1012):
        epoch, sync, n, pos, layout = f(24, 27), f(51, 1), f(52, 5), 61, _REC_1012 if t == 1012 else _REC_1010
    else:
        raise Rtcm3DecodeError(f"message {t} is not 1002/1004/1010/1012")
    r = _records(bits, pos, n, layout)
    if "l2code" not in r:  # L1-only messages: L2 columns absent
        for k, v in (("l2code", 0), ("pr21", -8192), ("ph2", -524288), ("lock2", 0), ("cnr2", 0)):
            r[k] = np.full(n, v, np.int64)
    prn = r["sat"]
    if t in (1002, 1004):
        sats = np.array([f"G{p:02d}" if 1 <= p <= 32 else (f"S{p - 20:02d}" if 40 <= p <= 58 else "") for p in prn.tolist()], "<U3")
        codes = np.array([["1P" if c1 else "1C", GPS_L2_CODES[c2]] for c1, c2 in zip(r["l1code"].tolist(), r["l2code"].tolist())], "<U2").reshape(n, 2)
        lam1 = np.full(n, CLIGHT / frequency_hz("G", "1C"))
        lam2 = np.full(n, CLIGHT / frequency_hz("G", "2W"))
        amb = AMB_GPS_M
        chans: dict[str, int] = {}
    else:
        sats = np.array([f"R{p:02d}" if 1 <= p <= 24 else "" for p in prn.tolist()], "<U3")
        codes = np.array([["1P" if c1 else "1C", "2P" if c2 else "2C"] for c1, c2 in zip(r["l1code"].tolist(), r["l2code"].tolist())], "<U2").reshape(n, 2)
        k = r["chan"] - 7
        lam1 = CLIGHT / (1602e6 + 0.5625e6 * k)
        lam2 = CLIGHT / (1246e6 + 0.4375e6 * k)
        amb = AMB_GLO_M
        chans = {s: int(c) for s, c in zip(sats.tolist(), k.tolist()) if s}
    pr1 = r["pr1"] * 0.02 + r["amb"] * amb
    pr2 = np.where(r["pr21"] == -8192, np.nan, pr1 + r["pr21"] * 0.02)
    ph1 = np.where(r["ph1"] == -524288, np.nan, (pr1 + r["ph1"] * 0.0005) / lam1)
    ph2 = np.where(r["ph2"] == -524288, np.nan, (pr1 + r["ph2"] * 0.0005) / lam2)
    snr = np.stack([r["cnr1"], r["cnr2"]], 1) * 0.25
    keep = sats != ""
    if t in (1002, 1010):  # L1 only
        return LegacyObs(t, f(12, 12), epoch, bool(sync), sats[keep], codes[keep][:, :1],
                         np.stack([pr1], 1)[keep], np.stack([ph1], 1)[keep],
                         np.where(snr == 0, np.nan, snr)[keep][:, :1].astype(np.float32),
                         np.stack([r["lock1"]], 1)[keep], chans, r)
    return LegacyObs(t, f(12, 12), epoch, bool(sync), sats[keep], codes[keep],
                     np.stack([pr1, pr2], 1)[keep], np.stack([ph1, ph2], 1)[keep],
                     np.where(snr == 0, np.nan, snr)[keep].astype(np.float32),
                     np.stack([r["lock1"], r["lock2"]], 1)[keep], chans, r)
