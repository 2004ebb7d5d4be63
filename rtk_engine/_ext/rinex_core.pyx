# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled RINEX F14.3 field decoding: :func:`rtk_engine.formats.rinex_obs.parse_f14_3`'s vectorised
pass in one loop over the characters.

Same rules and the same arithmetic as the numpy reference: a field is plain F14.3 when it is
right-aligned, has its '.' in column 11, no inner blank, only digits besides the '.' and one
leading '-'; its digits are summed as an integer count of 1/1000 units (exact in float64) and
divided once, so the value equals ``float(text)``. Blank fields are NaN; anything else is flagged
``bad`` and left to the caller's ``float()`` fallback. Bit-identical (``tests/test_rtk_ext.py``).
"""
import numpy as np

cimport numpy as cnp
from libc.math cimport NAN

cnp.import_array()


def parse_f14_3(const unsigned char[:, ::1] u):
    """``[N, 14]`` uint8 fields -> (values [N] float64, NaN for blanks; bad [N] bool)."""
    cdef Py_ssize_t n = u.shape[0], i, p, first
    vals_arr = np.empty(n)
    bad_arr = np.zeros(n, dtype=np.uint8)
    cdef double[::1] vals = vals_arr
    cdef unsigned char[::1] bad = bad_arr
    cdef long long acc
    cdef double v
    cdef unsigned char ch
    cdef int n_nsp, n_dig, prev_nsp, gap, neg
    # weights of the 14 columns in 1/1000 units (column 10 is the '.')
    cdef long long w[14]
    w[:] = [10**12, 10**11, 10**10, 10**9, 10**8, 10**7, 10**6, 10**5, 10**4, 10**3, 0, 100, 10, 1]
    for i in range(n):
        acc = 0
        n_nsp = 0
        n_dig = 0
        gap = 0
        neg = 0
        prev_nsp = 0
        for p in range(14):
            ch = u[i, p]
            if ch != 32:
                n_nsp += 1
            elif prev_nsp:  # a blank after a non-blank: not right-aligned plain text
                gap = 1
            prev_nsp = ch != 32
            if 48 <= ch <= 57:
                n_dig += 1
                acc += (ch - 48) * w[p]
            elif ch == 45:
                neg = 1
        if n_nsp == 0:
            vals[i] = NAN
            continue
        v = <double>acc
        if neg:
            v *= -1.0
        first = 14 - n_nsp
        if first < 0:
            first = 0
        elif first > 13:
            first = 13
        if not (u[i, 10] == 46 and not gap and n_nsp - n_dig == 1 + neg and (not neg or u[i, first] == 45)):
            bad[i] = 1
        vals[i] = v / 1000.0
    return vals_arr, bad_arr.view(np.bool_)
