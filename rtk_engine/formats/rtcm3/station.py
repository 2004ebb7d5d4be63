"""Station messages: 1005/1006 antenna reference point (ECEF), 1007/1008/1033 descriptors."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .bits import BitWriter, Rtcm3DecodeError, read_schema

# DF002..DF027 (+ DF028 for 1006); ECEF in 0.1 mm, antenna height in 0.1 mm
_SCHEMA_1005 = (
    ("DF002", 12, "u"), ("DF003", 12, "u"), ("DF021", 6, "u"), ("DF022", 1, "u"), ("DF023", 1, "u"),
    ("DF024", 1, "u"), ("DF141", 1, "u"), ("DF025", 38, "s"), ("DF142", 1, "u"), ("_r", 1, "u"),
    ("DF026", 38, "s"), ("DF364", 2, "u"), ("DF027", 38, "s"),
)
_SCHEMA_1006 = _SCHEMA_1005 + (("DF028", 16, "u"),)
ECEF_RES_M = 1e-4


@dataclass
class StationPosition:
    """RTCM 1005/1006: antenna reference point, ECEF metres (0.1 mm resolution)."""

    station_id: int
    ecef_m: np.ndarray
    antenna_height_m: float = 0.0  # 1006 only (0 for 1005)
    itrf_year: int = 0
    gps: bool = True
    glonass: bool = False
    galileo: bool = False
    virtual: bool = False  # DF141 reference-station indicator: non-physical (VRS)
    single_oscillator: bool = False
    quarter_cycle: int = 0
    msg_type: int = 1005


@dataclass
class StationDescriptor:
    """RTCM 1007/1008/1033: antenna and receiver descriptors (IGS names)."""

    station_id: int
    antenna_descriptor: str = ""
    antenna_setup_id: int = 0
    antenna_serial: str = ""
    receiver_type: str = ""
    receiver_firmware: str = ""
    receiver_serial: str = ""
    msg_type: int = 1033
    extra: dict = field(default_factory=dict)


def decode_station_position(payload: bytes) -> StationPosition:
    msg_type = (payload[0] << 4) | (payload[1] >> 4) if len(payload) >= 2 else 0
    f, _ = read_schema(payload, _SCHEMA_1006 if msg_type == 1006 else _SCHEMA_1005)
    return StationPosition(
        station_id=f["DF003"], ecef_m=np.array([f["DF025"], f["DF026"], f["DF027"]], float) * ECEF_RES_M,
        antenna_height_m=f.get("DF028", 0) * ECEF_RES_M, itrf_year=f["DF021"], gps=bool(f["DF022"]),
        glonass=bool(f["DF023"]), galileo=bool(f["DF024"]), virtual=bool(f["DF141"]),
        single_oscillator=bool(f["DF142"]), quarter_cycle=f["DF364"], msg_type=msg_type)


def station_position_fields(payload: bytes) -> dict[str, int]:
    """Raw DF fields of a 1005/1006 payload (for cross-checks)."""
    msg_type = (payload[0] << 4) | (payload[1] >> 4)
    return read_schema(payload, _SCHEMA_1006 if msg_type == 1006 else _SCHEMA_1005)[0]


def encode_station_position(pos: StationPosition) -> bytes:
    """StationPosition -> 1005 (or 1006 if ``pos.msg_type == 1006``) payload."""
    xyz = np.round(np.asarray(pos.ecef_m, float) / ECEF_RES_M).astype(np.int64)
    f = {"DF002": pos.msg_type, "DF003": pos.station_id, "DF021": pos.itrf_year, "DF022": int(pos.gps),
         "DF023": int(pos.glonass), "DF024": int(pos.galileo), "DF141": int(pos.virtual),
         "DF025": int(xyz[0]), "DF142": int(pos.single_oscillator), "DF026": int(xyz[1]),
         "DF364": pos.quarter_cycle, "DF027": int(xyz[2]),
         "DF028": int(round(pos.antenna_height_m / ECEF_RES_M))}
    w = BitWriter()
    w.put_schema(f, _SCHEMA_1006 if pos.msg_type == 1006 else _SCHEMA_1005)
    return w.to_bytes()


class _StrReader:
    def __init__(self, payload: bytes, byte_pos: int) -> None:
        self.p = payload
        self.i = byte_pos

    def u8(self) -> int:
        if self.i >= len(self.p):
            raise Rtcm3DecodeError("descriptor message truncated")
        v = self.p[self.i]
        self.i += 1
        return v

    def text(self) -> str:
        n = self.u8()
        if self.i + n > len(self.p):
            raise Rtcm3DecodeError("descriptor string runs past the payload")
        s = self.p[self.i:self.i + n].decode("latin-1")
        self.i += n
        return s


def decode_station_descriptor(payload: bytes) -> StationDescriptor:
    """1007/1008/1033. All strings start on byte boundaries (the header is 24 bits)."""
    if len(payload) < 4:
        raise Rtcm3DecodeError("descriptor message truncated")
    msg_type = (payload[0] << 4) | (payload[1] >> 4)
    sid = ((payload[1] & 0x0F) << 8) | payload[2]
    r = _StrReader(payload, 3)
    d = StationDescriptor(station_id=sid, msg_type=msg_type)
    d.antenna_descriptor = r.text()
    d.antenna_setup_id = r.u8()
    if msg_type in (1008, 1033):
        d.antenna_serial = r.text()
    if msg_type == 1033:
        d.receiver_type = r.text()
        d.receiver_firmware = r.text()
        d.receiver_serial = r.text()
    return d


def encode_station_descriptor(d: StationDescriptor) -> bytes:
    """StationDescriptor -> 1007/1008/1033 payload (strings of at most 31 characters)."""
    out = bytearray([(d.msg_type >> 4) & 0xFF, ((d.msg_type & 0x0F) << 4) | ((d.station_id >> 8) & 0x0F),
                     d.station_id & 0xFF])

    def text(s: str) -> None:
        b = s.encode("latin-1")
        if len(b) > 31:
            raise ValueError(f"descriptor {s!r} longer than 31 characters")
        out.append(len(b))
        out.extend(b)
    text(d.antenna_descriptor)
    out.append(d.antenna_setup_id & 0xFF)
    if d.msg_type in (1008, 1033):
        text(d.antenna_serial)
    if d.msg_type == 1033:
        text(d.receiver_type)
        text(d.receiver_firmware)
        text(d.receiver_serial)
    return bytes(out)
