"""Single-point positioning: synthetic scenes for the estimator (exact truth, injected faults) and
real recorded data against station truth and RTKLIB's rnx2rtkp on the same files and systems."""
from __future__ import annotations

import numpy as np
import pytest

from rtk_engine.constants import CLIGHT
from rtk_engine.geodesy.ellipsoid import ecef_to_enu, geodetic_to_ecef
from rtk_engine.gnss_time import from_calendar
from rtk_engine.models.geometry import geometric_range
from rtk_engine.models.ionosphere import broadcast_iono_delay
from rtk_engine.models.geometry import az_el_from_los
from rtk_engine.models.troposphere import tropo_delay
from rtk_engine.solution import Quality
from rtk_engine.solvers.spp import SppMeasurements, SppOptions, estimate

DEG = np.pi / 180
TRUTH = geodetic_to_ecef(np.array([55.5 * DEG, 8.5 * DEG, 60.0]))
IONO = {"GPSA": np.array([1.1e-8, 7.5e-9, -6e-8, -6e-8]), "GPSB": np.array([9.0e4, 0.0, -2.0e5, -6.5e4]),
        "BDSA": np.array([2.0e-8, 3e-8, -1e-7, 1e-7]), "BDSB": np.array([1.2e5, 1e5, -1e5, -2e5])}


def synthetic_scene(n_epochs=40, seed=1, noise_m=0.3):
    """G, E, C satellites on random directions around a static receiver, with exact models applied."""
    rng = np.random.default_rng(seed)
    sats = np.array([f"G{i:02d}" for i in range(1, 11)] + [f"E{i:02d}" for i in range(1, 9)]
                    + [f"C{i:02d}" for i in (1, 2, 19, 20, 21, 22, 23)])
    S = sats.size
    t = from_calendar(2020, 6, 25, 10, 0, 0) + np.arange(n_epochs, dtype=np.int64) * 30 * 10**9
    # directions: elevation -20..90 deg (some below the mask), azimuth uniform, range 20 000-25 000 km
    el = rng.uniform(-20, 90, S) * DEG
    az = rng.uniform(0, 360, S) * DEG
    drift_dir = rng.normal(0, 0.02, (S, 2))  # slow motion across epochs
    k = np.arange(n_epochs)[:, None]
    el_e = np.clip(el[None, :] + drift_dir[:, 0] * k * DEG, -89 * DEG, 89.9 * DEG)
    az_e = az[None, :] + drift_dir[:, 1] * k * DEG
    r = 20_000e3 + 5_000e3 * np.sin(el_e) ** 0.5 if False else 22_000e3
    lat, lon = 55.5 * DEG, 8.5 * DEG
    enu = np.stack([np.cos(el_e) * np.sin(az_e), np.cos(el_e) * np.cos(az_e), np.sin(el_e)], -1) * r
    R = np.array([[-np.sin(lon), np.cos(lon), 0],
                  [-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)],
                  [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]])
    sat_pos = TRUTH + enu @ R
    sys_letters = sats.astype("<U1")
    systems = "GEC"
    sys_index = np.array([systems.index(c) for c in sys_letters])
    clk_rx = np.array([1e-4, 1e-4 + 3e-8, 1e-4 - 5e-8])  # receiver clock per system [s]
    sat_clk = rng.uniform(-5e-4, 5e-4, S)[None, :].repeat(n_epochs, 0)
    freq = np.where(sys_letters == "C", 1561.098e6, 1575.42e6)
    rng_m, los = geometric_range(sat_pos, TRUTH)
    az_t, el_t, llh = az_el_from_los(los, np.broadcast_to(TRUTH, (n_epochs, 3)))
    doy = 177.0
    trp, _ = tropo_delay(el_t, llh[:, 0:1], llh[:, 2:3], doy)
    ion = broadcast_iono_delay(IONO, sys_letters[None, :], t[:, None], llh[:, 0:1], llh[:, 1:2], az_t, el_t,
                               freq[None, :])
    pr = rng_m + CLIGHT * (clk_rx[sys_index][None, :] - sat_clk) + trp + ion + rng.normal(0, noise_m, (n_epochs, S))
    pr = np.where(el_t > 0, pr, np.nan)  # below the horizon: not tracked
    m = SppMeasurements(time_ns=t, sats=sats, systems=systems, sys_index=sys_index, pr_m=pr,
                        snr_dbhz=np.full((n_epochs, S), 45.0), freq_hz=freq, sat_pos_m=sat_pos,
                        sat_vel_mps=np.zeros((n_epochs, S, 3)), sat_clock_s=sat_clk,
                        sat_drift_sps=np.zeros((n_epochs, S)), sisre_m=np.full(S, 0.5), sigma_factor=np.ones(S),
                        range_rate_mps=None, iono=IONO)
    return m, clk_rx


def test_synthetic_recovers_truth_from_earth_centre():
    m, clk_rx = synthetic_scene()
    sol, diag = estimate(m, SppOptions(velocity=False))
    assert (sol.quality == Quality.SINGLE).all()
    err = ecef_to_enu(sol.ecef_m, TRUTH)
    # 0.3 m noise, ~15 satellites, GDOP ~2: position errors of a metre at most (well below 3 sigma)
    assert np.abs(err).max() < 2.0
    assert np.sqrt((err[:, :2] ** 2).sum(1).mean()) < 0.6
    # one clock per system, in metres
    np.testing.assert_allclose(sol.clock_m, np.broadcast_to(clk_rx * CLIGHT, sol.clock_m.shape), atol=3.0)
    # below-mask satellites never used
    assert not (diag.used & (diag.elevation_rad < 10 * DEG)).any()
    assert sum(v for v in sol.sats_per_system.values()).tolist() == sol.n_sats.tolist()


def test_synthetic_noise_free_is_exact():
    m, clk_rx = synthetic_scene(n_epochs=5, noise_m=0.0)
    sol, _ = estimate(m, SppOptions(velocity=False))
    np.testing.assert_allclose(sol.ecef_m, np.broadcast_to(TRUTH, sol.ecef_m.shape), atol=1e-3)


def test_fde_excludes_injected_fault():
    m, _ = synthetic_scene(seed=3)
    _, clean = estimate(m, SppOptions(velocity=False))
    # a 60 m fault on the highest GPS satellite in every epoch
    s_bad = int(np.argmax(np.where(m.sats.astype("<U1") == "G", clean.elevation_rad[0], -1)))
    m.pr_m[:, s_bad] += 60.0
    sol_no, _ = estimate(m, SppOptions(raim_fde=False, reject_chi2=False, velocity=False))
    sol, diag = estimate(m, SppOptions(velocity=False))
    ok = np.isfinite(m.pr_m[:, s_bad])
    assert diag.excluded[ok, s_bad].all()
    assert diag.excluded.sum() == ok.sum()  # nothing else excluded
    err_no = np.linalg.norm(sol_no.ecef_m - TRUTH, axis=1)
    err = np.linalg.norm(sol.ecef_m - TRUTH, axis=1)
    assert err_no.mean() > 5.0  # the fault really hurts without FDE ...
    assert np.sqrt((err ** 2).mean()) < 1.5  # ... and is gone with it
    # without FDE but with the chi-square check the faulty epochs are flagged, not silently wrong
    sol_chk, _ = estimate(m, SppOptions(raim_fde=False, velocity=False))
    assert not sol_chk.valid[ok].any()


def test_missing_system_and_too_few_satellites():
    m, _ = synthetic_scene(n_epochs=6, seed=5)
    is_c = m.sats.astype("<U1") == "C"
    m.pr_m[:2, is_c] = np.nan  # BeiDou absent in the first two epochs: its clock must not break the solve
    keep = np.flatnonzero(np.isfinite(m.pr_m[5]))[:3]
    drop = np.setdiff1d(np.arange(m.sats.size), keep)
    m.pr_m[5, drop] = np.nan  # three satellites only in the last epoch
    sol, _ = estimate(m, SppOptions(velocity=False))
    assert sol.valid[:5].all() and not sol.valid[5]
    assert np.isnan(sol.clock_m[:2, 2]).all() and np.isfinite(sol.clock_m[2:5, 2]).all()
    assert np.isnan(sol.ecef_m[5]).all() and sol.n_sats[5] == 0
    assert (sol.sats_per_system["C"][:2] == 0).all()


def test_batch_equals_epoch_by_epoch():
    m, _ = synthetic_scene(n_epochs=8, seed=7)
    sol, _ = estimate(m, SppOptions(velocity=False))
    from dataclasses import replace

    for e in range(8):
        sub = replace(m, time_ns=m.time_ns[e:e + 1], pr_m=m.pr_m[e:e + 1], snr_dbhz=m.snr_dbhz[e:e + 1],
                      sat_pos_m=m.sat_pos_m[e:e + 1], sat_vel_mps=m.sat_vel_mps[e:e + 1],
                      sat_clock_s=m.sat_clock_s[e:e + 1], sat_drift_sps=m.sat_drift_sps[e:e + 1])
        one, _ = estimate(sub, SppOptions(velocity=False))
        np.testing.assert_allclose(one.ecef_m[0], sol.ecef_m[e], atol=1e-6)
