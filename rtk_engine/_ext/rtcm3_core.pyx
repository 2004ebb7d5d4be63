# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled RTCM 3 kernels, each a drop-in for a pure Python/numpy reference:

* ``crc24q``, ``scan_frames``: CRC-24Q and the frame scan of ``rtcm3_frame.FrameScanner``;
* ``msm_run`` / ``msm_run_layout`` (+ ``MsmLayout``): the per-cell MSM arithmetic of ``msm_batch.decode_run``;
  ``msm_cells``: that + ``msm_batch.loss_of_lock`` + the LLI byte of ``decoder._decode_one``, one call per run;
* ``lock_slips``: ``msm_batch.loss_of_lock``; ``scatter_epoch``/``scatter_parts``: the cell scatter of
  ``decoder.build_epoch`` (one message or several);
* ``read_fields`` (+ ``FieldSpec``): ``bits.read_schema`` of fixed layouts (ephemerides, station, 1230);
* ``legacy_records``, ``legacy_obs``: the records and observables of ``legacy.decode_legacy``;
  ``legacy_cells``: ``legacy_obs`` + ``decoder._legacy_cells`` (kept rows flattened, ``lock_slips``) in one call.

Same operations in the same order as the references, no fused multiply-add (``-ffp-contract=off``), so
the results are bit-identical (``tests/test_rtcm3_decode.py``); only the per-call overhead of many
small numpy operations and Python loops per message is gone. Units as there: ms, metres, cycles, Hz, dB-Hz.
"""
import numpy as np

cimport numpy as cnp
from libc.math cimport NAN, isfinite, isnan
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint32_t, uint64_t

cnp.import_array()

cdef uint32_t _TABLE[256]


cdef void _init_table():
    cdef int i, k
    cdef uint32_t crc
    for i in range(256):
        crc = (<uint32_t>i) << 16
        for k in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        _TABLE[i] = crc & 0xFFFFFF


_init_table()


def crc24q(const unsigned char[::1] data, unsigned int crc=0):
    """CRC-24Q (Qualcomm) of ``data`` continuing from ``crc``."""
    cdef Py_ssize_t i, n = data.shape[0]
    cdef uint32_t c = crc
    for i in range(n):
        c = ((c << 8) & 0xFFFFFF) ^ _TABLE[((c >> 16) ^ data[i]) & 0xFF]
    return c


cdef class MsmLayout:
    """The constant arrays of one ``msm_batch`` run layout, converted once for :func:`msm_run_layout`."""
    cdef const int64_t[::1] byte_idx, glo_prn
    cdef const uint64_t[::1] lsh, rsh
    cdef const unsigned char[::1] signed_, b1, b2
    cdef const int64_t[:, ::1] imat, valid_when
    cdef const double[:, ::1] scale
    cdef const double[::1] cnr_scale, freq_in
    cdef bint glo_fdma, has_rate
    cdef const int64_t[::1] lock_index
    cdef const unsigned char[::1] has_lock, has_half, has_ext
    cdef bint any_ext

    def __init__(self, byte_idx, lsh, rsh, signed_, imat, valid_when, scale, cnr_scale, freq_in, b1, b2, glo_prn,
                 bint glo_fdma, bint has_rate, lock_index=None, has_lock=None, has_half=None, has_ext=None,
                 bint any_ext=False):
        self.byte_idx, self.lsh, self.rsh, self.signed_ = byte_idx, lsh, rsh, signed_
        self.imat, self.valid_when, self.scale, self.cnr_scale = imat, valid_when, scale, cnr_scale
        self.freq_in, self.b1, self.b2, self.glo_prn = freq_in, b1, b2, glo_prn
        self.glo_fdma, self.has_rate = glo_fdma, has_rate
        n = imat.shape[1]  # for msm_cells: lock-state key per cell, which cells carry lock / half-cycle / ext info
        self.lock_index = lock_index if lock_index is not None else np.zeros(n, np.int64)
        self.has_lock = has_lock if has_lock is not None else np.ones(n, np.uint8)
        self.has_half = has_half if has_half is not None else np.ones(n, np.uint8)
        self.has_ext = has_ext if has_ext is not None else np.ones(n, np.uint8)
        self.any_ext = any_ext


def msm_cells(const unsigned char[::1] joined, MsmLayout L, const double[::1] glo_channel, short[::1] state,
              double range_ms_m, double phase_k, double dop_k):
    """The decoder's cells of a run in one call: :func:`msm_run_layout`'s observables, then
    ``msm_batch.loss_of_lock`` in stream order (``state`` updated) and the LLI byte (bit 0 slip, bit 1 the
    half-cycle flag DF420). Returns (code_m, phase_cyc, doppler_hz, snr_dbhz float32, lli uint8, GLONASS
    extended info per cell (-1 absent; None unless ``any_ext``: GLONASS cells carry it), cells missing
    their FDMA wavelength)."""
    vals_arr, code_arr, phase_arr, dop_arr, snr_arr, _, missing = msm_run(
        joined, L.byte_idx, L.lsh, L.rsh, L.signed_, L.imat, L.valid_when, L.scale, L.cnr_scale, L.freq_in, L.b1,
        L.b2, glo_channel, L.glo_prn, L.glo_fdma, L.has_rate, range_ms_m, phase_k, dop_k)
    cdef const int64_t[:, ::1] vals = vals_arr
    cdef Py_ssize_t i, nc = vals.shape[1]
    cdef int64_t lk, prev
    cdef unsigned char slip
    lli_arr = np.empty(nc, np.uint8)
    cdef unsigned char[::1] lli = lli_arr
    for i in range(nc):
        lk = vals[6, i] if L.has_lock[i] else -1
        slip = 0
        if lk >= 0:
            prev = state[L.lock_index[i]]
            slip = lk < prev or (lk == 0 and prev <= 0)
            state[L.lock_index[i]] = <short>lk
        lli[i] = slip | ((((<unsigned char>vals[7, i]) & 1) << 1) if L.has_half[i] else 0)
    if not L.any_ext:
        return code_arr, phase_arr, dop_arr, snr_arr, lli_arr, None, missing
    ext_arr = np.empty(nc, np.int64)
    cdef int64_t[::1] ext = ext_arr
    for i in range(nc):
        ext[i] = vals[3, i] if L.has_ext[i] else -1
    return code_arr, phase_arr, dop_arr, snr_arr, lli_arr, ext_arr, missing


def msm_run_layout(const unsigned char[::1] joined, MsmLayout L, const double[::1] glo_channel, double range_ms_m,
                   double phase_k, double dop_k):
    """:func:`msm_run` with the layout's arrays from a :class:`MsmLayout` (no per-call conversions)."""
    return msm_run(joined, L.byte_idx, L.lsh, L.rsh, L.signed_, L.imat, L.valid_when, L.scale, L.cnr_scale,
                   L.freq_in, L.b1, L.b2, glo_channel, L.glo_prn, L.glo_fdma, L.has_rate, range_ms_m, phase_k, dop_k)


cpdef tuple msm_run(const unsigned char[::1] joined, const int64_t[::1] byte_idx, const uint64_t[::1] lsh,
            const uint64_t[::1] rsh, const unsigned char[::1] signed_, const int64_t[:, ::1] imat,
            const int64_t[:, ::1] valid_when, const double[:, ::1] scale, const double[::1] cnr_scale,
            const double[::1] freq_in, const unsigned char[::1] b1, const unsigned char[::1] b2,
            const double[::1] glo_channel, const int64_t[::1] glo_prn, bint glo_fdma, bint has_rate,
            double range_ms_m, double phase_k, double dop_k):
    """(vals [10, nc] int64, code_m, phase_cyc, doppler_hz, snr_dbhz float32, freq, missing) of a run.

    ``joined``: the payloads back to back plus 8 zero bytes; the other arrays are the run layout
    (``msm_batch._RunLayout``); ``phase_k`` = RANGE_MS_M / CLIGHT, ``dop_k`` = -1 / CLIGHT."""
    cdef Py_ssize_t n = byte_idx.shape[0], nc = imat.shape[1], i, j, r
    cdef uint64_t w
    cdef int64_t b, idx, ext
    cdef double rough, chan, f
    v_arr = np.empty(n + 1, np.int64)
    cdef int64_t[::1] v = v_arr
    for i in range(n):
        b = byte_idx[i]
        w = 0
        for j in range(8):
            w = (w << 8) | joined[b + j]
        w = w << lsh[i]
        if signed_[i]:
            v[i] = (<int64_t>w) >> rsh[i]
        else:
            v[i] = <int64_t>(w >> rsh[i])
    v[n] = -1  # sentinel for absent fields
    vals_arr = np.empty((10, nc), np.int64)
    cdef int64_t[:, ::1] vals = vals_arr
    for r in range(10):
        for i in range(nc):
            idx = imat[r, i]
            vals[r, i] = v[idx] if idx >= 0 else v[n]
    code_arr = np.empty(nc)
    phase_arr = np.empty(nc)
    dop_arr = np.empty(nc)
    snr_arr = np.empty(nc, np.float32)
    freq_arr = np.empty(nc)
    cdef double[::1] code = code_arr, phase = phase_arr, dop = dop_arr, freq = freq_arr
    for i in range(nc):
        freq[i] = freq_in[i]
    cdef float[::1] snr = snr_arr
    cdef Py_ssize_t missing = 0
    for i in range(nc):
        if glo_fdma and (b1[i] or b2[i]):
            ext = vals[3, i]
            chan = (<double>ext) - 7.0 if 0 <= ext <= 13 else glo_channel[glo_prn[i]]
            if b1[i]:
                freq[i] = 1602e6 + 0.5625e6 * chan
            else:
                freq[i] = 1246e6 + 0.4375e6 * chan
        f = freq[i]
        rough = (<double>vals[0, i]) + (<double>vals[1, i]) * (1.0 / 1024.0)
        if vals[0, i] != valid_when[0, i] and vals[4, i] != valid_when[4, i]:
            code[i] = ((<double>vals[4, i]) * scale[0, i] + rough) * range_ms_m
        else:
            code[i] = NAN
        if vals[0, i] != valid_when[0, i] and vals[5, i] != valid_when[5, i]:
            phase[i] = ((<double>vals[5, i]) * scale[1, i] + rough) * phase_k * f
        else:
            phase[i] = NAN
        if has_rate and vals[2, i] != valid_when[2, i] and vals[9, i] != valid_when[9, i]:
            dop[i] = ((<double>vals[2, i]) + (<double>vals[9, i]) * 1e-4) * dop_k * f
        else:
            dop[i] = NAN
        if vals[8, i] > 0:
            snr[i] = <float>((<double>vals[8, i]) * cnr_scale[i])
        else:
            snr[i] = NAN
        if glo_fdma and (b1[i] or b2[i]) and isnan(f) and isfinite(code[i]):
            missing += 1
    return vals_arr, code_arr, phase_arr, dop_arr, snr_arr, freq_arr, missing


cdef class FieldSpec:
    """A fixed layout compiled for :func:`read_fields`: names, end bits (from the start), widths
    (<= 57 bits) and kinds (0 unsigned, 1 two's complement, 2 sign-magnitude) of its named fields."""
    cdef tuple names
    cdef dict template
    cdef int64_t[::1] ends, widths
    cdef unsigned char[::1] kinds

    def __init__(self, tuple names, ends, widths, kinds):
        self.names = names
        self.template = dict.fromkeys(names, 0)  # copying it is cheaper than growing a new dict
        self.ends = np.ascontiguousarray(ends, np.int64)
        self.widths = np.ascontiguousarray(widths, np.int64)
        self.kinds = np.ascontiguousarray(kinds, np.uint8)


def read_fields(const unsigned char[::1] payload, Py_ssize_t pos, FieldSpec spec):
    """Fixed-layout fields starting at bit ``pos`` -> dict name -> int, as ``bits.read_schema``
    (the caller checks the payload length)."""
    cdef Py_ssize_t i, j, nb = payload.shape[0], n = spec.ends.shape[0]
    cdef int64_t start, w, b
    cdef uint64_t win, v, half
    cdef unsigned char kind
    cdef dict out = spec.template.copy()
    cdef tuple names = spec.names
    for i in range(n):
        w = spec.widths[i]
        start = pos + spec.ends[i] - w
        b = start >> 3
        win = 0
        for j in range(8):
            win = (win << 8) | (payload[b + j] if b + j < nb else 0)
        v = (win << (start & 7)) >> (64 - w)
        half = (<uint64_t>1) << (w - 1)
        kind = spec.kinds[i]
        if kind == 1 and v >= half:
            out[names[i]] = <int64_t>v - <int64_t>(half << 1)
        elif kind == 2 and v >= half:
            out[names[i]] = <int64_t>half - <int64_t>v
        else:
            out[names[i]] = <int64_t>v
    return out


def scan_frames(const unsigned char[::1] buf):
    """RTCM 3 frames in ``buf`` as ``rtcm3_frame.FrameScanner`` finds them, sequentially: (frames,
    consumed bytes, bad CRCs, garbage bytes). A bad CRC drops only the preamble byte; scanning stops
    at an incomplete frame (or fewer than 3 bytes after a preamble), which stays unconsumed."""
    cdef Py_ssize_t n = buf.shape[0], i = 0, k, total, e
    cdef Py_ssize_t bad = 0, garbage = 0
    cdef uint32_t c
    cdef list frames = []
    while True:
        k = i
        while k < n and buf[k] != 0xD3:
            k += 1
        garbage += k - i
        i = k
        if k >= n or n - i < 3:
            break
        if buf[i + 1] & 0xFC:  # reserved bits must be zero
            garbage += 1
            i += 1
            continue
        total = 6 + (((buf[i + 1] & 0x03) << 8) | buf[i + 2])
        if n - i < total:
            break
        c = 0
        for e in range(i, i + total - 3):
            c = ((c << 8) & 0xFFFFFF) ^ _TABLE[((c >> 16) ^ buf[e]) & 0xFF]
        if c == ((<uint32_t>buf[i + total - 3] << 16) | (<uint32_t>buf[i + total - 2] << 8) | buf[i + total - 1]):
            frames.append(PyBytes_FromStringAndSize(<const char*>&buf[i], total))
            i += total
        else:
            bad += 1
            garbage += 1
            i += 1
    return frames, i, bad, garbage


def scatter_epoch(const int64_t[::1] si, const int64_t[::1] slot, Py_ssize_t ns, Py_ssize_t nf,
                  const unsigned char[:] keep, code, phase, dop, snr, lli):
    """``decoder.build_epoch``'s scatter of an epoch's cells into [1, ns, nf] arrays (NaN / 0 where absent):
    cell i (of those with ``keep`` set, or all when ``keep`` is empty) goes to row si[j], slot slot[j];
    a cell repeated later overwrites the earlier one, as numpy's assignment does."""
    return scatter_parts(si, slot, ns, nf, keep, [(code, phase, dop, snr, lli)])


def scatter_parts(const int64_t[::1] si, const int64_t[::1] slot, Py_ssize_t ns, Py_ssize_t nf,
                  const unsigned char[:] keep, list parts):
    """:func:`scatter_epoch` of the cells of several messages, ``parts`` = [(code, phase, dop, snr, lli), ...]
    in order, as if concatenated (``keep`` and ``si``/``slot`` index the concatenation)."""
    f3 = np.empty((3, 1, ns, nf))  # code, phase, Doppler in one block, as build_epoch's numpy path has them
    code_arr, phase_arr, dop_arr = f3[0], f3[1], f3[2]
    snr_arr = np.empty((1, ns, nf), np.float32)
    lli_arr = np.zeros((1, ns, nf), np.uint8)
    cdef double[:, :, ::1] c = code_arr, p = phase_arr, d = dop_arr
    cdef float[:, :, ::1] s = snr_arr
    cdef unsigned char[:, :, ::1] l = lli_arr
    cdef const double[:] code, phase, dop
    cdef const float[:] snr
    cdef const unsigned char[:] lli
    cdef Py_ssize_t i, j = 0, k = 0, n, r, f
    cdef bint all_kept = keep.shape[0] == 0
    for r in range(ns):
        for f in range(nf):
            c[0, r, f] = NAN
            p[0, r, f] = NAN
            d[0, r, f] = NAN
            s[0, r, f] = NAN
    for part in parts:
        code, phase, dop, snr, lli = part
        n = code.shape[0]
        for i in range(n):
            if not all_kept and not keep[k + i]:
                continue
            r = si[j]
            f = slot[j]
            j += 1
            c[0, r, f] = code[i]
            p[0, r, f] = phase[i]
            d[0, r, f] = dop[i]
            s[0, r, f] = snr[i]
            l[0, r, f] = lli[i]
        k += n
    return code_arr, phase_arr, dop_arr, snr_arr, lli_arr


def lock_slips(short[::1] state, const int64_t[::1] index, const int64_t[::1] lock):
    """``msm_batch.loss_of_lock`` in stream order: LLI bit 0 per cell, ``state`` (last indicator per key,
    -1 never seen) updated; cells without a lock time (-1) never flag and leave the state alone."""
    cdef Py_ssize_t i, n = lock.shape[0]
    cdef int64_t prev, lk
    out_arr = np.zeros(n, np.bool_)
    cdef unsigned char[::1] out = out_arr.view(np.uint8)
    for i in range(n):
        lk = lock[i]
        if lk < 0:
            continue
        prev = state[index[i]]
        out[i] = lk < prev or (lk == 0 and prev <= 0)
        state[index[i]] = <short>lk
    return out_arr


def legacy_obs(const int64_t[:, ::1] v, const int64_t[::1] col, bint glonass, double lam1, double lam2,
               double amb):
    """Observables of legacy 1002/1004/1010/1012 records as ``legacy.decode_legacy`` computes them:
    (code_m [n, 2], phase_cyc [n, 2], snr_dbhz float32 [n, 2]) for every record (the caller drops
    unused satellite numbers and the L2 column of L1-only messages). ``v``: record fields [n, k];
    ``col``: their columns of pr1, amb, pr21, ph1, ph2, cnr1, cnr2, chan (-1 absent: L2 invalid, C/N0 0;
    chan only for GLONASS, whose wavelengths come from it; ``lam1``/``lam2`` otherwise)."""
    cdef Py_ssize_t n = v.shape[0], i
    cdef double pr1, l1 = lam1, l2 = lam2, k, cn
    cdef int64_t pr21, ph1, ph2, c1, c2
    code_arr = np.empty((n, 2))
    phase_arr = np.empty((n, 2))
    snr_arr = np.empty((n, 2), np.float32)
    cdef double[:, ::1] code = code_arr, phase = phase_arr
    cdef float[:, ::1] snr = snr_arr
    for i in range(n):
        if glonass:
            k = <double>(v[i, col[7]] - 7)
            l1 = 299792458.0 / (1602e6 + 0.5625e6 * k)
            l2 = 299792458.0 / (1246e6 + 0.4375e6 * k)
        pr1 = (<double>v[i, col[0]]) * 0.02 + (<double>v[i, col[1]]) * amb
        pr21 = v[i, col[2]] if col[2] >= 0 else -8192
        ph1 = v[i, col[3]]
        ph2 = v[i, col[4]] if col[4] >= 0 else -524288
        c1 = v[i, col[5]]
        c2 = v[i, col[6]] if col[6] >= 0 else 0
        code[i, 0] = pr1
        code[i, 1] = NAN if pr21 == -8192 else pr1 + (<double>pr21) * 0.02
        phase[i, 0] = NAN if ph1 == -524288 else (pr1 + (<double>ph1) * 0.0005) / l1
        phase[i, 1] = NAN if ph2 == -524288 else (pr1 + (<double>ph2) * 0.0005) / l2
        cn = (<double>c1) * 0.25
        snr[i, 0] = NAN if cn == 0 else <float>cn
        cn = (<double>c2) * 0.25
        snr[i, 1] = NAN if cn == 0 else <float>cn
    return code_arr, phase_arr, snr_arr


def legacy_records(const unsigned char[::1] payload, Py_ssize_t pos, Py_ssize_t n, const int64_t[::1] widths,
                   const unsigned char[::1] signed_):
    """``n`` fixed-width records of fields ``widths`` (<= 57 bits; two's complement where ``signed_``)
    from bit ``pos`` -> int64 [n, fields], as ``legacy._records`` gathers them (caller checks the length)."""
    cdef Py_ssize_t k = widths.shape[0], i, c, j, nb = payload.shape[0]
    cdef int64_t start = pos, w, b
    cdef uint64_t win, v
    out_arr = np.empty((n, k), np.int64)
    cdef int64_t[:, ::1] out = out_arr
    for i in range(n):
        for c in range(k):
            w = widths[c]
            b = start >> 3
            win = 0
            for j in range(8):
                win = (win << 8) | (payload[b + j] if b + j < nb else 0)
            v = (win << (start & 7)) >> (64 - w)
            if signed_[c] and v >= ((<uint64_t>1) << (w - 1)):
                out[i, c] = <int64_t>v - (<int64_t>1 << w)
            else:
                out[i, c] = <int64_t>v
            start += w
    return out_arr


def legacy_cells(const int64_t[:, ::1] v, const int64_t[::1] col, bint glonass, double lam1, double lam2, double amb,
                 const int64_t[::1] rows, Py_ssize_t nf, short[::1] state, const int64_t[::1] flat):
    """The decoder's cells of a legacy message in one call: :func:`legacy_obs` of records ``rows`` (kept
    satellites), their first ``nf`` signals flattened row by row, then :func:`lock_slips` on them (lock
    columns col[8], col[9]; ``flat``: each cell's lock-state key, all distinct). Returns (code_m, phase_cyc,
    doppler_hz (NaN: legacy has none), snr_dbhz float32, lli uint8), each of length len(rows) * nf."""
    cdef Py_ssize_t m = rows.shape[0], j, i, c, f
    cdef double pr1, l1 = lam1, l2 = lam2, k, cn
    cdef int64_t pr21, ph1, ph2, c1, c2, lk, prev
    code_arr = np.empty(m * nf)
    phase_arr = np.empty(m * nf)
    dop_arr = np.empty(m * nf)
    snr_arr = np.empty(m * nf, np.float32)
    lli_arr = np.zeros(m * nf, np.uint8)
    cdef double[::1] code = code_arr, phase = phase_arr, dop = dop_arr
    cdef float[::1] snr = snr_arr
    cdef unsigned char[::1] lli = lli_arr
    for j in range(m):
        i = rows[j]
        if glonass:
            k = <double>(v[i, col[7]] - 7)
            l1 = 299792458.0 / (1602e6 + 0.5625e6 * k)
            l2 = 299792458.0 / (1246e6 + 0.4375e6 * k)
        pr1 = (<double>v[i, col[0]]) * 0.02 + (<double>v[i, col[1]]) * amb
        ph1 = v[i, col[3]]
        c1 = v[i, col[5]]
        c = j * nf
        code[c] = pr1
        phase[c] = NAN if ph1 == -524288 else (pr1 + (<double>ph1) * 0.0005) / l1
        dop[c] = NAN
        cn = (<double>c1) * 0.25
        snr[c] = NAN if cn == 0 else <float>cn
        if nf == 2:
            pr21 = v[i, col[2]] if col[2] >= 0 else -8192
            ph2 = v[i, col[4]] if col[4] >= 0 else -524288
            c2 = v[i, col[6]] if col[6] >= 0 else 0
            code[c + 1] = NAN if pr21 == -8192 else pr1 + (<double>pr21) * 0.02
            phase[c + 1] = NAN if ph2 == -524288 else (pr1 + (<double>ph2) * 0.0005) / l2
            dop[c + 1] = NAN
            cn = (<double>c2) * 0.25
            snr[c + 1] = NAN if cn == 0 else <float>cn
        for f in range(nf):
            lk = v[i, col[8 + f]]
            if lk < 0:
                continue
            prev = state[flat[c + f]]
            lli[c + f] = lk < prev or (lk == 0 and prev <= 0)
            state[flat[c + f]] = <short>lk
    return code_arr, phase_arr, dop_arr, snr_arr, lli_arr
