"""RTCM 3 transport framing: preamble 0xD3, 6 reserved bits, 10-bit length, payload, CRC-24Q.

:class:`FrameScanner` takes bytes as they arrive (any chunking) and yields whole frames,
resynchronising after garbage and counting what it dropped. No sockets, no decoding.
"""
from __future__ import annotations

from dataclasses import dataclass

PREAMBLE = 0xD3
MAX_PAYLOAD = 1023
_POLY = 0x1864CFB


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _POLY
        table.append(crc & 0xFFFFFF)
    return table


_TABLE = _make_table()


_MAX_FRAME = 3 + MAX_PAYLOAD + 3
_POS_TABLE = None  # flat [position from the end, byte] -> CRC contribution (numpy, built on first use)
_POS_BASE = None


def _crc24q_np(data: bytes) -> int:
    """CRC-24Q with zero initial value as the XOR of per-byte contributions (CRC is linear over GF(2)):
    byte b followed by d more bytes contributes the CRC of b followed by d zero bytes."""
    global _POS_TABLE, _POS_BASE
    import numpy as np
    if _POS_TABLE is None:
        tbl = np.array(_TABLE, np.uint32)
        rows = np.empty((_MAX_FRAME, 256), np.uint32)
        cur = tbl.copy()
        for d in range(_MAX_FRAME):
            rows[d] = cur
            cur = ((cur << 8) & 0xFFFFFF) ^ tbl[cur >> 16]
        _POS_TABLE = rows[::-1].ravel().copy()  # row j holds d = _MAX_FRAME - 1 - j
        _POS_BASE = np.arange(_MAX_FRAME, dtype=np.int64) * 256
    n = len(data)
    idx = _POS_BASE[_MAX_FRAME - n:] + np.frombuffer(data, np.uint8)
    return int(np.bitwise_xor.reduce(_POS_TABLE[idx]))


def crc24q(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-24Q (Qualcomm) of ``data``, as used by RTCM 3 and SBAS."""
    if crc == 0 and 64 <= len(data) <= _MAX_FRAME:  # same result, vectorised for frame-sized input
        return _crc24q_np(bytes(data))
    t = _TABLE
    for b in bytes(data):
        crc = ((crc << 8) & 0xFFFFFF) ^ t[(crc >> 16) ^ b]
    return crc


def frame(payload: bytes) -> bytes:
    """Wrap a message payload (<= 1023 bytes) into an RTCM 3 frame."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"RTCM3 payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    head = bytes([PREAMBLE, (len(payload) >> 8) & 0x03, len(payload) & 0xFF])
    crc = crc24q(head + payload)
    return head + payload + crc.to_bytes(3, "big")


def message_number(frame_bytes: bytes) -> int:
    """The 12-bit message number of a whole frame (0 if the payload is shorter than 2 bytes)."""
    if len(frame_bytes) < 5:
        return 0
    return (frame_bytes[3] << 4) | (frame_bytes[4] >> 4)


@dataclass
class FrameStats:
    frames: int = 0
    bad_crc: int = 0
    garbage_bytes: int = 0


class FrameScanner:
    """Incremental RTCM 3 frame extractor with resynchronisation.

    ``feed(data)`` returns the list of complete, CRC-valid frames (header + payload + CRC).
    A bad CRC drops only the preamble byte and rescans, so a real frame hidden behind a
    false preamble is not lost. Memory is bounded by one maximum frame (1029 bytes).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = FrameStats()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        i = 0
        n = len(buf)
        while True:
            j = buf.find(PREAMBLE, i)
            if j < 0:
                self.stats.garbage_bytes += n - i
                i = n
                break
            self.stats.garbage_bytes += j - i
            i = j
            if n - i < 3:
                break
            if buf[i + 1] & 0xFC:  # reserved bits must be zero
                self.stats.garbage_bytes += 1
                i += 1
                continue
            length = ((buf[i + 1] & 0x03) << 8) | buf[i + 2]
            total = 3 + length + 3
            if n - i < total:
                break
            fr = bytes(buf[i:i + total])
            if crc24q(fr[:-3]) == int.from_bytes(fr[-3:], "big"):
                out.append(fr)
                self.stats.frames += 1
                i += total
            else:
                self.stats.bad_crc += 1
                self.stats.garbage_bytes += 1
                i += 1
        del buf[:i]
        return out


def iter_frames(data: bytes) -> list[bytes]:
    """All valid frames in a complete byte string (e.g. a recorded file)."""
    return FrameScanner().feed(data)
