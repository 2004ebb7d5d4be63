"""GNSS time scales.

The internal time is **GPS time as int64 nanoseconds since the GPS epoch**
(1980-01-06 00:00:00 GPST). Other scales are conversions at the edges:

* BDT = GPST - 14 s; BDS week = GPS week - 1356 (BDT epoch 2006-01-01 00:00:00 UTC).
* GST = GPST (Galileo week = GPS week - 1024).
* UTC = GPST - leap seconds (table below); GLONASS time = UTC + 3 h.

All functions accept numpy arrays and scalars.
"""
from __future__ import annotations

import datetime as _dt

import numpy as np

NS = 1_000_000_000
WEEK_S = 604_800
WEEK_NS = WEEK_S * NS
BDT_OFFSET_S = 14  # GPST - BDT [s]
BDS_WEEK_OFFSET = 1356  # GPS week - BDS week
GST_WEEK_OFFSET = 1024  # GPS week - Galileo week
GLO_UTC_OFFSET_S = 3 * 3600  # GLONASS time - UTC [s]

GPS_EPOCH = np.datetime64("1980-01-06T00:00:00", "ns")
_GPS_EPOCH_PY = _dt.datetime(1980, 1, 6)

# (UTC date from which it holds, GPST - UTC [s])
LEAP_SECONDS: tuple[tuple[str, int], ...] = (
    ("1981-07-01", 1), ("1982-07-01", 2), ("1983-07-01", 3), ("1985-07-01", 4),
    ("1988-01-01", 5), ("1990-01-01", 6), ("1991-01-01", 7), ("1992-07-01", 8),
    ("1993-07-01", 9), ("1994-07-01", 10), ("1996-01-01", 11), ("1997-07-01", 12),
    ("1999-01-01", 13), ("2006-01-01", 14), ("2009-01-01", 15), ("2012-07-01", 16),
    ("2015-07-01", 17), ("2017-01-01", 18),
)
_LEAP_UTC_NS = np.array([(np.datetime64(d, "ns") - GPS_EPOCH).astype(np.int64) for d, _ in LEAP_SECONDS])
_LEAP_VAL = np.array([v for _, v in LEAP_SECONDS], dtype=np.int64)


def from_week_sow(week, sow_s) -> np.ndarray:
    """GPS week and seconds of week [s] -> GPST ns. Sub-ns resolution is rounded."""
    week = np.asarray(week, dtype=np.int64)
    sow = np.asarray(sow_s, dtype=np.float64)
    whole = np.floor(sow).astype(np.int64)
    frac_ns = np.round((sow - whole) * NS).astype(np.int64)
    return week * WEEK_NS + whole * NS + frac_ns


def to_week_sow(t_ns) -> tuple[np.ndarray, np.ndarray]:
    """GPST ns -> (GPS week, seconds of week [s])."""
    t = np.asarray(t_ns, dtype=np.int64)
    week = np.floor_divide(t, WEEK_NS)
    rem = t - week * WEEK_NS
    return week, rem / NS


def from_datetime64(t) -> np.ndarray:
    """numpy datetime64 read as a GPST calendar time -> GPST ns."""
    return (np.asarray(t, dtype="datetime64[ns]") - GPS_EPOCH).astype(np.int64)


def to_datetime64(t_ns) -> np.ndarray:
    """GPST ns -> numpy datetime64[ns] (GPST calendar, no leap seconds applied)."""
    return GPS_EPOCH + np.asarray(t_ns, dtype=np.int64).astype("timedelta64[ns]")


def from_datetime(dt: _dt.datetime) -> int:
    """A naive Python datetime read as a GPST calendar time -> GPST ns."""
    delta = dt.replace(tzinfo=None) - _GPS_EPOCH_PY
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1_000


def to_datetime(t_ns: int) -> _dt.datetime:
    """GPST ns -> naive Python datetime in the GPST calendar (microsecond resolution)."""
    return _GPS_EPOCH_PY + _dt.timedelta(microseconds=int(t_ns) // 1_000)


def from_calendar(year, month, day, hour=0, minute=0, second=0.0) -> np.ndarray:
    """Calendar fields in the GPST calendar (arrays allowed) -> GPST ns."""
    y = np.asarray(year, dtype=np.int64)
    m = np.asarray(month, dtype=np.int64)
    d = np.asarray(day, dtype=np.int64)
    # days from civil (proleptic Gregorian), vectorised
    yy = y - (m <= 2)
    era = np.floor_divide(yy, 400)
    yoe = yy - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468  # days since 1970-01-01
    days_gps = days - 3657  # 1980-01-06 is day 3657 after 1970-01-01
    sec = np.asarray(second, dtype=np.float64)
    whole = np.floor(sec).astype(np.int64)
    frac_ns = np.round((sec - whole) * NS).astype(np.int64)
    return ((days_gps * 86_400 + np.asarray(hour, np.int64) * 3600 + np.asarray(minute, np.int64) * 60 + whole) * NS
            + frac_ns)


def leap_seconds(t_gpst_ns) -> np.ndarray:
    """GPST - UTC [s] at the given GPST instants."""
    t = np.asarray(t_gpst_ns, dtype=np.int64)
    # a leap second applies from its UTC instant, i.e. GPST instant + (new value - 1) s
    idx = np.searchsorted(_LEAP_UTC_NS + (_LEAP_VAL - 1) * NS, t, side="right") - 1
    return np.where(idx >= 0, _LEAP_VAL[np.clip(idx, 0, None)], 0)


def gpst_to_utc(t_gpst_ns) -> np.ndarray:
    """GPST ns -> UTC ns (same epoch origin, leap seconds removed)."""
    t = np.asarray(t_gpst_ns, dtype=np.int64)
    return t - leap_seconds(t) * NS


def utc_to_gpst(t_utc_ns) -> np.ndarray:
    """UTC ns (counted from 1980-01-06 00:00:00 UTC) -> GPST ns."""
    t = np.asarray(t_utc_ns, dtype=np.int64)
    idx = np.searchsorted(_LEAP_UTC_NS, t, side="right") - 1
    leaps = np.where(idx >= 0, _LEAP_VAL[np.clip(idx, 0, None)], 0)
    return t + leaps * NS


def bdt_to_gpst(t_bdt_ns) -> np.ndarray:
    """BDT ns (counted from the GPS epoch) -> GPST ns."""
    return np.asarray(t_bdt_ns, dtype=np.int64) + BDT_OFFSET_S * NS


def gpst_to_bdt(t_gpst_ns) -> np.ndarray:
    return np.asarray(t_gpst_ns, dtype=np.int64) - BDT_OFFSET_S * NS


def from_bds_week_sow(week, sow_s) -> np.ndarray:
    """BDS week and BDT seconds of week -> GPST ns."""
    return bdt_to_gpst(from_week_sow(np.asarray(week, np.int64) + BDS_WEEK_OFFSET, sow_s))


def from_gst_week_sow(week, sow_s) -> np.ndarray:
    """Galileo week and GST seconds of week -> GPST ns."""
    return from_week_sow(np.asarray(week, np.int64) + GST_WEEK_OFFSET, sow_s)


def glonasst_to_gpst(t_glo_ns) -> np.ndarray:
    """GLONASS time ns (UTC(SU) + 3 h, counted from the GPS epoch) -> GPST ns."""
    return utc_to_gpst(np.asarray(t_glo_ns, dtype=np.int64) - GLO_UTC_OFFSET_S * NS)


def gpst_to_glonasst(t_gpst_ns) -> np.ndarray:
    return gpst_to_utc(t_gpst_ns) + GLO_UTC_OFFSET_S * NS


def nearest_week_time(sow_s, t_ref_ns) -> np.ndarray:
    """Seconds of week near a reference GPST instant -> GPST ns, resolving week rollover."""
    week, sow_ref = to_week_sow(t_ref_ns)
    sow = np.asarray(sow_s, dtype=np.float64)
    shift = np.where(sow - sow_ref > WEEK_S / 2, -1, np.where(sow - sow_ref < -WEEK_S / 2, 1, 0))
    return from_week_sow(week + shift, sow)


def to_iso(t_ns) -> str:
    """GPST ns -> ISO-8601 string (GPST calendar)."""
    return str(to_datetime64(t_ns))


UNIX_TO_GPS_EPOCH_S = 315_964_800  # Unix time of 1980-01-06 00:00:00 UTC


def gpst_from_unix(unix_s: float) -> int:
    """Unix time (UTC seconds since 1970) -> GPST ns (leap seconds applied)."""
    return int(utc_to_gpst(int(round((unix_s - UNIX_TO_GPS_EPOCH_S) * NS))))


def unix_from_gpst(t_gpst_ns) -> np.ndarray:
    """GPST ns -> Unix time (UTC seconds since 1970)."""
    return gpst_to_utc(t_gpst_ns) / NS + UNIX_TO_GPS_EPOCH_S


def now_gpst_ns() -> int:
    """The current instant as GPST ns, from the system clock."""
    import time as _time

    return gpst_from_unix(_time.time())
