"""RTKLIB-compatible solution files (``.pos``): writer and reader.

Layout (as RTKLIB's rnx2rtkp/rtkpost write it): header lines starting with ``%``, the last one
naming the columns, then one line per epoch::

    %  GPST                  latitude(deg) longitude(deg)  height(m)   Q  ns   sdn(m) ... age(s)  ratio
    2020/06/25 00:00:00.000   55.4...  8.5...  ...  5  25  1.2 ... 0.00  0.0

Time is either ``yyyy/mm/dd hh:mm:ss.sss`` or ``week tow``, in GPST (or UTC when the header column
says ``UTC``). Coordinates are geodetic (deg, deg, m; WGS84 ellipsoid) with ENU standard deviations,
or ECEF ``x y z`` with ECEF standard deviations. The cross terms (``sdne`` etc.) are RTKLIB's
signed square roots ``sign(c) * sqrt(|c|)`` of the covariances.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .. import gnss_time as gt
from ..geodesy.ellipsoid import ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from ..solution import Quality, Solution


class PosFormatError(ValueError):
    """A malformed ``.pos`` file (message carries file and line)."""


def _signed_sqrt(c):
    return np.sign(c) * np.sqrt(np.abs(c))


# Covariance element (row, col) behind each of the six sd columns; ENU indices e=0 n=1 u=2.
_SD_INDEX = {"llh": ((1, 1), (0, 0), (2, 2), (1, 0), (0, 2), (2, 1)),  # sdn sde sdu sdne sdeu sdun
             "xyz": ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0))}  # sdx sdy sdz sdxy sdyz sdzx


def _sd_columns(sol: Solution, coords: str) -> np.ndarray:
    """[E, 6] standard deviations (3 diagonal, 3 signed-sqrt cross terms) in the output frame."""
    cov = np.asarray(sol.cov_m2, float)
    if coords == "llh":
        llh = ecef_to_geodetic(sol.ecef_m)
        r = enu_rotation(llh[:, 0], llh[:, 1])
        cov = np.einsum("eij,ejk,elk->eil", r, cov, r)
    return np.stack([_signed_sqrt(cov[:, i, j]) for i, j in _SD_INDEX[coords]], axis=1)


def _time_strings(t_ns: np.ndarray, time_format: str) -> list[str]:
    if time_format == "week":
        week, sow = gt.to_week_sow(t_ns)
        return [f"{w:4d} {s:10.3f}" for w, s in zip(week.tolist(), sow.tolist())]
    ms = (np.asarray(t_ns, np.int64) + 500_000) // 1_000_000  # round to milliseconds
    dt = gt.to_datetime64(ms * 1_000_000).astype("datetime64[ms]").astype(str)
    return [d[:10].replace("-", "/") + " " + d[11:23] for d in dt.tolist()]


def format_pos(sol: Solution, coords: str = "llh", time_format: str = "calendar", header: list[str] | None = None,
               program: str = "beidou", include_invalid: bool = False) -> str:
    """The text of a ``.pos`` file for a solution. ``coords`` is ``"llh"`` or ``"xyz"``;
    ``time_format`` ``"calendar"`` or ``"week"``. Epochs without a solution are left out (as RTKLIB
    does) unless ``include_invalid``."""
    if coords not in ("llh", "xyz"):
        raise ValueError(f"coords must be 'llh' or 'xyz', not {coords!r}")
    if time_format not in ("calendar", "week"):
        raise ValueError(f"time_format must be 'calendar' or 'week', not {time_format!r}")
    keep = np.isfinite(sol.ecef_m).all(axis=1) & (include_invalid | sol.valid)
    s = sol.select(np.flatnonzero(keep))
    out = io.StringIO()
    out.write(f"% program   : {program}\n")
    for line in header or []:
        out.write(f"% {line}\n")
    if len(s):
        out.write(f"% obs start : {_time_strings(s.time_ns[:1], 'calendar')[0]} GPST\n")
        out.write(f"% obs end   : {_time_strings(s.time_ns[-1:], 'calendar')[0]} GPST\n")
    out.write("%\n")
    tcol = "GPST         " if time_format == "week" else "GPST                  "
    if coords == "llh":
        out.write("% (lat/lon/height=WGS84/ellipsoidal,Q=1:fix,2:float,3:sbas,4:dgps,5:single,6:ppp,"
                  "ns=# of satellites)\n")
        out.write(f"%  {tcol}latitude(deg) longitude(deg)  height(m)   Q  ns   sdn(m)   sde(m)   sdu(m)"
                  "  sdne(m)  sdeu(m)  sdun(m) age(s)  ratio\n")
        llh = ecef_to_geodetic(s.ecef_m)
        c1, c2, c3 = np.rad2deg(llh[:, 0]), np.rad2deg(llh[:, 1]), llh[:, 2]
        fmt = "{} {:14.9f} {:14.9f} {:10.4f} {:3d} {:3d} {:8.4f} {:8.4f} {:8.4f} {:8.4f} {:8.4f} {:8.4f} {:6.2f} {:6.1f}\n"
    else:
        out.write("% (x/y/z-ecef=WGS84,Q=1:fix,2:float,3:sbas,4:dgps,5:single,6:ppp,ns=# of satellites)\n")
        out.write(f"%  {tcol}  x-ecef(m)      y-ecef(m)      z-ecef(m)   Q  ns   sdx(m)   sdy(m)   sdz(m)"
                  "  sdxy(m)  sdyz(m)  sdzx(m) age(s)  ratio\n")
        c1, c2, c3 = s.ecef_m[:, 0], s.ecef_m[:, 1], s.ecef_m[:, 2]
        fmt = "{} {:14.4f} {:14.4f} {:14.4f} {:3d} {:3d} {:8.4f} {:8.4f} {:8.4f} {:8.4f} {:8.4f} {:8.4f} {:6.2f} {:6.1f}\n"
    sd = np.nan_to_num(_sd_columns(s, coords), nan=0.0) if len(s) else np.zeros((0, 6))
    times = _time_strings(s.time_ns, time_format)
    q = s.quality.astype(int).tolist()
    ns = s.n_sats.astype(int).tolist()
    rows = zip(times, c1.tolist(), c2.tolist(), c3.tolist(), q, ns, *sd.T.tolist(),
               np.asarray(s.age_s, float).tolist(), np.asarray(s.ratio, float).tolist())
    out.write("".join(fmt.format(*r) for r in rows))
    return out.getvalue()


def write_pos(path: str | os.PathLike, sol: Solution, **kwargs) -> None:
    """Write a ``.pos`` file (see :func:`format_pos` for options)."""
    Path(path).write_text(format_pos(sol, **kwargs))


def _parse_time(tok0: str, tok1: str) -> int:
    if "/" in tok0:
        y, m, d = (int(x) for x in tok0.split("/"))
        hh, mm, ss = tok1.split(":")
        return int(gt.from_calendar(y, m, d, int(hh), int(mm), float(ss)))
    return int(gt.from_week_sow(int(tok0), float(tok1)))


def read_pos(path: str | os.PathLike) -> Solution:
    """Read a ``.pos`` file written by us or by RTKLIB (rnx2rtkp/rtkpost): llh (decimal degrees) or
    xyz, calendar or week/tow time, GPST or UTC. Returns ECEF positions with ECEF covariances.

    Raises :class:`PosFormatError` (with file and line) on malformed lines, ENU-baseline or
    degree-minute-second files (not convertible without more information).
    """
    path = Path(path)
    coords = None
    utc = False
    times, vals = [], []
    with open(path, encoding="ascii", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.startswith("%"):
                low = line.lower()
                if "latitude(d'\")" in low:
                    raise PosFormatError(f"{path}:{lineno}: latitude in d m s is not supported; write decimal degrees")
                if "latitude(deg)" in low:
                    coords = "llh"
                elif "x-ecef" in low:
                    coords = "xyz"
                elif "e-baseline" in low:
                    raise PosFormatError(f"{path}:{lineno}: ENU baseline output cannot be converted to positions")
                if ("latitude" in low or "x-ecef" in low) and "utc" in low:
                    utc = True
                continue
            tok = line.split()
            if not tok:
                continue
            if coords is None:
                raise PosFormatError(f"{path}:{lineno}: data before a column header line ('%  GPST ...')")
            if len(tok) < 7:
                raise PosFormatError(f"{path}:{lineno}: expected time, 3 coordinates, Q and ns; got {line.strip()!r}")
            try:
                times.append(_parse_time(tok[0], tok[1]))
                nums = [float(x) for x in tok[2:16]]
            except (ValueError, IndexError) as exc:
                raise PosFormatError(f"{path}:{lineno}: {exc}: {line.strip()!r}") from None
            nums += [0.0] * (14 - len(nums))
            vals.append(nums)
    if coords is None:
        raise PosFormatError(f"{path}: no column header line: not a .pos file")
    t = np.array(times, np.int64)
    if utc:
        t = gt.utc_to_gpst(t)
    v = np.array(vals, float).reshape(-1, 14)
    sd = v[:, 5:11]
    cov = np.zeros((len(t), 3, 3))
    for k, (i, j) in enumerate(_SD_INDEX[coords]):
        cov[:, i, j] = cov[:, j, i] = np.sign(sd[:, k]) * sd[:, k] ** 2
    if coords == "llh":
        llh = np.stack([np.deg2rad(v[:, 0]), np.deg2rad(v[:, 1]), v[:, 2]], -1)
        ecef = geodetic_to_ecef(llh)
        r = enu_rotation(llh[:, 0], llh[:, 1])
        cov = np.einsum("eji,ejk,ekl->eil", r, cov, r)
    else:
        ecef = v[:, :3].copy()
    return Solution(time_ns=t, ecef_m=ecef, cov_m2=cov, quality=v[:, 3].astype(np.uint8),
                    n_sats=v[:, 4].astype(int), ratio=v[:, 12], age_s=v[:, 11])
