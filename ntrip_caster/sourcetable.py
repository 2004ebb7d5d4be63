"""Sourcetable records (STR 19 fields, CAS 12, NET 9) and the v2 filter. Degrees at this edge."""
from __future__ import annotations

from dataclasses import dataclass

END = "ENDSOURCETABLE\r\n"


def _clean(value: object) -> str:
    """Field text: ';' and line breaks would break the record, so they are replaced."""
    return str(value).replace(";", ",").replace("\r", " ").replace("\n", " ")


@dataclass
class StrRecord:
    """One ``STR`` line (wiki v29 field order)."""

    mountpoint: str
    identifier: str = ""
    format: str = "RTCM 3.3"
    format_details: str = ""
    carrier: int = 2
    nav_system: str = "GPS+GLO+GAL+BDS"
    network: str = ""
    country: str = ""
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    nmea: int = 0
    solution: int = 0
    generator: str = ""
    compr_encryp: str = "none"
    authentication: str = "B"
    fee: str = "N"
    bitrate: int = 0
    misc: str = ""

    def fields(self) -> list[str]:
        return ["STR", self.mountpoint, self.identifier, self.format, self.format_details, str(self.carrier),
                self.nav_system, self.network, self.country, f"{self.lat_deg:.2f}", f"{self.lon_deg:.2f}",
                str(self.nmea), str(self.solution), self.generator, self.compr_encryp, self.authentication,
                self.fee, str(self.bitrate), self.misc]

    def line(self) -> str:
        return ";".join(_clean(f) for f in self.fields())


@dataclass
class CasRecord:
    host: str
    port: int
    identifier: str = ""
    operator: str = ""
    nmea: int = 0
    country: str = ""
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    fallback_host: str = "0.0.0.0"
    fallback_port: int = 0
    misc: str = ""

    def line(self) -> str:
        f = ["CAS", self.host, self.port, self.identifier, self.operator, self.nmea, self.country,
             f"{self.lat_deg:.2f}", f"{self.lon_deg:.2f}", self.fallback_host, self.fallback_port, self.misc]
        return ";".join(_clean(x) for x in f)


@dataclass
class NetRecord:
    identifier: str
    operator: str = ""
    authentication: str = "B"
    fee: str = "N"
    web_net: str = ""
    web_str: str = ""
    web_reg: str = ""
    misc: str = ""

    def line(self) -> str:
        f = ["NET", self.identifier, self.operator, self.authentication, self.fee, self.web_net,
             self.web_str, self.web_reg, self.misc]
        return ";".join(_clean(x) for x in f)


def parse_filter(query: str) -> list[list[str]]:
    """A v2 sourcetable filter query (``STR;;;RTCM 3&STR;;;;;;;;CHN``) -> list of field patterns.

    Simplified ``st_filter``/``st_match``: records are kept when every non-empty pattern field
    is a case-insensitive substring of the record field at the same position; several
    ``&``-separated patterns are alternatives (OR). An empty query keeps everything.
    """
    from urllib.parse import unquote

    query = unquote(query)
    return [p.split(";") for p in query.split("&") if p.strip()]


def _matches(fields: list[str], pattern: list[str]) -> bool:
    if pattern and pattern[0] and pattern[0].upper() != fields[0]:
        return False
    for i, pat in enumerate(pattern[1:], start=1):
        if pat and (i >= len(fields) or pat.lower() not in fields[i].lower()):
            return False
    return True


def build(cas: list[CasRecord], nets: list[NetRecord], strs: list[StrRecord], query: str = "") -> str:
    """The sourcetable text, ending with ``ENDSOURCETABLE\\r\\n``; ``query`` filters (v2)."""
    lines = [c.line() for c in cas] + [n.line() for n in nets] + [s.line() for s in strs]
    patterns = parse_filter(query) if query else []
    if patterns:
        lines = [ln for ln in lines if any(_matches(ln.split(";"), p) for p in patterns)]
    return "".join(ln + "\r\n" for ln in lines) + END


def parse(text: str) -> list[list[str]]:
    """Split a sourcetable into records (lists of fields), stopping at ENDSOURCETABLE."""
    out = []
    for line in text.splitlines():
        if line.strip() == "ENDSOURCETABLE":
            break
        if line.strip():
            out.append(line.split(";"))
    return out
