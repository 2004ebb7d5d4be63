"""Set operations on 1-D arrays (numbers or strings, no NaN) without ``numpy.unique``.

NumPy >= 2.3's ``np.unique`` (and ``np.isin`` against a long array, which calls it) imports
``numpy.ma`` on its first call to check for masked input: 13 ms of CPU once per process, measured
in ``beidou rtk`` on fujisawa-2021-078, where RTKLIB's whole run is 190 ms. The RINEX readers, the
ephemeris selection and the RTK engine use these; the results equal NumPy's.
"""
from __future__ import annotations

import numpy as np


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """The distinct values of an already sorted 1-D array (e.g. the rows from ``np.nonzero``)."""
    if a.size == 0:
        return a
    keep = np.empty(a.size, bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def unique(a: np.ndarray) -> np.ndarray:
    """The sorted distinct values of ``a`` (flattened), as ``np.unique(a)``."""
    return sorted_unique(np.sort(np.asarray(a).ravel()))


def isin(a: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask of the elements of 1-D ``a`` found in ``values``, as ``np.isin(a, values)``."""
    a = np.asarray(a)
    v = unique(values)
    if v.size == 0:
        return np.zeros(a.shape, bool)
    pos = np.minimum(np.searchsorted(v, a), v.size - 1)
    return v[pos] == a


def intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted values found in both ``a`` and ``b``, as ``np.intersect1d(a, b)``."""
    u = unique(a)
    return u[isin(u, b)]
