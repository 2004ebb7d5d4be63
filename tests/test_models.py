"""Troposphere, ionosphere and geometry models: physical reference values and invariants."""
from __future__ import annotations

import numpy as np
import pytest

from rtk_engine.constants import CLIGHT, OMEGA_E_DEFAULT
from rtk_engine.geodesy.ellipsoid import azimuth_elevation, geodetic_to_ecef
from rtk_engine.gnss_time import NS, from_calendar
from rtk_engine.models import geometry, ionosphere, troposphere

DEG = np.pi / 180


def test_saastamoinen_zenith_sea_level():
    # Standard atmosphere at sea level: 1013.25 hPa gives the textbook zenith hydrostatic delay
    # 2.3 m (2.2768 mm/hPa * 1013.25 hPa / (1 - 0.00266 cos 2phi)); the wet part with 70 %
    # humidity at 15 degC is around 0.1-0.2 m. These are the magnitudes every SPP relies on.
    zhd, zwd = troposphere.saastamoinen_zenith(45 * DEG, 0.0)
    assert zhd == pytest.approx(0.0022768 * 1013.25, rel=1e-6)
    assert 0.08 < zwd < 0.2
    # 2 km higher the pressure is ~795 hPa: the hydrostatic delay scales down accordingly
    zhd2, _ = troposphere.saastamoinen_zenith(45 * DEG, 2000.0)
    assert zhd2 / zhd == pytest.approx(795.0 / 1013.25, rel=0.01)


def test_niell_mapping_reference_values():
    lat, h, doy = 45 * DEG, 0.0, 180.0
    mh, mw = troposphere.niell_mapping(np.array([90, 30, 15, 5]) * DEG, lat, h, doy)
    # exactly 1 at the zenith (continued fraction normalised there)
    assert mh[0] == pytest.approx(1.0, abs=1e-12) and mw[0] == pytest.approx(1.0, abs=1e-12)
    # at 30 deg the curvature correction to 1/sin(e) = 2 is a few 0.1 %
    assert mh[1] == pytest.approx(2.0, rel=5e-3) and mw[1] == pytest.approx(2.0, rel=5e-3)
    # Niell (1996) tabulates hydrostatic ~10.15 and wet ~10.75 at 5 deg elevation (mid latitude)
    assert mh[3] == pytest.approx(10.15, abs=0.1)
    assert mw[3] == pytest.approx(10.75, abs=0.15)
    d, _ = troposphere.tropo_delay(np.array([90 * DEG, -1 * DEG]), lat, h, doy)
    assert 2.3 < d[0] < 2.6 and np.isnan(d[1])


def test_klobuchar_gps_night_and_frequency_scaling():
    alpha = [1.1176e-08, 7.4506e-09, -5.9605e-08, -5.9605e-08]
    beta = [9.0112e04, 0.0, -1.9661e05, -6.5536e04]
    lat, lon = 35 * DEG, 139.5 * DEG
    # local night (about 02:00 at the pierce point): the model returns the 5 ns floor times the obliquity
    t_night = from_calendar(2021, 3, 19, 17, 0, 0)  # 17 UT = 02:18 local
    d = ionosphere.klobuchar_gps(alpha, beta, t_night, lat, lon, 0.0, 90 * DEG)
    f_obl = 1 + 16 * (0.53 - 0.5) ** 3
    assert d == pytest.approx(CLIGHT * 5e-9 * f_obl, rel=1e-9)
    # daytime delay exceeds night and scales with 1/f^2
    t_day = from_calendar(2021, 3, 19, 5, 0, 0)  # about 14:18 local
    d1 = ionosphere.klobuchar_gps(alpha, beta, t_day, lat, lon, 0.0, 90 * DEG)
    d5 = ionosphere.klobuchar_gps(alpha, beta, t_day, lat, lon, 0.0, 90 * DEG, freq_hz=1176.45e6)
    assert d1 > 2 * d
    assert d5 / d1 == pytest.approx((1575.42 / 1176.45) ** 2, rel=1e-12)
    # low elevation: obliquity factor F(5 deg) ~ 3
    d_low = ionosphere.klobuchar_gps(alpha, beta, t_night, lat, lon, 0.0, 5 * DEG)
    assert d_low / d == pytest.approx((1 + 16 * (0.53 - 5 / 180) ** 3) / f_obl, rel=1e-9)


def test_klobuchar_bds_conventions():
    # Only the constant alpha0 term: at the zenith the pierce point is the receiver, and at 14:00
    # local BDT time the cosine is 1, so the vertical delay is exactly 5 ns + alpha0.
    alpha = [2.0e-8, 0.0, 0.0, 0.0]
    beta = [1.0e5, 0.0, 0.0, 0.0]
    lon = 0.0
    t = from_calendar(2020, 6, 25, 14, 0, 14)  # GPST 14:00:14 = BDT 14:00:00 at longitude 0
    d = ionosphere.klobuchar_bds(alpha, beta, t, 50 * DEG, lon, 0.0, 90 * DEG)
    assert d == pytest.approx(CLIGHT * (5e-9 + 2e-8), rel=1e-9)
    # local time follows the pierce-point longitude: 90 deg east is 6 h later (20:00 local)
    d_e = ionosphere.klobuchar_bds(alpha, beta, t, 50 * DEG, 90 * DEG, 0.0, 90 * DEG)
    x = 2 * np.pi * (20 * 3600 - 50400) / 1e5
    assert d_e == pytest.approx(CLIGHT * (5e-9 + 2e-8 * np.cos(x)), rel=1e-9)
    # negative latitude uses |phi|: symmetric for a pure even model
    a2 = [2e-8, 1e-8, 0, 0]
    dn = ionosphere.klobuchar_bds(a2, beta, t, 40 * DEG, lon, 0.0, 90 * DEG)
    ds = ionosphere.klobuchar_bds(a2, beta, t, -40 * DEG, lon, 0.0, 90 * DEG)
    assert dn == pytest.approx(ds, rel=1e-12)
    # the BDS obliquity at 10 deg elevation with a 375 km shell: ~3.0
    d10 = ionosphere.klobuchar_bds(alpha, beta, t, 50 * DEG, lon, 0.0, 10 * DEG)
    zen = ionosphere.klobuchar_bds(alpha, beta, t, 50 * DEG, lon, 0.0, 90 * DEG)
    assert 2.5 < d10 / zen < 3.3
    # reference frequency is B1I: B3I delay is larger by (1561.098/1268.52)^2
    d3 = ionosphere.klobuchar_bds(alpha, beta, t, 50 * DEG, lon, 0.0, 90 * DEG, freq_hz=1268.52e6)
    assert d3 / d == pytest.approx((1561.098 / 1268.52) ** 2, rel=1e-12)


def test_broadcast_iono_selects_model_by_system():
    iono = {"GPSA": np.array([1e-8, 0, 0, 0]), "GPSB": np.array([1e5, 0, 0, 0]),
            "BDSA": np.array([3e-8, 0, 0, 0]), "BDSB": np.array([1e5, 0, 0, 0])}
    t = from_calendar(2020, 6, 25, 14, 0, 14)
    sys_ = np.array(["G", "C", "E"])
    d = ionosphere.broadcast_iono_delay(iono, sys_, t, 50 * DEG, 0.0, 0.0, 90 * DEG, 1575.42e6)
    assert d[1] > d[0] and d[2] == d[0]
    d_nobds = ionosphere.broadcast_iono_delay({k: iono[k] for k in ("GPSA", "GPSB")}, sys_, t,
                                              50 * DEG, 0.0, 0.0, 90 * DEG, 1575.42e6)
    assert d_nobds[1] == d_nobds[0]
    assert np.isnan(ionosphere.broadcast_iono_delay({}, sys_, t, 0.5, 0.0, 0.0, 1.0, 1575.42e6)).all()


def test_geometric_range_sagnac_matches_exact_rotation():
    rcv = geodetic_to_ecef(np.array([55.5 * DEG, 8.5 * DEG, 50.0]))
    sat = np.array([[15_600e3, 7_540e3, 20_140e3], [-8_000e3, 20_000e3, 15_000e3], [26_000e3, 1_000e3, 3_000e3]])
    r, los = geometry.geometric_range(sat, rcv)
    # exact: rotate the satellite by omega * tau with tau from the rotated geometry (two iterations)
    tau = np.linalg.norm(sat - rcv, axis=1) / CLIGHT
    for _ in range(3):
        rot = geometry.rotate_for_travel_time(sat, tau)
        tau = np.linalg.norm(rot - rcv, axis=1) / CLIGHT
    exact = np.linalg.norm(rot - rcv, axis=1)
    # the first-order Sagnac term is good to well below a millimetre at GNSS distances
    np.testing.assert_allclose(r, exact, atol=1e-3)
    assert np.abs(r - np.linalg.norm(sat - rcv, axis=1)).max() > 1.0  # and the effect is real (tens of m)
    np.testing.assert_allclose(np.linalg.norm(los, axis=1), 1.0)
    az, el, llh = geometry.az_el_from_los(los, rcv)
    az2, el2 = azimuth_elevation(rcv, sat)
    np.testing.assert_allclose(el, el2, atol=1e-12)
    np.testing.assert_allclose(az, az2, atol=1e-12)


def test_range_rate_matches_finite_difference():
    rcv = geodetic_to_ecef(np.array([55.5 * DEG, 8.5 * DEG, 50.0]))
    vr = np.array([10.0, -5.0, 1.0])
    sat = np.array([15_600e3, 7_540e3, 20_140e3])
    vs = np.array([-1500.0, 2500.0, 300.0])
    _, los = geometry.geometric_range(sat, rcv)
    dt = 1e-3  # central difference: the curvature term (~|v|^2/r * dt) cancels
    r_m, _ = geometry.geometric_range(sat - vs * dt, rcv - vr * dt)
    r_p, _ = geometry.geometric_range(sat + vs * dt, rcv + vr * dt)
    rate = geometry.range_rate(sat, vs, rcv, vr, los)
    # the Sagnac-rate term is ~4 mm/s here, so 1e-5 m/s tests its sign and size
    assert rate == pytest.approx((r_p - r_m) / (2 * dt), abs=1e-5)
