"""The single-site scalar helpers the RTK filter calls per epoch give the array functions' numbers.

``tropo_delay_site`` and ``ecef_to_geodetic_point``/``enu_rotation_point`` exist only to avoid
array overhead for one receiver; they must agree with ``tropo_delay``/``ecef_to_geodetic``/
``enu_rotation`` (exactly for the troposphere and the rotation, to a few ulp for the geodetic
conversion, whose scalar ``atan2``/``hypot`` round differently from numpy's vector versions).
"""
from __future__ import annotations

import numpy as np

from rtk_engine.geodesy.ellipsoid import ecef_to_geodetic, ecef_to_geodetic_point, enu_rotation, enu_rotation_point
from rtk_engine.models.troposphere import tropo_delay, tropo_delay_site

DEG = np.pi / 180.0


def test_tropo_delay_site_equals_array_model():
    el = np.r_[-5.0, 0.0, 0.5, 3.0, 10.0, 30.0, 60.0, 90.0, np.nan] * DEG
    # latitudes across every Niell table node and both hemispheres, heights beyond both clips
    for lat_deg in np.r_[np.linspace(-89.0, 89.0, 179), 15.0, 30.0, 45.0, 60.0, 75.0, -45.0]:
        for h in (-300.0, 0.0, 56.0, 3000.0, 12_000.0):
            for doy in (1, 78, 265.5, 366):
                d_ref, mw_ref = tropo_delay(el, lat_deg * DEG, h, doy)
                d, mw = tropo_delay_site(el, float(lat_deg * DEG), h, doy)
                assert np.array_equal(d, d_ref, equal_nan=True)
                assert np.array_equal(mw[el > 0], mw_ref[el > 0])
    d, _ = tropo_delay_site(np.array([90.0 * DEG]), 35.3 * DEG, 50.0, 78)
    assert 2.2 < d[0] < 2.6  # zenith delay near sea level [m]


def test_geodetic_point_equals_array_conversion():
    rng = np.random.default_rng(3)
    llh = np.c_[rng.uniform(-np.pi / 2, np.pi / 2, 500), rng.uniform(-np.pi, np.pi, 500), rng.uniform(-500, 9000, 500)]
    from rtk_engine.geodesy.ellipsoid import geodetic_to_ecef

    for p in geodetic_to_ecef(llh):
        ref = ecef_to_geodetic(p)
        got = ecef_to_geodetic_point(*p.tolist())
        assert abs(got[0] - ref[0]) < 1e-15 and abs(got[1] - ref[1]) < 1e-15 and abs(got[2] - ref[2]) < 1e-8
        assert np.array_equal(enu_rotation_point(ref[0], ref[1]), enu_rotation(ref[0], ref[1]))
    # the poles: no division by cos(lat)
    lat, _, h = ecef_to_geodetic_point(0.0, 0.0, 6_356_752.314245 + 10.0)
    assert abs(lat - np.pi / 2) < 1e-12 and abs(h - 10.0) < 1e-6
