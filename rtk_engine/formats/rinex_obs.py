"""RINEX observation files (2.10/2.11, 3.0x, 4.0x; plain, Hatanaka, .gz, .Z) -> :class:`ObsBlock`.

Reading is vectorised: the body is split into lines once, epoch lines are walked in Python
(one short step per epoch, never per value), and all observation records of a file are cut
into one ``[records, types, 16]`` byte matrix whose numbers are decoded with a few numpy
passes. Hatanaka (Compact RINEX) files are decoded by :mod:`.hatanaka` into the same record
table, so both paths share the assembly into an :class:`ObsBlock`.

Observation codes come out as RINEX 3 codes. RINEX 3.00-3.02 BeiDou band "1" (B1I written
as ``C1I``) is renamed to band "2" (``C2I``), as RINEX 3.03 did. RINEX 2 types are mapped:

======  =====================================  ==========================================
system  RINEX 2 type                           RINEX 3 code
======  =====================================  ==========================================
G       C1 / P1                                1C / 1W
G       L1, D1, S1                             1C (1W when the file has P1 but no C1)
G       C2 (L2C) / P2                          2X / 2W
G       L2, D2, S2                             2W (2X when the file has C2 but no P2)
G       C5, L5, D5, S5                         5X
R       C1 / P1, L1 D1 S1                      1C / 1P, phase etc. 1C (1P if P1 only)
R       C2 / P2, L2 D2 S2                      2C / 2P, phase etc. 2P (2C if C2 only)
E       C1 L1 D1 S1 / C5.. / C6.. / C7.. / C8..  1X / 5X / 6X / 7X / 8X
S       C1 L1 D1 S1 / C5..                     1C / 5X
J, C    band n                                 nX
======  =====================================  ==========================================

Values are divided by their SCALE FACTOR where the header has one. A value of exactly 0.0 is "missing" (RINEX 2 and 3 specifications) and becomes NaN.

Slots: every distinct RINEX 3 code of a system is its own slot (C1C and C1W are two slots;
the solver chooses), ordered by first appearance in the header. ``lli`` of a slot is the
loss-of-lock indicator of its phase observation (of its code when the slot has no phase).
Epoch flag 1 (power failure) sets LLI bit 0 on every phase of that epoch; flags 2-5 carry
header lines (kept as comments, event noted in ``header.skipped``); flag 6 (cycle-slip
records) is skipped with a note. Time is converted to GPST int64 ns from the file's time
system (``header.time_system`` keeps the file's own). Receiver clock offsets, where the file
has them, are returned by :func:`read_obs_clock`.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _ext, gnss_time
from ..arrays import unique
from ..obs import ObsBlock, ObsHeader
from ..satellites import SYSTEMS
from .compressed import CompressedDataError, decompress_bytes

log = logging.getLogger(__name__)

SPACE = 32


class RinexError(ValueError):
    """A RINEX observation file that cannot be read; the message names the file and line."""


# ----------------------------------------------------------------------------------- records
@dataclass
class Records:
    """Decoded observation records of a file before assembly (shared with the Hatanaka path).

    ``epoch_*[E]`` describe observation epochs (flags 0/1 only) in the file's time system;
    record ``r`` belongs to epoch ``rec_epoch[r]`` and satellite ``rec_sat[r]``; ``values[r, t]``
    is the value of the ``t``-th observation type of that satellite's system (NaN = blank),
    ``lli[r, t]`` its loss-of-lock indicator (0 when blank).
    """

    epoch_ns: np.ndarray
    epoch_flag: np.ndarray
    clock_s: np.ndarray
    rec_epoch: np.ndarray
    rec_sat: np.ndarray
    values: np.ndarray
    lli: np.ndarray
    skipped: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


@dataclass
class RawHeader:
    """Header fields needed to read the body, plus the :class:`ObsHeader` being built."""

    version: float
    obs_types: dict[str, list[str]]  # system -> observation types as written (RINEX 2: "L1", RINEX 3: "C1C")
    header: ObsHeader
    n_lines: int  # header lines including END OF HEADER
    file_system: str = "M"
    # (system or "*" for all, observation type as written, or "*" for all) -> divisor (SCALE FACTOR records)
    scale: dict[tuple[str, str], float] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ header
def _f(s: str, default: float = float("nan")) -> float:
    try:
        return float(s.replace("D", "E").replace("d", "E"))
    except ValueError:
        return default


def parse_header(lines: list[bytes], name: str, first_line: int = 0) -> RawHeader:
    """Parse RINEX observation header lines (``lines`` starts at the header's first line)."""
    h = ObsHeader()
    obs_types: dict[str, list[str]] = {}
    version = float("nan")
    file_system = "M"
    cont_sys = ""
    r2_types: list[str] = []
    r2_n = 0
    r3_n: dict[str, int] = {}
    end = None
    glo_n = 0
    time_sys_given = False
    scale: dict[tuple[str, str], float] = {}
    scale_ctx: tuple[str, float] | None = None
    for i, raw in enumerate(lines):
        line = raw.decode("ascii", "replace").rstrip("\r\n")
        label = line[60:80].strip()
        if i == 0:
            if "RINEX VERSION / TYPE" not in label:
                raise RinexError(f"{name}: line {first_line + 1}: not a RINEX file (no RINEX VERSION / TYPE)")
            version = _f(line[0:9])
            if not np.isfinite(version):
                raise RinexError(f"{name}: line {first_line + 1}: bad RINEX version {line[0:9]!r}")
            if line[20:21].upper() not in ("O", ""):
                raise RinexError(f"{name}: line {first_line + 1}: not an observation file (type {line[20]!r})")
            file_system = (line[40:41].strip() or "G").upper()
            continue
        if label == "END OF HEADER":
            end = i + 1
            break
        if label == "COMMENT":
            h.comments.append(line[:60].rstrip())
        elif label == "MARKER NAME":
            h.marker_name = line[:60].strip()
        elif label == "MARKER NUMBER":
            h.marker_number = line[:20].strip()
        elif label == "REC # / TYPE / VERS":
            h.receiver_type = line[20:40].strip()
            h.receiver_version = line[40:60].strip()
        elif label == "ANT # / TYPE":
            h.antenna_serial = line[0:20].strip()
            h.antenna_type = line[20:40].rstrip()
        elif label == "ANTENNA: DELTA H/E/N":
            h.antenna_delta_hen_m = np.array([_f(line[0:14], 0.0), _f(line[14:28], 0.0), _f(line[28:42], 0.0)])
        elif label == "APPROX POSITION XYZ":
            h.approx_pos_ecef_m = np.array([_f(line[0:14]), _f(line[14:28]), _f(line[28:42])])
        elif label == "INTERVAL":
            h.interval_s = _f(line[0:10])
        elif label == "TIME OF FIRST OBS":
            ts = line[48:51].strip()
            if ts:
                h.time_system = ts
                time_sys_given = True
        elif label == "# / TYPES OF OBSERV":  # RINEX 2
            if line[0:6].strip():
                r2_n = int(_f(line[0:6], 0))
            for k in range(9):
                t = line[6 + 6 * k:12 + 6 * k].strip()
                if t:
                    r2_types.append(t)
        elif label == "SYS / # / OBS TYPES":  # RINEX 3/4
            if line[0:1].strip():
                cont_sys = line[0].upper()
                r3_n[cont_sys] = int(_f(line[3:6], 0))
                obs_types[cont_sys] = []
            if not cont_sys:
                raise RinexError(f"{name}: line {first_line + i + 1}: SYS / # / OBS TYPES without a system")
            for k in range(13):
                t = line[7 + 4 * k:10 + 4 * k].strip()
                if t:
                    obs_types[cont_sys].append(t)
        elif label == "SYS / SCALE FACTOR":  # RINEX 3: values were multiplied by the factor
            if line[0:1].strip():
                cont_sys, fac = line[0].upper(), _f(line[2:6], 1.0)
                scale_ctx = (cont_sys, fac)
                if not line[8:10].strip():
                    scale[(cont_sys, "*")] = fac
            for k in range(12):
                t = line[10 + 4 * k:14 + 4 * k].strip()
                if t and scale_ctx:
                    scale[(scale_ctx[0], t)] = scale_ctx[1]
        elif label == "OBS SCALE FACTOR":  # RINEX 2
            fac = _f(line[0:6], 1.0)
            if not line[6:12].strip():
                scale[("*", "*")] = fac
            for k in range(8):
                t = line[12 + 6 * k:18 + 6 * k].strip()
                if t:
                    scale[("*", t)] = fac
        elif label == "GLONASS SLOT / FRQ #":
            if line[0:3].strip():
                glo_n = int(_f(line[0:3], 0))
            for k in range(8):
                ent = line[4 + 7 * k:11 + 7 * k]
                sat, frq = ent[0:3].strip(), ent[4:7].strip()
                if sat and frq:
                    try:
                        h.glonass_channels["R%02d" % int(sat[1:])] = int(frq)
                    except ValueError:
                        h.skipped.append(f"line {first_line + i + 1}: bad GLONASS SLOT / FRQ # entry {ent!r}")
    if end is None:
        raise RinexError(f"{name}: no END OF HEADER (empty, truncated or not a RINEX observation file)")
    h.rinex_version = float(version)
    if version < 3:
        if len(r2_types) != r2_n:
            h.skipped.append(f"header: # / TYPES OF OBSERV says {r2_n} types, lists {len(r2_types)}")
        systems = "GRES" if file_system == "M" else file_system
        for s in systems:
            obs_types[s] = list(r2_types)
        if not r2_types:
            raise RinexError(f"{name}: RINEX 2 header has no # / TYPES OF OBSERV")
    else:
        for s, n in r3_n.items():
            if len(obs_types[s]) != n:
                h.skipped.append(f"header: SYS / # / OBS TYPES {s} says {n} types, lists {len(obs_types[s])}")
        if not obs_types:
            raise RinexError(f"{name}: RINEX 3 header has no SYS / # / OBS TYPES")
    if glo_n and len(h.glonass_channels) != glo_n:
        h.skipped.append(f"header: GLONASS SLOT / FRQ # says {glo_n} satellites, lists {len(h.glonass_channels)}")
    if not time_sys_given:  # RINEX: default is the file's system (GPS for mixed files)
        h.time_system = {"R": "GLO", "E": "GAL", "C": "BDT", "J": "QZS", "I": "IRN"}.get(file_system, "GPS")
    return RawHeader(version=float(version), obs_types=obs_types, header=h, n_lines=end, file_system=file_system,
                     scale=scale)


# ---------------------------------------------------------------------- observation codes
_R2_BAND_DEFAULT = {"E": "X", "J": "X", "C": "X", "I": "X"}


def rinex2_code_map(system: str, types: list[str]) -> dict[str, str]:
    """RINEX 2 observation types of one system -> RINEX 3 three-character types (see module doc)."""
    ts = set(types)
    out: dict[str, str] = {}
    for t in types:
        if len(t) != 2 or not t[1].isdigit():
            continue
        kind, band = t[0], t[1]
        if kind == "P":
            kind3 = "C"
        else:
            kind3 = kind
        if system == "G":
            if band == "1":
                attr = "W" if (t == "P1" or (kind != "C" and "P1" in ts and "C1" not in ts)) else "C"
            elif band == "2":
                if t == "P2":
                    attr = "W"
                elif t == "C2":
                    attr = "X"
                else:
                    attr = "X" if ("C2" in ts and "P2" not in ts) else "W"
            else:
                attr = "X"
        elif system == "R":
            if band in "12":
                pk, ck = "P" + band, "C" + band
                if t == pk:
                    attr = "P"
                elif t == ck:
                    attr = "C"
                elif band == "1":
                    attr = "P" if (pk in ts and ck not in ts) else "C"
                else:
                    attr = "C" if (ck in ts and pk not in ts) else "P"
            else:
                attr = "X"
        elif system == "S":
            attr = "C" if band == "1" else "X"
        else:
            attr = _R2_BAND_DEFAULT.get(system, "X")
        out[t] = f"{kind3}{band}{attr}"
    return out


def rinex3_types(raw: RawHeader) -> dict[str, list[str]]:
    """Per system, the RINEX 3 three-character type of each written column (\"\" = not mapped)."""
    out: dict[str, list[str]] = {}
    for s, types in raw.obs_types.items():
        if raw.version < 3:
            m = rinex2_code_map(s, types)
            out[s] = [m.get(t, "") for t in types]
        else:
            conv = []
            for t in types:
                if s == "C" and raw.version < 3.03 and len(t) == 3 and t[1] == "1":
                    t = t[0] + "2" + t[2]  # RINEX 3.02 B1I "C1I" -> "C2I"
                conv.append(t)
            out[s] = conv
    return out


# ------------------------------------------------------------------------------ numbers
_P10 = 10 ** np.arange(19, dtype=np.int64)
_F14_WF = np.array([10.0 ** (12 - p) for p in range(10)] + [0.0, 100.0, 10.0, 1.0])  # 1/1000 units


def parse_f14_3(num: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[..., 14]`` uint8 F14.3 fields -> (float64 values with NaN for blanks, bad-field mask).

    Exact: the digits are summed as an integer count of 1/1000 units (exact in float64 below
    2**53) and divided once, so the value equals ``float(text)``. A field that is not plain
    right-aligned F14.3 text goes through ``float()``; if that fails too it is NaN and ``bad``.
    """
    shape = num.shape[:-1]
    u = np.ascontiguousarray(num).reshape(-1, 14)
    compiled = _ext.kernel("rinex_core", "parse_f14_3")  # optional Cython kernel, same numbers
    if compiled is not None:
        vals, bad = compiled(u)
    else:
        vals, bad = _parse_f14_3_numpy(u)
    if bad.any():
        for k in np.flatnonzero(bad):
            try:
                vals[k] = float(u[k].tobytes().decode("ascii"))
                bad[k] = False
            except (ValueError, UnicodeDecodeError):
                vals[k] = np.nan
    return vals.reshape(shape), bad.reshape(shape)


def _parse_f14_3_numpy(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vectorised F14.3 pass of :func:`parse_f14_3` on ``[N, 14]`` fields: (values, bad)."""
    vals = np.empty(u.shape[0])
    bad = np.zeros(u.shape[0], bool)
    for a in range(0, u.shape[0], 65536):
        c = u[a:a + 65536]
        d = c - np.uint8(48)  # wraps for non-digits
        is_d = d <= 9
        nonsp = c != SPACE
        nonblank = nonsp.any(axis=1)
        v = np.where(is_d, d, np.uint8(0)).astype(np.float64) @ _F14_WF
        neg = (c == 45).any(axis=1)
        v[neg] *= -1.0
        n_nsp = nonsp.sum(axis=1)
        gap = (nonsp[:, :-1] & ~nonsp[:, 1:]).any(axis=1)
        first = c[np.arange(c.shape[0]), np.clip(14 - n_nsp, 0, 13)]
        ok = (c[:, 10] == 46) & ~gap & (n_nsp - is_d.sum(axis=1) == 1 + neg) & (~neg | (first == 45))
        v /= 1000.0
        v[~nonblank] = np.nan
        vals[a:a + 65536] = v
        bad[a:a + 65536] = nonblank & ~ok
    return vals, bad


def _digit(c: np.ndarray) -> np.ndarray:
    """uint8 characters -> digit value, 0 for blanks/others."""
    d = c.astype(np.int16) - 48
    return np.where((d >= 0) & (d <= 9), d, 0).astype(np.uint8)


def decode_fields(mat: np.ndarray, n_types: int, line_of_row, name: str, skipped: list[str]):
    """``[N, >=16*T]`` uint8 record text (satellite id removed) -> values [N, T], lli [N, T].

    Unreadable numbers become NaN with one note per affected record.
    """
    n = mat.shape[0]
    fields = mat[:, :16 * n_types].reshape(n, n_types, 16)
    vals, bad = parse_f14_3(fields[:, :, :14])
    lli = _digit(fields[:, :, 14])
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        for r in rows[:50]:
            skipped.append(f"line {line_of_row(r)}: unreadable observation value(s) "
                           f"{[fields[r, t, :14].tobytes().decode('ascii', 'replace') for t in np.flatnonzero(bad[r])]}"
                           f" set absent")
        if rows.size > 50:
            skipped.append(f"... {rows.size - 50} more records with unreadable values set absent")
    lli[np.isnan(vals)] = 0
    return vals, lli


def _pad_rows(rows: list[bytes], width: int) -> np.ndarray:
    """List of byte lines -> ``[N, width]`` uint8 matrix, space padded / cut."""
    if not rows:
        return np.zeros((0, width), np.uint8)
    return np.frombuffer(b"".join([r[:width].ljust(width) for r in rows]), np.uint8).reshape(len(rows), width)


# ------------------------------------------------------------------------- epoch parsing
_R3_EPOCH = re.compile(rb"^>\s*(\d{4})\s+(\d{1,2})\s+(\d{1,2})\s+(\d{1,2})\s+(\d{1,2})\s+(\d+\.\d*)\s+(\d)\s*(\d+)")
_R3_EVENT = re.compile(rb"^>.{30}(\d)([ \d]{3})")
_R2_EPOCH = re.compile(rb"^ [ \d]\d [ \d]\d [ \d]\d [ \d]\d [ \d]\d [ \d]\d\.\d{7}  [0-6][ \d]{2}\d")
_R2_EVENT = re.compile(rb"^.{28}([2-5])([ \d]{2}\d)")


def _sec_ns(sec: bytes) -> int:
    s = sec.decode("ascii").strip()
    whole, _, frac = s.partition(".")
    frac = (frac + "000000000")[:9]
    return int(whole) * 1_000_000_000 + int(frac)


_GPS_ORDINAL = _dt.date(1980, 1, 6).toordinal()


def _epoch_ns(y: int, mo: int, d: int, h: int, mi: int, sec_ns: int) -> int:
    """Calendar fields (2-digit years: 80-99 -> 19xx) -> ns since the GPS epoch in the same scale."""
    if y < 100:
        y += 2000 if y < 80 else 1900
    days = _dt.date(y, mo, d).toordinal() - _GPS_ORDINAL
    return ((days * 86400 + h * 3600 + mi * 60) * 1_000_000_000) + sec_ns


def _clock_value(text: bytes) -> float:
    t = text.strip()
    if not t:
        return float("nan")
    try:
        return float(t)
    except ValueError:
        return float("nan")


# --------------------------------------------------------------------------- body: RINEX 3
def _read_body_v3(lines: list[bytes], first: int, raw: RawHeader, name: str, n_types: int) -> Records:
    """Body of a RINEX 3/4 file: ``lines[first:]`` (``first`` = index after END OF HEADER)."""
    skipped: list[str] = []
    comments: list[str] = []
    epoch_idx = [i for i in range(first, len(lines)) if lines[i][:1] == b">"]
    # lines that are neither epoch lines nor inside an epoch are reported below
    ep_ns: list[int] = []
    ep_flag: list[int] = []
    ep_clock: list[float] = []
    rec_rows: list[bytes] = []
    rec_line: list[int] = []
    rec_ep: list[int] = []
    n_ep = len(epoch_idx)
    expected_end = first
    for j, i in enumerate(epoch_idx):
        line = lines[i]
        nxt = epoch_idx[j + 1] if j + 1 < n_ep else len(lines)
        if i > expected_end:
            stray = [k for k in range(expected_end, i) if lines[k].strip()]
            if stray:
                skipped.append(f"line {stray[0] + 1}: {len(stray)} line(s) outside any epoch skipped")
        m = _R3_EPOCH.match(line)
        if m is None:
            ev = _R3_EVENT.match(line)
            if ev is not None and ev.group(1) in b"2345":
                flag, n = int(ev.group(1)), int(ev.group(2) or 0)
            else:
                skipped.append(f"line {i + 1}: corrupt epoch line {line[:40]!r}, epoch skipped")
                expected_end = nxt
                continue
            m_time = None
        else:
            flag, n = int(m.group(7)), int(m.group(8))
            m_time = m
        body_n = nxt - i - 1
        if flag in (2, 3, 4, 5):
            take = min(n, body_n)
            for k in range(i + 1, i + 1 + take):
                comments.append(lines[k][:60].decode("ascii", "replace").rstrip())
            _note_event(flag, n, i, skipped, comments)
            expected_end = i + 1 + take
            continue
        if flag == 6:
            skipped.append(f"line {i + 1}: event flag 6, {n} cycle-slip record(s) skipped")
            expected_end = i + 1 + min(n, body_n)
            continue
        if flag not in (0, 1) or m_time is None:
            skipped.append(f"line {i + 1}: bad epoch flag {flag}, epoch skipped")
            expected_end = nxt
            continue
        if body_n < n:
            what = "truncated file" if nxt == len(lines) else "epoch has fewer records than announced"
            skipped.append(f"line {i + 1}: {what}: {n} satellites announced, {body_n} record line(s); epoch skipped")
            expected_end = nxt
            continue
        try:
            g = [int(m_time.group(k)) for k in range(1, 6)]
            t_ns = _epoch_ns(g[0], g[1], g[2], g[3], g[4], _sec_ns(m_time.group(6)))
        except ValueError:
            skipped.append(f"line {i + 1}: bad epoch time {line[:35]!r}, epoch skipped")
            expected_end = nxt
            continue
        e = len(ep_ns)
        ep_ns.append(t_ns)
        ep_flag.append(flag)
        ep_clock.append(_clock_value(line[41:56]))
        rec_rows.extend(lines[i + 1:i + 1 + n])
        rec_line.extend(range(i + 2, i + 2 + n))
        rec_ep.extend([e] * n)
        expected_end = i + 1 + n
    if expected_end < len(lines):
        stray = [k for k in range(expected_end, len(lines)) if lines[k].strip()]
        if stray:
            skipped.append(f"line {stray[0] + 1}: {len(stray)} line(s) after the last epoch skipped")
    width = 3 + 16 * max(n_types, 1)
    mat = _pad_rows(rec_rows, width)
    rec_line_a = np.asarray(rec_line, np.int64)
    sats = _sat_ids(mat[:, :3])
    ok = _valid_sats(sats)
    rec_ep_a = np.asarray(rec_ep, np.int64)
    if not ok.all():
        for r in np.flatnonzero(~ok)[:20]:
            skipped.append(f"line {rec_line_a[r]}: bad satellite id {mat[r, :3].tobytes()!r}, record skipped")
        mat, sats, rec_ep_a, rec_line_a = mat[ok], sats[ok], rec_ep_a[ok], rec_line_a[ok]
    vals, lli = decode_fields(mat[:, 3:], n_types, lambda r: int(rec_line_a[r]), name, skipped)
    return Records(np.asarray(ep_ns, np.int64), np.asarray(ep_flag, np.int8), np.asarray(ep_clock, float),
                   rec_ep_a, sats, vals, lli, skipped, comments)


_EVENT_NAMES = {2: "start moving antenna", 3: "new site occupation", 4: "header information follows",
                5: "external event"}


def _note_event(flag: int, n: int, i: int, skipped: list[str], comments: list[str]) -> None:
    """Events 4/5 go to the comments; 2/3 (antenna moved, new site) also to ``skipped``."""
    note = f"line {i + 1}: event flag {flag} ({_EVENT_NAMES[flag]}), {n} header line(s) kept as comments"
    comments.append(note)
    if flag in (2, 3):
        skipped.append(note + ": observations after it may belong to another antenna position")


def _sat_ids(m3: np.ndarray) -> np.ndarray:
    """``[N, 3]`` uint8 satellite fields ("G 5", "G05", " 5") -> "<U3" ids ("G05")."""
    m3 = m3.copy()
    m3[m3[:, 0] == SPACE, 0] = ord("G")  # RINEX 2: blank system = GPS
    m3[m3[:, 1] == SPACE, 1] = ord("0")
    return m3.view("S3").reshape(-1).astype("<U3")


def _valid_sats(sats: np.ndarray) -> np.ndarray:
    a = np.asarray(sats, "<U3")
    if a.size == 0:
        return np.zeros(0, bool)
    ch = a.view("<U1").reshape(a.size, 3)
    ok = np.isin(ch[:, 0], list(SYSTEMS))
    ok &= np.char.isdigit(ch[:, 1]) & np.char.isdigit(ch[:, 2])
    return ok


# --------------------------------------------------------------------------- body: RINEX 2
def _read_body_v2(lines: list[bytes], first: int, raw: RawHeader, name: str, n_types: int) -> Records:
    skipped: list[str] = []
    comments: list[str] = []
    lines_per_sat = max(1, (n_types + 4) // 5)
    ep_ns: list[int] = []
    ep_flag: list[int] = []
    ep_clock: list[float] = []
    rec_rows: list[bytes] = []
    rec_line: list[int] = []
    rec_ep: list[int] = []
    rec_sat: list[bytes] = []
    i = first
    n_lines = len(lines)
    while i < n_lines:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = _R2_EPOCH.match(line)
        if m is None:
            ev = _R2_EVENT.match(line)
            if ev is not None and line[:26].strip() == b"":
                flag, n = int(ev.group(1)), int(ev.group(2))
                take = min(n, n_lines - i - 1)
                for k in range(i + 1, i + 1 + take):
                    comments.append(lines[k][:60].decode("ascii", "replace").rstrip())
                _note_event(flag, n, i, skipped, comments)
                i += 1 + take
                continue
            # resynchronise on the next line that looks like an epoch line
            j = i + 1
            while j < n_lines and _R2_EPOCH.match(lines[j]) is None:
                j += 1
            skipped.append(f"line {i + 1}: corrupt epoch line {line[:32]!r}; lines {i + 1}-{j} skipped")
            i = j
            continue
        flag = int(line[28:29])
        n = int(line[29:32])
        if flag in (2, 3, 4, 5):
            take = min(n, n_lines - i - 1)
            for k in range(i + 1, i + 1 + take):
                comments.append(lines[k][:60].decode("ascii", "replace").rstrip())
            _note_event(flag, n, i, skipped, comments)
            i += 1 + take
            continue
        n_sat_lines = max(1, (n + 11) // 12)
        sat_text = b"".join(lines[k][32:68].ljust(36) for k in range(i, min(i + n_sat_lines, n_lines)))
        body_start = i + n_sat_lines
        n_rec_lines = n * lines_per_sat
        if body_start + n_rec_lines > n_lines:
            skipped.append(f"line {i + 1}: truncated file: epoch announces {n} satellites, "
                           f"{max(0, n_lines - body_start)} of {n_rec_lines} record lines present; epoch skipped")
            break
        block = lines[body_start:body_start + n_rec_lines]
        # a record line can never look like an epoch line ('.' in column 16): detect short epochs
        bad_k = [k for k, bl in enumerate(block) if _R2_EPOCH.match(bl)]
        if bad_k:
            skipped.append(f"line {i + 1}: epoch has fewer record lines than announced ({n} satellites); epoch skipped")
            i = body_start + bad_k[0]
            continue
        if flag == 6:
            skipped.append(f"line {i + 1}: event flag 6, {n} cycle-slip record(s) skipped")
            i = body_start + n_rec_lines
            continue
        sats = [sat_text[3 * k:3 * k + 3] for k in range(n)]
        try:
            t_ns = _epoch_ns(int(line[1:3]), int(line[4:6]), int(line[7:9]), int(line[10:12]), int(line[13:15]),
                             _sec_ns(line[15:26]))
        except ValueError:
            skipped.append(f"line {i + 1}: bad epoch time {line[:26]!r}, epoch skipped")
            i = body_start + n_rec_lines
            continue
        e = len(ep_ns)
        ep_ns.append(t_ns)
        ep_flag.append(flag)
        ep_clock.append(_clock_value(line[68:80]))
        if lines_per_sat == 1:
            rec_rows.extend(block)
        else:
            rec_rows.extend(b"".join(bl[:80].ljust(80) for bl in block[k * lines_per_sat:(k + 1) * lines_per_sat])
                            for k in range(n))
        rec_line.extend(range(body_start + 1, body_start + 1 + n_rec_lines, lines_per_sat))
        rec_ep.extend([e] * n)
        rec_sat.extend(sats)
        i = body_start + n_rec_lines
    width = 80 * lines_per_sat
    mat = _pad_rows(rec_rows, width)
    rec_line_a = np.asarray(rec_line, np.int64)
    sat_m = np.frombuffer(b"".join(s.ljust(3) for s in rec_sat), np.uint8).reshape(-1, 3) if rec_sat else np.zeros((0, 3), np.uint8)
    sats = _sat_ids(sat_m)
    ok = _valid_sats(sats)
    rec_ep_a = np.asarray(rec_ep, np.int64)
    if not ok.all():
        for r in np.flatnonzero(~ok)[:20]:
            skipped.append(f"line {rec_line_a[r]}: bad satellite id {sat_m[r].tobytes()!r}, record skipped")
        mat, sats, rec_ep_a, rec_line_a = mat[ok], sats[ok], rec_ep_a[ok], rec_line_a[ok]
    if lines_per_sat > 1:  # fields continue across 80-column lines: drop nothing, 5 fields per line
        parts = [mat[:, 80 * k:80 * k + 80] for k in range(lines_per_sat)]
        mat = np.concatenate(parts, axis=1)
    vals, lli = decode_fields(mat, n_types, lambda r: int(rec_line_a[r]), name, skipped)
    return Records(np.asarray(ep_ns, np.int64), np.asarray(ep_flag, np.int8), np.asarray(ep_clock, float),
                   rec_ep_a, sats, vals, lli, skipped, comments)


# ------------------------------------------------------------------------------ assembly
def _to_gpst(t_ns: np.ndarray, time_system: str) -> np.ndarray:
    ts = time_system.upper()
    if ts in ("GPS", "GAL", "QZS", "IRN", ""):
        return t_ns
    if ts == "BDT":
        return gnss_time.bdt_to_gpst(t_ns)
    if ts == "GLO":
        return gnss_time.glonasst_to_gpst(t_ns)
    if ts == "UTC":
        return gnss_time.utc_to_gpst(t_ns)
    raise RinexError(f"unknown time system {time_system!r}")


def assemble(raw: RawHeader, rec: Records, systems: str | None, name: str) -> ObsBlock:
    """Records + header -> :class:`ObsBlock` (sorted satellites, per-system signal slots)."""
    header = raw.header
    header.skipped.extend(rec.skipped)
    header.comments.extend(rec.comments)
    for note in rec.skipped:
        log.warning("%s: %s", name, note)
    types3 = rinex3_types(raw)
    sys_of_rec = rec.rec_sat.astype("<U1")
    keep = np.ones(rec.rec_sat.shape, bool)
    if systems:
        keep &= np.isin(sys_of_rec, list(systems.upper()))
    known = np.isin(sys_of_rec, list(types3))
    if (keep & ~known).any():
        bad_sys = sorted(set(sys_of_rec[keep & ~known].tolist()))
        header.skipped.append(f"{int((keep & ~known).sum())} record(s) of system(s) {bad_sys} without "
                              f"observation types in the header skipped")
        keep &= known
    sats = unique(rec.rec_sat[keep])
    signals: dict[str, tuple[str, ...]] = {}
    col_map: dict[str, list[tuple[int, str, int]]] = {}  # sys -> (column, kind, slot)
    present_sys = set(sats.astype("<U1").tolist())
    for s in sorted(present_sys, key=SYSTEMS.find):
        slots: list[str] = []
        cols = []
        for t, code3 in enumerate(types3[s]):
            orig = raw.obs_types[s][t]
            if len(code3) != 3 or code3[0] not in "CLDS":
                header.skipped.append(f"observation type {s} {orig!r} not stored (not a code/phase/Doppler/SNR type)")
                continue
            sig = code3[1:]
            if sig not in slots:
                slots.append(sig)
            cols.append((t, code3[0], slots.index(sig)))
        signals[s] = tuple(slots)
        col_map[s] = cols
    # time
    t_file = rec.epoch_ns
    time_ns = _to_gpst(t_file, header.time_system)
    blk = ObsBlock.empty({k: v for k, v in signals.items() if v}, sats, time_ns.size, header)
    blk.time_ns = np.asarray(time_ns, np.int64)
    if sats.size == 0:
        return blk
    sat_idx = np.searchsorted(sats, rec.rec_sat)
    has_phase_lli = np.zeros(blk.lli.shape, bool)
    for s, cols in col_map.items():
        rows = np.flatnonzero(keep & (sys_of_rec == s))
        if rows.size == 0:
            continue
        e_i, s_i = rec.rec_epoch[rows], sat_idx[rows]
        # duplicate (epoch, satellite) records: the last one wins, with a note
        key = e_i * sats.size + s_i
        n_distinct = unique(key).size
        if n_distinct != key.size:
            header.skipped.append(f"{key.size - n_distinct} duplicate {s} record(s) in an epoch: last kept")
        phase_slots = {slot for _, kind, slot in cols if kind == "L"}
        for t, kind, slot in cols:
            v = rec.values[rows, t]
            orig = raw.obs_types[s][t]
            fac = raw.scale.get((s, orig), raw.scale.get((s, "*"), raw.scale.get(("*", orig), raw.scale.get(("*", "*"), 1.0))))
            if fac not in (0.0, 1.0):
                v = v / fac
            zero = v == 0.0  # RINEX: "missing observations are written as 0.0 or blanks"
            if zero.any():
                v = np.where(zero, np.nan, v)
                rec.lli[rows[zero], t] = 0
            if kind == "C":
                blk.code_m[e_i, s_i, slot] = v
            elif kind == "L":
                blk.phase_cyc[e_i, s_i, slot] = v
                blk.lli[e_i, s_i, slot] = rec.lli[rows, t]
                has_phase_lli[e_i, s_i, slot] = True
            elif kind == "D":
                blk.doppler_hz[e_i, s_i, slot] = v
            else:
                blk.snr_dbhz[e_i, s_i, slot] = v
            if kind == "C" and slot not in phase_slots:
                blk.lli[e_i, s_i, slot] = rec.lli[rows, t]
    power = np.flatnonzero(rec.epoch_flag == 1)
    if power.size:
        sub = blk.lli[power]
        sub[~np.isnan(blk.phase_cyc[power])] |= 1
        blk.lli[power] = sub
        header.skipped.append(f"{power.size} epoch(s) with flag 1 (power failure): LLI bit 0 set on all phases")
    if time_ns.size > 1 and np.any(np.diff(time_ns) <= 0):
        header.skipped.append(f"{int(np.sum(np.diff(time_ns) <= 0))} epoch(s) not later than the previous one")
    return blk


# --------------------------------------------------------------------------------- entry
def _load(source) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = "<bytes>"
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        name = str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise RinexError(f"{name}: cannot read ({exc})") from exc
    elif hasattr(source, "read"):
        name = getattr(source, "name", "<stream>")
        data = source.read()
        if isinstance(data, str):
            data = data.encode("ascii", "replace")
    else:
        raise TypeError(f"cannot read RINEX from {type(source).__name__}")
    try:
        data = decompress_bytes(data, name)
    except CompressedDataError as exc:
        raise RinexError(str(exc)) from exc
    if b"\r" in data[:200_000]:
        data = data.replace(b"\r", b"")
    return data, name


def _read(source, systems: str | None) -> tuple[ObsBlock, np.ndarray]:
    data, name = _load(source)
    if not data.strip():
        raise RinexError(f"{name}: empty file")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    first = lines[0]
    cut_note = []
    if first[60:80].strip().startswith(b"CRINEX VERS"):
        from .hatanaka import read_crx_records

        if not data.endswith(b"\n") and len(lines) > 3:
            # a Hatanaka line cut short still decodes to (wrong) numbers: never trust it
            cut_note.append(f"line {len(lines)}: file does not end with a newline; last line treated as cut")
            lines.pop()
        raw, rec = read_crx_records(lines, name)
    else:
        raw = parse_header(lines, name)
        n_types = max(len(v) for v in raw.obs_types.values())
        if not data.endswith(b"\n") and len(lines) > raw.n_lines and _looks_cut(lines[-1], raw, n_types):
            cut_note.append(f"line {len(lines)}: file does not end with a newline and the last record line "
                            f"is short; treated as cut")
            lines.pop()
        if raw.version >= 3:
            rec = _read_body_v3(lines, raw.n_lines, raw, name, n_types)
        else:
            rec = _read_body_v2(lines, raw.n_lines, raw, name, n_types)
    rec.skipped[:0] = cut_note
    if rec.epoch_ns.size == 0 and not rec.skipped:
        rec.skipped.append("no observation epoch in the file (header only)")
    blk = assemble(raw, rec, systems, name)
    return blk, rec.clock_s


def _looks_cut(last: bytes, raw: RawHeader, n_types: int) -> bool:
    """True if a final line without newline is shorter than a complete record line."""
    if raw.version >= 3:
        if last[:1] == b">":
            return True
        t = len(raw.obs_types.get(last[:1].decode("ascii", "replace"), [])) or n_types
        return len(last) < 3 + 16 * t
    rem = n_types - 5 * ((n_types - 1) // 5)
    return len(last) < 80 and len(last) < 16 * rem


def read_obs(source, *, systems: str | None = None) -> ObsBlock:
    """Read a RINEX observation file (path, bytes or binary stream) into an :class:`ObsBlock`.

    ``systems``: keep only these system letters (e.g. ``"GEC"``). Raises :class:`RinexError`
    for a file that is not RINEX observation data; skipped or repaired parts are listed in
    ``block.header.skipped`` (and logged).
    """
    return _read(source, systems)[0]


def read_obs_clock(source, *, systems: str | None = None) -> tuple[ObsBlock, np.ndarray]:
    """Like :func:`read_obs`, also returning the receiver clock offset [s] per epoch (NaN if absent)."""
    return _read(source, systems)
