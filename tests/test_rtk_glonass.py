"""GLONASS in the RTK engine: float ambiguities with a carrier per FDMA channel.

No real base + rover pair with GLONASS exists in our data, so a pair is made from one real file
(Hong Kong, GPS + GLONASS): the base is the recorded file at a stated position X0, the rover the same
observations plus the exact range change of moving the antenna to X0 + d (code in metres, phase in
cycles of each satellite's own FDMA wavelength). Everything else cancels in the single differences,
so the engine must return X0 + d; the rover drives at 10 m/s, so a carrier taken from the wrong channel
(0.035 % per channel step at G1) would leave a phase error growing by 10 cm over the 30 s.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from rtk_engine.constants import CLIGHT
from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic, enu_rotation
from rtk_engine.models.geometry import geometric_range
from rtk_engine.signals import frequencies_hz
from rtk_engine.solution import Quality
from rtk_engine.solvers.rtk import load_options, prepare, solve
from tests.conftest import shared_path

import rtk_engine.orbits.broadcast  # noqa: F401
D = "kinematic/urbannav-hk-2020-155"


@functools.lru_cache(maxsize=None)
def _pair():
    from rtk_engine.formats.rinex_nav import read_navs
    from rtk_engine.formats.rinex_obs import read_obs

    base = read_obs(shared_path(f"{D}/2020_06_03_TST_03.obs")).select_epochs(np.arange(30))
    nav = read_navs([shared_path(f"{D}/hksc155{h}.20{s}") for h in "cd" for s in "ng"])
    x0 = np.asarray(base.header.approx_pos_ecef_m, float)
    llh = ecef_to_geodetic(x0)
    t = (base.time_ns - base.time_ns[0]) * 1e-9
    # rover driving east at 10 m/s from 300 m east, 20 m north of X0 (the range change then varies fast
    # enough that a wrong FDMA wavelength cannot hide in a float ambiguity)
    enu = np.stack([300.0 + 10.0 * t, np.full_like(t, 20.0), np.zeros_like(t)], axis=1)
    d = enu @ enu_rotation(llh[0], llh[1])  # [E, 3] ECEF offsets
    # satellite positions at each receiver's transmission time, as the engine computes them (the rover's
    # depend on its own pseudoranges: two passes)
    o = load_options(systems="GR")
    A = prepare(base, base, nav, x0, o)
    chans = {**nav.glonass_channels(), **base.header.glonass_channels}
    k = np.array([chans.get(str(s), np.nan) for s in base.sats], float)
    lam = CLIGHT / frequencies_hz(base.systems[:, None], base.signal_codes(), k[:, None])  # [S, F]
    idx = np.searchsorted(base.sats, A.sats)
    rover, sat_pos = base, A.sat_pos_r
    for _ in range(2):
        r_r, _ = geometric_range(sat_pos, (x0 + d)[:, None, :])
        drho = np.full((base.n_epochs, base.n_sats), np.nan)
        drho[:, idx] = r_r - A.range_b_m  # [E, S] metres
        rate = np.gradient(drho, t, axis=0)  # [E, S] m/s (Doppler is minus the range rate)
        rover = dataclasses.replace(base, code_m=base.code_m + drho[:, :, None],
                                    phase_cyc=base.phase_cyc + drho[:, :, None] / lam[None],
                                    doppler_hz=base.doppler_hz - rate[:, :, None] / lam[None])
        sat_pos = prepare(rover, base, nav, x0, o).sat_pos_r
    return rover, base, nav, x0, x0 + d


def test_glonass_float_with_gps_recovers_the_offset():
    rover, base, nav, x0, truth = _pair()
    sol, rep = solve(rover, base, nav, x0, load_options(systems="GR"))
    gps, _ = solve(rover, base, nav, x0, load_options(systems="G"))
    err = np.linalg.norm(sol.ecef_m - truth, axis=1)
    err_g = np.linalg.norm(gps.ecef_m - truth, axis=1)
    fixed = sol.quality == Quality.FIX
    n_glo = np.isfinite(prepare(rover, base, nav, x0, load_options(systems="R")).phase_r[:, :, 0]).any(axis=0).sum()
    print(f"\nGPS+GLONASS: fixed {fixed.mean():.0%}, worst fixed {err[fixed].max() * 1e3:.2f} mm, worst "
          f"{err.max() * 1e3:.1f} mm (GPS alone {err_g.max() * 1e3:.1f} mm), {n_glo} GLONASS satellites with phase")
    assert n_glo >= 2 and np.all(np.isfinite(err)) and fixed[15:].all()
    # noise-free single differences: what remains is the troposphere difference over 300-600 m and the
    # kinematic float convergence of the first epochs (11 mm at epoch 1, the same with GPS alone)
    assert err[fixed].max() <= 0.003
    assert np.all(err <= err_g + 0.001)  # the float GLONASS phases never make it worse
    assert not any(s.startswith("GLONASS") for s in rep.skipped)


def test_too_few_glonass_satellites_give_no_position():
    """GLONASS alone here has 2 satellites with phase (urban canyon): one pair cannot give a position,
    so every epoch is NONE (before this guard the filter returned a 'float' 259 m off)."""
    rover, base, nav, x0, truth = _pair()
    sol, rep = solve(rover, base, nav, x0, load_options(systems="R"))
    assert rep.n_none == len(sol) and not np.isfinite(sol.ecef_m).any()


def test_wrong_glonass_channel_is_seen():
    """One satellite's channel shifted by one in the navigation data (0.56 MHz at G1) must not pass
    unnoticed: the solution moves or that satellite's phases are rejected."""
    rover, base, nav, x0, truth = _pair()
    g = nav.glonass
    sat = "R12"
    bad = dataclasses.replace(nav, glonass=dataclasses.replace(g, channel=np.where(g.sat == sat, g.channel + 1,
                                                                                     g.channel)))
    sol, rep = solve(rover, base, nav, x0, load_options(systems="GR"))
    sol_bad, rep_bad = solve(rover, base, bad, x0, load_options(systems="GR"))
    err = np.linalg.norm(sol.ecef_m - truth, axis=1).max()
    err_bad = np.linalg.norm(sol_bad.ecef_m - truth, axis=1).max()
    print(f"\nwrong channel: worst {err * 1e3:.1f} -> {err_bad * 1e3:.1f} mm, rejected {rep.rejected} -> {rep_bad.rejected}")
    assert err_bad > 3 * err or rep_bad.rejected > rep.rejected  # measured 11.3 -> 56.1 mm
