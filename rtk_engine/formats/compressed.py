"""Transparent decompression of GNSS files: plain, gzip (``.gz``) and Unix compress (``.Z``).

The compression is recognised by the leading magic bytes, not by the file name, so a gzip file
called ``.Z`` (common on archives) or an uncompressed file called ``.gz`` is still read right.
Hatanaka (Compact RINEX) is a text format, not a byte compression: see ``hatanaka.py``.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
LZW_MAGIC = b"\x1f\x9d"  # Unix compress (.Z)


class CompressedDataError(ValueError):
    """Corrupt or truncated compressed data; the message names the source."""


def compression_of(data: bytes) -> str:
    """"gzip", "lzw" or "" (plain) from the magic bytes of ``data``."""
    head = bytes(data[:2])
    if head == GZIP_MAGIC:
        return "gzip"
    if head == LZW_MAGIC:
        return "lzw"
    return ""


def decompress_bytes(data: bytes, name: str = "<bytes>") -> bytes:
    """Undo gzip / Unix-compress layers (repeatedly, e.g. ``.gz`` of a ``.Z``); plain data unchanged."""
    for _ in range(4):  # a few nested layers at most
        kind = compression_of(data)
        if kind == "gzip":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                raise CompressedDataError(f"{name}: corrupt or truncated gzip data ({exc})") from exc
        elif kind == "lzw":
            import ncompress  # pinned in requirements.lock

            try:
                data = ncompress.decompress(data)
            except (ValueError, OSError, RuntimeError, EOFError) as exc:
                raise CompressedDataError(f"{name}: corrupt or truncated .Z data ({exc})") from exc
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
        else:
            return bytes(data)
    return bytes(data)


def open_bytes(path: str | os.PathLike | bytes) -> bytes:
    """Whole content of a file (or of a bytes object), decompressed according to its magic bytes."""
    if isinstance(path, (bytes, bytearray, memoryview)):
        return decompress_bytes(bytes(path))
    p = Path(path)
    return decompress_bytes(p.read_bytes(), str(p))
