"""Vectorised reading of fixed-column text formats (SP3, RINEX clock, ANTEX, SINEX).

A file is held as one ``uint8`` buffer with the start/end offset of every line; fields are cut
out of many lines at once as ``[L, width]`` byte matrices and converted with numpy, so that
parsing costs a few numpy passes instead of a Python loop over lines.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPACE = ord(" ")
PAD = 256  # blank bytes after the text (widest window cut in one piece)


class FormatError(ValueError):
    """A product file that cannot be read; the message names the file and line."""


def read_source_bytes(source) -> tuple[bytes, str]:
    """Bytes of a file (path, bytes or binary file object), gunzipped / uncompressed as needed.

    Returns ``(data, name)`` where ``name`` is used in error messages.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, (str, os.PathLike)):
        data, name = Path(source).read_bytes(), str(source)
    elif hasattr(source, "read"):
        data, name = source.read(), getattr(source, "name", "<stream>")
        if isinstance(data, str):
            data = data.encode("ascii", "replace")
    else:
        raise TypeError(f"cannot read from {type(source).__name__}")
    try:  # the project's decompressor handles gzip and Unix .Z (LZW); plain gzip as a fallback
        from rtk_engine.formats.compressed import decompress_bytes
    except ImportError:
        decompress_bytes = None
    if decompress_bytes is not None:
        try:
            data = decompress_bytes(data, name)
        except ValueError as exc:
            raise FormatError(f"{name}: {exc}") from exc
    elif data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise FormatError(f"{name}: corrupt gzip data ({exc})") from exc
    elif data[:2] == b"\x1f\x9d":
        raise FormatError(f"{name}: Unix .Z compression needs rtk_engine.formats.compressed")
    return data, name


@dataclass
class Lines:
    """All lines of a text buffer: ``buf`` uint8, ``start[L]`` and ``end[L]`` (exclusive, no CR/LF)."""

    buf: np.ndarray
    start: np.ndarray
    end: np.ndarray
    name: str = "<bytes>"

    @staticmethod
    def from_bytes(data: bytes, name: str = "<bytes>") -> "Lines":
        # padded with blanks so that fixed-width windows never run past the end of the buffer
        buf = np.frombuffer(data + b" " * PAD, dtype=np.uint8)
        nl = np.flatnonzero(buf[:len(data)] == 10)
        start = np.concatenate([[0], nl + 1])
        end = np.concatenate([nl, [len(data)]])
        if start[-1] == len(data):  # file ends with a newline
            start, end = start[:-1], end[:-1]
        has_cr = (end > start) & (buf[np.maximum(end - 1, 0)] == 13)
        end = end - has_cr
        return Lines(buf, start.astype(np.int64), end.astype(np.int64), name)

    def __len__(self) -> int:
        return int(self.start.size)

    def text(self, i: int) -> str:
        return self.buf[self.start[i]:self.end[i]].tobytes().decode("ascii", "replace")

    def char(self, col: int, rows=None) -> np.ndarray:
        """Byte at column ``col`` of each line (space where the line is shorter)."""
        s = self.start if rows is None else self.start[rows]
        e = self.end if rows is None else self.end[rows]
        pos = s + col
        ok = pos < e
        out = np.full(s.shape, SPACE, np.uint8)
        out[ok] = self.buf[pos[ok]]
        return out

    def startswith(self, prefix: bytes, rows=None) -> np.ndarray:
        ok = np.ones(self.start.shape if rows is None else np.asarray(rows).shape, bool)
        for i, c in enumerate(prefix):
            ok &= self.char(i, rows) == c
        return ok

    def field(self, c0: int, c1: int, rows=None) -> np.ndarray:
        """Columns ``[c0, c1)`` of the selected lines as a ``[L, c1-c0]`` uint8 matrix, space-padded."""
        s = self.start if rows is None else self.start[rows]
        e = self.end if rows is None else self.end[rows]
        w = c1 - c0
        if s.size == 0 or w <= 0:
            return np.full((s.size, max(w, 0)), SPACE, np.uint8)
        if w > PAD or int(s.max()) + c1 > self.buf.size:  # rare: a plain masked gather
            pos = np.minimum(s[:, None] + np.arange(c0, c1)[None, :], self.buf.size - 1)
            return np.where(pos < e[:, None], self.buf[pos], np.uint8(SPACE))
        windows = np.lib.stride_tricks.sliding_window_view(self.buf, w)  # no copy
        out = windows[s + c0]  # one contiguous row copy per line
        short = (e - s) < c1
        if np.any(short):  # blank what lies beyond the end of short lines
            k = np.flatnonzero(short)
            cols = np.arange(c0, c1)[None, :]
            out[k] = np.where(cols < (e[k] - s[k])[:, None], out[k], np.uint8(SPACE))
        return out

    def line_no(self, rows) -> np.ndarray:
        """1-based line numbers of the given row indices (for messages)."""
        return np.asarray(rows) + 1


def as_str(mat: np.ndarray) -> np.ndarray:
    """``[L, W]`` byte matrix -> unicode string array ``<UW`` (trailing blanks stripped)."""
    mat = np.ascontiguousarray(mat)
    if mat.shape[1] == 0:
        return np.zeros(mat.shape[0], "<U1")
    s = mat.view(f"S{mat.shape[1]}").reshape(-1)
    return np.char.rstrip(s.astype(f"<U{mat.shape[1]}"))


def as_float(mat: np.ndarray, what: str = "field", lines: Lines | None = None, rows=None) -> np.ndarray:
    """``[L, W]`` byte matrix of numbers (Fortran D exponents allowed) -> float64; blanks -> NaN.

    Unparsable text raises :class:`FormatError` naming the first bad line.
    """
    mat = np.ascontiguousarray(mat).copy()
    n, w = mat.shape
    out = np.full(n, np.nan)
    if n == 0 or w == 0:
        return out
    mat[(mat == ord("D")) | (mat == ord("d"))] = ord("E")
    blank = np.all(mat == SPACE, axis=1)
    s = mat.view(f"S{w}").reshape(-1)
    try:
        out[~blank] = s[~blank].astype(np.float64)
    except ValueError:
        # find the first offender for a useful message
        for k in np.flatnonzero(~blank):
            try:
                float(s[k])
            except ValueError:
                where = ""
                if lines is not None and rows is not None:
                    r = np.asarray(rows)[k]
                    where = f" line {int(r) + 1}: {lines.text(int(r))!r}"
                name = lines.name if lines is not None else ""
                raise FormatError(f"{name}: bad {what} {s[k].decode('ascii', 'replace')!r}{where}") from None
        raise
    return out


def digits_int(mat: np.ndarray) -> np.ndarray | None:
    """Right-aligned unsigned integer fields (digits and leading blanks only) -> int64, else None.

    A fast path for counts and calendar fields; callers fall back to :func:`as_int` on None.
    """
    m = np.asarray(mat)
    isdig = (m >= ord("0")) & (m <= ord("9"))
    if not np.all(isdig | (m == SPACE)) or not np.all(np.any(isdig, axis=1)):
        return None
    # blanks must only lead: once a digit appeared, no blank may follow
    seen = np.maximum.accumulate(isdig, axis=1)
    if np.any(seen & ~isdig):
        return None
    d = np.where(isdig, m.astype(np.int64) - ord("0"), 0)
    w = 10 ** np.arange(m.shape[1] - 1, -1, -1, dtype=np.int64)
    return d @ w


def as_int(mat: np.ndarray, what: str = "field", lines: Lines | None = None, rows=None,
           blank_value: int = 0) -> np.ndarray:
    """``[L, W]`` byte matrix of integers -> int64 (blanks -> ``blank_value``)."""
    if blank_value == 0:
        fast = digits_int(mat)
        if fast is not None:
            return fast
    f = as_float(mat, what, lines, rows)
    bad = ~np.isfinite(f)
    out = np.where(bad, blank_value, np.nan_to_num(f)).astype(np.int64)
    return out
