"""NMEA 0183 GGA: parse (validated) and format. Degrees and metres at this edge only."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce


class NmeaError(ValueError):
    """A sentence that is malformed, fails its checksum or carries impossible values."""


@dataclass(frozen=True)
class Gga:
    time_of_day_s: float | None  # UTC seconds of day
    lat_deg: float
    lon_deg: float
    height_m: float  # ellipsoidal height = altitude above MSL + geoid separation
    quality: int  # 0 invalid, 1 SPS, 2 DGPS, 4 RTK fix, 5 RTK float, 6 dead reckoning ...
    n_sats: int
    hdop: float | None
    age_s: float | None = None


def checksum(body: str) -> int:
    """XOR of the characters between '$' and '*'."""
    return reduce(lambda a, c: a ^ ord(c), body, 0)


def parse_gga(sentence: str | bytes, require_checksum: bool = False) -> Gga:
    """Parse ``$xxGGA`` (any talker). Raises :class:`NmeaError` with a reason on bad input."""
    if isinstance(sentence, bytes):
        sentence = sentence.decode("ascii", errors="replace")
    s = sentence.strip()
    if not s.startswith("$") or len(s) > 200:
        raise NmeaError("not an NMEA sentence")
    body, star, cks = s[1:].partition("*")
    if star:
        try:
            if int(cks[:2], 16) != checksum(body):
                raise NmeaError("NMEA checksum mismatch")
        except ValueError:
            raise NmeaError("bad NMEA checksum field") from None
    elif require_checksum:
        raise NmeaError("NMEA checksum missing")
    f = body.split(",")
    if len(f[0]) != 5 or f[0][2:] != "GGA" or len(f) < 10:
        raise NmeaError("not a GGA sentence")
    try:
        tod = None
        if f[1]:
            tod = int(f[1][0:2]) * 3600 + int(f[1][2:4]) * 60 + float(f[1][4:])
        lat = int(f[2][:2]) + float(f[2][2:]) / 60.0
        if f[3] == "S":
            lat = -lat
        elif f[3] != "N":
            raise NmeaError("bad latitude hemisphere")
        lon = int(f[4][:3]) + float(f[4][3:]) / 60.0
        if f[5] == "W":
            lon = -lon
        elif f[5] != "E":
            raise NmeaError("bad longitude hemisphere")
        quality = int(f[6] or 0)
        nsat = int(f[7] or 0)
        hdop = float(f[8]) if f[8] else None
        alt = float(f[9]) if f[9] else 0.0
        sep = float(f[11]) if len(f) > 11 and f[11] else 0.0
        age = float(f[13]) if len(f) > 13 and f[13] else None
    except (ValueError, IndexError) as exc:
        raise NmeaError(f"malformed GGA field: {exc}") from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or not math.isfinite(alt):
        raise NmeaError("GGA coordinates out of range")
    if not -1000.0 < alt + sep < 100_000.0:
        raise NmeaError("GGA height out of range")
    if tod is not None and not 0 <= tod < 86_401:
        raise NmeaError("GGA time out of range")
    return Gga(tod, lat, lon, alt + sep, quality, nsat, hdop, age)


def format_gga(time_of_day_s: float, lat_deg: float, lon_deg: float, height_m: float, quality: int = 1,
               n_sats: int = 10, hdop: float = 1.0, age_s: float | None = None, talker: str = "GP") -> str:
    """Format a GGA sentence (height given as ellipsoidal height, geoid separation 0)."""
    tod = time_of_day_s % 86400
    hh, rem = divmod(tod, 3600)
    mm, ss = divmod(rem, 60)
    alat, alon = abs(lat_deg), abs(lon_deg)
    lat_s = f"{int(alat):02d}{(alat - int(alat)) * 60:010.7f}"
    lon_s = f"{int(alon):03d}{(alon - int(alon)) * 60:010.7f}"
    age = "" if age_s is None else f"{age_s:.1f}"
    body = (f"{talker}GGA,{int(hh):02d}{int(mm):02d}{ss:05.2f},{lat_s},{'N' if lat_deg >= 0 else 'S'},"
            f"{lon_s},{'E' if lon_deg >= 0 else 'W'},{quality},{n_sats:02d},{hdop:.1f},{height_m:.3f},M,0.000,M,{age},")
    return f"${body}*{checksum(body):02X}\r\n"
