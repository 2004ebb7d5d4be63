"""RTK options, streaming = batch, and bad input (clear errors or counted skips, never a silent wrong fix)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic, geodetic_to_ecef
from rtk_engine.solution import Quality, Solution
from rtk_engine.solvers.rtk import RtkInputError, RtkOptions, RtkOptionsError, RtkStream, load_options, solve
from tests.test_rtk_real import BASE_078, TRUTH_078, _errors, data_078

import rtk_engine.orbits.broadcast  # noqa: F401
NS = 1_000_000_000


def test_documented_defaults_match_code_defaults():
    assert load_options() == RtkOptions()


def test_options_reject_unknown_and_bad_values(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[ar]\nratio_treshold = 2.0\n')
    with pytest.raises(RtkOptionsError, match="ar.ratio_treshold"):
        load_options(bad)
    with pytest.raises(RtkOptionsError):
        load_options(mode="dynamic")
    with pytest.raises(RtkOptionsError):
        load_options(systems="GX")
    good = tmp_path / "good.toml"
    good.write_text('mode = "static"\n[ar]\nmode = "continuous"\n')
    o = load_options(good)
    assert o.mode == "static" and o.ar.mode == "continuous" and o.ar.ratio_at_10 == 3.0


def test_ratio_threshold_adapts_to_ambiguity_count():
    ar = RtkOptions().ar
    thr = [ar.ratio_threshold(n) for n in (2, 5, 10, 20, 40, 80)]
    assert all(a >= b for a, b in zip(thr, thr[1:]))
    assert thr[0] > 3.0 > thr[-1] >= ar.ratio_min


def test_stream_gives_the_batch_numbers():
    rover, base, nav = data_078()
    n = 15
    r, b = rover.select_epochs(slice(0, n)), base.select_epochs(slice(0, n))
    sol, _ = solve(r, b, nav, BASE_078)
    st = RtkStream(nav, BASE_078)
    rows = Solution.concat([st.step(r.select_epochs(i), b.select_epochs(i)) for i in range(n)])
    assert np.array_equal(rows.quality, sol.quality)
    assert np.allclose(rows.ecef_m, sol.ecef_m, atol=1e-6)


def test_non_overlapping_files_are_an_error():
    rover, base, nav = data_078()
    later = replace(base, time_ns=base.time_ns + 86400 * NS)
    with pytest.raises(RtkInputError, match="do not overlap"):
        solve(rover, later, nav, BASE_078)


@pytest.mark.parametrize("pos, match", [(None, "missing"), ([0.0, 0.0, 0.0], "not on the Earth"),
                                        ([np.nan, 1.0, 2.0], "finite"),
                                        ("shifted", "header position")])
def test_missing_or_absurd_base_position(pos, match):
    rover, base, nav = data_078()
    if pos == "shifted":  # a real place 2.9 km east of the base: the wrong station's coordinates
        llh = ecef_to_geodetic(BASE_078)
        pos = geodetic_to_ecef(llh + [0.0, 0.0005, 0.0])
    with pytest.raises(RtkInputError, match=match):
        solve(rover, base, nav, pos)


def test_nav_without_the_observed_satellites():
    rover, base, nav = data_078()
    only_bds = replace(nav, kepler=nav.kepler.take(np.flatnonzero(nav.kepler.sat.astype("<U1") == "C")))
    with pytest.raises(RtkInputError, match="no usable ephemeris"):
        solve(rover, base, only_bds, BASE_078)


def test_garbage_epochs_are_skipped_and_counted_never_fixed_wrong():
    rover, base, nav = data_078()
    code = rover.code_m.copy()
    phase = rover.phase_cyc.copy()
    code[10:13] = 1e12  # absurd pseudoranges: no satellite state, the epoch has no solution
    rng = np.random.default_rng(5)
    phase[30, :4] += rng.uniform(1e3, 1e5, size=phase[30, :4].shape)  # phase garbage on 4 satellites, one epoch
    bad = replace(rover, code_m=code, phase_cyc=phase)
    sol, rep = solve(bad, base, nav, BASE_078)
    assert np.all(sol.quality[10:13] == Quality.NONE) and rep.n_none == 3
    assert any("without a usable ephemeris" in s for s in rep.skipped)  # counted and reported
    fixed, h, v, worst = _errors(sol, TRUTH_078)
    assert worst <= 0.05  # no wrong fix from the garbage
    assert fixed.sum() >= 55  # and the rest of the file still fixes


def test_snr_drop_weighting_follows_the_drop_not_the_level():
    from rtk_engine.solvers.rtk.snr_weight import SnrDropWeights

    w = SnrDropWeights((2, 1), decay_db_per_s=0.1, free_db=3.0, db_per_decade=3.0, max_factor=1000.0)
    ns = 1_000_000_000
    assert np.all(w.factor(0, np.array([[45.0], [30.0]])) == 1.0)  # first epoch: reference only
    # a low but steady C/N0 (low satellite, semi-codeless L2) is not penalised; a fall of 9 dB is
    assert np.allclose(w.factor(ns, np.array([[45.0], [30.0]])), 1.0)
    f = w.factor(2 * ns, np.array([[36.0], [30.0]]))
    assert f[1, 0] == 1.0 and 10 ** (5.7 / 3) * 0.99 < f[0, 0] < 10 ** (6.0 / 3) * 1.01  # 9 dB - 3 free, less decay
    assert w.factor(3 * ns, np.array([[np.nan], [30.0]]))[0, 0] == 1.0  # lost: no factor, reference restarts
    assert w.factor(4 * ns, np.array([[36.0], [30.0]]))[0, 0] == 1.0


def test_glonass_in_the_files_is_counted_when_not_asked_for():
    """GLONASS in the files but not in ``systems`` (the default) is reported, never silently dropped.
    Zero baseline (the same Hong Kong file as rover and base): the solution is the base position."""
    from rtk_engine.formats.rinex_nav import read_navs
    from rtk_engine.formats.rinex_obs import read_obs
    from tests.conftest import shared_path

    d = "kinematic/urbannav-hk-2020-155"
    obs = read_obs(shared_path(f"{d}/2020_06_03_TST_03.obs")).select_epochs(np.arange(20))
    nav = read_navs([shared_path(f"{d}/hksc155{h}.20{s}") for h in "cd" for s in "ng"])
    base_pos = obs.header.approx_pos_ecef_m
    sol, rep = solve(obs, obs, nav, base_pos, load_options(systems="G"))
    notes = [s for s in rep.skipped if s.startswith("GLONASS")]
    assert len(notes) == 1 and int(notes[0].split()[1]) >= 4
    ok = np.all(np.isfinite(sol.ecef_m), axis=1)
    assert ok.all() and np.max(np.linalg.norm(sol.ecef_m - base_pos, axis=1)) < 0.01
    _, rep = solve(obs, obs, nav, base_pos, load_options(systems="GR"))  # asked for: used, no note
    assert not any(s.startswith("GLONASS") for s in rep.skipped)
