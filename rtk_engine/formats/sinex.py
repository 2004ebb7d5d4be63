"""SINEX station coordinates (SOLUTION/ESTIMATE: STAX/STAY/STAZ and VELX/VELY/VELZ).

Positions are ECEF metres in the solution's frame, velocities metres per second (the file's
m/y with a Julian year of 365.25 days), epochs GPST int64 ns (SINEX ``YY:DOY:SSSSS``; the
UTC/GPST distinction is below a millimetre for station motion and is ignored).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.formats.fixed_width import FormatError, read_source_bytes

NS = gnss_time.NS
JULIAN_YEAR_S = 365.25 * 86_400.0


class SinexError(FormatError):
    """Unreadable SINEX content (message carries file and line)."""


class StationCoordinate(NamedTuple):
    ecef_m: np.ndarray  # [3]
    velocity_mps: np.ndarray  # [3]; zeros when the solution has no velocity estimates
    epoch_ns: int  # reference epoch, GPST


def sinex_epoch_ns(text: str) -> int:
    """``"20:316:43200"`` (YY:DOY:SSSSS, YY < 50 -> 20YY) -> GPST ns. ``00:000:00000`` -> 0."""
    yy, doy, sod = (int(v) for v in text.strip().split(":"))
    if yy == 0 and doy == 0 and sod == 0:
        return 0
    year = yy + (2000 if yy < 50 else 1900)
    return int(gnss_time.from_calendar(year, 1, 1)) + ((doy - 1) * 86_400 + sod) * NS


def read_sinex_positions(source) -> dict[str, StationCoordinate]:
    """Station coordinates from SOLUTION/ESTIMATE, keyed by 4-character site code.

    Where a site has several solution numbers (discontinuities), the highest one is kept.
    """
    data, name = read_source_bytes(source)
    lines = data.decode("ascii", "replace").splitlines()
    if not lines or not lines[0].startswith("%=SNX"):
        raise SinexError(f"{name}: not a SINEX file (line 1 must start with %=SNX)")
    try:
        start = next(i for i, ln in enumerate(lines) if ln.startswith("+SOLUTION/ESTIMATE"))
    except StopIteration:
        raise SinexError(f"{name}: no SOLUTION/ESTIMATE block") from None
    est: dict[tuple[str, int], dict[str, tuple[float, int]]] = {}
    closed = False
    for i in range(start + 1, len(lines)):
        ln = lines[i]
        if ln.startswith("-SOLUTION/ESTIMATE"):
            closed = True
            break
        if ln.startswith("*") or not ln.strip():
            continue
        ptype = ln[7:13].strip()
        if ptype not in ("STAX", "STAY", "STAZ", "VELX", "VELY", "VELZ"):
            continue
        try:
            code, soln = ln[14:18].strip(), int(ln[22:26]) if ln[22:26].strip().isdigit() else 1
            epoch = sinex_epoch_ns(ln[27:39])
            unit = ln[40:44].strip()
            value = float(ln[47:68])
        except ValueError:
            raise SinexError(f"{name}: bad estimate in line {i + 1}: {ln!r}") from None
        if ptype.startswith("VEL"):
            if unit not in ("m/y", "m/yr"):
                raise SinexError(f"{name}: velocity unit {unit!r} in line {i + 1}")
            value /= JULIAN_YEAR_S
        elif unit != "m":
            raise SinexError(f"{name}: position unit {unit!r} in line {i + 1}")
        est.setdefault((code, soln), {})[ptype] = (value, epoch)
    if not closed:
        raise SinexError(f"{name}: truncated SOLUTION/ESTIMATE block")

    out: dict[str, StationCoordinate] = {}
    for (code, soln), p in sorted(est.items()):
        if not all(k in p for k in ("STAX", "STAY", "STAZ")):
            continue
        pos = np.array([p[k][0] for k in ("STAX", "STAY", "STAZ")])
        vel = np.array([p.get(k, (0.0, 0))[0] for k in ("VELX", "VELY", "VELZ")])
        out[code] = StationCoordinate(pos, vel, p["STAX"][1])  # later (higher) soln overwrites
    return out


def position_at(coords: dict[str, StationCoordinate] | StationCoordinate, station_or_t, t_gpst_ns=None) -> np.ndarray:
    """ECEF [m] of a station at GPST ns, propagated linearly with its velocity.

    ``position_at(coords, "NYA1", t)`` or ``position_at(coords["NYA1"], t)``.
    """
    if isinstance(coords, StationCoordinate):
        c, t = coords, station_or_t
    else:
        c, t = coords[station_or_t], t_gpst_ns
    dt_s = (np.asarray(t, dtype=np.int64) - c.epoch_ns) / NS
    return c.ecef_m + np.multiply.outer(dt_s, c.velocity_mps)
