# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled index work of one RTK filter epoch (no floating-point arithmetic, only comparisons, so the
results equal the numpy references exactly; ``tests/test_rtk_ext.py``).

* :func:`group_refs`: :func:`rtk_engine.solvers.rtk.ambiguity.group_refs` (the reference satellite of
  every (system, band) group) without its lexsort and seven small numpy calls.
"""
import numpy as np

cimport numpy as cnp

cnp.import_array()


def group_refs(const cnp.int64_t[::1] group, const double[::1] elev):
    """For elements with group ids and elevations [rad], the index of each element's group reference:
    the highest element of its group, the first one on ties, NaN elevations last (as the stable
    lexsort of the reference orders them)."""
    cdef Py_ssize_t n = group.shape[0], i, j, best
    ref_arr = np.empty(n, dtype=np.intp)
    cdef Py_ssize_t[::1] ref = ref_arr
    cdef double e, eb
    for i in range(n):
        ref[i] = -1
        for j in range(i):  # an earlier member already found the group's reference
            if group[j] == group[i]:
                ref[i] = ref[j]
                break
        if ref[i] >= 0:
            continue
        best = i
        eb = elev[i]
        for j in range(i + 1, n):
            if group[j] == group[i]:
                e = elev[j]
                if e > eb or (eb != eb and e == e):
                    best = j
                    eb = e
        ref[i] = best
    return ref_arr
