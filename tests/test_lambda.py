"""LAMBDA/MLAMBDA against brute-force integer least squares (the definition of the problem)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from rtk_engine.solvers.lambda_search import LambdaError, decorrelate, lambda_search, ltdl, success_rate


def _random_problem(rng, n, corr=0.98):
    """A strongly correlated covariance like a short single-epoch RTK problem (cycles^2)."""
    a = rng.normal(size=(n, n))
    base = a @ a.T + n * np.eye(n)
    s = np.sqrt(np.diag(base))
    c = base / np.outer(s, s)
    c = corr * c + (1 - corr) * np.eye(n)  # push correlations up
    sig = rng.uniform(0.1, 1.0, n)
    return c * np.outer(sig, sig), rng.normal(scale=5, size=n)


def _brute_force(a, Q, radius=3):
    qi = np.linalg.inv(Q)
    c = np.round(a)
    grid = np.array(list(itertools.product(range(-radius, radius + 1), repeat=a.size)), float) + c
    r = grid - a
    d = np.einsum("ki,ij,kj->k", r, qi, r)
    o = np.argsort(d)[:2]
    return grid[o], d[o]


def test_ltdl_reconstructs():
    rng = np.random.default_rng(1)
    Q, _ = _random_problem(rng, 6)
    L, D = ltdl(Q)
    assert np.allclose(np.triu(L, 1), 0) and np.allclose(np.diag(L), 1)
    assert np.allclose(L.T @ np.diag(D) @ L, Q, atol=1e-12)


def test_reduction_is_unimodular_and_decorrelates():
    rng = np.random.default_rng(2)
    Q, _ = _random_problem(rng, 8)
    L, D, Z = decorrelate(Q)
    assert np.allclose(Z, np.round(Z)) and abs(abs(np.linalg.det(Z)) - 1) < 1e-9
    assert np.allclose(Z.T @ Q @ Z, L.T @ np.diag(D) @ L, atol=1e-9)
    # decorrelated off-diagonal multipliers are at most 1/2 in magnitude
    assert np.all(np.abs(np.tril(L, -1)) <= 0.5 + 1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_search_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 2 + seed % 3
    Q, a = _random_problem(rng, n)
    res = lambda_search(a, Q, m=2)
    cand, sq = _brute_force(a, Q, radius=4 if n <= 3 else 3)
    assert np.array_equal(res.candidates[0], cand[0])
    assert np.allclose(res.sq_norms, sq, rtol=1e-8)
    assert res.ratio >= 1.0


def test_large_problem_recovers_truth_and_success_rate():
    rng = np.random.default_rng(7)
    n = 40
    Q, _ = _random_problem(rng, n, corr=0.9)
    Q *= 0.01  # precise float solution: sigma 0.01..0.1 cycles
    truth = rng.integers(-1000, 1000, n).astype(float)
    a = truth + np.linalg.cholesky(Q) @ rng.normal(size=n)
    res = lambda_search(a, Q)
    assert np.array_equal(res.candidates[0], truth)
    assert 0.99 < res.success_rate <= 1.0
    assert res.ratio > 3


def test_success_rate_bounds():
    assert success_rate(np.array([1e-4, 1e-4])) > 0.999999
    assert success_rate(np.array([1.0])) < 0.4  # sigma 1 cycle: P = erf(1/(2 sqrt 2)) = 0.38


def test_bad_covariance_raises():
    with pytest.raises(LambdaError):
        lambda_search(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(LambdaError):
        lambda_search(np.array([np.nan]), np.eye(1))
