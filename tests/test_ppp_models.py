"""PPP geophysical models against independent astronomical facts."""
from __future__ import annotations

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.models.tides import moon_position_ecef, solid_earth_tide_ecef
from rtk_engine.orbits.precise import sun_position_ecef


def _angle_deg(a, b):
    return float(np.degrees(np.arccos(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))))


def test_moon_at_the_2020_eclipses():
    """Annular solar eclipse 2020-06-21 06:41 UTC (greatest eclipse: Sun and Moon aligned within the
    0.5 deg of their discs) and penumbral lunar eclipse 2020-07-05 04:30 UTC (Moon opposite the Sun within
    ~1.5 deg). The low-precision series is good to ~0.1 deg, so 0.4 and 2.5 deg bounds."""
    t_new = gnss_time.utc_to_gpst(gnss_time.from_calendar(2020, 6, 21, 6, 41))
    assert _angle_deg(moon_position_ecef(t_new), sun_position_ecef(t_new)) < 0.4
    t_full = gnss_time.utc_to_gpst(gnss_time.from_calendar(2020, 7, 5, 4, 30))
    assert _angle_deg(moon_position_ecef(t_full), sun_position_ecef(t_full)) > 177.5
    # perigee / apogee bounds of the lunar distance over a year
    t = gnss_time.from_calendar(2020, 1, 1) + np.arange(0, 366 * 86400, 3600 * 6, dtype=np.int64) * gnss_time.NS
    d = np.linalg.norm(moon_position_ecef(t), axis=-1)
    assert 356.0e6 < d.min() < 360.0e6 and 404.0e6 < d.max() < 407.0e6


def test_solid_tide_size():
    """Radial solid-earth tide peaks at ~0.3-0.4 m; at 55 N its daily range is 0.2-0.5 m, horizontal < 0.15 m."""
    x = np.array([3582104.8, 532590.2, 5232755.1])  # ESBC
    t = gnss_time.from_calendar(2020, 6, 25) + np.arange(0, 86400, 300, dtype=np.int64) * gnss_time.NS
    d = solid_earth_tide_ecef(t, x)
    up = d @ (x / np.linalg.norm(x))
    assert 0.2 < up.max() - up.min() < 0.5
    horiz = np.linalg.norm(d - up[:, None] * (x / np.linalg.norm(x)), axis=1)
    assert horiz.max() < 0.15


def test_nominal_satellite_pco_fills_only_what_the_file_lacks():
    """test.atx (IGS14 subset) has G01 (IIF), E02 (FOC), C22 (CAST): satellites of the same block get copies
    of those (same values as the file's own entry), IIR satellites the block Z, GPS III and SECM none; the
    file's own entries and the caller's Antex are untouched; outside the table's period nothing is added."""
    from rtk_engine.formats.antex import read_antex
    from rtk_engine.products.satellite_antenna_nominal import fill_missing_satellite_pco
    from tests.conftest import shared_path

    atx = read_antex(shared_path("antex/test.atx"))
    t = gnss_time.from_calendar(2020, 6, 25, 12)
    n_before = len(atx.satellites)
    out, src = fill_missing_satellite_pco(atx, ["G01", "G03", "G05", "G18", "E07", "E11", "C22", "C20", "C27", "C08"], t)
    assert len(atx.satellites) == n_before and "G03" not in atx.satellites
    assert src["G01"] == src["C22"] == "antenna file"
    np.testing.assert_array_equal(out.satellite_pco("G03", t, "G01"), atx.satellite_pco("G01", t, "G01"))
    np.testing.assert_array_equal(out.satellite_pco("E07", t, "E05"), atx.satellite_pco("E02", t, "E05"))
    np.testing.assert_array_equal(out.satellite_pco("C20", t, "C06"), atx.satellite_pco("C22", t, "C06"))
    np.testing.assert_array_equal(out.satellite_pco("G05", t, "G02"), [0.0, 0.0, 0.9])
    np.testing.assert_array_equal(out.satellite_pco("C08", t, "C02"), [0.6, 0.0, 1.1])
    assert out.satellite_pco("E11", t, "E01")[:2].tolist() == [0.0, 0.0]
    assert src["G18"].startswith("none") and src["C27"].startswith("none") and "G18" not in out.satellites
    # the GPS PRN -> block table is date-bound: 2022 gets nothing for GPS
    _, src22 = fill_missing_satellite_pco(atx, ["G03"], gnss_time.from_calendar(2022, 1, 1))
    assert src22["G03"].startswith("none")
