"""Integer least-squares ambiguity search (LAMBDA decorrelation + MLAMBDA search).

Given float ambiguities ``a`` [n] (cycles) and their covariance ``Q`` [n, n] (cycles^2), find the
integer vectors ``z`` minimising ``(a - z)^T Q^-1 (a - z)``: the best and the second best, whose
squared norms give the ratio test, plus the bootstrapped success rate.

Steps (Teunissen 1995, de Jonge & Tiberius 1996, Chang, Yang & Zhou 2005):

1. ``ltdl``: ``Q = L^T diag(D) L`` with ``L`` unit lower triangular.
2. ``reduce``: integer Gauss transformations and symmetric permutations (a Z transform with
   ``det Z = +-1``) that decorrelate the ambiguities and order the conditional variances ``D``.
3. ``search``: depth-first search of the integer lattice in the decorrelated space with a shrinking
   ellipsoid (MLAMBDA) keeping the ``m`` best candidates; then map back through ``Z^-T``.

The success rate of integer bootstrapping, ``prod_i erf(1 / (2 sqrt(2 D_i)))`` on the decorrelated
conditional variances, is a sharp lower bound of the ILS success rate and drives partial AR.

Implementation notes: the matrix is at most a few hundred ambiguities, the loops are scalar and
short; the row updates are numpy slices.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _ext


class LambdaError(ValueError):
    """The covariance is not positive definite, or the input is malformed."""


@dataclass
class LambdaResult:
    """Result of :func:`lambda_search`.

    ``candidates[k]`` is the k-th best integer vector [n] (cycles), ``sq_norms[k]`` its squared
    distance ``(a - z)^T Q^-1 (a - z)``; ``ratio = sq_norms[1] / sq_norms[0]``; ``success_rate`` is the
    bootstrapped success rate of the decorrelated problem (0..1); ``z_matrix`` is the Z transform.
    """

    candidates: np.ndarray
    sq_norms: np.ndarray
    success_rate: float
    z_matrix: np.ndarray

    @property
    def ratio(self) -> float:
        if self.sq_norms.shape[0] < 2:
            return float("inf")
        return float(self.sq_norms[1] / max(self.sq_norms[0], 1e-12))


def ltdl(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Q = L^T diag(D) L`` for symmetric positive definite ``Q``; returns (L, D).

    One Cholesky factorisation of the index-reversed matrix: if ``J Q J = C C^T`` (``J`` the
    reversal, ``C`` lower) then ``U = J C J`` is upper with ``Q = U U^T``, so ``D = diag(U)^2`` and
    ``L^T = U diag(U)^-1``.
    """
    u = _chol_reversed(q)[::-1, ::-1]
    du = u.diagonal()
    if not (du > 0.0).all():
        raise LambdaError("ambiguity covariance not positive definite")
    lmat = (u / du[None, :]).T
    return lmat, du * du


def _chol_reversed(q: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor ``C`` of the index-reversed ``Q``: ``J Q J = C C^T`` (see :func:`ltdl`)."""
    try:
        return np.linalg.cholesky(np.asarray(q, dtype=float)[::-1, ::-1])
    except np.linalg.LinAlgError:
        raise LambdaError("ambiguity covariance not positive definite") from None


def reduce(lmat: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decorrelate: returns (L', D', Z) with ``Z^T Q Z = L'^T diag(D') L'``. Works on copies.

    Lazy reduction (as in MLAMBDA): while ordering the conditional variances only the one
    multiplier ``L[j+1, j]`` that the swap test needs is size-reduced; every other multiplier is
    size-reduced once at the end (that does not change ``D``).
    """
    n = d.shape[0]
    L = lmat.tolist()  # rows; scalar Python floats are faster than numpy slices at these sizes
    D = d.tolist()
    Zt = np.eye(n).tolist()  # Zt[j] is column j of Z
    rng_cache = range(n)

    def gauss(i: int, j: int, mu: float) -> None:
        for r in range(i, n):
            row = L[r]
            row[j] -= mu * row[i]
        zi, zj = Zt[i], Zt[j]
        for r in rng_cache:
            zj[r] -= mu * zi[r]

    j = n - 2
    while j >= 0:
        mu = round(L[j + 1][j])
        if mu != 0:
            gauss(j + 1, j, mu)
        lj = L[j + 1][j]
        delta = D[j] + lj * lj * D[j + 1]
        if delta + 1e-6 < D[j + 1]:  # swap j and j+1: the later variance shrinks
            eta = D[j] / delta
            lam = D[j + 1] * lj / delta
            D[j] = eta * D[j + 1]
            D[j + 1] = delta
            top, bot = L[j], L[j + 1]
            for c in range(j):
                t, b = top[c], bot[c]
                top[c] = b - lj * t
                bot[c] = eta * t + lam * b
            bot[j] = lam
            for r in range(j + 2, n):
                row = L[r]
                row[j], row[j + 1] = row[j + 1], row[j]
            Zt[j], Zt[j + 1] = Zt[j + 1], Zt[j]
            j = min(j + 1, n - 2)
        else:
            j -= 1
    # final size reduction of all multipliers, column by column (rows ascending)
    for j in range(n - 2, -1, -1):
        for i in range(j + 1, n):
            mu = round(L[i][j])
            if mu != 0:
                gauss(i, j, mu)
    return np.array(L), np.array(D), np.array(Zt).T


def search(L: np.ndarray, D: np.ndarray, zs: np.ndarray, m: int = 2, max_loop: int = 100_000
           ) -> tuple[np.ndarray, np.ndarray]:
    """MLAMBDA depth-first search for the ``m`` best integer vectors around ``zs`` [n].

    Returns (candidates [m, n], squared norms [m]) sorted best first.
    """
    n = zs.shape[0]
    Lt = L.tolist()
    Dl = D.tolist()
    zsl = zs.tolist()
    S = [[0.0] * n for _ in range(n)]  # S[k][j]: accumulated corrections of level j from levels > ... (row k)
    dist = [0.0] * n
    zb = [0.0] * n
    z = [0.0] * n
    step = [0.0] * n
    best: list[tuple[float, list[float]]] = []
    maxdist = math.inf
    k = n - 1
    zb[k] = zsl[k]
    z[k] = float(round(zb[k]))
    y = zb[k] - z[k]
    step[k] = 1.0 if y > 0 else -1.0  # RTKLIB-style sign choice is arbitrary; this enumerates nearest first
    for _ in range(max_loop):
        newdist = dist[k] + y * y / Dl[k]
        if newdist < maxdist:
            if k != 0:  # go down one level
                k -= 1
                dist[k] = newdist
                Lk1 = Lt[k + 1]
                dz = z[k + 1] - zb[k + 1]
                Sk1 = S[k + 1]
                Sk = S[k]
                for j in range(k + 1):
                    Sk[j] = Sk1[j] + dz * Lk1[j]
                zb[k] = zsl[k] + Sk[k]
                z[k] = float(round(zb[k]))
                y = zb[k] - z[k]
                step[k] = 1.0 if y > 0 else -1.0
            else:  # leaf: store the candidate
                if len(best) < m:
                    best.append((newdist, z.copy()))
                    if len(best) == m:
                        best.sort(key=lambda t: t[0])
                        maxdist = best[-1][0]
                else:
                    best[-1] = (newdist, z.copy())
                    best.sort(key=lambda t: t[0])
                    maxdist = best[-1][0]
                z[0] += step[0]
                y = zb[0] - z[0]
                step[0] = -step[0] - (1.0 if step[0] > 0 else -1.0)
        else:  # go up one level
            if k == n - 1:
                break
            k += 1
            z[k] += step[k]
            y = zb[k] - z[k]
            step[k] = -step[k] - (1.0 if step[k] > 0 else -1.0)
    else:
        raise LambdaError(f"integer search did not finish within {max_loop} steps")
    best.sort(key=lambda t: t[0])
    cand = np.array([b[1] for b in best], dtype=float).reshape(len(best), n)
    return cand, np.array([b[0] for b in best])


def success_rate(D: np.ndarray) -> float:
    """Bootstrapped success rate from decorrelated conditional variances ``D`` [cycles^2]."""
    p = 1.0
    for di in np.asarray(D, float).tolist():
        p *= math.erf(1.0 / (2.0 * math.sqrt(2.0 * max(di, 1e-30))))
    return p


def decorrelate(Q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L, D, Z) of the decorrelated problem for covariance ``Q`` [cycles^2]."""
    Q = np.asarray(Q, float)
    L, D = ltdl(0.5 * (Q + Q.T))
    compiled = _ext.kernel("lambda_core", "reduce")  # optional Cython kernel, same numbers
    return (compiled or reduce)(L, D)


def lambda_search(a: np.ndarray, Q: np.ndarray, m: int = 2) -> LambdaResult:
    """The ``m`` best integer solutions of float ambiguities ``a`` [n] with covariance ``Q`` [n, n]."""
    a = np.asarray(a, float)
    Q = np.asarray(Q, float)
    n = a.shape[0]
    if n == 0 or Q.shape != (n, n):
        raise LambdaError(f"need n >= 1 ambiguities and an n x n covariance, got {a.shape} and {Q.shape}")
    if not (np.isfinite(a).all() and np.isfinite(Q).all()):
        raise LambdaError("non-finite float ambiguities or covariance")
    ltdl_reduce_inv = _ext.kernel("lambda_core", "ltdl_reduce_inv")  # optional Cython kernels, same numbers
    if ltdl_reduce_inv is None:
        L, D, Z = decorrelate(Q)
        z_inv = None
    else:  # ltdl after its Cholesky, the reduction, and Z^-1 accumulated exactly (no LU inverse)
        L, D, Z, z_inv = ltdl_reduce_inv(_chol_reversed(0.5 * (Q + Q.T)))
    # shift by the integer part to keep the search numbers small, then restore
    shift = np.round(a)
    zs = Z.T @ (a - shift)
    compiled = _ext.kernel("lambda_core", "search")
    cand_z, sq = (compiled or search)(L, D, zs, m)
    if z_inv is None:
        z_inv = np.round(np.linalg.inv(Z.T)).T  # Z is unimodular: the inverse is integer
    cand = cand_z @ z_inv + shift  # integer-valued products: exact, whichever way summed
    rate = (_ext.kernel("lambda_core", "success_rate") or success_rate)(D)
    return LambdaResult(candidates=cand, sq_norms=sq, success_rate=rate, z_matrix=Z)
