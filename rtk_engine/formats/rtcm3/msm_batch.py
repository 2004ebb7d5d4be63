"""Batch MSM decoding: a run of consecutive MSM payloads -> observables of all their cells at once.

The per-message work is a header parse and a few cache lookups (satellite/signal/cell masks repeat
every epoch); field extraction is one vectorised gather over the concatenated payloads, and the
conversion to pseudorange/phase/Doppler/C/N0 one set of array operations for every cell of the run.
Results equal :func:`~.msm.decode_msm` + :func:`~.msm.msm_cells` message by message.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from operator import attrgetter

import numpy as np

from ... import _ext
from ...constants import CLIGHT
from . import msm_tables as T
from .bits import Rtcm3DecodeError
from .msm import CNR_DBHZ, FINE_PH_MS, FINE_PR_MS, HEADER_BITS, _cell_mask, _layout, _mask_ids

RANGE_MS_M = CLIGHT * 1e-3
_N_LOCK_STATE = T.N_SYS * 65 * 33


@dataclass
class MsmHead:
    msg_type: int
    system: str
    msm: int
    station_id: int
    epoch_ms: int
    multiple: bool
    ext_glo: bool  # GLONASS message with extended info (MSM5/7)


@dataclass
class _Plan:
    """Everything about a message that depends only on its masks (cached by layout)."""

    starts: np.ndarray
    widths: np.ndarray
    signed: np.ndarray
    n_vals: int
    end_bits: int
    nc: int
    # per cell: index into the message's gathered values (-1: field absent)
    i_rough_ms: np.ndarray
    i_rough_mod: np.ndarray
    i_rate: np.ndarray
    i_ext: np.ndarray
    i_pr: np.ndarray
    i_ph: np.ndarray
    i_lock: np.ndarray
    i_half: np.ndarray
    i_cnr: np.ndarray
    i_frate: np.ndarray
    # per cell constants
    pr_scale: np.ndarray
    ph_scale: np.ndarray
    cnr_scale: np.ndarray
    pr_invalid: np.ndarray
    ph_invalid: np.ndarray
    sat_key: np.ndarray
    code_key: np.ndarray
    freq: np.ndarray  # NaN for GLONASS FDMA bands
    glo_b1: np.ndarray
    glo_b2: np.ndarray
    glo_prn: np.ndarray  # GLONASS satellite number per cell (0 for other systems)
    lock_index: np.ndarray  # flat index into the decoder's lock-time state
    imat: np.ndarray | None = None  # the ten i_* rows stacked [10, nc], absent = _ABSENT
    fmat: np.ndarray | None = None  # float constants stacked [6, nc]
    kmat: np.ndarray | None = None  # int constants stacked [7, nc]
    gather: tuple | None = None  # byte index, left shift, right shift, 2^width, signed (per value)
    imat_safe: np.ndarray | None = None  # imat with absent fields pointing at the sentinel (-1)
    key: tuple = ()  # the cache key (message number, masks)


_ABSENT = -(1 << 40)
_IDX_ROWS = ("i_rough_ms", "i_rough_mod", "i_rate", "i_ext", "i_pr", "i_ph", "i_lock", "i_half", "i_cnr", "i_frate")
_F_ROWS = ("pr_scale", "ph_scale", "cnr_scale", "freq", "glo_b1", "glo_b2")
_K_ROWS = ("pr_invalid", "ph_invalid", "sat_key", "code_key", "glo_prn", "lock_index")


def _finish(p: "_Plan") -> "_Plan":
    p.imat = np.stack([np.where(getattr(p, r) >= 0, getattr(p, r), _ABSENT) for r in _IDX_ROWS]).astype(np.int64)
    p.fmat = np.stack([getattr(p, r).astype(float) for r in _F_ROWS])
    p.kmat = np.stack([getattr(p, r).astype(np.int64) for r in _K_ROWS])
    p.imat_safe = np.where(p.imat >= 0, p.imat, -1)
    p.gather = (p.starts >> 3, (p.starts & 7).astype(np.uint64), (64 - p.widths).astype(np.uint64),
                np.left_shift(np.int64(1), p.widths), p.signed.astype(np.int64))
    return p


_PLANS: dict[tuple, _Plan] = {}
_KINDS = {t: T.msm_kind(t) for t in range(4096) if T.msm_kind(t) is not None}  # MSM number -> (system, 1-7)


def _plan(msg_type: int, system: str, msm: int, sat_mask: int, sig_mask: int, cell_bits: int) -> _Plan:
    key = (msg_type, sat_mask, sig_mask, cell_bits)
    p = _PLANS.get(key)
    if p is not None:
        return p
    sat_ids, sig_ids = _mask_ids(sat_mask, 64), _mask_ids(sig_mask, 32)
    ns, nsig = sat_ids.size, sig_ids.size
    if ns * nsig > 64:
        raise Rtcm3DecodeError(f"MSM {msg_type}: cell mask of {ns}x{nsig} > 64 bits")
    mask, nc = _cell_mask(cell_bits, ns, nsig)
    starts, widths, signed, sl, end = _layout(msm, ns, nc, HEADER_BITS + ns * nsig)
    cs, cg = np.nonzero(mask)
    k = T.SYS_INDEX[system]
    prn, sig = sat_ids[cs], sig_ids[cg]

    def idx(name: str, per_sat: bool) -> np.ndarray:
        s = sl[name]
        if s is None:
            return np.full(nc, -1, np.int64)
        return (s.start + (cs if per_sat else np.arange(nc))).astype(np.int64)
    full = lambda v: np.full(nc, v, float)  # noqa: E731
    w_pr, w_ph = (20, 24) if msm >= 6 else (15, 22)
    p = _Plan(starts, widths, signed, int(starts.size), end, nc,
              idx("rough_ms", True), idx("rough_mod", True), idx("rough_rate", True), idx("ext_info", True),
              idx("fine_pr", False), idx("fine_ph", False), idx("lock", False), idx("half", False),
              idx("cnr", False), idx("fine_rate", False),
              full(FINE_PR_MS.get(msm, np.nan)), full(FINE_PH_MS.get(msm, np.nan)), full(CNR_DBHZ.get(msm, np.nan)),
              np.full(nc, -(1 << (w_pr - 1)), np.int64), np.full(nc, -(1 << (w_ph - 1)), np.int64),
              T.SAT_KEY_TABLE[k, prn], T.CODE_KEY_TABLE[k, sig], T.FREQ_TABLE[k, sig],
              T.GLO_BAND1[sig] & (system == "R"), T.GLO_BAND2[sig] & (system == "R"),
              prn if system == "R" else np.zeros(nc, np.int64),
              (int(msm >= 6) * _N_LOCK_STATE + (k * 65 + prn) * 33 + sig).astype(np.int64))
    _finish(p)
    p.key = key
    if len(_PLANS) < 4096:
        _PLANS[key] = p
    return p


def parse_head(payload: bytes) -> tuple[MsmHead, _Plan]:
    """Header fields and the cached plan of one MSM payload. Raises Rtcm3DecodeError if malformed."""
    msg_type, system, msm, head, plan = head_plan(payload)
    h = MsmHead(msg_type, system, msm, (head >> 216) & 0xFFF, (head >> 186) & 0x3FFFFFFF, bool((head >> 185) & 1),
                system == "R" and msm in (5, 7))
    return h, plan


def head_plan(payload: bytes) -> tuple[int, str, int, int, _Plan]:
    """:func:`parse_head` for the decoder's hot path: (message number, system, MSM 1-7, the first 240 bits as
    an int - epoch field ``(head >> 186) & 0x3FFFFFFF``, multiple-message bit ``(head >> 185) & 1`` -, plan)."""
    n_bits = len(payload) * 8
    if n_bits < HEADER_BITS:
        raise Rtcm3DecodeError(f"MSM payload of {len(payload)} bytes shorter than its header")
    head = int.from_bytes(payload[:30] if n_bits >= 240 else payload.ljust(30, b"\0"), "big")
    msg_type = head >> 228
    kind = _KINDS.get(msg_type)
    if kind is None:
        raise Rtcm3DecodeError(f"message {msg_type} is not an MSM")
    system, msm = kind
    sat_mask = (head >> 103) & 0xFFFFFFFFFFFFFFFF
    sig_mask = (head >> 71) & 0xFFFFFFFF
    nm = sat_mask.bit_count() * sig_mask.bit_count()
    if nm > 64:
        raise Rtcm3DecodeError(f"MSM {msg_type}: cell mask larger than 64 bits")
    cell_bits = (head >> (240 - HEADER_BITS - nm)) & ((1 << nm) - 1) if nm else 0
    plan = _PLANS.get((msg_type, sat_mask, sig_mask, cell_bits)) or _plan(msg_type, system, msm, sat_mask, sig_mask,
                                                                            cell_bits)
    if plan.end_bits > n_bits:
        raise Rtcm3DecodeError(f"MSM {msg_type}: {len(payload)}-byte payload too short for its cells")
    return msg_type, system, msm, head, plan


@dataclass
class RunCells:
    """Observables of every cell of a run of MSM messages, in message order."""

    sat_key: np.ndarray
    code_key: np.ndarray
    code_m: np.ndarray
    phase_cyc: np.ndarray
    doppler_hz: np.ndarray
    snr_dbhz: np.ndarray
    lock: np.ndarray  # -1 where the message has no lock time
    half: np.ndarray
    lock_index: np.ndarray
    ext: np.ndarray  # GLONASS extended info (channel + 7) per cell, -1 if absent
    glo_prn: np.ndarray
    missing_wavelength: int
    lock_unique: bool = False  # each lock-state key at most once among cells with a lock time
    has_ext: bool = True  # some cell carries GLONASS extended info (channel)
    layout: "_RunLayout | None" = None
    fdma: np.ndarray | None = None  # cells on a GLONASS FDMA band (wavelength from the channel)


@dataclass
class _RunLayout:
    """Everything about a run of MSM payloads that depends only on their plans and lengths (cached)."""

    gather: tuple  # byte index, left shift, right shift (uint64 and int64 for arithmetic shifts)
    imat: np.ndarray  # [10, nc] index of each cell field in the gathered values, -1 absent (sentinel)
    valid_when: np.ndarray  # [10, nc] value that marks a field invalid (_NEVER: none; absent fields too)
    scale: np.ndarray  # [2, nc] fine pseudorange / phase scale (ms)
    cnr_scale: np.ndarray
    freq: np.ndarray
    b1: np.ndarray
    b2: np.ndarray
    glo_fdma: bool  # any cell on a GLONASS FDMA band
    kmat: np.ndarray  # [6, nc] pr_invalid, ph_invalid, sat_key, code_key, glo_prn, lock_index
    lock: np.ndarray | None  # has-lock flags (None: every cell has one)
    half: np.ndarray | None
    ext: np.ndarray | None
    lock_unique: bool  # every lock-state key at most once in the run
    has_rate: bool  # some cell has a phase-range rate (MSM5/7): Doppler computed
    has_ext: bool  # some satellite has extended info (MSM5/7): GLONASS channels learnt
    signed: np.ndarray  # per gathered value: two's complement field
    signed_u8: np.ndarray  # the same flags as uint8 (and b1/b2 below) for the compiled kernel
    b1_u8: np.ndarray
    b2_u8: np.ndarray
    epoch: tuple | None = None  # decoder.build_epoch's structure of an epoch made of exactly this run
    compiled: object = None  # rtcm3_core.MsmLayout of these arrays (built on first compiled decode)


_NEVER = -(1 << 62)  # compares unequal to any field value
_KEY = attrgetter("key")
_RUNS: dict[tuple, _RunLayout] = {}


def _run_layout(payloads: list[bytes], plans: list[_Plan]) -> _RunLayout:
    key = (*map(_KEY, plans), *map(len, payloads))
    r = _RUNS.get(key)
    if r is not None:
        return r
    voff = [0, *accumulate(p.n_vals for p in plans[:-1])]
    boffs = [0, *accumulate(len(x) for x in payloads[:-1])]
    # payloads start on whole bytes: only the byte index moves with the offset
    byte_idx = np.concatenate([p.gather[0] + o for p, o in zip(plans, boffs)])
    lsh, rsh, full, sgn = (np.concatenate([p.gather[j] for p in plans]) for j in range(1, 5))
    imat = np.concatenate([p.imat + o for p, o in zip(plans, voff)], axis=1)
    fmat = np.concatenate([p.fmat for p in plans], axis=1)
    kmat = np.concatenate([p.kmat for p in plans], axis=1)
    present = imat >= 0
    nc = imat.shape[1]
    valid_when = np.full(imat.shape, _NEVER, np.int64)
    for row, bad in ((0, 255), (2, -8192), (9, -16384)):
        valid_when[row] = bad
    valid_when[4], valid_when[5] = kmat[0], kmat[1]
    valid_when[~present] = -1  # the sentinel value of absent fields
    valid_when[9][~present[9]] = _NEVER  # an absent fine rate does not invalidate the Doppler
    pr_scale, ph_scale, cnr_scale, freq, b1, b2 = fmat
    b1, b2 = b1.astype(bool), b2.astype(bool)
    lock_index = kmat[5][present[6]]
    r = _RunLayout((byte_idx, lsh, rsh, rsh.astype(np.int64)), np.where(present, imat, -1), valid_when,
                   np.stack([pr_scale, ph_scale]), cnr_scale, freq, b1, b2, bool(b1.any() or b2.any()), kmat,
                   None if present[6].all() else present[6], None if present[7].all() else present[7],
                   None if present[3].all() else present[3], np.unique(lock_index).size == lock_index.size,
                   bool(present[2].any()), bool(present[3].any()), sgn.astype(bool), sgn.astype(np.uint8),
                   b1.astype(np.uint8), b2.astype(np.uint8))
    if nc and len(plans) <= 32 and len(_RUNS) < 1024:  # epochs repeat; long runs (whole files) do not
        _RUNS[key] = r
    return r


def decode_run(payloads: list[bytes], plans: list[_Plan], glo_channel: np.ndarray) -> RunCells:
    """All cells of the given (already header-checked) MSM payloads.

    ``glo_channel[prn]``: known GLONASS FDMA channel per satellite number (NaN unknown); the
    message's own extended info takes precedence.
    """
    lay = _run_layout(payloads, plans)
    byte_idx, lsh, rsh, rsh_signed = lay.gather
    joined = b"".join(payloads) + bytes(8)
    compiled = _ext.kernel("rtcm3_core", "msm_run_layout")  # optional Cython kernel, same numbers
    if compiled is not None:
        vals, code_m, phase, dop, snr, _, missing = compiled(joined, _compiled_layout(lay), glo_channel, RANGE_MS_M,
                                                             RANGE_MS_M / CLIGHT, -1.0 / CLIGHT)
        return _run_cells(lay, vals, code_m, phase, dop, snr, missing)
    words = np.ndarray((len(joined) - 7,), dtype=">u8", buffer=joined, strides=(1,))  # 8-byte window at each byte
    top = words[byte_idx].astype(np.uint64) << lsh  # each field's first bit moved to bit 63
    v = np.empty(top.size + 1, np.int64)
    v[:-1] = np.where(lay.signed, top.view(np.int64) >> rsh_signed, (top >> rsh).view(np.int64))  # sign-extended
    v[-1] = -1  # sentinel for absent fields (index -1)
    vals = v[lay.imat]
    ok = vals != lay.valid_when
    rough_ms, rough_mod, rate, ext, pr, ph, lock, half, cnr, frate = vals
    pr_invalid, ph_invalid, sat_key, code_key, glo_prn, lock_index = lay.kmat
    freq = lay.freq
    if lay.glo_fdma:
        b1, b2 = lay.b1, lay.b2
        chan = np.where((ext >= 0) & (ext <= 13), ext - 7.0, glo_channel[glo_prn])
        freq = np.where(b1, 1602e6 + 0.5625e6 * chan, np.where(b2, 1246e6 + 0.4375e6 * chan, freq))
    rough = rough_ms + rough_mod * (1.0 / 1024.0)
    fine = vals[4:6] * lay.scale
    fine += rough
    code_m = fine[0] * RANGE_MS_M
    phase = fine[1] * (RANGE_MS_M / CLIGHT) * freq
    code_m[~(ok[0] & ok[4])] = np.nan
    phase[~(ok[0] & ok[5])] = np.nan
    if lay.has_rate:
        dop = (rate + frate * 1e-4) * (-1.0 / CLIGHT) * freq
        dop[~(ok[2] & ok[9])] = np.nan
    else:  # no cell has a rate (MSM1-4)
        dop = np.full(code_m.size, np.nan)
    snr = np.where(cnr > 0, cnr * lay.cnr_scale, np.nan).astype(np.float32)
    missing = int(np.count_nonzero((lay.b1 | lay.b2) & np.isnan(freq) & np.isfinite(code_m))) if lay.glo_fdma else 0
    return _run_cells(lay, vals, code_m, phase, dop, snr, missing)


def _compiled_layout(lay: _RunLayout):
    """The layout's arrays converted once for the kernel (layouts are cached per epoch shape)."""
    if lay.compiled is None:
        u8 = lambda a: None if a is None else a.astype(np.uint8)  # noqa: E731
        lay.compiled = _ext.kernel("rtcm3_core", "MsmLayout")(
            lay.gather[0], lay.gather[1], lay.gather[2], lay.signed_u8, lay.imat, lay.valid_when, lay.scale,
            lay.cnr_scale, lay.freq, lay.b1_u8, lay.b2_u8, lay.kmat[4], lay.glo_fdma, lay.has_rate,
            np.ascontiguousarray(lay.kmat[5]), u8(lay.lock), u8(lay.half), u8(lay.ext),
            lay.has_ext and bool((lay.kmat[4] > 0).any()))  # extended info: only GLONASS channels are learnt
    return lay.compiled


def decode_run_lli(payloads: list[bytes], plans: list[_Plan], glo_channel: np.ndarray,
                   state: np.ndarray) -> tuple | None:
    """:func:`decode_run`, :func:`loss_of_lock` (``state`` updated) and the LLI byte (bit 0 loss of lock, bit 1
    half-cycle ambiguity) of one run in one compiled call: (layout, code_m, phase_cyc, doppler_hz, snr_dbhz,
    lli, GLONASS extended info per cell or None (no GLONASS cell has one), cells missing a wavelength); None
    without the kernel."""
    compiled = _ext.kernel("rtcm3_core", "msm_cells")
    if compiled is None or state.dtype != np.int16 or not state.flags.c_contiguous:
        return None
    lay = _run_layout(payloads, plans)
    return (lay, *compiled(b"".join(payloads) + _PAD, _compiled_layout(lay), glo_channel, state, RANGE_MS_M,
                           RANGE_MS_M / CLIGHT, -1.0 / CLIGHT))


_PAD = bytes(8)


def _run_cells(lay: _RunLayout, vals: np.ndarray, code_m: np.ndarray, phase: np.ndarray, dop: np.ndarray,
               snr: np.ndarray, missing: int) -> RunCells:
    _, _, _, ext, _, _, lock, half, _, _ = vals
    _, _, sat_key, code_key, glo_prn, lock_index = lay.kmat
    return RunCells(sat_key, code_key, code_m, phase, dop, snr,
                    lock if lay.lock is None else np.where(lay.lock, lock, -1),
                    half if lay.half is None else np.where(lay.half, half, 0), lock_index,
                    ext if lay.ext is None else np.where(lay.ext, ext, -1), glo_prn, int(missing), lay.lock_unique,
                    lay.has_ext, lay, lay.b1 | lay.b2)


def loss_of_lock(state: np.ndarray, index: np.ndarray, lock: np.ndarray, unique: bool = False) -> np.ndarray:
    """LLI bit 0 for cells in stream order, updating ``state`` (flat last lock per key, -1 never seen).

    Same rule as one message at a time: the indicator dropped, or is 0 and was 0 or never seen.
    Cells without a lock time (lock = -1) never flag and leave the state alone. ``unique``: the caller
    knows each key occurs at most once among cells with a lock time (no ordering needed).
    """
    compiled = _ext.kernel("rtcm3_core", "lock_slips")  # the same rule cell by cell, in one call
    if (compiled is not None and state.dtype == np.int16 and index.dtype == lock.dtype == np.int64
            and state.flags.c_contiguous and index.flags.c_contiguous and lock.flags.c_contiguous):
        return compiled(state, index, lock)
    if unique and lock.size and lock.min() >= 0:
        prev = state[index]
        state[index] = lock
        return (lock < prev) | ((lock == 0) & (prev <= 0))
    ok = lock >= 0
    out = np.zeros(lock.size, bool)
    if not ok.any():
        return out
    pos = np.nonzero(ok)[0]
    key, lk = index[pos], lock[pos]
    order = np.argsort(key, kind="stable")
    ks, ls = key[order], lk[order]
    first = np.ones(ks.size, bool)
    first[1:] = ks[1:] != ks[:-1]
    prev = state[ks]
    prev[~first] = ls[:-1][~first[1:]]
    slip_sorted = (ls < prev) | ((ls == 0) & (prev <= 0))
    last = np.ones(ks.size, bool)
    last[:-1] = ks[1:] != ks[:-1]
    state[ks[last]] = ls[last]
    slip = np.empty(ks.size, bool)
    slip[order] = slip_sorted
    out[pos] = slip
    return out
