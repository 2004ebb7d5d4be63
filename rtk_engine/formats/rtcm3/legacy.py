"""Legacy RTK observation messages 1002/1004 (GPS L1, L1/L2) and 1010/1012 (GLONASS L1, L1/L2), decode only.

Each satellite is a fixed-width record; all fields of all records are gathered in one vectorised
pass (:func:`~.bits.gather_fields`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import _ext
from ...constants import CLIGHT
from ...signals import frequency_hz
from .bits import Rtcm3DecodeError, gather_fields

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


def _records(payload: bytes, pos: int, n: int, layout) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The ``n`` fixed-width satellite records from bit ``pos`` ([n, fields] and by name): one gather."""
    v = _record_array(payload, pos, n, layout)
    return v, {name: v[:, c] for c, (name, _, _) in enumerate(layout)}


def _record_array(payload: bytes, pos: int, n: int, layout) -> np.ndarray:
    offsets, widths, signed, width, _ = _LAYOUTS[layout]
    if pos + n * width > len(payload) * 8:
        raise Rtcm3DecodeError("legacy observation message truncated")
    compiled = _ext.kernel("rtcm3_core", "legacy_records")  # the same fields, one call
    if compiled is not None:
        return compiled(payload, pos, n, widths, signed.view(np.uint8))
    starts = (pos + np.arange(n, dtype=np.int64)[:, None] * width + offsets).ravel()
    return gather_fields(payload, starts, np.tile(widths, n), np.tile(signed, n)).reshape(n, len(layout))


def _layout_arrays(layout) -> tuple:
    w = np.array([b for _, b, _ in layout], np.int64)
    names = [name for name, _, _ in layout]
    cols = np.array([names.index(c) if c in names else -1
                     for c in ("pr1", "amb", "pr21", "ph1", "ph2", "cnr1", "cnr2", "chan", "lock1", "lock2")], np.int64)
    return (np.cumsum(w) - w, w, np.array([s for _, _, s in layout], bool), int(w.sum()), cols)


_REC_1002 = _REC_1004[:7]
_REC_1010 = _REC_1012[:8]
_LAYOUTS = {lay: _layout_arrays(lay) for lay in (_REC_1002, _REC_1004, _REC_1010, _REC_1012)}
# satellite number (6 bits) -> RINEX id ("" unused), L1/L2 code indicator -> RINEX code
_GPS_SATS = np.array([f"G{p:02d}" if 1 <= p <= 32 else (f"S{p - 20:02d}" if 40 <= p <= 58 else "") for p in range(64)], "<U3")
_GLO_SATS = np.array([f"R{p:02d}" if 1 <= p <= 24 else "" for p in range(64)], "<U3")
_L1_CODES = np.array(["1C", "1P"], "<U2")
_GPS_L2 = np.array(GPS_L2_CODES, "<U2")
_GLO_L2 = np.array(["2C", "2P", "2P", "2P"], "<U2")
LEGACY_TYPES = frozenset({1002, 1004, 1010, 1012})


def _head(payload: bytes) -> tuple:
    """(type, station id, epoch ms, multiple-message bit, satellites, first record bit, record layout)."""
    if len(payload) < 8:
        raise Rtcm3DecodeError("legacy observation message truncated")
    head = int.from_bytes(payload[:8], "big")  # bit k of the message = bit 63 - k here
    t, station = head >> 52, (head >> 40) & 0xFFF
    if t in (1002, 1004):  # epoch 30 bits, sync 1, satellites 5
        return (t, station, (head >> 10) & 0x3FFFFFFF, (head >> 9) & 1, (head >> 4) & 0x1F, 64,
                _REC_1004 if t == 1004 else _REC_1002)
    if t in (1010, 1012):  # epoch 27 bits, sync 1, satellites 5
        return (t, station, (head >> 13) & 0x7FFFFFF, (head >> 12) & 1, (head >> 7) & 0x1F, 61,
                _REC_1012 if t == 1012 else _REC_1010)
    raise Rtcm3DecodeError(f"message {t} is not 1002/1004/1010/1012")


def decode_legacy(payload: bytes) -> LegacyObs:
    t, station, epoch, sync, n, pos, layout = _head(payload)
    v, r = _records(payload, pos, n, layout)
    compiled = _ext.kernel("rtcm3_core", "legacy_obs")  # the same arithmetic in one call
    if compiled is not None:
        return _legacy_compiled(compiled, t, station, epoch, bool(sync), v, r, layout)
    if "l2code" not in r:  # L1-only messages: L2 columns absent
        _with_l2(r, n)
    prn = r["sat"]
    if t in (1002, 1004):
        sats = _GPS_SATS[prn]
        codes = np.stack([_L1_CODES[r["l1code"]], _GPS_L2[r["l2code"]]], 1)
        lam1 = np.full(n, CLIGHT / frequency_hz("G", "1C"))
        lam2 = np.full(n, CLIGHT / frequency_hz("G", "2W"))
        amb = AMB_GPS_M
        chans: dict[str, int] = {}
    else:
        sats = _GLO_SATS[prn]
        codes = np.stack([_L1_CODES[r["l1code"]], _GLO_L2[r["l2code"]]], 1)
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
        return LegacyObs(t, station, epoch, bool(sync), sats[keep], codes[keep][:, :1],
                         np.stack([pr1], 1)[keep], np.stack([ph1], 1)[keep],
                         np.where(snr == 0, np.nan, snr)[keep][:, :1].astype(np.float32),
                         np.stack([r["lock1"]], 1)[keep], chans, r)
    return LegacyObs(t, station, epoch, bool(sync), sats[keep], codes[keep],
                     np.stack([pr1, pr2], 1)[keep], np.stack([ph1, ph2], 1)[keep],
                     np.where(snr == 0, np.nan, snr)[keep].astype(np.float32),
                     np.stack([r["lock1"], r["lock2"]], 1)[keep], chans, r)


_LAM_GPS = (CLIGHT / frequency_hz("G", "1C"), CLIGHT / frequency_hz("G", "2W"))


def _legacy_compiled(compiled, t: int, station: int, epoch: int, sync: bool, v: np.ndarray,
                     r: dict[str, np.ndarray], layout) -> LegacyObs:
    """decode_legacy's result with the per-record arithmetic in the compiled kernel (same numbers)."""
    cols = _LAYOUTS[layout][4]
    sats, codes, keep, chans = sat_set(t, v, r, layout)[0]
    code, phase, snr = compiled(v, *kernel_args(t, layout))
    nf = 1 if t in (1002, 1010) else 2
    lock = v[:, cols[8:8 + nf]][keep]
    if nf == 1:
        return LegacyObs(t, station, epoch, sync, sats.copy(), codes.copy()[:, :1], code[keep, :1], phase[keep, :1],
                         snr[keep, :1], lock, dict(chans), _with_l2(r, v.shape[0]))
    return LegacyObs(t, station, epoch, sync, sats.copy(), codes.copy(), code[keep], phase[keep], snr[keep], lock,
                     dict(chans), r)


def sat_set(t: int, v: np.ndarray, r: dict[str, np.ndarray] | None, layout) -> tuple[tuple, tuple]:
    """((RINEX ids, codes [n, 2], kept-record mask, GLONASS channels), cache key) of the records ``v`` of a
    type-``t`` message; cached by their id columns (the same satellite set repeats every epoch). Read only."""
    key = sat_set_key(t, v, layout)
    hit = _SAT_SETS.get(key)
    if hit is None:
        if r is None:
            r = {name: v[:, c] for c, (name, _, _) in enumerate(layout)}
        prn = r["sat"]
        l2 = r["l2code"] if "l2code" in r else np.zeros(prn.size, np.int64)
        if t in (1002, 1004):
            sats = _GPS_SATS[prn]
            codes = np.stack([_L1_CODES[r["l1code"]], _GPS_L2[l2]], 1)
            chans: dict[str, int] = {}
        else:
            sats = _GLO_SATS[prn]
            codes = np.stack([_L1_CODES[r["l1code"]], _GLO_L2[l2]], 1)
            chans = {s: int(c) - 7 for s, c in zip(sats.tolist(), r["chan"].tolist()) if s}
        keep = sats != ""
        hit = (sats[keep], codes[keep], keep, chans)
        if len(_SAT_SETS) > 512:
            _SAT_SETS.clear()
        _SAT_SETS[key] = hit
    return hit, key


def sat_set_key(t: int, v: np.ndarray, layout) -> tuple:
    """:func:`sat_set`'s cache key: the type and the record fields that identify the satellite set (number,
    codes, GLONASS channel)."""
    return t, v[:, _ID_COLS[layout]].tobytes()


def legacy_records(payload: bytes) -> tuple:
    """The raw records of a legacy payload for a compiled consumer (the decoder's cell path): (type, station
    id, epoch ms, multiple-message bit, records int64 [n, fields], layout), or None without the kernel.
    Raises Rtcm3DecodeError as :func:`decode_legacy` does."""
    if _ext.kernel("rtcm3_core", "legacy_records") is None:
        return None
    t, station, epoch, sync, n, pos, layout = _head(payload)
    return t, station, epoch, bool(sync), _record_array(payload, pos, n, layout), layout


def kernel_args(t: int, layout) -> tuple:
    """The arguments after the records of the compiled ``legacy_obs``/``legacy_cells`` for type ``t``: columns
    of pr1, amb, pr21, ph1, ph2, cnr1, cnr2, chan, lock1, lock2 (-1 absent), GLONASS, L1/L2 wavelengths (m,
    GPS), ambiguity unit (m)."""
    gps = t in (1002, 1004)
    return _LAYOUTS[layout][4], not gps, _LAM_GPS[0], _LAM_GPS[1], AMB_GPS_M if gps else AMB_GLO_M


_SAT_SETS: dict[tuple, tuple] = {}  # (type, id columns of the records) -> (sats, codes, keep, channels), read only
_ID_COLS = {lay: np.array([i for i, (name, _, _) in enumerate(lay) if name in ("sat", "l1code", "l2code", "chan")])
            for lay in _LAYOUTS}


def _with_l2(r: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """L1-only records with the absent L2 columns as decode_legacy fills them."""
    for k, v in (("l2code", 0), ("pr21", -8192), ("ph2", -524288), ("lock2", 0), ("cnr2", 0)):
        r[k] = np.full(n, v, np.int64)
    return r
