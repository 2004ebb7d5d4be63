"""RINEX navigation files 2.x, 3.0x and 4.00 -> columnar :class:`~rtk_engine.nav.NavData`.

Supported records
-----------------
* RINEX 2: GPS (``.n``), GLONASS (``.g``), Galileo (``.l``) files; header ``ION ALPHA/BETA``.
* RINEX 3: mixed and per-system files: GPS and QZSS LNAV, Galileo I/NAV and F/NAV (told apart by
  the data-source bits), BeiDou D1/D2 (D2 for the GEOs), NavIC, GLONASS; header
  ``IONOSPHERIC CORR`` (GPSA/GPSB/GAL/QZSA/QZSB/BDSA/BDSB/IRNA/IRNB) and ``LEAP SECONDS``.
* RINEX 4.00: ``> EPH`` records LNAV, CNAV, CNV2 (GPS/QZSS), INAV, FNAV (Galileo), D1, D2, CNV1,
  CNV2, CNV3 (BeiDou), FDMA (GLONASS), NavIC LNAV; ``> ION`` records (Klobuchar LNAV/D1D2 and
  Galileo NeQuick IFNV) go into ``NavData.iono``. SBAS ephemerides, STO and EOP records are skipped
  and counted in ``NavData.skipped``.

Times
-----
Every time is GPST int64 ns: BeiDou epochs and toe are BDT (+14 s, BDS week), Galileo GST is GPST,
GLONASS epochs and the message frame time are UTC (leap seconds from ``gnss_time``). Week numbers
in the files are not trusted: toe and transmission time are resolved as the seconds of week
nearest to the record epoch (toc), which also survives 10-bit GPS week rollovers in RINEX 2.

Parsing is vectorised: the body stays one byte buffer with line offsets, records are gathered into a
(records, lines, 80) block, and every 19-character field is converted with one numpy call.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from .. import gnss_time as gt
from ..arrays import unique
from ..nav import (KEPLER_FLOAT_FIELDS, KEPLER_INT_FIELDS, GlonassEphemeris, KeplerEphemeris,
                   NavData)
from ..satellites import SYSTEMS, is_bds_geo
from .compressed import open_bytes

log = logging.getLogger(__name__)

__all__ = ["NavError", "read_nav", "read_navs", "URA_TABLE_M", "ura_index_to_m"]

LINE_W = 80
MAX_LINES = 10  # start line + up to 9 broadcast-orbit lines (GPS CNV2, BeiDou CNV1/2)
NS = gt.NS


class NavError(ValueError):
    """A navigation file that cannot be read; the message names the file and line."""


# --- source bit masks (see nav.KEPLER_INT_FIELDS) ---------------------------------------------
SRC_GPS_LNAV, SRC_GPS_CNAV, SRC_GPS_CNV2 = 1, 4, 8
SRC_BDS_D1, SRC_BDS_D2, SRC_BDS_CNV1, SRC_BDS_CNV2, SRC_BDS_CNV3 = 1, 2, 4, 8, 16
SRC_GAL_INAV_E1B, SRC_GAL_FNAV, SRC_GAL_INAV_E5B = 1, 2, 4
SRC_GAL_CLK_E5A, SRC_GAL_CLK_E5B = 256, 512

# GPS URA / BeiDou URAI / CNAV URA_ED index -> metres (IS-GPS-200 20.3.3.3.1.3, upper bounds)
URA_TABLE_M = np.array([2.4, 3.4, 4.85, 6.85, 9.65, 13.65, 24.0, 48.0, 96.0, 192.0, 384.0, 768.0,
                        1536.0, 3072.0, 6144.0, np.nan])


def ura_index_to_m(idx) -> np.ndarray:
    """URA/SISAI index (0..15; negative CNAV indices read as 0) -> metres, NaN for 15/unknown."""
    i = np.asarray(idx, dtype=float)
    ok = np.isfinite(i)
    k = np.clip(np.where(ok, i, 15), 0, 15).astype(np.int64)
    return np.where(ok, URA_TABLE_M[k], np.nan)


# --- record layouts: field -> (line, position); line 0 is the epoch line (3 values) ----------
_KEPLER_COMMON = {
    "af0": (0, 0), "af1": (0, 1), "af2": (0, 2),
    "crs": (1, 1), "delta_n": (1, 2), "m0": (1, 3),
    "cuc": (2, 0), "e": (2, 1), "cus": (2, 2), "sqrt_a": (2, 3),
    "toe_sow": (3, 0), "cic": (3, 1), "omega0": (3, 2), "cis": (3, 3),
    "i0": (4, 0), "crc": (4, 1), "omega": (4, 2), "omega_dot": (4, 3),
    "idot": (5, 0),
}
_LAYOUTS: dict[str, dict[str, tuple[int, int]]] = {
    # GPS / QZSS legacy (RINEX 2/3/4 LNAV)
    "LNAV": _KEPLER_COMMON | {"iode": (1, 0), "accuracy_m": (6, 0), "health": (6, 1),
                              "tgd1_s": (6, 2), "iodc": (6, 3), "ttr_sow": (7, 0),
                              "fit_interval_h": (7, 1)},
    # NavIC LNAV
    "ILNAV": _KEPLER_COMMON | {"iode": (1, 0), "accuracy_m": (6, 0), "health": (6, 1),
                               "tgd1_s": (6, 2), "ttr_sow": (7, 0)},
    # Galileo I/NAV and F/NAV
    "GAL": _KEPLER_COMMON | {"iode": (1, 0), "source": (5, 1), "accuracy_m": (6, 0),
                             "health": (6, 1), "tgd1_s": (6, 2), "tgd2_s": (6, 3), "ttr_sow": (7, 0)},
    # BeiDou D1 / D2
    "D1D2": _KEPLER_COMMON | {"iode": (1, 0), "accuracy_m": (6, 0), "health": (6, 1),
                              "tgd1_s": (6, 2), "tgd2_s": (6, 3), "ttr_sow": (7, 0), "iodc": (7, 1)},
    # GPS / QZSS CNAV (RINEX 4): toe = toc; (3, 0) is t_op
    "CNAV": _KEPLER_COMMON | {"a_dot": (1, 0), "delta_n_dot": (5, 1), "ura_idx": (6, 0),
                              "health": (6, 1), "tgd1_s": (6, 2), "isc_l1ca_s": (7, 0), "isc_l2c_s": (7, 1),
                              "isc_l5i5_s": (7, 2), "isc_l5q5_s": (7, 3), "ttr_sow": (8, 0)},
    "CNV2G": _KEPLER_COMMON | {"a_dot": (1, 0), "delta_n_dot": (5, 1), "ura_idx": (6, 0),
                               "health": (6, 1), "tgd1_s": (6, 2), "isc_l1ca_s": (7, 0), "isc_l2c_s": (7, 1),
                               "isc_l5i5_s": (7, 2), "isc_l5q5_s": (7, 3), "isc_l1cd_s": (8, 0),
                               "isc_l1cp_s": (8, 1), "ttr_sow": (9, 0)},
    # BeiDou B-CNAV1 / B-CNAV2 (RINEX 4): tgd1 = TGD_B1Cp, tgd2 = TGD_B2ap, isc = ISC_B1Cd / ISC_B2ad
    "CNV1": _KEPLER_COMMON | {"a_dot": (1, 0), "delta_n_dot": (5, 1), "ura_idx": (6, 0),
                              "isc_s": (7, 0), "tgd1_s": (7, 2), "tgd2_s": (7, 3), "health": (8, 1),
                              "iodc": (8, 3), "ttr_sow": (9, 0), "iode": (9, 3)},
    "CNV2C": _KEPLER_COMMON | {"a_dot": (1, 0), "delta_n_dot": (5, 1), "ura_idx": (6, 0),
                               "isc_s": (7, 1), "tgd1_s": (7, 2), "tgd2_s": (7, 3), "health": (8, 1),
                               "iodc": (8, 3), "ttr_sow": (9, 0), "iode": (9, 3)},
    # BeiDou B-CNAV3 (B2b): tgd1 = TGD_B2bI
    "CNV3": _KEPLER_COMMON | {"a_dot": (1, 0), "delta_n_dot": (5, 1), "ura_idx": (6, 0),
                              "health": (7, 1), "tgd1_s": (7, 3), "ttr_sow": (8, 0)},
    # GLONASS FDMA (RINEX 2/3/4); line 4 (3.05+/4) optional
    "FDMA": {"minus_tau_n": (0, 0), "gamma_n": (0, 1), "tof_s": (0, 2),
             "x": (1, 0), "vx": (1, 1), "ax": (1, 2), "health": (1, 3),
             "y": (2, 0), "vy": (2, 1), "ay": (2, 2), "channel": (2, 3),
             "z": (3, 0), "vz": (3, 1), "az": (3, 2), "age_d": (3, 3)},
}
# system letter, RINEX 4 message -> layout name
_MSG_LAYOUT = {
    ("G", "LNAV"): "LNAV", ("J", "LNAV"): "LNAV", ("I", "LNAV"): "ILNAV",
    ("G", "CNAV"): "CNAV", ("J", "CNAV"): "CNAV", ("G", "CNV2"): "CNV2G", ("J", "CNV2"): "CNV2G",
    ("E", "INAV"): "GAL", ("E", "FNAV"): "GAL", ("E", ""): "GAL", ("C", "D?"): "D1D2",
    ("C", "D1"): "D1D2", ("C", "D2"): "D1D2", ("C", "CNV1"): "CNV1", ("C", "CNV2"): "CNV2C",
    ("C", "CNV3"): "CNV3", ("R", "FDMA"): "FDMA",
}
_SOURCE_OF_MSG = {("G", "LNAV"): SRC_GPS_LNAV, ("J", "LNAV"): SRC_GPS_LNAV, ("I", "LNAV"): 1,
                  ("G", "CNAV"): SRC_GPS_CNAV, ("J", "CNAV"): SRC_GPS_CNAV,
                  ("G", "CNV2"): SRC_GPS_CNV2, ("J", "CNV2"): SRC_GPS_CNV2,
                  ("C", "D1"): SRC_BDS_D1, ("C", "D2"): SRC_BDS_D2, ("C", "CNV1"): SRC_BDS_CNV1,
                  ("C", "CNV2"): SRC_BDS_CNV2, ("C", "CNV3"): SRC_BDS_CNV3}
# Columns this reader adds to KeplerEphemeris.cols beyond nav.KEPLER_*_FIELDS (NaN when not broadcast):
# isc_s: BeiDou ISC_B1Cd (CNV1) / ISC_B2ad (CNV2); isc_*: GPS/QZSS CNAV inter-signal corrections.
EXTRA_KEPLER_FIELDS = ("isc_s", "isc_l1ca_s", "isc_l2c_s", "isc_l5i5_s", "isc_l5q5_s", "isc_l1cd_s", "isc_l1cp_s")
_V2_SYSTEM = {"N": "G", "G": "R", "H": "S", "L": "E", "E": "E", "C": "C", "J": "J", "I": "I"}
_IONO_LABELS = ("GPSA", "GPSB", "GAL", "QZSA", "QZSB", "BDSA", "BDSB", "IRNA", "IRNB")


# ------------------------------------------------------------------------------------------------
def _load_bytes(source) -> tuple[bytes, str]:
    """File path or bytes -> decompressed bytes (gzip / Unix compress by magic bytes) and a name."""
    name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else os.fspath(source)
    try:
        return open_bytes(source), name
    except OSError as exc:
        raise NavError(f"{name}: cannot read ({exc})") from exc
    except ValueError as exc:  # CompressedDataError: corrupt / truncated compressed data
        raise NavError(str(exc)) from exc


def _float(text: str) -> float:
    text = text.strip().replace("D", "E").replace("d", "e")
    return float(text) if text else float("nan")


def _parse_header(lines: list[bytes], name: str) -> dict:
    if not lines or b"RINEX VERSION" not in lines[0]:
        raise NavError(f"{name}: line 1: not a RINEX file (no 'RINEX VERSION / TYPE')")
    first = lines[0].decode("ascii", "replace")
    try:
        version = float(first[:9])
    except ValueError as exc:
        raise NavError(f"{name}: line 1: bad RINEX version {first[:9]!r}") from exc
    ftype = first[20:21].upper()
    sys_ = first[40:41].upper()
    if version < 3:
        if ftype not in _V2_SYSTEM:
            raise NavError(f"{name}: line 1: not a navigation file (type {ftype!r})")
        sys_ = _V2_SYSTEM[ftype]
    elif ftype != "N":
        raise NavError(f"{name}: line 1: not a navigation file (type {ftype!r})")
    hdr = {"version": version, "system": sys_ or "M", "iono": {}, "leap": None, "end": None}
    for i, raw in enumerate(lines):
        line = raw.decode("ascii", "replace")
        label = line[60:].strip()
        try:
            if label == "IONOSPHERIC CORR":
                key = line[:4].strip()
                if key in _IONO_LABELS and key not in hdr["iono"]:
                    vals = [_float(line[5 + 12 * k:17 + 12 * k]) for k in range(4)]
                    n = 3 if key == "GAL" else 4
                    hdr["iono"][key] = np.array(vals[:n])
            elif label == "ION ALPHA":
                hdr["iono"]["GPSA"] = np.array([_float(line[2 + 12 * k:14 + 12 * k]) for k in range(4)])
            elif label == "ION BETA":
                hdr["iono"]["GPSB"] = np.array([_float(line[2 + 12 * k:14 + 12 * k]) for k in range(4)])
            elif label == "LEAP SECONDS":
                hdr["leap"] = int(line[:6])
        except ValueError as exc:
            raise NavError(f"{name}: line {i + 1}: bad {label} ({exc})") from exc
        if label == "END OF HEADER":
            hdr["end"] = i + 1
            break
    if hdr["end"] is None:
        raise NavError(f"{name}: no END OF HEADER (truncated file?)")
    return hdr


class _Lines:
    """The body of a file as one byte buffer with line starts/lengths (no per-line Python objects)."""

    def __init__(self, body: bytes):
        self.buf = np.frombuffer(body + b" ", dtype=np.uint8)
        nl = np.flatnonzero(self.buf[:-1] == 10)
        self.start = np.concatenate([[0], nl + 1]).astype(np.int64)
        end = np.concatenate([nl, [len(body)]])
        self.length = end - self.start
        # drop trailing blank lines
        n = self.start.size
        while n and not body[self.start[n - 1]:self.start[n - 1] + self.length[n - 1]].strip():
            n -= 1
        self.start, self.length = self.start[:n], self.length[:n]

    def __len__(self) -> int:
        return int(self.start.size)

    def char(self, col: int) -> np.ndarray:
        """Byte at column ``col`` of every line (space past the end)."""
        return np.where(self.length > col, self.buf[np.minimum(self.start + col, self.buf.size - 1)], 32)

    def gather(self, rows: np.ndarray, width: int = LINE_W) -> np.ndarray:
        """Lines ``rows`` (any shape; -1 = blank line) -> (..., width) uint8, space padded."""
        rows = np.asarray(rows)
        ok = rows >= 0
        safe = np.where(ok, rows, 0)
        idx_t = np.int32 if self.buf.size < 2**31 - LINE_W else np.int64
        st = np.where(ok, self.start[safe], 0).astype(idx_t)
        ln = np.where(ok, self.length[safe], 0).astype(idx_t)
        cols = np.arange(width, dtype=idx_t)
        valid = cols < ln[..., None]
        src = np.where(valid, st[..., None] + cols, 0)
        return np.where(valid, self.buf[src], np.uint8(32))

    def text(self, row: int) -> str:
        return bytes(self.buf[self.start[row]:self.start[row] + self.length[row]]).decode("ascii", "replace")


def _ints(block: np.ndarray, c0: int, c1: int) -> np.ndarray:
    """Fixed-width integer columns [c0, c1) of a (R, 80) byte block -> int64 (blank -> error)."""
    sub = np.ascontiguousarray(block[:, c0:c1])
    return sub.view(f"S{c1 - c0}").ravel().astype(np.int64)


def _floats(block: np.ndarray, c0: int, c1: int) -> np.ndarray:
    sub = np.ascontiguousarray(block[:, c0:c1])
    return sub.view(f"S{c1 - c0}").ravel().astype(np.float64)


class _Records:
    """A set of records as a (R, MAX_LINES, 80) byte block with their line numbers."""

    def __init__(self, lines: _Lines, start: np.ndarray, nlines: np.ndarray, line0: int):
        self.n_lines = int(min(MAX_LINES, max(4, nlines.max(initial=0))))
        j = np.arange(self.n_lines)
        idx = start[:, None] + j[None, :]
        idx = np.where(j[None, :] < np.minimum(nlines, self.n_lines)[:, None], idx, -1)
        self.block = lines.gather(idx)  # (R, n_lines, 80)
        self.file_line = start + line0 + 1  # 1-based line number of each record's first line

    def __len__(self) -> int:
        return self.block.shape[0]

    def values(self, v2: bool, name: str) -> np.ndarray:
        """All numeric fields -> (R, 3 + 4 * (MAX_LINES - 1)) float, NaN where blank or absent."""
        c_start = 22 if v2 else 23
        c_cont = 3 if v2 else 4
        nl = self.n_lines
        lines = np.array([0, 0, 0] + [ln for ln in range(1, nl) for _ in range(4)])
        cols = np.array([c_start + 19 * k for k in range(3)] + [c_cont + 19 * k for _ in range(1, nl) for k in range(4)])
        fld = self.block[:, lines[:, None], cols[:, None] + np.arange(19)[None, :]]  # (R, F, 19)
        fld[(fld == ord("D")) | (fld == ord("d")) | (fld == ord("e"))] = ord("E")
        blank = np.all(fld == ord(" "), axis=2)
        fld[blank, 18] = ord("0")
        flat = np.ascontiguousarray(fld).view("S19").reshape(fld.shape[:2])
        try:
            out = flat.astype(np.float64)
        except ValueError:
            for r in range(flat.shape[0]):
                for f in range(flat.shape[1]):
                    try:
                        float(flat[r, f])
                    except ValueError:
                        raise NavError(f"{name}: line {self.file_line[r] + lines[f]}: bad number "
                                       f"{flat[r, f].decode('ascii', 'replace').strip()!r}") from None
            raise
        out[blank] = np.nan
        full = np.full((out.shape[0], 3 + 4 * (MAX_LINES - 1)), np.nan)
        full[:, :out.shape[1]] = out
        return full

    def epochs(self, v2: bool, name: str) -> np.ndarray:
        """Epoch of each record's first line as calendar ns (in the file's time scale)."""
        b = self.block[:, 0, :]
        try:
            if v2:
                yy = _ints(b, 3, 5)
                year = np.where(yy < 80, 2000 + yy, 1900 + yy)
                mon, day, hh, mi = _ints(b, 6, 8), _ints(b, 9, 11), _ints(b, 12, 14), _ints(b, 15, 17)
                sec = _floats(b, 17, 22)
            else:
                year, mon, day = _ints(b, 4, 8), _ints(b, 9, 11), _ints(b, 12, 14)
                hh, mi, sec = _ints(b, 15, 17), _ints(b, 18, 20), _floats(b, 21, 23)
        except ValueError:
            spans = ((3, 5), (6, 8), (9, 11), (12, 14), (15, 17)) if v2 else \
                ((4, 8), (9, 11), (12, 14), (15, 17), (18, 20))
            for r in range(b.shape[0]):
                txt = bytes(b[r]).decode("ascii", "replace")
                try:
                    [int(txt[a:z]) for a, z in spans]
                    float(txt[17:22] if v2 else txt[21:23])
                except ValueError:
                    raise NavError(f"{name}: line {self.file_line[r]}: bad epoch {txt[:23]!r}") from None
            raise NavError(f"{name}: bad epoch field") from None
        bad = (mon < 1) | (mon > 12) | (day < 1) | (day > 31) | (hh > 24) | (mi > 59) | (sec >= 61)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise NavError(f"{name}: line {self.file_line[r]}: bad epoch "
                           f"{bytes(b[r, :23]).decode('ascii', 'replace')!r}")
        return gt.from_calendar(year, mon, day, hh, mi, sec)


def _resolve_sow(sow: np.ndarray, ref_ns: np.ndarray, fallback_ns: np.ndarray) -> np.ndarray:
    """Seconds of week (may be slightly negative / beyond a week) near ref -> ns; NaN/absurd -> fallback."""
    ok = np.isfinite(sow) & (np.abs(sow) < 2 * gt.WEEK_S)
    out = gt.nearest_week_time(np.where(ok, sow, 0.0), ref_ns)
    return np.where(ok, out, fallback_ns)


# ------------------------------------------------------------------------------------------------
def _kepler_from(recs: _Records, sys_: np.ndarray, msg: np.ndarray, v2: bool, name: str,
                 notes: list[str], repair_semicircles: bool = False) -> KeplerEphemeris:
    """Kepler records (all systems but R/S) -> KeplerEphemeris; repairs are appended to ``notes``."""
    n = len(recs)
    if n == 0:
        return KeplerEphemeris.from_rows([])
    vals = recs.values(v2, name)
    epoch = recs.epochs(v2, name)
    b = recs.block[:, 0, :]
    if v2:
        prn = _ints(b, 0, 2)
        sats = np.char.add(sys_, np.char.zfill(prn.astype("<U2"), 2))
    else:
        ids = np.ascontiguousarray(b[:, :3])
        ids[:, 1][ids[:, 1] == ord(" ")] = ord("0")
        sats = ids.view("S3").ravel().astype("<U3")
    is_c = sys_ == "C"
    # toc: file epoch in the system's own scale; BDT -> GPST
    toc = epoch + np.where(is_c, gt.BDT_OFFSET_S * NS, 0)
    cols: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in KEPLER_FLOAT_FIELDS}
    cols["a_dot"][:] = 0.0
    cols["delta_n_dot"][:] = 0.0
    ints: dict[str, np.ndarray] = {k: np.full(n, -1 if k in ("iode", "iodc") else 0, np.int64)
                                   for k in KEPLER_INT_FIELDS}
    extra = {k: np.full(n, np.nan) for k in ("toe_sow", "ttr_sow", "ura_idx") + EXTRA_KEPLER_FIELDS}
    layout_name = np.array([_MSG_LAYOUT.get((s, m), "") for s, m in zip(sys_.tolist(), msg.tolist())])
    for lay in unique(layout_name):
        rows = np.flatnonzero(layout_name == lay)
        for fname, (ln, pos) in _LAYOUTS[lay].items():
            v = vals[rows, pos] if ln == 0 else vals[rows, 3 + 4 * (ln - 1) + pos]
            if fname in cols:
                cols[fname][rows] = v
            elif fname in ints:
                ints[fname][rows] = np.where(np.isfinite(v), v, -1 if fname in ("iode", "iodc") else 0
                                             ).astype(np.int64)
            else:
                extra[fname][rows] = v
    # accuracy from URA/SISA index (CNAV)
    has_idx = np.isfinite(extra["ura_idx"])
    cols["accuracy_m"] = np.where(has_idx, ura_index_to_m(extra["ura_idx"]), cols["accuracy_m"])
    acc = cols["accuracy_m"]
    cols["accuracy_m"] = np.where((acc >= 0) & (acc < 1e4), acc, np.nan)  # -1 / 9999 = unknown
    # source bits
    src_msg = np.array([_SOURCE_OF_MSG.get((s, m), 0) for s, m in zip(sys_.tolist(), msg.tolist())],
                       np.int64)
    is_e = sys_ == "E"
    ints["source"] = np.where(is_e, ints["source"], src_msg)
    if not v2:
        # RINEX 4 tells F/NAV vs I/NAV in the record header; fill missing data-source bits
        fnav = is_e & (msg == "FNAV") & (ints["source"] == 0)
        inav = is_e & (msg == "INAV") & (ints["source"] == 0)
        ints["source"][fnav] = SRC_GAL_FNAV | SRC_GAL_CLK_E5A
        ints["source"][inav] = SRC_GAL_INAV_E1B | SRC_GAL_INAV_E5B | SRC_GAL_CLK_E5B
    # RINEX 3 BeiDou: D2 is broadcast by the GEOs, D1 by the others
    c_unknown = is_c & (msg == "D?")
    ints["source"][c_unknown] = np.where(is_bds_geo(sats[c_unknown]), SRC_BDS_D2, SRC_BDS_D1)
    # toe: seconds of week nearest toc, in the system's scale
    toc_sys = toc - np.where(is_c, gt.BDT_OFFSET_S * NS, 0)
    cnav_gj = np.isin(layout_name, ["CNAV", "CNV2G"])  # CNAV: toe == toc
    toe_sys = _resolve_sow(extra["toe_sow"], toc_sys, toc_sys)
    toe_sys = np.where(cnav_gj, toc_sys, toe_sys)
    toe = toe_sys + np.where(is_c, gt.BDT_OFFSET_S * NS, 0)
    ttr = _resolve_sow(extra["ttr_sow"], toc_sys, toe_sys) + np.where(is_c, gt.BDT_OFFSET_S * NS, 0)
    # GPS fit interval: 0 means 4 h (IS-GPS-200); QZSS writes a flag (0: 2 h, 1: > 2 h)
    fit = cols["fit_interval_h"]
    is_j = sys_ == "J"
    fit = np.where(is_j, np.where(fit == 1, 4.0, 2.0), np.where((fit > 0) & np.isfinite(fit), fit, 4.0))
    cols["fit_interval_h"] = np.where(np.isin(sys_, ["G", "J"]), fit, np.nan)
    _check_semicircles(cols, sys_, sats, name, notes, repair_semicircles)
    cols |= ints
    cols |= {k: extra[k] for k in EXTRA_KEPLER_FIELDS}
    return KeplerEphemeris(sat=sats.astype("<U3"), toe_ns=toe.astype(np.int64),
                           toc_ns=toc.astype(np.int64), ttr_ns=ttr.astype(np.int64), cols=cols)


ANGLE_FIELDS = ("m0", "omega0", "i0", "omega", "delta_n", "idot", "omega_dot")


def _check_semicircles(cols: dict, sys_: np.ndarray, sats: np.ndarray, name: str, notes: list[str],
                       repair: bool) -> None:
    """Some writers put the angular elements in semicircles (as broadcast) instead of radians.

    Detected per system from the inclination of its MEO/IGSO records: 55-56 deg (0.96 rad) for
    GPS, Galileo and BeiDou, i.e. 0.31 if in semicircles; a median below 0.5 marks the whole
    system's records in the file (tested as "most below 0.5": ``np.median`` would import numpy.ma, see
    ``rtk_engine.arrays``). Always reported in ``notes`` (and logged); with ``repair`` the
    angles are scaled by pi. (Found in OPEC00NOR_S_20220010000_01D_CN.rnx; RTKLIB reads such
    files literally and puts the satellites thousands of km off.)
    """
    for s in ("G", "E", "C"):
        meo = (sys_ == s) & ~is_bds_geo(sats) & np.isfinite(cols["i0"])
        if meo.sum() >= 3 and (np.abs(cols["i0"][meo]) < 0.5).mean() > 0.5:
            rows = sys_ == s
            med = float(np.median(np.abs(cols["i0"][meo])))
            if repair:
                for f in ANGLE_FIELDS:
                    cols[f][rows] *= np.pi
                what = "scaled to radians"
            else:
                what = "NOT repaired (read_nav(..., repair_semicircles=True) scales them)"
            msg = f"{name}: {int(rows.sum())} {s} records have angles in semicircles (median i0 {med:.3f}); {what}"
            notes.append(msg)
            log.warning("%s", msg)


def _glonass_from(recs: _Records, v2: bool, name: str) -> GlonassEphemeris:
    n = len(recs)
    if n == 0:
        return GlonassEphemeris()
    vals = recs.values(v2, name)
    epoch_utc = recs.epochs(v2, name)  # UTC calendar
    b = recs.block[:, 0, :]
    if v2:
        prn = _ints(b, 0, 2)
        sats = np.char.add("R", np.char.zfill(prn.astype("<U2"), 2))
    else:
        ids = np.ascontiguousarray(b[:, :3])
        ids[:, 1][ids[:, 1] == ord(" ")] = ord("0")
        sats = ids.view("S3").ravel().astype("<U3")
    lay = _LAYOUTS["FDMA"]

    def v(k):
        ln, pos = lay[k]
        return vals[:, pos] if ln == 0 else vals[:, 3 + 4 * (ln - 1) + pos]

    toe = gt.utc_to_gpst(epoch_utc)
    # message frame time: seconds of the UTC week (RINEX 3/4) or of the UTC day (RINEX 2 writers)
    tof_s = v("tof_s")
    ok = np.isfinite(tof_s) & (np.abs(tof_s) < 2 * gt.WEEK_S)
    tof_utc = gt.nearest_week_time(np.where(ok, tof_s, 0.0), epoch_utc)
    day0 = epoch_utc - np.mod(epoch_utc, 86_400 * NS)
    as_day = day0 + np.round(np.where(ok, tof_s, 0.0) * NS).astype(np.int64)
    as_day += np.where(as_day - epoch_utc > 43_200 * NS, -86_400 * NS,
                       np.where(as_day - epoch_utc < -43_200 * NS, 86_400 * NS, 0))
    use_day = np.abs(tof_utc - epoch_utc) > np.abs(as_day - epoch_utc)
    tof_utc = np.where(use_day, as_day, tof_utc)
    tof = np.where(ok, gt.utc_to_gpst(tof_utc), toe)
    pos = np.stack([v("x"), v("y"), v("z")], axis=1) * 1e3
    vel = np.stack([v("vx"), v("vy"), v("vz")], axis=1) * 1e3
    acc = np.stack([v("ax"), v("ay"), v("az")], axis=1) * 1e3
    bad = ~np.all(np.isfinite(pos) & np.isfinite(vel), axis=1)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise NavError(f"{name}: line {recs.file_line[r]}: GLONASS record without a full state vector")
    acc = np.nan_to_num(acc)

    def iv(x, default=0):
        return np.where(np.isfinite(x), x, default).astype(np.int64)

    sod = np.mod(epoch_utc + gt.GLO_UTC_OFFSET_S * NS, 86_400 * NS) // NS  # Moscow time of day
    return GlonassEphemeris(sat=sats.astype("<U3"), toe_ns=toe.astype(np.int64), tof_ns=tof.astype(np.int64),
                            pos_m=pos, vel_mps=vel, acc_mps2=acc,
                            tau_n_s=-v("minus_tau_n"), gamma_n=np.nan_to_num(v("gamma_n")),
                            channel=iv(v("channel")), health=iv(v("health")), age_d=iv(v("age_d")),
                            iode=(sod // 900).astype(np.int64))


def _iono_from_rinex4(recs: _Records, sys_: np.ndarray, msg: np.ndarray, name: str) -> dict:
    """``> ION`` records -> iono dict (the first record of each kind in the file is kept)."""
    out: dict[str, np.ndarray] = {}
    if len(recs) == 0:
        return out
    vals = recs.values(False, name)
    order = np.argsort(recs.epochs(False, name), kind="stable")
    for r in order.tolist():
        s, m = sys_[r], msg[r]
        if m in ("LNAV", "D1D2"):
            key = {"G": "GPS", "J": "QZS", "C": "BDS", "I": "IRN"}.get(s)
            if key and key + "A" not in out:
                a = vals[r, :8]  # alpha0..3, beta0..3 (the epoch line carries alpha0..2)
                out[key + "A"], out[key + "B"] = a[:4].copy(), a[4:8].copy()
        elif m == "IFNV" and "GAL" not in out:
            out["GAL"] = vals[r, :3].copy()
        elif m == "CNVX" and s == "C" and "BDS_BDGIM" not in out:
            out["BDS_BDGIM"] = vals[r, :9].copy()  # BDGIM alpha1..alpha9
    return out


# ------------------------------------------------------------------------------------------------
def read_nav(source: str | os.PathLike | bytes, *, repair_semicircles: bool = False) -> NavData:
    """Read one RINEX 2/3/4 navigation file (plain, .gz or .Z; or its bytes).

    A system whose angular elements are written in semicircles instead of radians is always
    reported in ``skipped``; ``repair_semicircles=True`` also scales them to radians.

    Returns NavData with Kepler and GLONASS ephemerides (GPST ns), ionosphere parameters and
    leap seconds; unsupported records (SBAS, STO, EOP, unknown) are counted in ``skipped``.
    Raises :class:`NavError` on an unreadable header, a corrupt number or epoch.
    """
    data, name = _load_bytes(source)
    if not data.strip():
        raise NavError(f"{name}: empty file")
    data = data.replace(b"\r", b"")
    eoh = data.find(b"END OF HEADER")
    cut = data.find(b"\n", eoh) if eoh >= 0 else -1
    head = data[:cut] if cut >= 0 else data
    hdr = _parse_header(head.split(b"\n"), name)
    version, v2 = hdr["version"], hdr["version"] < 3
    nav = NavData(iono=dict(hdr["iono"]), leap_seconds=hdr["leap"])
    skipped: list[str] = []
    lines = _Lines(data[cut + 1:] if cut >= 0 else b"")
    if len(lines) == 0:
        nav.skipped = [f"{name}: no records after the header"]
        log.warning("%s", nav.skipped[0])
        return nav
    nb = len(lines)
    first = lines.char(0)
    if version >= 4:
        hrow = np.flatnonzero(first == ord(">"))
        if hrow.size == 0 or hrow[0] != 0:
            raise NavError(f"{name}: line {hdr['end'] + 1}: RINEX 4 record does not start with '>'")
        start = hrow + 1
        nlines = np.diff(np.append(hrow, nb)) - 1
        # '> EPH G01 LNAV': record type cols 2-4, satellite 6-8, message 10-13
        heads = lines.gather(hrow, 14)
        kind = np.ascontiguousarray(heads[:, 2:5]).view("S3").ravel().astype("<U3")
        sys_ = np.ascontiguousarray(heads[:, 6:7]).view("S1").ravel().astype("<U1")
        msg = np.char.strip(np.ascontiguousarray(heads[:, 10:14]).view("S4").ravel().astype("<U4"))
    else:
        if v2:
            is_start = (first != ord(" ")) | (lines.char(1) != ord(" "))
        else:
            is_start = np.isin(first, np.frombuffer(SYSTEMS.encode(), np.uint8))
        start = np.flatnonzero(is_start)
        if start.size == 0 or (start[0] != 0 and lines.text(0).strip()):
            raise NavError(f"{name}: line {hdr['end'] + 1}: expected a satellite/epoch line")
        nlines = np.diff(np.append(start, nb))
        kind = np.full(start.size, "EPH")
        if v2:
            sys_ = np.full(start.size, hdr["system"])
        else:
            sys_ = first[start].astype(np.uint8).view("S1").astype("<U1")
        msg = np.full(start.size, "", dtype="<U4")
        msg[sys_ == "R"] = "FDMA"
        msg[np.isin(sys_, ["G", "J", "I"])] = "LNAV"
        msg[sys_ == "C"] = "D?"  # D1 or D2: decided from the PRN (GEOs broadcast D2)
    # every other line must be a continuation line (indented); anything else is a corrupt record
    # start that would otherwise be swallowed silently by the previous record
    cont = np.ones(nb, bool)
    cont[start] = False
    if version >= 4:
        cont[hrow] = False
    bad = cont & ((first != ord(" ")) | (lines.char(1) != ord(" ")) | (lines.char(2) != ord(" ")))
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise NavError(f"{name}: line {hdr['end'] + r + 1}: unexpected line {lines.text(r)[:40]!r}"
                       f" (not a record start nor an indented continuation)")
    if (nlines < 1).any():
        r = int(np.flatnonzero(nlines < 1)[0])
        raise NavError(f"{name}: line {hdr['end'] + start[r]}: empty record")
    # Galileo in RINEX 2/3: I/NAV vs F/NAV decided from the data-source bits after parsing
    eph = kind == "EPH"
    kepler_ok = eph & np.array([(s, m) in _MSG_LAYOUT and s != "R" for s, m in zip(sys_.tolist(), msg.tolist())])
    glo_ok = eph & (sys_ == "R") & ((msg == "FDMA") | (msg == ""))
    ion = kind == "ION"
    # minimum record lengths (a truncated last record is an error, not a silent partial record)
    need = np.where(sys_ == "R", 4, np.where(kepler_ok, 7, 1))
    short = (kepler_ok | glo_ok) & (nlines < need)
    if short.any():
        r = int(np.flatnonzero(short)[0])
        raise NavError(f"{name}: line {hdr['end'] + start[r] + 1}: {sys_[r]} record has {nlines[r]} lines,"
                       f" expected at least {need[r]} (truncated?)")
    rest = ~(kepler_ok | glo_ok | ion)
    if rest.any():
        labels = np.char.add(np.char.add(np.char.add(kind[rest], " "), np.char.add(sys_[rest], " ")), msg[rest])
        u, c = np.unique(labels, return_counts=True)
        for lab, cnt in zip(u.tolist(), c.tolist()):
            skipped.append(f"{name}: {cnt} {lab.strip()} records skipped (not used)")
    line0 = hdr["end"]
    kr = np.flatnonzero(kepler_ok)
    nav.kepler = _kepler_from(_Records(lines, start[kr], nlines[kr], line0), sys_[kr], msg[kr], v2, name, skipped,
                              repair_semicircles)
    gr = np.flatnonzero(glo_ok)
    nav.glonass = _glonass_from(_Records(lines, start[gr], nlines[gr], line0), v2, name)
    ir = np.flatnonzero(ion)
    if ir.size:
        iono4 = _iono_from_rinex4(_Records(lines, start[ir], nlines[ir], line0), sys_[ir], msg[ir], name)
        nav.iono = {**iono4, **nav.iono}
    nav.skipped = skipped
    for s in skipped:
        log.info("%s", s)
    return nav


def read_navs(sources, *, repair_semicircles: bool = False) -> NavData:
    """Read several navigation files and merge them; duplicate ephemerides are dropped."""
    out = NavData()
    for src in sources:
        out = out.merge(read_nav(src, repair_semicircles=repair_semicircles))
    return dedupe(out)


def dedupe(nav: NavData) -> NavData:
    """Drop repeated ephemerides (same satellite, toe, toc, IODE and source); sort by (sat, toe)."""
    k = nav.kepler
    if len(k):
        key = np.rec.fromarrays([k.sat, k.toe_ns, k.toc_ns, k.iode, k.source, k.ttr_ns])
        _, first = np.unique(key[["f0", "f1", "f2", "f3", "f4"]], return_index=True)
        first = np.sort(first)
        order = np.lexsort((k.ttr_ns[first], k.toe_ns[first], k.sat[first]))
        nav.kepler = k.take(first[order])
    g = nav.glonass
    if len(g):
        key = np.rec.fromarrays([g.sat, g.toe_ns])
        _, first = np.unique(key, return_index=True)
        order = np.lexsort((g.toe_ns[first], g.sat[first]))
        nav.glonass = g.take(first[order])
    return nav
