"""Bit-level reading and writing of RTCM 3 message payloads (big-endian, MSB first).

Two tools for two shapes of message:

* fixed layouts (station, ephemeris): a *schema* of ``(name, n_bits, kind)`` read from or written
  to a Python integer holding the whole payload; ``kind`` is ``"u"`` unsigned, ``"s"`` two's
  complement, ``"m"`` sign-magnitude (RTCM ``intS``, used by GLONASS fields);
* repeated fields (MSM satellite and cell data): numpy arrays of equal-width fields gathered
  from the payload unpacked once into a bit array.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ... import _ext


class Rtcm3DecodeError(ValueError):
    """A malformed RTCM 3 payload (too short, inconsistent masks, ...)."""


Schema = Sequence[tuple[str, int, str]]


def schema_bits(schema: Schema) -> int:
    """Total width of a schema in bits."""
    return sum(n for _, n, _ in schema)


_COMPILED: dict[int, tuple] = {}


def _compile(schema: Schema) -> tuple:
    """(schema, total bits, names, [(end bit, mask)], [(index, half, full)] signed, [(index, half)] sign-magnitude,
    (compiled ``FieldSpec``, its reader) or None)."""
    names, spans, signed, signmag, widths, kinds = [], [], [], [], [], []
    end = 0
    for name, n, kind in schema:
        end += n
        if name[0] == "_":
            continue
        if kind == "s":
            signed.append((len(names), 1 << (n - 1), 1 << n))
        elif kind == "m":
            signmag.append((len(names), 1 << (n - 1)))
        names.append(name)
        spans.append((end, (1 << n) - 1))
        widths.append(n)
        kinds.append({"u": 0, "s": 1, "m": 2}[kind])
    spec = None
    if _ext.available("rtcm3_core") and max(widths, default=0) <= 57:  # the compiled reader's 64-bit window
        from ..._ext import rtcm3_core as kernel  # built: used while _ext.enabled()
        spec = (kernel.FieldSpec(tuple(names), [e for e, _ in spans], widths, kinds), kernel.read_fields)
    return schema, end, tuple(names), tuple(spans), tuple(signed), tuple(signmag), spec


def compiled_reader(schema: Schema) -> tuple | None:
    """(total bits, FieldSpec, read_fields) to read ``schema`` from bit 0 in one compiled call (the caller
    checks the payload length and ``_ext.enabled()``), or None without the kernel."""
    read_schema(bytes(-(-schema_bits(schema) // 8)), schema)  # compiles it
    c = _COMPILED.get(id(schema))
    return None if c is None or c[6] is None else (c[1], *c[6])


def read_schema(payload: bytes, schema: Schema, pos: int = 0, *, value: int | None = None,
                n_bits: int | None = None) -> tuple[dict[str, int], int]:
    """Read the fields of ``schema`` starting at bit ``pos``; returns (raw integer fields, next bit).

    Fields whose name starts with ``"_"`` (reserved bits) are skipped in the result.
    Raises :class:`Rtcm3DecodeError` if the payload is too short.
    """
    c = _COMPILED.get(id(schema))
    if c is None or c[0] is not schema:  # compiled once per schema object (kept alive by the cache)
        c = _compile(schema)
        if len(_COMPILED) < 4096:
            _COMPILED[id(schema)] = c
    _, need, names, spans, signed, signmag, spec = c
    if value is None:
        n_bits = len(payload) * 8
        if spec is not None and _ext.enabled():  # compiled: the same integers in one call
            if pos + need > n_bits:
                raise Rtcm3DecodeError(f"payload of {n_bits} bits too short: need {pos + need}")
            return spec[1](payload, pos, spec[0]), pos + need
        value = int.from_bytes(payload, "big")
    assert n_bits is not None
    if pos + need > n_bits:
        raise Rtcm3DecodeError(f"payload of {n_bits} bits too short: need {pos + need}")
    top = n_bits - pos
    vals = [(value >> (top - end)) & mask for end, mask in spans]
    for i, half, full in signed:
        if vals[i] >= half:
            vals[i] -= full
    for i, half in signmag:
        if vals[i] >= half:
            vals[i] = half - vals[i]
    return dict(zip(names, vals)), pos + need


class BitWriter:
    """Accumulate big-endian bit fields into a byte string (zero-padded to whole bytes)."""

    def __init__(self) -> None:
        self._value = 0
        self.n_bits = 0

    def put(self, v: int, n: int, kind: str = "u") -> None:
        v = int(v)
        if kind == "m":
            mag = abs(v)
            if mag >= 1 << (n - 1):
                raise ValueError(f"{v} does not fit a {n}-bit sign-magnitude field")
            v = mag | ((1 << (n - 1)) if v < 0 else 0)
        elif kind == "s":
            if not -(1 << (n - 1)) <= v < (1 << (n - 1)):
                raise ValueError(f"{v} does not fit a {n}-bit signed field")
            v &= (1 << n) - 1
        elif not 0 <= v < (1 << n):
            raise ValueError(f"{v} does not fit a {n}-bit unsigned field")
        self._value = (self._value << n) | v
        self.n_bits += n

    def put_schema(self, fields: dict[str, int], schema: Schema) -> None:
        """Write ``fields`` in schema order; missing names (and reserved ``_`` fields) are 0."""
        for name, n, kind in schema:
            self.put(fields.get(name, 0) if name[0] != "_" else 0, n, kind)

    def put_bits(self, bits: np.ndarray) -> None:
        """Append a 0/1 array (e.g. from :func:`pack_uint_array`)."""
        if bits.size == 0:
            return
        n = int(bits.size)
        pad = (-n) % 8
        b = np.packbits(np.concatenate([bits.astype(np.uint8), np.zeros(pad, np.uint8)]))
        v = int.from_bytes(b.tobytes(), "big") >> pad
        self._value = (self._value << n) | v
        self.n_bits += n

    def to_bytes(self) -> bytes:
        pad = (-self.n_bits) % 8
        return (self._value << pad).to_bytes((self.n_bits + pad) // 8, "big")


# ---------------------------------------------------------------- numpy arrays of fields
_WEIGHTS = {w: (1 << np.arange(w - 1, -1, -1, dtype=np.int64)) for w in range(1, 64)}


def unpack(payload: bytes) -> np.ndarray:
    """Payload -> uint8 array of bits, MSB first."""
    return np.unpackbits(np.frombuffer(payload, np.uint8))


def uint_array(bits: np.ndarray, pos: int, count: int, width: int) -> np.ndarray:
    """``count`` consecutive unsigned fields of ``width`` bits starting at bit ``pos`` (int64)."""
    end = pos + count * width
    if end > bits.size:
        raise Rtcm3DecodeError(f"payload of {bits.size} bits too short: need {end}")
    if count == 0:
        return np.zeros(0, np.int64)
    return bits[pos:end].reshape(count, width).astype(np.int64) @ _WEIGHTS[width]


def int_array(bits: np.ndarray, pos: int, count: int, width: int) -> np.ndarray:
    """Two's complement version of :func:`uint_array`."""
    v = uint_array(bits, pos, count, width)
    return np.where(v >= (1 << (width - 1)), v - (1 << width), v)


def pack_uint_array(values: Iterable[int] | np.ndarray, width: int) -> np.ndarray:
    """Integers (two's complement for negatives) -> flat 0/1 array of ``width`` bits each."""
    v = np.asarray(values, np.int64).ravel()
    lo, hi = -(1 << (width - 1)), (1 << width)
    if v.size and (v.min() < lo or v.max() >= hi):
        raise ValueError(f"value out of range for a {width}-bit field")
    v = v & ((1 << width) - 1)
    return ((v[:, None] >> np.arange(width - 1, -1, -1, dtype=np.int64)) & 1).astype(np.uint8).ravel()


# ------------------------------------------------------------ gather of mixed-width fields


def gather_fields(payload: bytes, starts: np.ndarray, widths: np.ndarray, signed: np.ndarray) -> np.ndarray:
    """Fields of any width (<= 57 bits) at arbitrary bit positions, in one vectorised pass (int64).

    ``starts``/``widths``/``signed`` describe each field; the caller checks the payload length.
    Each field is read from the 8-byte big-endian window that holds its first bit.
    """
    padded = payload + bytes(8)
    words = np.ndarray((len(padded) - 7,), dtype=">u8", buffer=padded, strides=(1,))  # 8-byte window per byte
    win = words[starts >> 3].astype(np.uint64)
    v = ((win << (starts & 7).astype(np.uint64)) >> (64 - widths).astype(np.uint64)).astype(np.int64)
    full = np.left_shift(np.int64(1), widths)
    return np.where(signed & (v >= full >> 1), v - full, v)
