# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled LAMBDA kernels: the decorrelation (``reduce``) and the MLAMBDA search (``search``).

Same algorithm, same floating-point operations in the same order as the pure-Python reference in
``rtk_engine/solvers/lambda_search.py`` (round half to even, no fused multiply-add: built with
``-ffp-contract=off``), so both give bit-identical results; only the interpreter overhead is gone.
Units as there: cycles and cycles^2.
"""
import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY, erf, nearbyint, sqrt

cnp.import_array()


def reduce(lmat, d):
    """Decorrelate ``Q = L^T diag(D) L``: returns (L', D', Z) with ``Z^T Q Z = L'^T diag(D') L'``.

    Inputs are not modified. Z is returned as the transpose of a C-ordered array, exactly like the
    Python reference (so later products see the same memory layout)."""
    return _reduce(lmat, d, False)[:3]


def reduce_inv(lmat, d):
    """:func:`reduce` and also ``Z^-1`` (C-ordered), accumulated exactly alongside Z: the inverse of
    every integer Gauss transform and swap applied to Z (integers, exact below 2^53). Equals
    ``np.round(np.linalg.inv(Z))`` without the LU factorisation."""
    return _reduce(lmat, d, True)


def ltdl_reduce_inv(c_in):
    """:func:`reduce_inv` of :func:`rtk_engine.solvers.lambda_search.ltdl` given the lower Cholesky
    factor ``C`` of the index-reversed covariance (``J Q J = C C^T``, numpy's ``cholesky``): with
    ``U = J C J``, ``D = diag(U)^2`` and ``L = (U / diag(U)).T``, the same divisions as the reference.
    Raises ``LambdaError`` on a non-positive diagonal."""
    cdef const double[:, :] c = np.asarray(c_in, dtype=np.float64)
    cdef Py_ssize_t n = c.shape[0], i, r
    l_arr = np.empty((n, n))
    d_arr = np.empty(n)
    cdef double[:, ::1] L = l_arr
    cdef double[::1] D = d_arr
    cdef double du
    for i in range(n):
        if not (c[n - 1 - i, n - 1 - i] > 0.0):
            from ..solvers.lambda_search import LambdaError
            raise LambdaError("ambiguity covariance not positive definite")
    for i in range(n):
        du = c[n - 1 - i, n - 1 - i]  # U[i, i]
        D[i] = du * du
        for r in range(n):  # L[i, r] = U[r, i] / U[i, i]
            L[i, r] = c[n - 1 - r, n - 1 - i] / du
    return _reduce(l_arr, d_arr, True)


def success_rate(d):
    """Bootstrapped success rate ``prod erf(1 / (2 sqrt(2 D_i)))`` of conditional variances ``D``
    [cycles^2], as :func:`rtk_engine.solvers.lambda_search.success_rate` (same libm ``erf``)."""
    cdef double[::1] D = np.ascontiguousarray(d, dtype=np.float64)
    cdef double p = 1.0, di
    cdef Py_ssize_t i
    for i in range(D.shape[0]):
        di = D[i]
        if 1e-30 > di:  # Python's max(di, 1e-30): keeps di unless 1e-30 is larger (NaN stays)
            di = 1e-30
        p *= erf(1.0 / (2.0 * sqrt(2.0 * di)))
    return p


cdef tuple _reduce(lmat, d, bint track):
    cdef double[:, ::1] L = np.array(lmat, dtype=np.float64, order="C", copy=True)
    cdef double[::1] D = np.array(d, dtype=np.float64, copy=True)
    cdef Py_ssize_t n = D.shape[0]
    zt_arr = np.eye(n)
    cdef double[:, ::1] Zt = zt_arr  # Zt[j] is column j of Z
    zi_arr = np.eye(n if track else 0)
    cdef double[:, ::1] Zi = zi_arr  # Z^-1 (rows), when tracked
    cdef Py_ssize_t j, i, c, r
    cdef double mu, lj, delta, eta, lam, t, b
    j = n - 2
    while j >= 0:
        mu = nearbyint(L[j + 1, j])
        if mu != 0.0:
            _gauss(L, Zt, Zi, track, n, j + 1, j, mu)
        lj = L[j + 1, j]
        delta = D[j] + lj * lj * D[j + 1]
        if delta + 1e-6 < D[j + 1]:  # swap j and j+1: the later variance shrinks
            eta = D[j] / delta
            lam = D[j + 1] * lj / delta
            D[j] = eta * D[j + 1]
            D[j + 1] = delta
            for c in range(j):
                t = L[j, c]
                b = L[j + 1, c]
                L[j, c] = b - lj * t
                L[j + 1, c] = eta * t + lam * b
            L[j + 1, j] = lam
            for r in range(j + 2, n):
                t = L[r, j]
                L[r, j] = L[r, j + 1]
                L[r, j + 1] = t
            for r in range(n):
                t = Zt[j, r]
                Zt[j, r] = Zt[j + 1, r]
                Zt[j + 1, r] = t
            if track:  # Z <- Z P, so Z^-1 <- P Z^-1: swap rows j and j+1
                for r in range(n):
                    t = Zi[j, r]
                    Zi[j, r] = Zi[j + 1, r]
                    Zi[j + 1, r] = t
            j = j + 1 if j + 1 < n - 2 else n - 2
        else:
            j -= 1
    for j in range(n - 2, -1, -1):
        for i in range(j + 1, n):
            mu = nearbyint(L[i, j])
            if mu != 0.0:
                _gauss(L, Zt, Zi, track, n, i, j, mu)
    return np.asarray(L), np.asarray(D), zt_arr.T, zi_arr


cdef inline void _gauss(double[:, ::1] L, double[:, ::1] Zt, double[:, ::1] Zi, bint track, Py_ssize_t n,
                        Py_ssize_t i, Py_ssize_t j, double mu) noexcept nogil:
    cdef Py_ssize_t r
    for r in range(i, n):
        L[r, j] -= mu * L[r, i]
    for r in range(n):
        Zt[j, r] -= mu * Zt[i, r]
    if track:  # column j of Z -= mu * column i, so row i of Z^-1 += mu * row j
        for r in range(n):
            Zi[i, r] += mu * Zi[j, r]


def search(L_in, D_in, zs_in, int m=2, long max_loop=100_000):
    """MLAMBDA depth-first search for the ``m`` best integer vectors around ``zs`` [n].

    Returns (candidates [m, n], squared norms [m]) sorted best first; raises ``LambdaError`` when
    the search does not finish within ``max_loop`` steps."""
    cdef double[:, ::1] L = np.ascontiguousarray(L_in, dtype=np.float64)
    cdef double[::1] D = np.ascontiguousarray(D_in, dtype=np.float64)
    cdef double[::1] zsv = np.ascontiguousarray(zs_in, dtype=np.float64)
    cdef Py_ssize_t n = zsv.shape[0]
    if m < 1 or n < 1:
        raise ValueError("need m >= 1 and n >= 1")
    S_arr = np.zeros((n, n))
    cdef double[:, ::1] S = S_arr
    cdef double[::1] dist = np.zeros(n)
    cdef double[::1] zb = np.zeros(n)
    cdef double[::1] z = np.zeros(n)
    cdef double[::1] step = np.zeros(n)
    best_z_arr = np.zeros((m, n))
    cdef double[:, ::1] best_z = best_z_arr
    best_d_arr = np.zeros(m)
    cdef double[::1] best_d = best_d_arr
    cdef Py_ssize_t nbest = 0
    cdef double maxdist = INFINITY
    cdef double newdist, y, dz, td
    cdef Py_ssize_t k, jj, p
    cdef long it
    cdef bint finished = False
    k = n - 1
    zb[k] = zsv[k]
    z[k] = nearbyint(zb[k]) + 0.0  # +0.0: no negative zero (Python round gives int 0)
    y = zb[k] - z[k]
    step[k] = 1.0 if y > 0 else -1.0
    with nogil:
        for it in range(max_loop):
            newdist = dist[k] + y * y / D[k]
            if newdist < maxdist:
                if k != 0:  # go down one level
                    k -= 1
                    dist[k] = newdist
                    dz = z[k + 1] - zb[k + 1]
                    for jj in range(k + 1):
                        S[k, jj] = S[k + 1, jj] + dz * L[k + 1, jj]
                    zb[k] = zsv[k] + S[k, k]
                    z[k] = nearbyint(zb[k]) + 0.0  # +0.0: no negative zero (Python round gives int 0)
                    y = zb[k] - z[k]
                    step[k] = 1.0 if y > 0 else -1.0
                else:  # leaf: store the candidate (stable insertion keeps the reference's order)
                    if nbest < m:
                        p = nbest
                        nbest += 1
                        best_d[p] = newdist
                        for jj in range(n):
                            best_z[p, jj] = z[jj]
                        if nbest == m:
                            _insertion_sort(best_d, best_z, m, n)
                            maxdist = best_d[m - 1]
                    else:
                        best_d[m - 1] = newdist
                        for jj in range(n):
                            best_z[m - 1, jj] = z[jj]
                        _bubble_up(best_d, best_z, m - 1, n)
                        maxdist = best_d[m - 1]
                    z[0] += step[0]
                    y = zb[0] - z[0]
                    step[0] = -step[0] - (1.0 if step[0] > 0 else -1.0)
            else:  # go up one level
                if k == n - 1:
                    finished = True
                    break
                k += 1
                z[k] += step[k]
                y = zb[k] - z[k]
                step[k] = -step[k] - (1.0 if step[k] > 0 else -1.0)
    if not finished:
        from ..solvers.lambda_search import LambdaError
        raise LambdaError(f"integer search did not finish within {max_loop} steps")
    _insertion_sort(best_d, best_z, nbest, n)
    return best_z_arr[:nbest].copy(), best_d_arr[:nbest].copy()


cdef inline void _bubble_up(double[::1] d, double[:, ::1] zz, Py_ssize_t p, Py_ssize_t n) noexcept nogil:
    """Move entry ``p`` up while strictly smaller than its predecessor (a stable re-sort)."""
    cdef Py_ssize_t jj
    cdef double t
    while p > 0 and d[p] < d[p - 1]:
        t = d[p]; d[p] = d[p - 1]; d[p - 1] = t
        for jj in range(n):
            t = zz[p, jj]; zz[p, jj] = zz[p - 1, jj]; zz[p - 1, jj] = t
        p -= 1


cdef inline void _insertion_sort(double[::1] d, double[:, ::1] zz, Py_ssize_t cnt, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t p
    for p in range(1, cnt):
        _bubble_up(d, zz, p, n)
