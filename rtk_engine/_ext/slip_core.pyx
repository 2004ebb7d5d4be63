# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled cycle-slip tests of one receiver epoch: the body of
:meth:`rtk_engine.solvers.rtk.cycle_slip.SlipDetector.detect` (LLI, geometry-free, Melbourne-Wuebbena
with its running mean, Doppler against the median) in one pass over satellites x signals; and
:func:`snr_drop`, the C/N0-drop tracker of :mod:`rtk_engine.solvers.rtk.snr_weight` (same receiver epoch).

Same floating-point operations in the same order as the numpy reference (only +, -, *, /, abs and
comparisons; the median by sorting; built without fused multiply-add), so the flags, counters and
the updated state are bit-identical (``tests/test_rtk_ext.py``). Units as there: cycles, metres, Hz.
"""
import numpy as np

cimport numpy as cnp
from libc.math cimport NAN, fabs, fmax, isfinite
from libc.stdlib cimport qsort

cnp.import_array()


cdef int _cmp(const void* a, const void* b) noexcept nogil:
    cdef double x = (<const double*>a)[0]
    cdef double y = (<const double*>b)[0]
    return (x > y) - (x < y)


def detect(const double[:, ::1] phase, const double[:, ::1] code, const double[:, ::1] doppler,
           const unsigned char[:, ::1] lli, const double[:, ::1] wl, const double[:, ::1] f0,
           const double[:, ::1] fk, const double[:, ::1] f0_minus_fk, const double[:, ::1] f0_plus_fk,
           const double[:, ::1] wide_wl, double[:, ::1] gf_prev, double[:, ::1] mw_mean, double[:, ::1] mw_n,
           double[:, ::1] phase_prev, double[:, ::1] dop_prev, bint have_dt, double dt, double gf_thr,
           double mw_cyc, double doppler_cyc):
    """One epoch [S, F]: returns (slip flags [S, F] bool, n_lli, n_gf, n_mw, n_doppler, clock_jump).

    ``f0`` [S, 1] and ``fk``, ``f0_minus_fk``, ``f0_plus_fk``, ``wide_wl`` [S, F-1] are the detector's
    layout constants; ``gf_prev``, ``mw_mean``, ``mw_n`` [S, F-1] and ``phase_prev``, ``dop_prev``
    [S, F] its state, updated in place; ``have_dt`` False after a restart (no previous epoch)."""
    cdef Py_ssize_t n_s = phase.shape[0], n_f = phase.shape[1]
    slip_arr = np.zeros((n_s, n_f), dtype=np.uint8)
    cdef unsigned char[:, ::1] slip = slip_arr
    r_arr = np.empty((n_s, n_f))
    cdef double[:, ::1] r = r_arr
    buf_arr = np.empty(n_s * n_f)
    cdef double[::1] buf = buf_arr
    mw_arr = np.empty((n_s, max(n_f - 1, 0)))
    cdef double[:, ::1] mw = mw_arr
    cdef Py_ssize_t s, f, k, n_ok = 0, h
    cdef long n_lli = 0, n_gf = 0, n_mw = 0, n_dop = 0
    cdef bint any_mw, any_gf, sat, fresh, jump = False
    cdef double p0, pk, gf, wide, narrow, n, mean, n_new, dop, med
    for s in range(n_s):
        for f in range(n_f):
            if (lli[s, f] & 1) and isfinite(phase[s, f]):
                slip[s, f] = 1
                n_lli += 1
    if n_f > 1:
        for s in range(n_s):
            p0 = phase[s, 0] * wl[s, 0]
            any_mw = False
            any_gf = False
            for k in range(1, n_f):
                pk = phase[s, k] * wl[s, k]
                gf = p0 - pk
                wide = (f0[s, 0] * p0 - fk[s, k - 1] * pk) / f0_minus_fk[s, k - 1]
                narrow = (f0[s, 0] * code[s, 0] + fk[s, k - 1] * code[s, k]) / f0_plus_fk[s, k - 1]
                mw[s, k - 1] = (wide - narrow) / wide_wl[s, k - 1]
                if mw_n[s, k - 1] >= 3 and fabs(mw[s, k - 1] - mw_mean[s, k - 1]) > mw_cyc:
                    any_mw = True
                if have_dt and fabs(gf - gf_prev[s, k - 1]) > gf_thr:
                    any_gf = True
                gf_prev[s, k - 1] = gf
            n_mw += any_mw
            n_gf += any_gf
            sat = any_mw or any_gf
            if sat:
                for f in range(n_f):
                    if isfinite(phase[s, f]):
                        slip[s, f] = 1
            # running mean of MW, restarted at a slip or when the signal was absent
            for k in range(1, n_f):
                fresh = sat or not isfinite(mw_mean[s, k - 1]) or slip[s, 0] or slip[s, k]
                n = 0.0 if fresh else mw_n[s, k - 1]
                mean = 0.0 if fresh else mw_mean[s, k - 1]
                n_new = n + 1
                if n_new > 200.0:
                    n_new = 200.0
                if isfinite(mw[s, k - 1]):
                    mw_mean[s, k - 1] = mean + (mw[s, k - 1] - mean) / n_new
                    mw_n[s, k - 1] = n_new
                else:
                    mw_mean[s, k - 1] = NAN
                    mw_n[s, k - 1] = 0.0
    if have_dt:
        for s in range(n_s):
            for f in range(n_f):
                dop = 0.5 * (doppler[s, f] + dop_prev[s, f]) if isfinite(dop_prev[s, f]) else doppler[s, f]
                r[s, f] = (phase[s, f] - phase_prev[s, f]) + dop * dt
                if isfinite(r[s, f]):
                    buf[n_ok] = r[s, f]
                    n_ok += 1
        if n_ok >= 2:
            qsort(&buf[0], n_ok, sizeof(double), _cmp)
            h = n_ok // 2
            med = buf[h] if n_ok % 2 else (buf[h - 1] + buf[h]) / 2.0
            jump = fabs(med) > 1000.0
            for s in range(n_s):
                for f in range(n_f):
                    if isfinite(r[s, f]) and fabs(r[s, f] - med) > doppler_cyc:
                        slip[s, f] = 1
                        n_dop += 1
    phase_prev[:, :] = phase
    dop_prev[:, :] = doppler
    return slip_arr.view(np.bool_), n_lli, n_gf, n_mw, n_dop, jump


def snr_drop(double[:, ::1] ref, const double[:, ::1] snr_dbhz, double decay_db, double free_db,
             double db_per_decade):
    """One epoch of :meth:`rtk_engine.solvers.rtk.snr_weight.SnrDropWeights.factor` after a continuous
    epoch [S, F]: updates the leaky C/N0 maximum ``ref`` [dB-Hz] in place (``decay_db`` = decay rate
    * |dt|) and returns the exponent ``max(drop - free_db, 0) / db_per_decade`` [S, F] of the variance
    factor ``10 ** exponent`` (the power stays numpy's). Same operations as the numpy reference:
    invalid C/N0 (non-finite or <= 0) is NaN, a NaN reference restarts at the C/N0, no C/N0 -> NaN
    reference and exponent 0."""
    cdef Py_ssize_t n_s = ref.shape[0], n_f = ref.shape[1], i, j
    out_arr = np.empty((n_s, n_f))
    cdef double[:, ::1] out = out_arr
    cdef double s, dec, r, d
    for i in range(n_s):
        for j in range(n_f):
            s = snr_dbhz[i, j]
            if not (isfinite(s) and s > 0.0):
                s = NAN
            dec = ref[i, j] - decay_db
            if isfinite(dec):
                r = fmax(s, dec)
            else:
                r = s
            if not isfinite(s):
                r = NAN
            ref[i, j] = r
            d = r - s
            if d != d:
                d = 0.0
            d = d - free_db
            out[i, j] = (d if d > 0.0 else 0.0) / db_per_decade
    return out_arr
