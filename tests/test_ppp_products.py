"""Product manager and bad/missing products: detected, reported per file and per satellite, and the
solution goes on with what is valid."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rtk_engine import gnss_time
from rtk_engine.formats.rinex_obs import read_obs
from rtk_engine.formats.sinex_bias import SinexBiasError, read_sinex_bias
from rtk_engine.solvers.ppp import PppOptions, solve_detailed
from rtk_engine.solvers.ppp.products import coverage_report, find_products, scan
from tests.conftest import shared_path
from tests.test_ppp_esbc import errors, require_pcv

NS = gnss_time.NS
DAY0 = int(gnss_time.from_calendar(2020, 6, 25))


def test_scan_classifies_and_dates_files():
    files = {f.path.name: f for f in scan(shared_path("ppp/esbc-2020-177"))}
    clk = files["GRG0MGXFIN_20201770000_01D_30S_CLK.CLK.gz"]
    assert clk.kind == "clk" and clk.start_ns == DAY0 and clk.interval_s == 30.0 and clk.agency == "GRG"
    iac = files["Sta21114.sp3.gz"]  # short name: span and agency from the SP3 header
    assert iac.kind == "sp3" and iac.start_ns == DAY0 and iac.end_ns == DAY0 + 86400 * NS and iac.agency == "IAC"


def test_day_with_its_products():
    ps = find_products(shared_path("ppp/esbc-2020-177"), DAY0, DAY0 + 86370 * NS)
    assert ps.agency == "GRG"  # has a 30 s clock file; IAC orbits are not mixed in
    assert [p.name for p in ps.clk] == ["GRG0MGXFIN_20201770000_01D_30S_CLK.CLK.gz"]
    assert len(ps.sp3) == 2 and all(p.name.startswith("GRG") for p in ps.sp3)
    # the GRG day-177 SP3 ends 23:45: the last quarter hour needs day 178's file, which is named
    assert len(ps.missing) == 1 and "20201780000" in ps.missing[0] and "23:45:00" in ps.missing[0]


def test_wrong_day_names_the_missing_files():
    ps = find_products(shared_path("ppp/esbc-2020-177"), DAY0 + 86400 * NS, DAY0 + 2 * 86400 * NS - 30 * NS)
    assert not ps.complete
    text = "\n".join(ps.missing)
    assert "SP3" in text and "CLK" in text and "2020-06-26 (day 178)" in text and "*_20201780000_01D_*" in text


def test_no_products_at_all(tmp_path):
    ps = find_products(tmp_path, DAY0, DAY0 + 3600 * NS)
    assert any(m.startswith("SP3: no orbit file") for m in ps.missing)
    assert any(m.startswith("CLK: no clock file") for m in ps.missing)
    with pytest.raises(FileNotFoundError):
        ps.load()


def test_clock_gap_and_absent_satellite_reported_and_solution_continues():
    """Knock out G05's clock for an hour and remove G07 from the clock file: both are reported per satellite,
    and the 3 h static solution still converges with the remaining satellites."""
    obs = read_obs(shared_path("spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz")).select_epochs(
        slice(0, 360))
    ps = find_products([shared_path("ppp/esbc-2020-177"), shared_path("antex/test.atx"), require_pcv()],
                       int(obs.time_ns[0]), int(obs.time_ns[-1]), agency="GRG")
    sp3, clk, atx, _ = ps.load()
    bias = clk.bias_s.copy()
    i5, i7 = (int(np.flatnonzero(clk.sats == s)[0]) for s in ("G05", "G07"))
    gap = (clk.time_ns >= DAY0 + 3600 * NS) & (clk.time_ns < DAY0 + 7200 * NS)
    bias[gap, i5] = np.nan
    keep = np.arange(clk.sats.size) != i7
    bad = dataclasses.replace(clk, bias_s=bias[:, keep], sigma_s=clk.sigma_s[:, keep], sats=clk.sats[keep])
    rep = coverage_report(sp3, bad, np.array(["G05", "G07", "G08"]), int(obs.time_ns[0]), int(obs.time_ns[-1]))
    assert rep["G07"] == ["absent from CLK"]
    assert "CLK: 120 of" in rep["G05"][0] and "01:00:00" in rep["G05"][0]
    assert "G08" not in rep
    r = solve_detailed(obs, sp3, bad, atx, PppOptions(mode="static", systems="GE"))
    per = r.diagnostics.per_sat
    assert per["G07"]["no_clock"] > 100
    # 120 missing samples break 121 interpolation intervals; transmission is ~0.07 s before the epoch, so
    # the epoch right after the gap still falls in the last broken interval: at most 122 epochs lost
    assert 100 <= per["G05"]["no_clock"] <= 122
    enu, h, minutes, ok = errors(r.solution)
    assert ok.mean() > 0.99
    assert h[np.flatnonzero(ok)[-1]] < 0.10  # 3 h float PPP without two satellites: still decimetre-converged


SAMPLE_BIA = """%=BIA 1.00 XXX 2020:180:00000 XXX 2020:177:00000 2020:178:00000 R 00000002
+BIAS/SOLUTION
*BIAS SVN_ PRN STATION__ OBS1 OBS2 BIAS_START____ BIAS_END______ UNIT __ESTIMATED_VALUE____ _STD_DEV___
 OSB  G063 G01           C1C       2020:177:00000 2020:178:00000 ns                 10.2500      0.0100
 OSB  G063 G01           C1W       2020:177:00000 2020:178:00000 ns                 11.0000      0.0100
-BIAS/SOLUTION
%=ENDBIA
"""


def test_sinex_bias_reader(tmp_path):
    """Layout per the SINEX-BIAS 1.00 column definitions (no real BIA file is in the data set)."""
    p = tmp_path / "x.BIA"
    p.write_text(SAMPLE_BIA)
    b = read_sinex_bias(p)
    t = np.array([DAY0 + NS, DAY0 + 86400 * NS])
    v = b.code_bias_m("G01", "C1C", t)
    assert v[0] == pytest.approx(10.25e-9 * 299_792_458.0) and np.isnan(v[1])
    (tmp_path / "bad.BIA").write_text(SAMPLE_BIA.replace("10.2500", "10.2x00"))
    with pytest.raises(SinexBiasError, match="line 4"):
        read_sinex_bias(tmp_path / "bad.BIA")
