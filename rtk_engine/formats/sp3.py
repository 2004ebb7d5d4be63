"""SP3-c / SP3-d precise orbit and clock files.

Positions come out in metres (ECEF of the file's reference frame, satellite centre of mass),
clocks in seconds, times as GPST int64 ns whatever the file's time system (BDT, GST, UTC,
TAI and GLONASS time are converted on reading). Missing values (``0.000000`` positions,
``999999.999999`` clocks) are NaN.

The body is parsed column-wise with numpy (see :mod:`rtk_engine.formats.fixed_width`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.formats.fixed_width import FormatError, Lines, as_float, as_int, as_str, read_source_bytes

NS = gnss_time.NS
BAD_CLOCK_US = 999_999.0  # SP3 "no value" clock is 999999.999999 [µs]


class Sp3Error(FormatError):
    """Unreadable SP3 content (message carries file and line)."""


@dataclass
class Sp3:
    """Precise orbits on a time grid.

    ``time_ns[T]`` GPST, ``sats[S]`` ("G01"), ``pos_ecef_m[T,S,3]``, ``clock_s[T,S]``;
    ``vel_ecef_mps``/``clock_rate`` only when the file has velocity records (else None).
    Flags per (T,S): ``maneuver`` (M) and ``orbit_predicted`` (P) from the position records.
    """

    time_ns: np.ndarray
    sats: np.ndarray
    pos_ecef_m: np.ndarray
    clock_s: np.ndarray
    vel_ecef_mps: np.ndarray | None = None
    clock_rate: np.ndarray | None = None  # [s/s]
    maneuver: np.ndarray | None = None
    orbit_predicted: np.ndarray | None = None
    version: str = "d"
    agency: str = ""
    coord_frame: str = ""
    orbit_type: str = ""
    time_system: str = "GPS"  # of the file; times here are always GPST
    interval_s: float = 0.0
    comments: list[str] = field(default_factory=list)

    @property
    def n_epochs(self) -> int:
        return int(self.time_ns.size)

    def sat_index(self, sats) -> np.ndarray:
        """Column index of each satellite id, -1 where the product lacks it."""
        return _index_of(self.sats, sats)

    def select_sats(self, sats) -> "Sp3":
        idx = self.sat_index(sats)
        if np.any(idx < 0):
            raise KeyError(f"satellites not in SP3: {list(np.atleast_1d(sats)[idx < 0])}")
        take = lambda a, ax=1: None if a is None else np.take(a, idx, axis=ax)  # noqa: E731
        return replace(self, sats=self.sats[idx], pos_ecef_m=take(self.pos_ecef_m), clock_s=take(self.clock_s),
                       vel_ecef_mps=take(self.vel_ecef_mps), clock_rate=take(self.clock_rate),
                       maneuver=take(self.maneuver), orbit_predicted=take(self.orbit_predicted))

    def merge(self, other: "Sp3") -> "Sp3":
        """Join with another product (e.g. the next day): union of epochs and satellites.

        A shared epoch (the day boundary) appears once; where both files give a value the
        one from ``self`` is kept, otherwise whichever is present.
        """
        sats = np.union1d(self.sats, other.sats)
        times = np.union1d(self.time_ns, other.time_ns)
        T, S = times.size, sats.size
        pos = np.full((T, S, 3), np.nan)
        clk = np.full((T, S), np.nan)
        man = np.zeros((T, S), bool)
        pred = np.zeros((T, S), bool)
        has_vel = self.vel_ecef_mps is not None and other.vel_ecef_mps is not None
        vel = np.full((T, S, 3), np.nan) if has_vel else None
        rate = np.full((T, S), np.nan) if has_vel else None
        for src in (other, self):  # self last so that it wins where both are present
            ti = np.searchsorted(times, src.time_ns)
            si = np.searchsorted(sats, src.sats)
            ok_p = np.isfinite(src.pos_ecef_m[..., 0])
            sub = pos[np.ix_(ti, si)]
            sub[ok_p] = src.pos_ecef_m[ok_p]
            pos[np.ix_(ti, si)] = sub
            ok_c = np.isfinite(src.clock_s)
            sub = clk[np.ix_(ti, si)]
            sub[ok_c] = src.clock_s[ok_c]
            clk[np.ix_(ti, si)] = sub
            for dst, a in ((man, src.maneuver), (pred, src.orbit_predicted)):
                if a is not None:
                    sub = dst[np.ix_(ti, si)]
                    sub[ok_p] = a[ok_p]
                    dst[np.ix_(ti, si)] = sub
            if has_vel:
                sub = vel[np.ix_(ti, si)]
                sub[ok_p] = src.vel_ecef_mps[ok_p]
                vel[np.ix_(ti, si)] = sub
                sub = rate[np.ix_(ti, si)]
                sub[ok_c] = src.clock_rate[ok_c]
                rate[np.ix_(ti, si)] = sub
        interval = self.interval_s if self.interval_s == other.interval_s else float(np.min(np.diff(times)) / NS)
        return replace(self, time_ns=times, sats=sats, pos_ecef_m=pos, clock_s=clk, vel_ecef_mps=vel,
                       clock_rate=rate, maneuver=man, orbit_predicted=pred, interval_s=interval,
                       comments=self.comments + other.comments)


def _index_of(table: np.ndarray, sats) -> np.ndarray:
    """Index of each id of ``sats`` in ``table`` (any order), -1 where absent."""
    sats = np.atleast_1d(np.asarray(sats, dtype="<U3"))
    if table.size == 0:
        return np.full(sats.shape, -1, np.int64)
    order = np.argsort(table)
    srt = table[order]
    pos = np.clip(np.searchsorted(srt, sats), 0, srt.size - 1)
    return np.where(srt[pos] == sats, order[pos], -1).astype(np.int64)


def to_gpst_ns(t_ns: np.ndarray, time_system: str) -> np.ndarray:
    """Calendar times read in ``time_system`` (SP3/RINEX clock names) -> GPST ns."""
    ts = time_system.strip().upper()
    if ts in ("", "GPS", "GAL", "GST", "QZS", "IRN", "CCC"):
        return t_ns  # GST, QZSST and IRNWT are steered to GPST's epoch (no offset)
    if ts in ("BDT", "BDS"):
        return gnss_time.bdt_to_gpst(t_ns)
    if ts == "UTC":
        return gnss_time.utc_to_gpst(t_ns)
    if ts == "TAI":
        return t_ns - 19 * NS
    if ts in ("GLO", "GLN"):
        return gnss_time.glonasst_to_gpst(t_ns)
    raise FormatError(f"unknown time system {time_system!r}")


def _epoch_ns(lines: Lines, rows: np.ndarray, what: str) -> np.ndarray:
    """Parse '*  YYYY MM DD hh mm ss.ssssssss' epoch lines (calendar in the file's time system)."""
    y = as_int(lines.field(3, 7, rows), what, lines, rows)
    mo = as_int(lines.field(8, 10, rows), what, lines, rows)
    d = as_int(lines.field(11, 13, rows), what, lines, rows)
    h = as_int(lines.field(14, 16, rows), what, lines, rows)
    mi = as_int(lines.field(17, 19, rows), what, lines, rows)
    s = as_float(lines.field(20, 31, rows), what, lines, rows)
    if np.any(~np.isfinite(s)) or np.any((mo < 1) | (mo > 12) | (d < 1) | (d > 31)):
        bad = rows[np.flatnonzero(~np.isfinite(s) | (mo < 1) | (mo > 12) | (d < 1) | (d > 31))[0]]
        raise Sp3Error(f"{lines.name}: bad epoch line {int(bad) + 1}: {lines.text(int(bad))!r}")
    return gnss_time.from_calendar(y, mo, d, h, mi, s)


def _sat_ids(mat: np.ndarray) -> np.ndarray:
    """3-char satellite fields ('G01', 'G 1', ' 1') -> normalised ids."""
    mat = mat.copy()
    mat[:, 0] = np.where(mat[:, 0] == ord(" "), ord("G"), mat[:, 0])  # SP3-a: blank system = GPS
    mat[:, 1] = np.where(mat[:, 1] == ord(" "), ord("0"), mat[:, 1])
    return as_str(mat).astype("<U3")


def _norm_sat(s: str) -> str:
    s = ("G" + s[1:]) if s[0] == " " else s
    return s[0] + s[1:].replace(" ", "0")


def read_sp3(source) -> Sp3:
    """Read an SP3-c/-d file (path, bytes or file object; gzip handled) into :class:`Sp3`.

    Raises :class:`Sp3Error` (a ``ValueError``) naming the file and line on bad content.
    """
    try:
        data, name = read_source_bytes(source)
        return _parse(data, name)
    except Sp3Error:
        raise
    except FormatError as exc:
        raise Sp3Error(str(exc)) from None


def _parse(data: bytes, name: str) -> Sp3:
    lines = Lines.from_bytes(data, name)
    if len(lines) < 3 or lines.buf.size == 0 or lines.buf[0] != ord("#"):
        raise Sp3Error(f"{name}: not an SP3 file (first line must start with '#')")
    l1 = lines.text(0)
    version = l1[1:2]
    if version not in ("a", "b", "c", "d"):
        raise Sp3Error(f"{name}: unknown SP3 version {version!r} in line 1")
    is_epoch = lines.startswith(b"* ")
    first = np.flatnonzero(is_epoch)
    if first.size == 0:
        raise Sp3Error(f"{name}: no epoch records")
    hdr_end = int(first[0])

    coord_frame, orbit_type, agency = l1[46:51].strip(), l1[52:55].strip(), l1[56:60].strip()
    interval_s = 0.0
    time_system = "GPS"
    header_sats: list[str] = []
    comments: list[str] = []
    seen_c = False
    for i in range(1, hdr_end):
        t = lines.text(i)
        if t.startswith("##"):
            try:
                interval_s = float(t[24:38])
            except ValueError:
                raise Sp3Error(f"{name}: bad '##' line {i + 1}: {t!r}") from None
        elif t.startswith("+ "):
            header_sats += [_norm_sat(t[k:k + 3]) for k in range(9, 60, 3)
                            if t[k:k + 3].strip() not in ("", "0", "00")]
        elif t.startswith("%c") and not seen_c:
            seen_c = True
            time_system = t[9:12].strip() or "GPS"
        elif t.startswith("/*"):
            comments.append(t[3:].rstrip())

    body = np.arange(hdr_end, len(lines))
    c0 = lines.char(0, body)
    c1 = lines.char(1, body)
    rows_epoch = body[c0 == ord("*")]
    rows_p = body[c0 == ord("P")]
    rows_v = body[(c0 == ord("V"))]
    rows_eof = body[(c0 == ord("E")) & (c1 == ord("O"))]
    known = (c0 == ord("*")) | (c0 == ord("P")) | (c0 == ord("V")) | (c0 == ord("E")) | \
            ((c0 == ord(" ")) & (lines.end[body] == lines.start[body]))
    if not np.all(known):
        bad = int(body[np.flatnonzero(~known)[0]])
        raise Sp3Error(f"{name}: unexpected record at line {bad + 1}: {lines.text(bad)!r}")
    if rows_eof.size == 0:
        raise Sp3Error(f"{name}: truncated (no EOF line)")

    t_cal = _epoch_ns(lines, rows_epoch, "epoch")
    time_ns = to_gpst_ns(t_cal, time_system)
    if np.any(np.diff(time_ns) <= 0):
        k = int(np.flatnonzero(np.diff(time_ns) <= 0)[0]) + 1
        raise Sp3Error(f"{name}: epochs not increasing at line {int(rows_epoch[k]) + 1}")

    # epoch index of each data row: number of epoch lines before it
    def epoch_of(rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(rows_epoch, rows) - 1

    p_sat = _sat_ids(lines.field(1, 4, rows_p))
    v_sat = _sat_ids(lines.field(1, 4, rows_v)) if rows_v.size else np.zeros(0, "<U3")
    sats = np.unique(np.concatenate([np.array(header_sats, "<U3") if header_sats else np.zeros(0, "<U3"),
                                     p_sat]))
    if header_sats:
        extra = np.setdiff1d(p_sat, np.array(header_sats, "<U3"))
        if extra.size:
            comments.append(f"records for satellites missing from the header: {', '.join(extra[:10])}")
    T, S = time_ns.size, sats.size

    pos = np.full((T, S, 3), np.nan)
    clk = np.full((T, S), np.nan)
    ti = epoch_of(rows_p)
    si = np.searchsorted(sats, p_sat)
    xyz_km = np.stack([as_float(lines.field(c, c + 14, rows_p), "position", lines, rows_p)
                       for c in (4, 18, 32)], axis=1)
    clk_us = as_float(lines.field(46, 60, rows_p), "clock", lines, rows_p)
    bad_pos = np.all(xyz_km == 0.0, axis=1) | np.any(~np.isfinite(xyz_km), axis=1)
    xyz_m = np.where(bad_pos[:, None], np.nan, xyz_km * 1e3)
    clk_s = np.where(~np.isfinite(clk_us) | (np.abs(clk_us) >= BAD_CLOCK_US), np.nan, clk_us * 1e-6)
    pos[ti, si] = xyz_m
    clk[ti, si] = clk_s
    maneuver = np.zeros((T, S), bool)
    predicted = np.zeros((T, S), bool)
    maneuver[ti, si] = lines.char(78, rows_p) == ord("M")
    predicted[ti, si] = lines.char(79, rows_p) == ord("P")

    vel = rate = None
    if rows_v.size:
        vel = np.full((T, S, 3), np.nan)
        rate = np.full((T, S), np.nan)
        tv = epoch_of(rows_v)
        sv = np.searchsorted(sats, v_sat)
        ok = (sv < S) & (sats[np.minimum(sv, S - 1)] == v_sat)
        v_dms = np.stack([as_float(lines.field(c, c + 14, rows_v), "velocity", lines, rows_v)
                          for c in (4, 18, 32)], axis=1)
        r = as_float(lines.field(46, 60, rows_v), "clock rate", lines, rows_v)
        bad_v = np.all(v_dms == 0.0, axis=1)
        vel[tv[ok], sv[ok]] = np.where(bad_v[:, None], np.nan, v_dms * 0.1)[ok]  # dm/s -> m/s
        rate[tv[ok], sv[ok]] = np.where(np.abs(r) >= BAD_CLOCK_US, np.nan, r * 1e-10)[ok]  # 1e-4 µs/s -> s/s

    if interval_s <= 0 and T > 1:
        interval_s = float(np.min(np.diff(time_ns)) / NS)
    return Sp3(time_ns=time_ns, sats=sats, pos_ecef_m=pos, clock_s=clk, vel_ecef_mps=vel, clock_rate=rate,
               maneuver=maneuver, orbit_predicted=predicted, version=version, agency=agency,
               coord_frame=coord_frame, orbit_type=orbit_type, time_system=time_system,
               interval_s=interval_s, comments=comments)


def read_sp3_many(sources) -> Sp3:
    """Read several SP3 files (e.g. consecutive days) and merge them in time order."""
    products = [read_sp3(s) for s in sources]
    if not products:
        raise ValueError("no SP3 files given")
    products.sort(key=lambda p: int(p.time_ns[0]))
    out = products[0]
    for p in products[1:]:
        out = out.merge(p)
    return out
