"""RINEX clock files (2.x, 3.00-3.04): satellite clock biases (``AS`` records).

Receiver (``AR``) and other records are skipped without being parsed (counted in
``Clk.skipped``). Clock biases are seconds, times GPST int64 ns (the file's TIME SYSTEM ID
is converted). The whole body is parsed column-wise with numpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.formats.fixed_width import FormatError, Lines, as_float, as_int, as_str, read_source_bytes
from rtk_engine.formats.sp3 import _index_of, to_gpst_ns

NS = gnss_time.NS


class ClkError(FormatError):
    """Unreadable RINEX clock content (message carries file and line)."""


@dataclass
class Clk:
    """Satellite clocks: ``time_ns[T]`` GPST, ``sats[S]``, ``bias_s[T,S]`` and ``sigma_s[T,S]`` (NaN absent)."""

    time_ns: np.ndarray
    sats: np.ndarray
    bias_s: np.ndarray
    sigma_s: np.ndarray
    interval_s: float = 0.0
    version: float = 3.0
    agency: str = ""
    time_system: str = "GPS"
    skipped: dict[str, int] = field(default_factory=dict)  # record type -> lines skipped

    def sat_index(self, sats) -> np.ndarray:
        """Column of each satellite id, -1 where absent."""
        return _index_of(self.sats, sats)


def read_clk(source, *, with_sigma: bool = True) -> Clk:
    """Read satellite clocks from a RINEX clock file (path, bytes or file object; gzip handled).

    ``with_sigma=False`` skips the formal errors (``sigma_s`` all NaN), a third faster.

    Raises :class:`ClkError` (a ``ValueError``) naming file and line on bad content.
    """
    try:
        data, name = read_source_bytes(source)
        return _parse(data, name, with_sigma)
    except ClkError:
        raise
    except FormatError as exc:
        raise ClkError(str(exc)) from None


def _parse(data: bytes, name: str, with_sigma: bool) -> Clk:
    lines = Lines.from_bytes(data, name)
    if len(lines) == 0:
        raise ClkError(f"{name}: empty file")
    first = lines.text(0)
    if "RINEX VERSION" not in first[60:] or "C" != first[20:21]:
        raise ClkError(f"{name}: not a RINEX clock file (line 1: {first!r})")
    try:
        version = float(first[:9])
    except ValueError:
        raise ClkError(f"{name}: bad RINEX version in line 1: {first!r}") from None

    is_end = lines.field(60, 73) == np.frombuffer(b"END OF HEADER", np.uint8)[None, :]
    ends = np.flatnonzero(np.all(is_end, axis=1))
    if ends.size == 0:
        raise ClkError(f"{name}: no END OF HEADER")
    hdr_end = int(ends[0])
    time_system, agency = "GPS", ""
    for i in range(1, hdr_end):
        t = lines.text(i)
        label = t[60:].strip()
        if label == "TIME SYSTEM ID":
            time_system = t[3:6].strip() or "GPS"
        elif label == "ANALYSIS CENTER":
            agency = t[:3].strip()

    body = np.arange(hdr_end + 1, len(lines))
    c0, c1 = lines.char(0, body), lines.char(1, body)
    is_as = (c0 == ord("A")) & (c1 == ord("S"))
    rows = body[is_as]
    others = body[~is_as & (lines.end[body] > lines.start[body])]
    skipped: dict[str, int] = {}
    if others.size:
        kinds, counts = np.unique(as_str(lines.field(0, 2, others)), return_counts=True)
        skipped = {str(k): int(c) for k, c in zip(kinds, counts)}
    if rows.size == 0:
        raise ClkError(f"{name}: no satellite clock (AS) records")

    # Column layout: the 3.04 name field is 9 characters wide (4 before); find the year column
    yc = None
    for cand in ((13, 8) if version >= 3.04 else (8, 13)):
        yr = lines.field(cand, cand + 4, rows[:1])
        if np.all((yr >= ord("0")) & (yr <= ord("9"))):
            yc = cand
            break
    if yc is None:
        raise ClkError(f"{name}: cannot locate the epoch in line {int(rows[0]) + 1}: {lines.text(int(rows[0]))!r}")

    rec = lines.field(0, yc + 29 + (44 if with_sigma else 22), rows)  # one gather, then column slices
    # satellites as integer codes (3 bytes) for a cheap unique
    scode = (rec[:, 3].astype(np.int64) << 16) | (rec[:, 4].astype(np.int64) << 8) | rec[:, 5]
    # epochs: records come in epoch blocks, so parse one line per run of equal epoch text
    epoch = rec[:, yc:yc + 26]
    new_run = np.ones(rows.size, bool)
    new_run[1:] = np.any(epoch[1:] != epoch[:-1], axis=1)
    run_start = np.flatnonzero(new_run)
    inv = np.cumsum(new_run) - 1  # run index of each record
    umat = epoch[run_start]
    urow = rows[run_start]  # a representative line of each run, for messages
    y = as_int(umat[:, 0:4], "epoch", lines, urow)
    mo = as_int(umat[:, 4:7], "epoch", lines, urow)
    d = as_int(umat[:, 7:10], "epoch", lines, urow)
    h = as_int(umat[:, 10:13], "epoch", lines, urow)
    mi = as_int(umat[:, 13:16], "epoch", lines, urow)
    s = as_float(umat[:, 16:26], "epoch", lines, urow)
    bad = ~np.isfinite(s) | (mo < 1) | (mo > 12) | (d < 1) | (d > 31) | (h > 24) | (mi > 59)
    if np.any(bad):
        r = int(urow[np.flatnonzero(bad)[0]])
        raise ClkError(f"{name}: bad epoch in line {r + 1}: {lines.text(r)!r}")
    t_u = to_gpst_ns(gnss_time.from_calendar(y, mo, d, h, mi, s), time_system)

    n_val = as_int(rec[:, yc + 26:yc + 29], "value count", lines, rows)
    bias = as_float(rec[:, yc + 29:yc + 51], "clock bias", lines, rows)
    sig = as_float(rec[:, yc + 51:yc + 73], "clock sigma", lines, rows) if with_sigma else np.full(bias.shape, np.nan)
    if np.any(n_val < 1) or np.any(~np.isfinite(bias)):
        k = int(np.flatnonzero((n_val < 1) | ~np.isfinite(bias))[0])
        raise ClkError(f"{name}: AS record without a value in line {int(rows[k]) + 1}: {lines.text(int(rows[k]))!r}")
    sig = np.where(n_val >= 2, sig, np.nan)

    time_ns, t_inv = np.unique(t_u, return_inverse=True)
    ti = t_inv[inv]
    ucode, si = np.unique(scode, return_inverse=True)
    ub = np.stack([(ucode >> 16) & 255, (ucode >> 8) & 255, ucode & 255], axis=1).astype(np.uint8)
    sats = as_str(ub).astype("<U3")
    T, S = time_ns.size, sats.size
    bias_s = np.full((T, S), np.nan)
    sigma_s = np.full((T, S), np.nan)
    bias_s[ti, si] = bias
    sigma_s[ti, si] = sig
    interval = float(np.min(np.diff(time_ns)) / NS) if T > 1 else 0.0
    return Clk(time_ns=time_ns, sats=sats, bias_s=bias_s, sigma_s=sigma_s, interval_s=interval,
               version=version, agency=agency, time_system=time_system, skipped=skipped)
