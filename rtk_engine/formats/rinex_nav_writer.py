"""RINEX 3.04 mixed navigation writer for :class:`~rtk_engine.nav.NavData`.

What RINEX 3.04 can carry is written: GPS and QZSS LNAV, Galileo I/NAV and F/NAV (told apart by the
data-source field), BeiDou D1/D2, NavIC LNAV and GLONASS FDMA; header ``IONOSPHERIC CORR``
(Klobuchar GPSA/GPSB/QZSA/QZSB/BDSA/BDSB/IRNA/IRNB, Galileo NeQuick GAL) and ``LEAP SECONDS``.
Records the format has no place for (GPS/QZSS CNAV, BeiDou B-CNAV1/2/3) are not written; they are
counted in :attr:`NavWriteResult.skipped`, never dropped silently.

Format: record values as Fortran ``D19.12`` (13 significant digits), epoch lines ``A1,I2.2,1X,I4,
5(1X,I2.2),3D19.12``, broadcast-orbit lines ``4X,4D19.12``; header corrections ``D12.4``. A value
the container does not know (NaN) is a blank field; an unknown accuracy is written as -1.

Time systems, as RINEX 3.04 requires: the epoch (toc) of GPS, QZSS, NavIC and Galileo records is
their own system time (equal to GPST here), of BeiDou records BDT (GPST - 14 s), of GLONASS records
UTC. Week numbers are the continuous GPS week (Galileo's week aligned to it) and the BDT week for
BeiDou; toe and the transmission time are seconds of that week (the transmission time may be
negative when it falls in the week before toe's, as the format allows). GLONASS message frame time
is written in seconds of the UTC week. ``read_nav(write_nav(nav))`` gives back every field to the
printed precision (tests/test_rinex_nav_writer.py).
"""
from __future__ import annotations

import datetime as _dt
import gzip
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import gnss_time as gt
from ..nav import GlonassEphemeris, KeplerEphemeris, NavData
from .rinex_nav import _LAYOUTS, SRC_BDS_D1, SRC_BDS_D2, SRC_GPS_LNAV

log = logging.getLogger(__name__)

__all__ = ["NavWriteResult", "nav_text", "write_nav"]

VERSION = "3.04"
NS = gt.NS
N_VALUES = 3 + 4 * 7  # epoch line + 7 broadcast-orbit lines (the longest RINEX 3 record)
# layout per system and what RINEX 3.04 adds to the reader's layouts: the week (line 5) and the
# fields the container does not hold (GPS codes on L2 / L2 P data flag, written 0)
_WEEK = (5, 2)
_WRITE_LAYOUT = {"G": "LNAV", "J": "LNAV", "I": "ILNAV", "E": "GAL", "C": "D1D2"}
_ZERO_FIELDS = {"LNAV": ((5, 1), (5, 3))}
_IONO_ORDER = ("GAL", "GPSA", "GPSB", "QZSA", "QZSB", "BDSA", "BDSB", "IRNA", "IRNB")
_SYS_ORDER = {s: i for i, s in enumerate("GRECJIS")}
_MESSAGE_NAMES = {("G", 4): "CNAV", ("J", 4): "CNAV", ("G", 8): "CNAV-2", ("J", 8): "CNAV-2",
                  ("C", 4): "B-CNAV1", ("C", 8): "B-CNAV2", ("C", 16): "B-CNAV3"}


@dataclass
class NavWriteResult:
    """What a write produced: records written and the records RINEX 3.04 cannot hold."""

    n_kepler: int = 0
    n_glonass: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def n_records(self) -> int:
        return self.n_kepler + self.n_glonass


def _d19(values: np.ndarray) -> list[str]:
    """Floats -> D19.12 fields (blank for NaN); magnitudes below 1e-99 are written as 0."""
    out = []
    for v in values.tolist():
        if v != v:  # NaN
            out.append(" " * 19)
            continue
        if abs(v) < 1e-99:
            v = 0.0
        s = f"{v: .12E}"
        if len(s) != 19:
            raise ValueError(f"value {v!r} does not fit a D19.12 navigation field")
        out.append(s.replace("E", "D"))
    return out


def _calendar(t_ns: np.ndarray) -> np.ndarray:
    """ns since 1980-01-06 in some time scale -> (N, 6) int year, month, day, hour, minute, second."""
    d = gt.to_datetime64(t_ns)
    y = d.astype("datetime64[Y]")
    mo = d.astype("datetime64[M]")
    day = d.astype("datetime64[D]")
    sec = (d - day).astype("timedelta64[s]").astype(np.int64)
    return np.stack([y.astype(np.int64) + 1970, (mo - y).astype(np.int64) + 1,
                     (day - mo).astype(np.int64) + 1, sec // 3600, sec // 60 % 60, sec % 60], axis=1)


def _whole_seconds(t_ns: np.ndarray, sats: np.ndarray, what: str) -> None:
    bad = np.mod(t_ns, NS) != 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{sats[i]}: {what} {gt.to_iso(int(t_ns[i]))} is not a whole second; "
                         f"a RINEX navigation epoch cannot hold it")


def _record_lines(sats: np.ndarray, cal: np.ndarray, vals: np.ndarray, n_lines: int) -> list[str]:
    """Records -> text (one string per record); ``vals`` (R, N_VALUES)."""
    fields = np.array(_d19(vals[:, :3 + 4 * (n_lines - 1)].ravel()), dtype="<U19").reshape(len(sats), -1)
    out = []
    for r, sat in enumerate(sats.tolist()):
        y, mo, d, h, mi, s = cal[r].tolist()
        f = fields[r].tolist()
        lines = [f"{sat} {y:04d} {mo:02d} {d:02d} {h:02d} {mi:02d} {s:02d}{''.join(f[:3])}".rstrip()]
        lines += [("    " + "".join(f[3 + 4 * k:7 + 4 * k])).rstrip() for k in range(n_lines - 1)]
        out.append("\n".join(lines) + "\n")
    return out


def _writable(k: KeplerEphemeris) -> np.ndarray:
    """Rows RINEX 3.04 can hold (LNAV, I/NAV, F/NAV, D1/D2, NavIC LNAV)."""
    sys_ = k.sat.astype("<U1")
    src = k.source if "source" in k.cols else np.zeros(len(k), np.int64)
    gj = np.isin(sys_, ["G", "J", "I"]) & ((src == 0) | ((src & SRC_GPS_LNAV) != 0))
    c = (sys_ == "C") & ((src & ~(SRC_BDS_D1 | SRC_BDS_D2)) == 0)
    return gj | c | (sys_ == "E")


def _kepler_records(k: KeplerEphemeris) -> list[str]:
    n = len(k)
    sys_ = k.sat.astype("<U1")
    is_c = sys_ == "C"
    off = np.where(is_c, gt.BDT_OFFSET_S * NS, 0)
    toc_sys, toe_sys, ttr_sys = k.toc_ns - off, k.toe_ns - off, k.ttr_ns - off
    _whole_seconds(toc_sys, k.sat, "toc")
    week, toe_sow = gt.to_week_sow(toe_sys)
    ttr_sow = (ttr_sys - week * gt.WEEK_NS) / NS
    week = week - np.where(is_c, gt.BDS_WEEK_OFFSET, 0)
    col = {name: np.asarray(v, float) for name, v in k.cols.items()}
    for name in ("iode", "iodc"):  # -1: not broadcast -> blank
        if name in col:
            col[name] = np.where(col[name] < 0, np.nan, col[name])
    acc = col.get("accuracy_m", np.full(n, np.nan))
    col["accuracy_m"] = np.where(np.isfinite(acc), acc, -1.0)
    fit = col.get("fit_interval_h", np.full(n, np.nan))
    col["fit_interval_h"] = np.where(sys_ == "J", (fit > 2.0).astype(float), fit)  # QZSS: flag 0 (2 h) / 1 (> 2 h)
    col |= {"toe_sow": toe_sow, "ttr_sow": ttr_sow}
    vals = np.full((n, N_VALUES), np.nan)
    for s, lay in _WRITE_LAYOUT.items():
        rows = np.flatnonzero(sys_ == s)
        if rows.size == 0:
            continue
        spots = dict(_LAYOUTS[lay]) | {"week": _WEEK}
        for fname, (ln, pos) in spots.items():
            v = week if fname == "week" else col.get(fname)
            if v is None:
                continue
            vals[rows, pos if ln == 0 else 3 + 4 * (ln - 1) + pos] = v[rows]
        for ln, pos in _ZERO_FIELDS.get(lay, ()):
            vals[rows, 3 + 4 * (ln - 1) + pos] = 0.0
    return _record_lines(k.sat, _calendar(toc_sys), vals, 8)


def _glonass_records(g: GlonassEphemeris) -> list[str]:
    n = len(g)
    toe_utc = gt.gpst_to_utc(g.toe_ns)
    _whole_seconds(toe_utc, g.sat, "toe")
    _, tof_sow = gt.to_week_sow(gt.gpst_to_utc(g.tof_ns))  # seconds of the UTC week
    vals = np.full((n, N_VALUES), np.nan)
    vals[:, 0], vals[:, 1], vals[:, 2] = -g.tau_n_s, g.gamma_n, tof_sow
    for axis in range(3):
        base = 3 + 4 * axis
        vals[:, base] = g.pos_m[:, axis] / 1e3
        vals[:, base + 1] = g.vel_mps[:, axis] / 1e3
        vals[:, base + 2] = g.acc_mps2[:, axis] / 1e3
    vals[:, 6], vals[:, 10], vals[:, 14] = g.health, g.channel, g.age_d
    return _record_lines(g.sat, _calendar(toe_utc), vals, 4)


def _hdr(text: str, label: str) -> str:
    return f"{text:<60.60}{label:<20}\n"


def _header(nav: NavData, leap: int | None, program: str, run_by: str, comments) -> str:
    now = _dt.datetime.now(_dt.timezone.utc)
    out = _hdr(f"{VERSION:>9}{'':11}N: GNSS NAV DATA    M: Mixed", "RINEX VERSION / TYPE")
    out += _hdr(f"{program[:20]:<20}{run_by[:20]:<20}{now:%Y%m%d %H%M%S} UTC", "PGM / RUN BY / DATE")
    for c in comments:
        out += _hdr(str(c), "COMMENT")
    for key in _IONO_ORDER:
        v = nav.iono.get(key)
        if v is None:
            continue
        v = np.zeros(4) if len(v) == 0 else np.concatenate([np.asarray(v, float)[:4], np.zeros(4)])[:4]
        out += _hdr(f"{key:<4} " + "".join(f"{x:12.4E}".replace("E", "D") for x in v.tolist()), "IONOSPHERIC CORR")
    if leap is not None:
        out += _hdr(f"{leap:6d}", "LEAP SECONDS")
    return out + _hdr("", "END OF HEADER")


def nav_text(nav: NavData, *, program: str = "beidou", run_by: str = "",
             comments: tuple[str, ...] = ()) -> tuple[str, NavWriteResult]:
    """NavData -> RINEX 3.04 mixed navigation text and what was written / skipped.

    Records are ordered by system (G R E C J I), satellite, then epoch. Raises ``ValueError`` for an
    epoch that is not a whole second or a value that does not fit its field.
    """
    res = NavWriteResult()
    k = nav.kepler
    if len(k):
        ok = _writable(k)
        if not ok.all():
            src = k.source[~ok] if "source" in k.cols else np.zeros(int((~ok).sum()), np.int64)
            labels = [f"{s[:1]} {_MESSAGE_NAMES.get((s[:1], int(m)), f'source {int(m)}')}"
                      for s, m in zip(k.sat[~ok].tolist(), src.tolist())]
            u, c = np.unique(np.array(labels), return_counts=True)
            res.skipped = [f"{cnt} {lab} records not written (RINEX 3.04 has no record for them)"
                           for lab, cnt in zip(u.tolist(), c.tolist())]
            for s in res.skipped:
                log.warning("%s", s)
        k = k.take(np.flatnonzero(ok))
    g = nav.glonass
    texts = (_kepler_records(k) if len(k) else []) + (_glonass_records(g) if len(g) else [])
    sats = np.concatenate([k.sat, g.sat]) if len(k) or len(g) else np.zeros(0, "<U3")
    times = np.concatenate([k.toc_ns, g.toe_ns]) if len(k) or len(g) else np.zeros(0, np.int64)
    sys_rank = np.array([_SYS_ORDER.get(s[:1], 9) for s in sats.tolist()], np.int64)
    order = np.lexsort((times, sats, sys_rank))
    res.n_kepler, res.n_glonass = len(k), len(g)
    leap = nav.leap_seconds
    if leap is None and times.size:
        leap = int(gt.leap_seconds(int(times.min())))
    body = "".join(texts[i] for i in order.tolist())
    return _header(nav, leap, program, run_by, comments) + body, res


def write_nav(dest: str | os.PathLike | io.TextIOBase, nav: NavData, **kwargs) -> NavWriteResult:
    """Write ``nav`` as RINEX 3.04 mixed navigation to a path (``.gz``: gzip-compressed) or a text
    stream; keyword arguments as :func:`nav_text`. Returns the records written and skipped."""
    text, res = nav_text(nav, **kwargs)
    if isinstance(dest, (str, os.PathLike)):
        p = Path(dest)
        if p.suffix == ".gz":
            with gzip.open(p, "wt", encoding="ascii", newline="\n") as fh:
                fh.write(text)
        else:
            p.write_text(text, encoding="ascii", newline="\n")
    else:
        dest.write(text)
    return res
