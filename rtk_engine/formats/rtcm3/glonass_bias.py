"""RTCM 1230: GLONASS L1/L2 code-phase biases (metres, 0.02 m resolution)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .bits import BitWriter, read_schema

BIAS_RES_M = 0.02
_CODES = ("1C", "1P", "2C", "2P")  # DF423 L1 C/A, DF424 L1 P, DF425 L2 C/A, DF426 L2 P
_HEAD = (("DF002", 12, "u"), ("DF003", 12, "u"), ("DF421", 1, "u"), ("_r", 3, "u"), ("mask", 4, "u"))


@dataclass
class GlonassBiases:
    """Code-phase biases per GLONASS signal [m]; ``aligned`` is DF421 (phase ranges aligned)."""

    station_id: int
    aligned: bool
    bias_m: dict[str, float] = field(default_factory=dict)


_BIAS = tuple(((f"DF{423 + k}", 16, "s"),) for k in range(4))  # one schema object each: compiled once


def glonass_bias_fields(payload: bytes) -> dict[str, int]:
    """Raw fields: DF002, DF003, DF421, mask, and DF423..DF426 for the signals present."""
    f, pos = read_schema(payload, _HEAD)
    for k in range(4):
        if f["mask"] >> (3 - k) & 1:
            g, pos = read_schema(payload, _BIAS[k], pos)
            f |= g
    return f


def decode_glonass_biases(payload: bytes) -> GlonassBiases:
    f = glonass_bias_fields(payload)
    return GlonassBiases(f["DF003"], bool(f["DF421"]),
                         {c: f[f"DF{423 + k}"] * BIAS_RES_M for k, c in enumerate(_CODES) if f"DF{423 + k}" in f})


def encode_glonass_biases(b: GlonassBiases) -> bytes:
    w = BitWriter()
    mask = sum(1 << (3 - k) for k, c in enumerate(_CODES) if c in b.bias_m)
    w.put_schema({"DF002": 1230, "DF003": b.station_id, "DF421": int(b.aligned), "mask": mask}, _HEAD)
    for c in _CODES:
        if c in b.bias_m:
            w.put(int(round(b.bias_m[c] / BIAS_RES_M)), 16, "s")
    return w.to_bytes()
