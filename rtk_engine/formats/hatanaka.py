"""In-process Compact RINEX (Hatanaka CRX 1.0 for RINEX 2, CRX 3.0 for RINEX 3/4) decoder.

Compact RINEX keeps the RINEX header verbatim and compresses the body three ways:

* epoch lines are text-differenced against the previous epoch line (a blank keeps the old
  character, ``&`` blanks it, any other character replaces it; a line starting with ``&``
  (CRX 1) or ``>`` (CRX 3) is written in full). The satellite list is appended to the line,
  and the receiver clock offset moves to the next line;
* every observation of a satellite is an arc of integers (the RINEX field without its
  decimal point): ``"n&v"`` starts an arc with value ``v`` and differencing order ``n``, after
  which the 1st, 2nd, ... n-th order differences are written; a blank field ends the arc;
* the LLI/SSI flag characters are text-differenced against the satellite's previous flags
  (a satellite new in an epoch starts from blanks, and so does the flag pair of a blank field).

Decoding here never loops over values in Python: the Python walk is one step per epoch
(epoch line, satellite list, clock); the data lines of the whole file are tokenised with
numpy, and the arcs are undone with segmented integer cumulative sums (``n`` passes of a
cumsum over all arcs at once). The result is the same record table as the plain RINEX
reader (:class:`~.rinex_obs.Records`), so both share the assembly into an ObsBlock.
"""
from __future__ import annotations

import re

import numpy as np

from .rinex_obs import Records, RawHeader, RinexError, _epoch_ns, _note_event, _sat_ids, _valid_sats, parse_header

SPACE, AMP, MINUS, NL = 32, 38, 45, 10
_P10 = 10 ** np.arange(19, dtype=np.int64)
_CHANGED = re.compile(rb"[^ ]+")
_CHUNK_LINES = 40_000  # data lines tokenised per numpy pass (bounds memory to ~100 MB)


class HatanakaError(RinexError):
    """Corrupt Compact RINEX stream."""


def _apply_diff(prev: bytearray, diff: bytes) -> bytearray:
    """Text difference of an epoch line: blank keeps, ``&`` blanks, other characters replace."""
    out = bytearray(prev)
    if len(diff) > len(out):
        out.extend(b" " * (len(diff) - len(out)))
    for m in _CHANGED.finditer(diff):
        out[m.start():m.end()] = m.group().replace(b"&", b" ")
    return out


class _ClockArc:
    """Receiver clock offset arc (same differencing scheme as the observations)."""

    def __init__(self) -> None:
        self.d: list[int] = []
        self.order = 0
        self.count = 0

    def next(self, text: bytes) -> int | None:
        t = text.strip()
        if not t:
            self.d, self.count = [], 0
            return None
        if len(t) > 1 and t[1:2] == b"&":
            self.order = int(t[0:1])
            self.d = [int(t[2:])] + [0] * self.order
            self.count = 0
            return self.d[0]
        if not self.d:
            raise ValueError("clock difference without initialisation")
        self.count += 1
        o = min(self.count, self.order)
        new = list(self.d)
        new[o] = int(t)
        for j in range(o - 1, -1, -1):
            new[j] = self.d[j] + new[j + 1]
        self.d = new
        return new[0]


def _tokenise(lines: list[bytes], n_types: np.ndarray, t_max: int):
    """Data lines -> present/init/order/value ``[N, t_max]`` and flag chars ``[N, 2*t_max]``.

    ``n_types[N]`` is the number of observation fields of each line's system; the space after
    the last field starts the flag text. Returns also ``bad[N]``: lines with malformed tokens.
    """
    n = len(lines)
    present = np.zeros((n, t_max), bool)
    init = np.zeros((n, t_max), bool)
    order = np.zeros((n, t_max), np.int8)
    value = np.zeros((n, t_max), np.int64)
    flags = np.full((n, 2 * t_max), SPACE, np.uint8)
    bad = np.zeros(n, bool)
    for c0 in range(0, n, _CHUNK_LINES):
        c1 = min(n, c0 + _CHUNK_LINES)
        buf = np.frombuffer(b"\n".join(lines[c0:c1]) + b"\n", np.uint8)
        nl = buf == NL
        sp = buf == SPACE
        nl_pos = np.flatnonzero(nl)
        starts = np.concatenate([[0], nl_pos[:-1] + 1])
        t_line = n_types[c0:c1].astype(np.int32)
        # running count of spaces minus the line's field count, restarted at every line start:
        # w - sp < 0 on value fields, == -1 on the separator before the flags, >= 0 on flag text
        x = sp.astype(np.int32)
        sp_tot = np.add.reduceat(x, starts)
        adj = -t_line.copy()
        adj[1:] += t_line[:-1] - sp_tot[:-1]
        x[starts] += adj  # starts are strictly increasing (every line owns its newline)
        sbt = np.cumsum(x, dtype=np.int32) - sp
        # --- flags: every char after the T-th space of the line
        sep_idx = np.flatnonzero(sp & (sbt == -1))
        sep_pos = np.full(c1 - c0, -1, np.int64)
        sep_pos[np.searchsorted(nl_pos, sep_idx)] = sep_idx
        fi = np.flatnonzero((sbt >= 0) & ~nl)
        if fi.size:
            fline = np.searchsorted(nl_pos, fi)
            fpos = fi - sep_pos[fline] - 1
            ok = fpos < 2 * t_max
            flags[c0 + fline[ok], fpos[ok]] = buf[fi[ok]]
        # --- value tokens: runs of contiguous field characters
        fc = np.flatnonzero(~sp & ~nl & (sbt < 0))
        if fc.size == 0:
            continue
        brk = np.empty(fc.size, bool)
        brk[0] = True
        np.not_equal(fc[1:], fc[:-1] + 1, out=brk[1:])
        tstart = np.flatnonzero(brk)
        tend = np.empty_like(tstart)
        tend[:-1] = tstart[1:] - 1
        tend[-1] = fc.size - 1
        b_start, b_end = fc[tstart], fc[tend]  # buffer positions (inclusive)
        second = buf[np.minimum(b_start + 1, buf.size - 1)]
        is_init = (b_end - b_start >= 2) & (second == AMP)
        first = buf[b_start]
        ord_ok = (first >= 48) & (first <= 57)
        num0 = b_start + np.where(is_init, 2, 0)
        neg = buf[np.minimum(num0, buf.size - 1)] == MINUS
        num0 = num0 + neg
        tok_bad = (num0 > b_end) | (is_init & ~ord_ok) | (b_end - num0 >= 18)
        tok_of = np.cumsum(brk, dtype=np.int32) - 1
        ch = buf[fc]
        d = ch.astype(np.int64) - 48
        in_num = fc >= num0[tok_of]
        is_d = (d >= 0) & (d <= 9)
        bad_char = in_num & ~is_d
        if bad_char.any():
            tok_bad[tok_of[bad_char]] = True
        rank = np.minimum(b_end[tok_of] - fc, 18)
        d *= _P10[rank]
        d[~(in_num & is_d)] = 0
        val = np.add.reduceat(d, tstart)
        val[neg] *= -1
        tline = np.searchsorted(nl_pos, b_start)
        field_no = sbt[b_start] + t_line[tline]
        li = c0 + tline
        present[li, field_no] = True
        init[li, field_no] = is_init
        order[li, field_no] = np.where(is_init, first.astype(np.int64) - 48, 0)
        value[li, field_no] = val
        if tok_bad.any():
            bad[li[tok_bad]] = True
    return present, init, order, value, flags, bad


def _undifference(present, init, order, value, new_row):
    """Undo the arc differences. Rows must be sorted by (satellite, epoch).

    ``new_row[N]``: the satellite was not in the previous epoch (its arcs must restart).
    Returns (values int64 [N, T], broken [N] rows with a difference that has no arc).
    """
    n, t = present.shape
    prev_ok = np.zeros((n, t), bool)
    prev_ok[1:] = present[:-1] & ~new_row[1:, None]
    broken_el = present & ~init & ~prev_ok
    # column-major flattening keeps each (satellite, type) sequence contiguous
    P = present.T.ravel()
    q = np.flatnonzero(P & ~broken_el.T.ravel())
    out = np.zeros(n * t, np.int64)
    if q.size == 0:
        return out.reshape(t, n).T, broken_el.any(axis=1)
    I = init.T.ravel()[q]
    z = value.T.ravel()[q].copy()
    K = order.T.ravel()[q].astype(np.int64)
    # an arc may only continue on the element right before it (same column, consecutive row)
    contiguous = np.ones(q.size, bool)
    contiguous[1:] = q[1:] == q[:-1] + 1
    I = I | ~contiguous  # defensive: never chain across a gap (already flagged as broken)
    starts = np.flatnonzero(I)
    if starts.size == 0 or starts[0] != 0:
        raise AssertionError("arc bookkeeping")  # cannot happen: first element of a column is an init
    arc = np.cumsum(I) - 1
    idx = np.arange(q.size) - starts[arc]
    k_arc = K[starts][arc]
    for m in range(int(k_arc.max()) - 1, -1, -1):
        active = (idx >= m) & (k_arc > m)
        if not active.any():
            continue
        cs = np.cumsum(np.where(active, z, 0))  # int64 wrap-around cancels in the differences below
        base_pos = starts + m - 1
        base = np.where(base_pos >= 0, cs[np.clip(base_pos, 0, q.size - 1)], 0)
        z = np.where(active, cs - base[arc], z)
    out[q] = z
    return out.reshape(t, n).T, broken_el.any(axis=1)


def read_crx_records(lines: list[bytes], name: str) -> tuple[RawHeader, Records]:
    """Decode a Compact RINEX file given as its lines (``bytes.split(b"\\n")``)."""
    crx_ver = lines[0][:20].strip()
    if crx_ver not in (b"1.0", b"3.0"):
        raise HatanakaError(f"{name}: line 1: unsupported Compact RINEX version {crx_ver.decode('ascii', 'replace')!r}")
    v3 = crx_ver == b"3.0"
    raw = parse_header(lines[2:], name, first_line=2)
    if (raw.version >= 3) != v3:
        raise HatanakaError(f"{name}: CRX {crx_ver.decode()} cannot hold RINEX {raw.version}")
    init_char = ord(">") if v3 else AMP
    sat_col, flag_col, n_col = (41, 31, 32) if v3 else (32, 28, 29)
    clock_scale = 1e-12 if v3 else 1e-9
    skipped: list[str] = []
    comments: list[str] = []
    t_sys = {s: len(v) for s, v in raw.obs_types.items()}
    t_max = max(t_sys.values())

    ep_ns: list[int] = []
    ep_flag: list[int] = []
    ep_clock: list[float] = []
    data_lines: list[bytes] = []
    ep_line0: list[int] = []  # index of the first data line of each epoch
    ep_n: list[int] = []
    ep_reset: list[bool] = []  # every arc restarts (full epoch line, or first epoch after an event)
    sat_text: list[bytes] = []
    prev: bytearray | None = None
    after_event = True
    clock = _ClockArc()
    i = 2 + raw.n_lines
    n_lines = len(lines)
    while i < n_lines:
        line = lines[i]
        if not line.strip():
            if all(not x.strip() for x in lines[i:]):
                break
            skipped.append(f"line {i + 1}: empty line where an epoch line was expected; rest of file "
                           f"({n_lines - i} lines) skipped (Hatanaka stream corrupt)")
            break
        full = line[0] == init_char
        if full:
            text = bytearray(line)
            if not v3:
                text[0] = SPACE
        elif prev is None:
            skipped.append(f"line {i + 1}: epoch line difference without a full epoch line before it; "
                           f"rest of file ({n_lines - i} lines) skipped (Hatanaka stream corrupt)")
            break
        else:
            text = _apply_diff(prev, line)
        try:
            flag = int(text[flag_col:flag_col + 1])
            n = int(text[n_col:n_col + 3])
        except ValueError:
            skipped.append(f"line {i + 1}: corrupt epoch line {bytes(text[:40])!r}; rest of file "
                           f"({n_lines - i} lines) skipped (Hatanaka stream corrupt)")
            break
        if flag in (2, 3, 4, 5):
            take = min(n, n_lines - i - 1)
            comments.extend(x[:60].decode("ascii", "replace").rstrip() for x in lines[i + 1:i + 1 + take])
            _note_event(flag, n, i, skipped, comments)
            after_event = True  # the encoder restarts every arc after an event
            i += 1 + take
            continue
        if i + 2 + n > n_lines or (i + 2 + n == n_lines and n > 0 and not lines[-1]):
            got = max(0, n_lines - i - 2 - (0 if lines[-1] else 1))
            if got < n:
                skipped.append(f"line {i + 1}: truncated file: epoch announces {n} satellites, {got} data "
                               f"line(s) present; epoch skipped")
                break
        try:
            if v3:
                t_ns = _epoch_ns(int(text[2:6]), int(text[7:9]), int(text[10:12]), int(text[13:15]),
                                 int(text[16:18]), _sec_ns_text(bytes(text[18:29])))
            else:
                t_ns = _epoch_ns(int(text[1:3]), int(text[4:6]), int(text[7:9]), int(text[10:12]),
                                 int(text[13:15]), _sec_ns_text(bytes(text[15:26])))
        except ValueError:
            skipped.append(f"line {i + 1}: corrupt epoch time {bytes(text[:30])!r}; rest of file "
                           f"({n_lines - i} lines) skipped (Hatanaka stream corrupt)")
            break
        try:
            c = clock.next(lines[i + 1])
        except ValueError:
            skipped.append(f"line {i + 2}: corrupt receiver clock line {lines[i + 1][:30]!r}; clock set absent")
            clock = _ClockArc()
            c = None
        ep_ns.append(t_ns)
        ep_flag.append(flag)
        ep_clock.append(float("nan") if c is None else c * clock_scale)
        ep_line0.append(i + 2)
        ep_n.append(n)
        ep_reset.append(full or after_event)
        sat_text.append(bytes(text[sat_col:sat_col + 3 * n]).ljust(3 * n))
        data_lines.extend(lines[i + 2:i + 2 + n])
        prev, after_event = text, False
        i += 2 + n

    n_rec = len(data_lines)
    ep_n_a = np.asarray(ep_n, np.int64)
    rec_ep_a = np.repeat(np.arange(ep_n_a.size), ep_n_a)
    first_rec = np.cumsum(ep_n_a) - ep_n_a
    rec_line_a = np.asarray(ep_line0, np.int64)[rec_ep_a] + np.arange(n_rec) - first_rec[rec_ep_a]
    sat_m = np.frombuffer(b"".join(sat_text), np.uint8).reshape(-1, 3)
    sats_a = _sat_ids(sat_m)
    if n_rec and not _valid_sats(sats_a).all():
        r = int(np.flatnonzero(~_valid_sats(sats_a))[0])
        raise HatanakaError(f"{name}: line {ep_line0[rec_ep_a[r]] - 1}: bad satellite id "
                            f"{sat_m[r].tobytes()!r} in the epoch line")
    sys_a = sats_a.astype("<U1")
    n_types = np.zeros(n_rec, np.int32)
    for s, t in t_sys.items():
        n_types[sys_a == s] = t
    unknown = (n_types == 0) & (n_rec > 0)
    if np.any(unknown):
        r = int(np.flatnonzero(unknown)[0])
        raise HatanakaError(f"{name}: line {rec_line_a[r] + 1}: satellite {sats_a[r]} of a system without "
                            f"observation types in the header")
    present, init, order, value, flags, bad_tok = _tokenise(data_lines, n_types, t_max)
    perm = np.argsort(sats_a, kind="stable")  # (satellite, epoch) order
    # a satellite is new (arcs and flags restart) unless it was in the epoch just before
    sats_s, ep_s = sats_a[perm], rec_ep_a[perm]
    new_s = np.ones(n_rec, bool)
    new_s[1:] = ~((sats_s[1:] == sats_s[:-1]) & (ep_s[1:] == ep_s[:-1] + 1))
    new_s |= np.asarray(ep_reset, bool)[ep_s] if n_rec else False
    new_a = np.empty(n_rec, bool)
    new_a[perm] = new_s
    vals_s, broken_s = _undifference(present[perm], init[perm], order[perm], value[perm], new_a[perm])
    broken = np.zeros(n_rec, bool)
    broken[perm] = broken_s
    broken |= bad_tok
    keep_ep = len(ep_ns)
    if broken.any():
        r = int(np.flatnonzero(broken)[0])
        cut = int(rec_ep_a[r])
        skipped.append(f"line {rec_line_a[r] + 1}: corrupt Hatanaka data line "
                       f"{data_lines[r][:40]!r}; this epoch and the {len(ep_ns) - cut - 1} after it skipped")
        keep_ep = cut
    # flags: forward-fill the text differences per satellite; a new satellite starts from blanks
    fs = flags[perm]
    new_s = new_a[perm]
    fs[new_s] = np.where(fs[new_s] == SPACE, AMP, fs[new_s])
    # the flags of a blank field are blank (RINEX), and so is the reference the next epoch builds on
    absent = ~present[perm]
    fs[:, 0::2][absent] = AMP
    fs[:, 1::2][absent] = AMP
    rows = np.arange(n_rec)[:, None]
    src = np.maximum.accumulate(np.where(fs != SPACE, rows, 0), axis=0) if n_rec else rows
    filled = np.take_along_axis(fs, src, axis=0) if n_rec else fs
    lli_s = filled[:, 0::2].astype(np.int16) - 48
    lli_s = np.where((lli_s >= 0) & (lli_s <= 9), lli_s, 0).astype(np.uint8)
    values = np.empty((n_rec, t_max))
    lli = np.zeros((n_rec, t_max), np.uint8)
    pres_s = present[perm]
    values[perm] = np.where(pres_s, vals_s / 1000.0, np.nan)
    lli[perm] = np.where(pres_s, lli_s[:, :t_max], 0)
    ep_flag_a = np.asarray(ep_flag, np.int8)
    ep_flag_all = np.asarray(ep_flag, np.int8)
    keep = (rec_ep_a < keep_ep) & (ep_flag_all[rec_ep_a] != 6)
    if np.any(ep_flag_a == 6):
        skipped.append(f"{int(np.sum(ep_flag_a == 6))} epoch(s) with flag 6 (cycle-slip records) skipped")
    obs_ep = np.flatnonzero((ep_flag_a[:keep_ep] == 0) | (ep_flag_a[:keep_ep] == 1))
    renum = np.full(len(ep_ns) + 1, -1, np.int64)
    renum[obs_ep] = np.arange(obs_ep.size)
    keep &= renum[rec_ep_a] >= 0
    rec = Records(np.asarray(ep_ns, np.int64)[obs_ep], ep_flag_a[obs_ep], np.asarray(ep_clock, float)[obs_ep],
                  renum[rec_ep_a[keep]], sats_a[keep], values[keep], lli[keep], skipped, comments)
    return raw, rec


def _sec_ns_text(sec: bytes) -> int:
    s = sec.decode("ascii").strip()
    whole, _, frac = s.partition(".")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


__all__ = ["HatanakaError", "read_crx_records"]
