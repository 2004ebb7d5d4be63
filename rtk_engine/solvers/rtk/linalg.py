"""Small dense linear algebra for the filter (symmetric positive definite systems of 3-150).

Measured on the 2-core test machine under load: ``scipy.linalg.cho_solve`` and
``solve_triangular`` (LAPACK potrs / BLAS trsm) took 4-8 ms for a 60 x 60 system with 40
right-hand sides (OpenBLAS threading), ``numpy.linalg.inv`` then a matrix product 0.2 ms.
So the solves go through an explicit inverse, symmetrised. The inverse is NumPy's own LAPACK
gufunc (``numpy.linalg._umath_linalg.inv``, what ``np.linalg.inv`` calls: the same bits) without the
wrapper's type checks, 3 us of a 7 us 3 x 3 inverse, called ~4 times per epoch.
"""
from __future__ import annotations

import numpy as np

try:
    from numpy.linalg import _umath_linalg
    _inv_gufunc = _umath_linalg.inv
except (ImportError, AttributeError):  # a NumPy without the private module: the public wrapper
    _inv_gufunc = None

LinAlgError = np.linalg.LinAlgError


def chol(S: np.ndarray) -> np.ndarray:
    """"Factor" an SPD matrix for :func:`chol_solve`: its symmetrised inverse.

    Raises ``LinAlgError`` when ``S`` is singular or has a non-positive diagonal."""
    if not (S.diagonal() > 0.0).all():
        raise LinAlgError("matrix not positive definite")
    if _inv_gufunc is None:
        inv = np.linalg.inv(S)
    else:
        try:
            with np.errstate(invalid="raise", over="ignore", divide="ignore", under="ignore"):
                inv = _inv_gufunc(S, signature="d->d")  # S is float64 here (the filter's arrays)
        except FloatingPointError:
            raise LinAlgError("singular matrix") from None
    return 0.5 * (inv + inv.T)


def chol_solve(S_inv: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``S X = B`` with the factor from :func:`chol`."""
    return S_inv @ B


def sub(P: np.ndarray, ix: np.ndarray) -> np.ndarray:
    """``P[np.ix_(ix, ix)]`` for an integer index vector, as two ``take`` calls (a third of the cost)."""
    return P.take(ix, 0).take(ix, 1)


def put_sub(P: np.ndarray, ix: np.ndarray, block: np.ndarray) -> None:
    """``P[np.ix_(ix, ix)] = block`` for an integer index vector, in place."""
    P[ix[:, None], ix] = block
