"""RINEX 3/4 observation writer for :class:`ObsBlock` (vectorised number formatting).

Resolution of the format: values F14.3 (1 mm, 0.001 cycle, 0.001 Hz, 0.001 dB-Hz) and epochs
F11.7 seconds (100 ns). ``read_obs(write_obs(block))`` reproduces a block read from a RINEX
file exactly. Column layout per system: for every signal slot in order, the C, L, D and S
observables that hold any value (the code column is kept for an all-empty slot so that the
slot survives). The slot's LLI is written on its phase column (on the code column if the slot
has no phase); signal strength indicators are left blank. Time system: GPS.
"""
from __future__ import annotations

import datetime as _dt
import io
import os
from pathlib import Path

import numpy as np

from ..obs import ObsBlock
from ..satellites import SYSTEMS

_KINDS = (("C", "code_m"), ("L", "phase_cyc"), ("D", "doppler_hz"), ("S", "snr_dbhz"))
SPACE = 32


def _hdr(text: str, label: str) -> str:
    return f"{text:<60.60}{label:<20}\n"


def format_f14_3(values: np.ndarray) -> np.ndarray:
    """float array [M] -> ``[M, 14]`` uint8 right-aligned F14.3 text; NaN -> blanks.

    Raises ``ValueError`` for a value that does not fit in 14 columns.
    """
    v = np.asarray(values, np.float64).reshape(-1)
    out = np.full((v.size, 14), SPACE, np.uint8)
    ok = np.isfinite(v)
    if not ok.any():
        return out
    k = np.rint(np.abs(v[ok]) * 1000.0).astype(np.int64)
    neg = (v[ok] < 0) & (k > 0)
    digits = np.empty((k.size, 13), np.uint8)  # least significant first
    rem = k.copy()
    for j in range(13):
        rem, digits[:, j] = np.divmod(rem, 10)
    if np.any(rem > 0):
        bad = v[ok][np.flatnonzero(rem > 0)[0]]
        raise ValueError(f"value {bad!r} does not fit RINEX F14.3")
    n_int = np.maximum(1, 10 - np.argmax(digits[:, :2:-1] > 0, axis=1))  # integer digits printed
    n_int = np.where((digits[:, 3:] == 0).all(axis=1), 1, n_int)
    if np.any(n_int + neg > 10):
        bad = v[ok][np.flatnonzero(n_int + neg > 10)[0]]
        raise ValueError(f"value {bad!r} does not fit RINEX F14.3")
    sub = out[ok]
    sub[:, 13], sub[:, 12], sub[:, 11] = digits[:, 0] + 48, digits[:, 1] + 48, digits[:, 2] + 48
    sub[:, 10] = ord(".")
    for j in range(10):  # column 9 - j holds integer digit j
        show = j < n_int
        sub[show, 9 - j] = digits[show, 3 + j] + 48
    rows = np.flatnonzero(neg)
    sub[rows, 9 - n_int[rows]] = ord("-")
    out[ok] = sub
    return out


def _columns(block: ObsBlock) -> dict[str, list[tuple[str, int, str]]]:
    """Per system: (kind, slot, RINEX 3 type) of every column to write."""
    sys_ = block.systems
    cols: dict[str, list[tuple[str, int, str]]] = {}
    for s in sorted(block.signals, key=SYSTEMS.find):
        rows = sys_ == s
        if not rows.any():
            continue
        out = []
        for slot, code in enumerate(block.signals[s]):
            kinds = [kind for kind, attr in _KINDS
                     if np.isfinite(getattr(block, attr)[:, rows, slot]).any()]
            if not kinds:
                kinds = ["C"]
            out.extend((kind, slot, kind + code) for kind in kinds)
        cols[s] = out
    return cols


def _header(block: ObsBlock, cols, version: str) -> str:
    h = block.header
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d %H%M%S UTC")
    systems = list(cols)
    sys_char = systems[0] if len(systems) == 1 else "M"
    lines = [_hdr(f"{float(version):9.2f}{'':11}{'OBSERVATION DATA':<20}{sys_char:<20}", "RINEX VERSION / TYPE"),
             _hdr(f"{'rtk_engine':<20}{'':<20}{now:<20}", "PGM / RUN BY / DATE")]
    for c in h.comments[:200]:
        lines.append(_hdr(c, "COMMENT"))
    lines.append(_hdr(h.marker_name, "MARKER NAME"))
    if h.marker_number:
        lines.append(_hdr(h.marker_number, "MARKER NUMBER"))
    lines.append(_hdr("", "OBSERVER / AGENCY"))
    lines.append(_hdr(f"{'':<20}{h.receiver_type:<20.20}{h.receiver_version:<20.20}", "REC # / TYPE / VERS"))
    lines.append(_hdr(f"{h.antenna_serial:<20.20}{h.antenna_type:<20.20}", "ANT # / TYPE"))
    pos = np.nan_to_num(np.asarray(h.approx_pos_ecef_m, float))
    lines.append(_hdr("".join(f"{x:14.4f}" for x in pos), "APPROX POSITION XYZ"))
    lines.append(_hdr("".join(f"{x:14.4f}" for x in np.asarray(h.antenna_delta_hen_m, float)), "ANTENNA: DELTA H/E/N"))
    for s, cl in cols.items():
        types = [t for _, _, t in cl]
        for k in range(0, max(len(types), 1), 13):
            chunk = "".join(f" {t:>3}" for t in types[k:k + 13])
            lead = f"{s}  {len(types):3d}" if k == 0 else " " * 6
            lines.append(_hdr(lead + chunk, "SYS / # / OBS TYPES"))
    lines.append(_hdr("DBHZ", "SIGNAL STRENGTH UNIT"))
    if np.isfinite(h.interval_s):
        lines.append(_hdr(f"{h.interval_s:10.3f}", "INTERVAL"))
    if block.n_epochs:
        for t, label in ((block.time_ns[0], "TIME OF FIRST OBS"), (block.time_ns[-1], "TIME OF LAST OBS")):
            y, mo, d, hh, mi, sec = _calendar(np.array([t]))
            lines.append(_hdr(f"{y[0]:6d}{mo[0]:6d}{d[0]:6d}{hh[0]:6d}{mi[0]:6d}{sec[0]:13.7f}     GPS",
                              label))
    if h.glonass_channels:
        items = sorted(h.glonass_channels.items())
        for k in range(0, len(items), 8):
            lead = f"{len(items):3d} " if k == 0 else " " * 4
            lines.append(_hdr(lead + "".join(f"{s:3} {c:2d} " for s, c in items[k:k + 8]), "GLONASS SLOT / FRQ #"))
    lines.append(_hdr("", "END OF HEADER"))
    return "".join(lines)


def _calendar(t_ns: np.ndarray):
    """GPST ns -> (year, month, day, hour, minute, seconds float rounded to 100 ns)."""
    t = np.asarray(t_ns, np.int64)
    t100 = (t + 50) // 100  # 100 ns units, rounded
    day = np.floor_divide(t100, 864_000_000_000)
    rem = t100 - day * 864_000_000_000
    dates = (np.datetime64("1980-01-06", "D") + day.astype("timedelta64[D]")).astype(object)
    y = np.array([d.year for d in dates])
    mo = np.array([d.month for d in dates])
    dd = np.array([d.day for d in dates])
    hh = rem // 36_000_000_000
    mi = (rem // 600_000_000) % 60
    sec = (rem % 600_000_000) / 1e7
    return y, mo, dd, hh, mi, sec


def obs_text(block: ObsBlock, version: str = "3.04") -> bytes:
    """RINEX 3/4 observation file content of ``block``."""
    if float(version) < 3.03:
        raise ValueError(f"RINEX {version} not supported by the writer (3.03 or later: BeiDou B1I is 2I)")
    cols = _columns(block)
    head = _header(block, cols, version).encode("ascii")
    sys_ = block.systems
    n_e = block.n_epochs
    rec_text: list[np.ndarray] = []
    rec_e: list[np.ndarray] = []
    rec_s: list[np.ndarray] = []
    for s, cl in cols.items():
        sidx = np.flatnonzero(sys_ == s)
        width = 3 + 16 * len(cl)
        vals = np.stack([getattr(block, dict(_KINDS)[k])[:, sidx, slot].astype(np.float64) for k, slot, _ in cl],
                        axis=-1)  # [E, S_s, T]
        have = np.isfinite(vals).any(axis=-1)
        e_i, s_i = np.nonzero(have)
        v = vals[e_i, s_i]  # [R, T]
        mat = np.full((e_i.size, width), SPACE, np.uint8)
        sat_b = np.asarray(block.sats[sidx], "S3").view(np.uint8).reshape(-1, 3)
        mat[:, 0:3] = sat_b[s_i]
        fields = mat[:, 3:].reshape(e_i.size, len(cl), 16)
        fields[:, :, :14] = format_f14_3(v).reshape(e_i.size, len(cl), 14)
        lli_col = {}
        for t, (kind, slot, _) in enumerate(cl):
            if kind == "L" or (kind == "C" and slot not in lli_col):
                lli_col[slot] = t
        for slot, t in lli_col.items():
            lli = block.lli[e_i, sidx[s_i], slot]
            put = (lli > 0) & (lli <= 9) & np.isfinite(v[:, t])
            fields[put, t, 14] = lli[put] + 48
        mat[:, 3:] = fields.reshape(e_i.size, -1)
        rec_text.append(mat)
        rec_e.append(e_i)
        rec_s.append(sidx[s_i])
    # one text matrix: epoch lines and records, sorted by (epoch, line kind/satellite)
    y, mo, d, hh, mi, sec = _calendar(block.time_ns)
    e_all = np.concatenate(rec_e) if rec_e else np.zeros(0, np.int64)
    counts = np.bincount(e_all, minlength=n_e)
    ep_lines = [f"> {y[e]:4d} {mo[e]:02d} {d[e]:02d} {hh[e]:02d} {mi[e]:02d}{sec[e]:11.7f}  0{int(counts[e]):3d}"
                for e in range(n_e)]
    width = max([m.shape[1] for m in rec_text] + [35])
    mats = [np.frombuffer("".join(ep_lines).encode("ascii"), np.uint8).reshape(n_e, 35)] + rec_text
    keys = [np.arange(n_e, dtype=np.int64) * (block.n_sats + 1)]
    keys += [e * (block.n_sats + 1) + 1 + s for e, s in zip(rec_e, rec_s)]
    total = sum(m.shape[0] for m in mats)
    text = np.full((total, width + 1), SPACE, np.uint8)
    r0 = 0
    for m in mats:
        text[r0:r0 + m.shape[0], :m.shape[1]] = m
        r0 += m.shape[0]
    text = text[np.argsort(np.concatenate(keys), kind="stable")]
    # strip trailing blanks: keep columns up to the last non-blank one, then a newline
    nonblank = text[:, :width] != SPACE
    length = width - np.argmax(nonblank[:, ::-1], axis=1)
    length[~nonblank.any(axis=1)] = 0
    text[np.arange(total), length] = ord("\n")
    keep = np.arange(width + 1)[None, :] <= length[:, None]
    return head + text[keep].tobytes()


def write_obs(path_or_stream, block: ObsBlock, version: str = "3.04") -> None:
    """Write ``block`` as a RINEX 3/4 observation file (path, or binary/text stream)."""
    data = obs_text(block, version)
    if isinstance(path_or_stream, (str, os.PathLike)):
        Path(path_or_stream).write_bytes(data)
    elif isinstance(path_or_stream, io.TextIOBase):
        path_or_stream.write(data.decode("ascii"))
    else:
        path_or_stream.write(data)


__all__ = ["write_obs", "obs_text", "format_f14_3"]
