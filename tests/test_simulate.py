"""GNSS observation simulator driven by real broadcast ephemerides (rtk_engine.simulate).

Independent checks: geometric ranges recomputed here with a plain light-time iteration on
``orbits.broadcast``; group delays from ``orbits.broadcast.group_delay_s``; the SPP solver recovering
the truth; the RINEX reader reading the written files back. Data: the real DLR merged RINEX 4
navigation file (BeiDou D1/D2 + CNAV, GEO/IGSO/MEO, BDS-2 and BDS-3) and the ESBC RINEX 3 navigation.
"""
from __future__ import annotations

import gzip
import subprocess

import numpy as np
import pytest

from rtk_engine import gnss_time as gt
from rtk_engine.constants import CLIGHT, OMEGA_E_DEFAULT
from rtk_engine.geodesy.ellipsoid import azimuth_elevation, ecef_to_enu
from rtk_engine.satellites import bds_orbit_class, is_bds3
from rtk_engine.simulate import (CHONGQING_LLH_DEG, ErrorModel, SimConfig, SimulationError, iter_network,
                                 network_around, simulate_network, simulate_network_detailed, simulate_station)
from rtk_engine.simulate.errors import noise_scale
from tests.conftest import require_tool, shared_path

BRD4 = "nav/BRD400DLR_S_20230710000_01D_MN.rnx.gz"
T0 = int(gt.from_calendar(2023, 3, 12, 4, 0, 0))  # inside the navigation file's day


def _read_nav(rel: str):
    # the simulator evaluates orbits.broadcast; both it and the navigation reader come from other work
    import rtk_engine.orbits.broadcast  # noqa: F401
    import rtk_engine.formats.rinex_nav as rinex_nav
    return rinex_nav.read_nav(shared_path(rel))


@pytest.fixture(scope="module")
def nav():
    return _read_nav(BRD4)


@pytest.fixture(scope="module")
def stations():
    return network_around(*CHONGQING_LLH_DEG, {"BASE": (0.0, 0.0), "R05": (5.0, 60.0), "R20": (20.0, 135.0, 40.0)})


def _independent_range(nav, sats, t_true_ns, rcv):
    """Light-time solution by plain fixed-point iteration with the broadcast orbit (no shortcuts)."""
    from rtk_engine.orbits.broadcast import sat_states

    e, s = t_true_ns.size, sats.size
    sat_flat = np.tile(sats, e)
    t_flat = np.repeat(t_true_ns, s)
    tau = np.full(e * s, 0.075)
    for _ in range(4):
        st = sat_states(nav, sat_flat, t_flat - np.rint(tau * 1e9).astype(np.int64))
        a = OMEGA_E_DEFAULT * tau
        p = st.pos_ecef_m
        pr = np.stack([np.cos(a) * p[:, 0] + np.sin(a) * p[:, 1], -np.sin(a) * p[:, 0] + np.cos(a) * p[:, 1], p[:, 2]], 1)
        tau = np.linalg.norm(pr - rcv, axis=1) / CLIGHT
    return (tau * CLIGHT).reshape(e, s), st.clock_s.reshape(e, s), pr.reshape(e, s, 3), st.eph_index.reshape(e, s)


def test_beidou_classes_and_signals(nav, stations):
    """GEO, IGSO and MEO BeiDou satellites are all simulated; BDS-3 carries B1C/B2a but no B2I, BDS-2 no B1C/B2a,
    BDS-3 GEOs only B1I/B3I."""
    s = simulate_station(nav, stations["BASE"], T0, 300, 30.0, SimConfig(systems="C"), seed=1)
    b = s.block
    have = np.isfinite(b.code_m).any(axis=0)  # [S, F]
    codes = b.signals["C"]
    col = {c: codes.index(c) for c in codes}
    classes = {bds_orbit_class(x) for x in b.sats.tolist()}
    assert classes == {"GEO", "IGSO", "MEO"}
    bds3 = is_bds3(b.sats)
    geo = np.array([bds_orbit_class(x) == "GEO" for x in b.sats.tolist()])
    assert (bds3 & ~geo).sum() >= 6  # BDS-3 MEO/IGSO over China: typically 10+ in view
    assert have[bds3 & ~geo][:, [col["1P"], col["5P"]]].all()
    assert not have[bds3][:, col["7I"]].any()
    assert not have[~bds3][:, [col["1P"], col["5P"]]].any()
    assert have[~bds3][:, col["7I"]].all()
    assert not have[bds3 & geo][:, [col["1P"], col["5P"]]].any()
    assert have[:, col["2I"]].all() and have[:, col["6I"]].all()
    # every observed satellite is above the mask and has plausible C/N0
    assert np.nanmin(b.snr_dbhz) > 30 and np.nanmax(b.snr_dbhz) <= 50


def test_geometry_and_code_noise_statistics(nav, stations):
    """Code minus an independently computed range, clocks and broadcast group delay leaves exactly the
    injected white noise: zero mean and the configured sigma after removing the elevation scaling."""
    from rtk_engine.orbits.broadcast import group_delay_s

    em = ErrorModel.none().with_(code_noise_m=0.3, phase_noise_m=0.002, rcv_clock_bias_s=3e-4,
                                 rcv_clock_drift_sps=5e-8, rcv_clock_drift_rw_per_sqrt_s=1e-11)
    cfg = SimConfig(systems="GC", errors=em, ephemeris_blend_s=0.0)  # pure broadcast truth for this check
    s = simulate_station(nav, stations["BASE"], T0, 1200, 10.0, cfg, seed=7)
    b = s.block
    t_true = b.time_ns - np.rint(s.rcv_clock_s * 1e9).astype(np.int64)
    rho, dts, sat_pos, eph = _independent_range(nav, b.sats, t_true, s.truth_ecef_m)
    _, el = azimuth_elevation(s.truth_ecef_m, sat_pos)
    lam = b.wavelength_m()
    sys_ = b.systems
    res_code, res_phase = [], []
    for f in range(b.n_slots):
        for system in ("G", "C"):
            if f >= len(b.signals[system]):
                continue
            rows = sys_ == system
            code = b.signals[system][f]
            tgd = group_delay_s(nav, eph[:, rows].ravel(), system, code).reshape(eph[:, rows].shape)
            model = rho[:, rows] + CLIGHT * (s.rcv_clock_s[:, None] - dts[:, rows])
            obs = b.code_m[:, rows, f]
            ok = np.isfinite(obs) & np.isfinite(tgd)
            sc = noise_scale(el[:, rows], em.cn0_zenith_dbhz, em.cn0_span_db)
            res_code.append(((obs - model - CLIGHT * tgd) / sc)[ok])
            # phase: remove the integer ambiguity of each arc by its mean (noise is white, arcs are long)
            ph = (b.phase_cyc[:, rows, f] * lam[rows, f] - model) / lam[rows, f]
            seen = np.isfinite(ph).any(axis=0)  # satellites carrying this signal
            n_int = np.round(np.nanmedian(ph[:, seen], axis=0))
            res_phase.append((((ph[:, seen] - n_int) * lam[rows, f][seen]) / sc[:, seen])[np.isfinite(ph[:, seen])])
    rc, rp = np.concatenate(res_code), np.concatenate(res_phase)
    assert rc.size > 2000 and rp.size > 2000
    # sampling error of a std from n > 2000 samples is < 1.6 % (1 sigma); 6 % allows ~4 sigma
    assert abs(np.std(rc) / 0.3 - 1) < 0.06, np.std(rc)
    assert abs(np.mean(rc)) < 4 * 0.3 / np.sqrt(rc.size)  # no bias beyond 4 sigma of the mean
    assert abs(np.std(rp) / 0.002 - 1) < 0.06, np.std(rp)
    assert np.max(np.abs(rc)) < 6 * 0.3  # white Gaussian: no outliers beyond 6 sigma among ~1e4 samples


def test_multipath_is_time_correlated(nav, stations):
    em = ErrorModel.none().with_(multipath_code_m=0.2, multipath_tau_s=120.0)
    s = simulate_station(nav, stations["BASE"], T0, 1800, 1.0, SimConfig(systems="C", errors=em), seed=3,
                         keep_components=True)
    mp = s.components["code_multipath_m"] / s.components["noise_scale"]
    x = mp[:, :, 0]
    ok = np.isfinite(x[1:]) & np.isfinite(x[:-1])
    lag1 = np.corrcoef(x[1:][ok], x[:-1][ok])[0, 1]
    # AR(1) with dt = 1 s, tau = 120 s: rho = exp(-1/120) = 0.9917
    assert abs(lag1 - np.exp(-1 / 120)) < 0.003
    # stationary unit process scaled by 0.2 m: over ~20 satellites x 15 correlation times the sample
    # std is within ~15 % of the truth
    assert abs(np.nanstd(x) / 0.2 - 1) < 0.15
    # the code observation carries it: code - phase*lambda (no iono) equals multipath minus ambiguity, per arc
    b = s.block
    d = b.code_m[:, :, 0] - b.phase_cyc[:, :, 0] * b.wavelength_m()[:, 0]
    mp_m = s.components["code_multipath_m"][:, :, 0]  # including the elevation scaling
    d = d - np.nanmean(d - mp_m, axis=0)
    assert np.nanmax(np.abs(d - mp_m)) < 1e-6


def test_zero_error_phase_minus_code_constant_per_arc(nav, stations):
    """Without atmosphere, noise or multipath, phase*lambda - code is constant over each arc; cycle slips
    (flagged with LLI) change it by whole cycles; Doppler equals the phase rate."""
    em = ErrorModel.none().with_(cycle_slips_per_h=3.0, rcv_clock_drift_sps=2e-7, rcv_clock_bias_s=1e-4)
    s = simulate_station(nav, stations["BASE"], T0, 1800, 1.0, SimConfig(errors=em), seed=11)
    b = s.block
    lam = b.wavelength_m()
    d = b.phase_cyc * lam[None] - b.code_m  # [E, S, F]
    dd = np.diff(d, axis=0)
    slip = (b.lli[1:] & 1).astype(bool)
    both = np.isfinite(dd)
    assert slip.sum() > 20  # slips were injected (3 per satellite-hour, ~40 satellites, 0.5 h)
    # within arcs: constant to floating-point noise of 1e8-cycle phases (~1e-7 m)
    assert np.max(np.abs(dd[both & ~slip])) < 1e-6
    # at slips: an integer number of cycles, not zero on at least one signal of the satellite
    cyc = (dd / lam[None])[both & slip]
    assert np.max(np.abs(cyc - np.round(cyc))) < 1e-6
    # Doppler (instantaneous, mean of the two epochs) equals minus the phase difference over 1 s
    dphi = np.diff(b.phase_cyc, axis=0)
    dop = -(b.doppler_hz[1:] + b.doppler_hz[:-1]) / 2
    ok = np.isfinite(dphi) & ~slip
    # 1e-3 cycles: the midpoint rule leaves range jerk / 12 (< 1e-4 m) and the relativistic clock
    # term's rate is not in the broadcast drift (< 1 mm/s)
    assert np.max(np.abs((dphi - dop)[ok])) < 1e-2
    assert np.median(np.abs((dphi - dop)[ok])) < 1e-3


def test_ionosphere_dispersive_and_gradient(nav, stations):
    """Code delayed and phase advanced by the same amount, scaling 1/f^2 (checked on observables); the
    network gradient makes 20 km double differences see more ionosphere than 5 km ones."""
    em = ErrorModel.none().with_(ionosphere=True, iono_gradient_per_1000km=0.3)
    sims = simulate_network_detailed(nav, stations, T0, 900, 30.0, SimConfig(systems="C", errors=em), seed=5,
                                     keep_components=True)
    b = sims["BASE"].block
    gf = b.code_m - b.phase_cyc * b.wavelength_m()[None]  # = 2 I_f + arc constant
    dgf = gf[-1] - gf[0]  # [S, F] change of 2 I_f over the span
    f = b.frequency_hz()
    i1, i6 = b.slot("C", "2I"), b.slot("C", "6I")
    ok = np.isfinite(dgf[:, i1]) & np.isfinite(dgf[:, i6]) & (np.abs(dgf[:, i1]) > 0.05)
    assert ok.sum() >= 5  # the ionosphere changed by > 2.5 cm on several satellites over 15 min
    ratio = dgf[ok, i6] / dgf[ok, i1]
    np.testing.assert_allclose(ratio, (f[ok, i1] / f[ok, i6]) ** 2, rtol=1e-6)

    def dd_iono_rms(a, bname):
        ia, ib = sims[a].components["iono_l1_m"], sims[bname].components["iono_l1_m"]
        sa, sb = sims[a].block.sats, sims[bname].block.sats
        common = np.intersect1d(sa, sb)
        sd = ia[:, np.searchsorted(sa, common)] - ib[:, np.searchsorted(sb, common)]
        el = sims[a].components["elevation_rad"][:, np.searchsorted(sa, common)]
        ref = np.nanargmax(np.nanmean(el, axis=0))
        return float(np.sqrt(np.nanmean((sd - sd[:, [ref]]) ** 2)))

    r5, r20 = dd_iono_rms("BASE", "R05"), dd_iono_rms("BASE", "R20")
    # 0.3 per 1000 km of a 3-15 m slant L1 delay over 20 km gives 2-9 cm single differences; DD is
    # of the same order: require 1-30 cm at 20 km and a clear growth with baseline length
    assert 0.01 < r20 < 0.30, r20
    assert r5 < 0.5 * r20


def test_spp_recovers_truth(nav, stations):
    """The project's SPP on a simulated station lands on the truth: exactly without errors, and at the
    metre level with all default errors using the ionosphere-free combination."""
    import rtk_engine.solvers.spp as spp
    s0 = simulate_station(nav, stations["R20"], T0, 600, 30.0, SimConfig(systems="C", errors=ErrorModel.none()), seed=2)
    sol = spp.solve(s0.block, nav, spp.SppOptions(systems="C", iono="off", tropo="off"))
    err0 = np.linalg.norm(sol.ecef_m - s0.truth_ecef_m, axis=1)
    assert np.nanmax(err0) < 0.01  # identical broadcast models on both sides; blending changes < 1 cm here
    s = simulate_station(nav, stations["R20"], T0, 600, 30.0, SimConfig(systems="GEC"), seed=2)
    sol = spp.solve(s.block, nav, spp.SppOptions(systems="GEC", iono="iono-free"))
    enu = ecef_to_enu(sol.ecef_m, s.truth_ecef_m)
    # 0.3 m zenith code noise, x3 in the iono-free combination, PDOP ~1.5: 1-3 m per epoch, mean < 1.5 m
    assert np.all(np.isfinite(enu))
    assert np.linalg.norm(np.mean(enu, axis=0)) < 1.5
    assert np.max(np.linalg.norm(enu, axis=1)) < 8.0


def test_rinex_roundtrip(nav, stations, tmp_path):
    import rtk_engine.formats.rinex_obs_writer  # noqa: F401
    from rtk_engine.formats.rinex_obs import read_obs
    from rtk_engine.simulate import write_network_rinex

    em = ErrorModel().with_(cycle_slips_per_h=4.0, rcv_clock_ms_jumps=True)
    sims = simulate_network(nav, {k: stations[k] for k in ("BASE", "R05")}, T0, 120, 1.0, SimConfig(errors=em), seed=9)
    paths = write_network_rinex(sims, tmp_path)
    assert set(paths) == {"BASE", "R05"}
    for name, path in paths.items():
        a = sims[name].block
        b = read_obs(path)
        assert b.header.marker_name.strip() == name
        np.testing.assert_allclose(b.header.approx_pos_ecef_m, sims[name].truth_ecef_m, atol=1e-3)
        np.testing.assert_array_equal(b.time_ns, a.time_ns)
        for system, codes in a.signals.items():
            for f, code in enumerate(codes):
                ra = np.flatnonzero(a.systems == system)
                rb = np.searchsorted(b.sats, a.sats[ra])
                assert np.array_equal(b.sats[rb], a.sats[ra])
                fb = b.slot(system, code)
                # RINEX F14.3: 1 mm, 0.001 cycle, 0.001 Hz
                np.testing.assert_allclose(b.code_m[:, rb, fb], a.code_m[:, ra, f], atol=6e-4, equal_nan=True)
                np.testing.assert_allclose(b.phase_cyc[:, rb, fb], a.phase_cyc[:, ra, f], atol=6e-4, equal_nan=True)
                np.testing.assert_allclose(b.doppler_hz[:, rb, fb], a.doppler_hz[:, ra, f], atol=6e-4, equal_nan=True)
                np.testing.assert_array_equal(b.lli[:, rb, fb] & 1, a.lli[:, ra, f] & 1)


def test_deterministic_and_chunk_independent_geometry(nav, stations):
    st = {"BASE": stations["BASE"]}
    cfg = SimConfig(systems="GC")
    a = simulate_network(nav, st, T0, 60, 1.0, cfg, seed=4)["BASE"].block
    b = simulate_network(nav, st, T0, 60, 1.0, cfg, seed=4)["BASE"].block
    c = simulate_network(nav, st, T0, 60, 1.0, cfg, seed=5)["BASE"].block
    np.testing.assert_array_equal(a.code_m, b.code_m)
    np.testing.assert_array_equal(a.phase_cyc, b.phase_cyc)
    assert not np.allclose(a.code_m, c.code_m, equal_nan=True)
    # without random errors, chunking changes nothing
    z = SimConfig(systems="GC", errors=ErrorModel.none().with_(ambiguity_max_cycles=0))
    whole = simulate_network(nav, st, T0, 60, 1.0, z, seed=4)["BASE"].block
    parts = [c["BASE"].block for c in iter_network(nav, st, T0, 60, 1.0, z.with_(chunk_epochs=7), seed=4)]
    assert len(parts) == 9
    code = np.concatenate([p.code_m for p in parts])
    keep = np.isin(parts[0].sats, whole.sats)
    np.testing.assert_allclose(code[:, keep], whole.code_m, atol=1e-9, equal_nan=True)


def test_receiver_clock_ms_jumps(nav, stations):
    em = ErrorModel.none().with_(rcv_clock_drift_sps=2e-6, rcv_clock_bias_s=4e-4, rcv_clock_ms_jumps=True)
    s = simulate_station(nav, stations["BASE"], T0, 600, 1.0, SimConfig(systems="C", errors=em), seed=1)
    assert np.max(np.abs(s.rcv_clock_s)) <= 0.5e-3 + 1e-9
    jumps = np.flatnonzero(np.abs(np.diff(s.rcv_clock_s)) > 1e-4)
    assert jumps.size >= 1  # 2e-6 s/s over 600 s drifts 1.2 ms
    b = s.block
    assert jumps.min() >= 1
    step = np.diff(b.code_m[:, :, 0], axis=0)
    jump = step[jumps] - step[jumps - 1]  # removes the steady range rate and clock drift
    # the code steps by c * 1 ms, give or take the range change over the shifted sampling instant
    # (range rate < 1 km/s x 1 ms) and a second of range acceleration (< 1 m)
    assert np.all(np.abs(np.abs(jump[np.isfinite(jump)]) - CLIGHT * 1e-3) < 2.0)
    # code and phase jump together (phase by a whole number of cycles: f x 1 ms is an integer)
    lam = b.wavelength_m()[:, 0]
    dphase = np.diff(b.phase_cyc[:, :, 0], axis=0) * lam
    np.testing.assert_allclose(dphase[jumps] - dphase[jumps - 1], jump, atol=1e-6)


def test_other_navigation_file_and_bad_input(stations):
    """The ESBC RINEX 3 navigation (BeiDou GEOs and BDS-3) drives the simulator too; bad input is refused."""
    nav = _read_nav("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz")
    t0 = int(gt.from_calendar(2020, 6, 25, 6, 0, 0))
    s = simulate_station(nav, stations["BASE"], t0, 120, 30.0, SimConfig(systems="C"), seed=1)
    cls = {bds_orbit_class(x) for x in s.block.sats.tolist()}
    assert {"GEO", "IGSO", "MEO"} <= cls
    with pytest.raises(SimulationError):
        simulate_station(nav, stations["BASE"], t0, -5, 1.0)
    with pytest.raises(SimulationError):
        simulate_network(nav, {}, t0, 60, 1.0)
    with pytest.raises(ValueError):
        SimConfig(systems="R")
    # a span where the navigation data has no ephemeris: nothing observed, said clearly
    with pytest.raises(SimulationError):
        simulate_station(nav, stations["BASE"], t0 + 10 * 86_400 * gt.NS, 60, 30.0, SimConfig(systems="C"))


def test_rtklib_fixes_simulated_baseline(stations, tmp_path):
    """Independent oracle: RTKLIB's rnx2rtkp reads the simulated RINEX of a 20 km GPS+BeiDou baseline,
    fixes its ambiguities and lands on the simulated truth. Troposphere (Saastamoinen + Niell, which
    RTKLIB also models) and white noise are on; ionosphere off because RTKLIB 2.4.3 runs L1 here."""
    exe = require_tool("rnx2rtkp")
    import rtk_engine.formats.rinex_obs_writer  # noqa: F401
    from rtk_engine.simulate import write_network_rinex

    nav_path = shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz")
    nav = _read_nav("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz")
    em = ErrorModel.none().with_(troposphere=True, code_noise_m=0.3, phase_noise_m=0.002,
                                 rcv_clock_bias_s=2e-4, rcv_clock_drift_sps=5e-8)
    cfg = SimConfig(systems="GC", signals={"G": ("1C", "2W"), "C": ("2I", "7I", "6I")}, errors=em)
    st = {"BASE": stations["BASE"], "R20": network_around(*CHONGQING_LLH_DEG, {"R20": (20.0, 135.0)})["R20"]}
    t0 = int(gt.from_calendar(2020, 6, 25, 6, 0, 0))
    sims = simulate_network(nav, st, t0, 120, 1.0, cfg, seed=1)
    paths = write_network_rinex(sims, tmp_path, long_names=False)
    nav_txt = tmp_path / "nav.rnx"
    nav_txt.write_bytes(gzip.decompress(nav_path.read_bytes()))
    conf = tmp_path / "opts.conf"
    conf.write_text("pos1-posmode =kinematic\npos1-frequency =l1+2\npos1-elmask =10\npos1-navsys =33\n"
                    "pos1-ionoopt =off\npos1-tropopt =saas\npos2-armode =continuous\npos2-bdsarmode =on\n"
                    "pos2-arthres =3\nout-solformat =xyz\nant2-postype =xyz\n")
    out = tmp_path / "out.pos"
    base = sims["BASE"].truth_ecef_m
    subprocess.run([exe, "-k", str(conf), "-r", *[f"{v:.4f}" for v in base], str(paths["R20"]), str(paths["BASE"]),
                    str(nav_txt), "-o", str(out)], check=True, capture_output=True, timeout=120)
    d = np.loadtxt(out, comments="%", usecols=(2, 3, 4, 5))
    fixed = d[:, 3] == 1
    assert fixed.mean() > 0.9
    enu = ecef_to_enu(d[fixed, :3], sims["R20"].truth_ecef_m)
    # measured: horizontal mean 2 mm, up -6 mm (RTKLIB always applies its own hydrostatic Saastamoinen in
    # relative mode, a few mm different in DD from Saastamoinen+Niell at 20 km); noise 2-5 mm per epoch
    assert np.linalg.norm(enu[:, :2].mean(axis=0)) < 0.005
    assert abs(enu[:, 2].mean()) < 0.015
    assert np.max(np.linalg.norm(enu, axis=1)) < 0.03


def test_outages_and_unflagged_slips(nav, stations):
    """Short losses of lock leave gaps followed by LLI; unflagged slips jump the phase by whole cycles
    with no LLI (what a cycle-slip detector must find on its own)."""
    em = ErrorModel.none().with_(outages_per_h=6.0, outage_max_epochs=5, cycle_slips_per_h=6.0,
                                 cycle_slips_flagged=False)
    s = simulate_station(nav, stations["BASE"], T0, 1200, 1.0, SimConfig(systems="C", errors=em), seed=8)
    b = s.block
    have = np.isfinite(b.code_m[:, :, 0])
    back = have[1:] & ~have[:-1]  # reacquisition after a gap (or a satellite rising)
    assert back.sum() >= 10  # ~25 satellites x 6 per hour x 1/3 h
    assert np.all(b.lli[1:, :, 0][back] & 1)
    lam = b.wavelength_m()[:, 0]
    d = np.diff(b.phase_cyc[:, :, 0] * lam - b.code_m[:, :, 0], axis=0) / lam  # cycles
    jump = np.isfinite(d) & (np.abs(d) > 0.5)
    assert jump.sum() >= 10
    assert not np.any(b.lli[1:, :, 0][jump] & 1)  # unflagged
    np.testing.assert_allclose(d[jump], np.round(d[jump]), atol=1e-6)
