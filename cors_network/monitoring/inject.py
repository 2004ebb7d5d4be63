"""Displacement injection: make real observations look as if the antenna moved by a known vector.

Moving the antenna from r to r + d changes the geometric range to satellite s by
``-u_s . d`` to first order (u_s the unit vector receiver -> satellite; the second-order term
|d|^2 / (2 rho) is below 1e-10 m for centimetre moves). The same change is applied to the
pseudorange [m] and, divided by the carrier wavelength, to the carrier phase [cycles] of every
signal, so every line of sight sees one consistent 3D motion - exactly what a moving tower
top or slope looks like to a receiver. Doppler is left alone (steps and mm/h creep change it by
far less than its noise).

Used by the monitoring tests and the docs' demonstration: inject 20 mm east after epoch k, solve,
and the displacement series must show it.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from rtk_engine.constants import CLIGHT
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic, enu_rotation
from rtk_engine.obs import ObsBlock
from rtk_engine.orbits.broadcast import sat_states

__all__ = ["enu_to_ecef_vector", "step_displacement", "ramp_displacement", "inject_displacement"]


def enu_to_ecef_vector(enu_m, ref_ecef_m) -> np.ndarray:
    """Rotate ENU vectors [..., 3] (m) at ``ref_ecef_m`` into ECEF vectors (m)."""
    lat, lon, _ = ecef_to_geodetic(np.asarray(ref_ecef_m, float))
    R = enu_rotation(lat, lon)  # rows: e, n, u unit vectors in ECEF
    return np.asarray(enu_m, float) @ R


def step_displacement(time_ns: np.ndarray, start_ns: int, enu_m) -> np.ndarray:
    """[E, 3] ENU displacement (m): zero before ``start_ns``, ``enu_m`` from it on."""
    on = np.asarray(time_ns) >= start_ns
    return on[:, None] * np.asarray(enu_m, float)[None, :]


def ramp_displacement(time_ns: np.ndarray, start_ns: int, rate_enu_m_s) -> np.ndarray:
    """[E, 3] ENU displacement (m): zero before ``start_ns``, then growing at ``rate_enu_m_s`` (m/s)."""
    dt = np.maximum(0.0, (np.asarray(time_ns, np.int64) - start_ns) * 1e-9)
    return dt[:, None] * np.asarray(rate_enu_m_s, float)[None, :]


def inject_displacement(obs: ObsBlock, nav, approx_ecef_m, displacement_enu_m: np.ndarray) -> ObsBlock:
    """A copy of ``obs`` whose code and phase are those of an antenna displaced by
    ``displacement_enu_m`` [E, 3] (metres, ENU at ``approx_ecef_m``) at each epoch.

    Satellite positions come from the broadcast ephemerides ``nav`` at the transmission time
    (reception time minus the pseudorange's travel time). Epochs with zero displacement are untouched;
    satellites without ephemeris at a displaced epoch lose their observations there (NaN), counted in
    ``header.skipped`` - never left inconsistent with the motion.
    """
    d_enu = np.asarray(displacement_enu_m, float)
    if d_enu.shape != (obs.n_epochs, 3):
        raise ValueError(f"displacement must be [{obs.n_epochs}, 3], got {d_enu.shape}")
    rcv = np.asarray(approx_ecef_m, float)
    d_ecef = enu_to_ecef_vector(d_enu, rcv)  # [E, 3]
    rows = np.flatnonzero(np.any(d_enu != 0, axis=1))
    out = replace(obs, code_m=obs.code_m.copy(), phase_cyc=obs.phase_cyc.copy(),
                  header=replace(obs.header, skipped=list(obs.header.skipped)))
    if rows.size == 0:
        return out
    E, S = rows.size, obs.n_sats
    code_rows = obs.code_m[rows]
    n_ok = np.isfinite(code_rows).sum(axis=2)
    pr = np.where(n_ok > 0, np.nansum(np.nan_to_num(code_rows, nan=0.0), axis=2) / np.maximum(n_ok, 1), np.nan)
    tau = np.where(np.isfinite(pr), pr, 2.2e7) / CLIGHT
    t_tx = obs.time_ns[rows][:, None] - np.round(tau * 1e9).astype(np.int64)
    st = sat_states(nav, np.broadcast_to(obs.sats, (E, S)).ravel(), t_tx.ravel())
    pos = st.pos_ecef_m.reshape(E, S, 3)
    los = pos - rcv  # receiver -> satellite, from the reference point
    los /= np.linalg.norm(los, axis=2, keepdims=True)
    drho = -np.einsum("esk,ek->es", los, d_ecef[rows])  # [E, S] range change (m)
    lam = obs.wavelength_m()  # [S, F]
    valid = st.valid.reshape(E, S)
    code = out.code_m[rows] + drho[:, :, None]
    phase = out.phase_cyc[rows] + drho[:, :, None] / lam[None]
    code[~valid] = np.nan
    phase[~valid] = np.nan
    out.code_m[rows] = code
    out.phase_cyc[rows] = phase
    lost = ~valid & np.any(np.isfinite(obs.code_m[rows]) | np.isfinite(obs.phase_cyc[rows]), axis=2)
    if lost.any():
        out.header.skipped.append(f"inject_displacement: {int(lost.sum())} satellite-epochs without ephemeris "
                                  "removed at displaced epochs")
    return out
