"""RTCM 3 transport framing: preamble 0xD3, 6 reserved bits, 10-bit length, payload, CRC-24Q.

:class:`FrameScanner` takes bytes as they arrive (any chunking) and yields whole frames,
resynchronising after garbage and counting what it dropped. No sockets, no decoding.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import _ext

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
    compiled = _ext.kernel("rtcm3_core", "crc24q")  # optional Cython kernel, same result
    if compiled is not None:
        return compiled(data if isinstance(data, (bytes, bytearray)) else bytes(data), crc)
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
        st = self.stats
        compiled = _ext.kernel("rtcm3_core", "scan_frames")  # the same scan in one call
        if compiled is not None:
            out, i, bad, garbage = compiled(buf)
            st.frames += len(out)
            st.bad_crc += bad
            st.garbage_bytes += garbage
            del buf[:i]
            return out
        out: list[bytes] = []
        i = 0
        n = len(buf)
        batch = 16  # candidates checked per vectorised CRC pass: grows while CRCs pass, 4 after a bad one
        while True:
            # candidate frames up to the end (or the first incomplete one), CRCs checked together
            starts, totals, gaps = [], [], []
            j, gap = i, 0
            while len(starts) < batch:
                k = buf.find(PREAMBLE, j)
                if k < 0:
                    gap += n - j
                    j = n
                    break
                gap += k - j
                j = k
                if n - j < 3:
                    break
                if buf[j + 1] & 0xFC:  # reserved bits must be zero
                    gap += 1
                    j += 1
                    continue
                total = 6 + (((buf[j + 1] & 0x03) << 8) | buf[j + 2])
                if n - j < total:
                    break
                starts.append(j)
                totals.append(total)
                gaps.append(gap)
                gap = 0
                j += total
            if not starts:
                st.garbage_bytes += gap
                i = j
                break
            ok = _frames_crc_ok(buf, starts, totals)
            last = ok.index(False) if False in ok else len(ok)
            for f in range(last):
                s0 = starts[f]
                out.append(bytes(buf[s0:s0 + totals[f]]))
            st.frames += last
            st.garbage_bytes += sum(gaps[:last])
            if last == len(ok):
                i = j
                if last == batch:  # more candidates may follow
                    batch = min(2 * batch, 256)
                    continue
                st.garbage_bytes += gap
                break
            batch = 4
            # a bad CRC drops only the preamble byte; the rest is scanned again from the next byte
            st.bad_crc += 1
            st.garbage_bytes += gaps[last] + 1
            i = starts[last] + 1
        del buf[:i]
        return out


def _frames_crc_ok(buf: bytearray, starts: list[int], totals: list[int]) -> list[bool]:
    """CRC-24Q check of whole frames ``buf[s:s + total]`` (a few one by one, more in one vectorised pass)."""
    if len(starts) < 8 or _ext.kernel("rtcm3_core", "crc24q") is not None:
        return [crc24q(buf[s:s + t - 3]) == int.from_bytes(buf[s + t - 3:s + t], "big") for s, t in zip(starts, totals)]
    import numpy as np
    if _POS_TABLE is None:
        _crc24q_np(bytes(64))  # builds the tables
    base = starts[0]
    arr = np.frombuffer(bytes(buf[base:starts[-1] + totals[-1]]), np.uint8)
    s = np.array(starts, np.int64) - base
    body = np.array(totals, np.int64) - 3  # header + payload
    first = np.zeros(s.size, np.int64)
    np.cumsum(body[:-1], out=first[1:])
    # per byte: its offset in the buffer and its row (bytes still to follow) in the position table
    delta = np.repeat(s - first, body)
    pos = np.arange(int(first[-1] + body[-1]), dtype=np.int64)
    row = pos + np.repeat(_MAX_FRAME - body - first, body)
    crc = np.bitwise_xor.reduceat(_POS_TABLE[row * 256 + arr[pos + delta]], first)
    end = s + body
    want = (arr[end].astype(np.uint32) << 16) | (arr[end + 1].astype(np.uint32) << 8) | arr[end + 2]
    return (crc == want).tolist()


def iter_frames(data: bytes) -> list[bytes]:
    """All valid frames in a complete byte string (e.g. a recorded file)."""
    return FrameScanner().feed(data)
