"""GLONASS broadcast orbits: RK4 integration of the PZ-90 equations of motion (GLONASS ICD 5.1,
appendix 3.1.2), vectorised over satellites/epochs.

The broadcast state (position, velocity, luni-solar acceleration) at tb is integrated in the
rotating Earth-fixed frame with central gravity, the J2 zonal term, the centrifugal and Coriolis
terms, and the broadcast luni-solar acceleration held constant over the interval.
Units: metres, seconds, ECEF (PZ-90; the few-decimetre PZ-90.11/ITRF difference is ignored).
"""
from __future__ import annotations

import numpy as np

from ..constants import GLO_A_E, GLO_GM, GLO_J2, GLO_OMEGA
from ..gnss_time import NS
from ..nav import GlonassEphemeris

MAX_STEP_S = 60.0


def _derivatives(state: np.ndarray, acc_ls: np.ndarray) -> np.ndarray:
    """d/dt of (x, y, z, vx, vy, vz) [m, m/s] in the rotating frame; arrays (N, 6)."""
    x, y, z, vx, vy, vz = state.T
    r2 = x * x + y * y + z * z
    r = np.sqrt(r2)
    gm_r3 = GLO_GM / (r2 * r)
    j2 = 1.5 * GLO_J2 * GLO_GM * GLO_A_E ** 2 / (r2 * r2 * r)
    z2r = 5.0 * z * z / r2
    w2 = GLO_OMEGA ** 2
    ax = -gm_r3 * x - j2 * x * (1.0 - z2r) + w2 * x + 2.0 * GLO_OMEGA * vy + acc_ls[:, 0]
    ay = -gm_r3 * y - j2 * y * (1.0 - z2r) + w2 * y - 2.0 * GLO_OMEGA * vx + acc_ls[:, 1]
    az = -gm_r3 * z - j2 * z * (3.0 - z2r) + acc_ls[:, 2]
    return np.stack([vx, vy, vz, ax, ay, az], axis=1)


def integrate(pos_m: np.ndarray, vel_mps: np.ndarray, acc_mps2: np.ndarray, dt_s: np.ndarray,
              max_step_s: float = MAX_STEP_S) -> tuple[np.ndarray, np.ndarray]:
    """Propagate states (N, 3) by ``dt_s`` (N,) seconds (either sign) with RK4.

    All rows take the same number of steps, each row with its own step ``dt/n`` (|step| <= max_step_s).
    """
    dt = np.asarray(dt_s, dtype=float)
    state = np.concatenate([pos_m, vel_mps], axis=1).astype(float)
    if state.shape[0] == 0:
        return state[:, :3], state[:, 3:]
    nsteps = int(np.ceil(np.max(np.abs(dt)) / max_step_s)) if dt.size else 0
    if nsteps == 0:
        return state[:, :3].copy(), state[:, 3:].copy()
    h = (dt / nsteps)[:, None]
    for _ in range(nsteps):
        state = _rk4_step(state, acc_mps2, h)
    return state[:, :3], state[:, 3:]


def _rk4_step(state: np.ndarray, acc: np.ndarray, h: np.ndarray) -> np.ndarray:
    k1 = _derivatives(state, acc)
    k2 = _derivatives(state + 0.5 * h * k1, acc)
    k3 = _derivatives(state + 0.5 * h * k2, acc)
    k4 = _derivatives(state + h * k3, acc)
    return state + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def propagate_shared(pos_m: np.ndarray, vel_mps: np.ndarray, acc_mps2: np.ndarray, eph: np.ndarray,
                     dt_s: np.ndarray, step_s: float = MAX_STEP_S) -> tuple[np.ndarray, np.ndarray]:
    """Propagate many requests that share few ephemerides.

    Each distinct ephemeris ``eph`` (rows of pos/vel/acc) is integrated once, forwards and
    backwards, on a grid of ``step_s`` steps covering its requests; each request then takes one
    RK4 step (|h| <= step_s / 2) from the nearest grid node. Same integrator and step bound as
    :func:`integrate`, at a fraction of the cost when requests outnumber ephemerides.
    """
    dt = np.asarray(dt_s, dtype=float)
    uniq, inv = np.unique(np.asarray(eph), return_inverse=True)
    node = np.rint(dt / step_s).astype(np.int64)
    kmax = int(np.max(np.abs(node))) if node.size else 0
    state0 = np.concatenate([pos_m[uniq], vel_mps[uniq]], axis=1).astype(float)
    acc_u = acc_mps2[uniq]
    grid = np.empty((2 * kmax + 1, uniq.size, 6))
    grid[kmax] = state0
    for direction in (1, -1):
        st = state0
        h = np.full((uniq.size, 1), direction * step_s)
        for j in range(1, kmax + 1):
            st = _rk4_step(st, acc_u, h)
            grid[kmax + direction * j] = st
    start = grid[node + kmax, inv]
    rest = (dt - node * step_s)[:, None]
    out = _rk4_step(start, acc_u[inv], rest)
    return out[:, :3], out[:, 3:]


def glonass_states(g: GlonassEphemeris, idx: np.ndarray, t_gpst_ns: np.ndarray,
                   max_step_s: float = MAX_STEP_S) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Position [m], velocity [m/s] (ECEF), clock [s] and clock drift [s/s] at ``t_gpst_ns`` from rows ``idx``.

    Clock (ICD): dt_sv = -tau_n + gamma_n * (t - tb), with ``tau_n_s`` stored as the ICD's tau_n
    (RINEX writes -tau_n; the reader flips the sign). No relativistic term: GLONASS folds it into tau_n.
    """
    idx = np.asarray(idx, dtype=np.int64)
    dt = (np.asarray(t_gpst_ns, dtype=np.int64) - g.toe_ns[idx]) / NS
    if idx.size > 2 * np.unique(idx).size:  # many requests per ephemeris: shared grid
        pos, vel = propagate_shared(g.pos_m, g.vel_mps, g.acc_mps2, idx, dt, max_step_s)
    else:
        pos, vel = integrate(g.pos_m[idx], g.vel_mps[idx], g.acc_mps2[idx], dt, max_step_s)
    clock = -g.tau_n_s[idx] + g.gamma_n[idx] * dt
    return pos, vel, clock, g.gamma_n[idx].astype(float)
