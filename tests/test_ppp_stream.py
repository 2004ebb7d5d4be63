"""PppStream (epoch by epoch, as the real-time services use it) gives the batch solution."""
from __future__ import annotations

import numpy as np

from rtk_engine.formats.rinex_obs import read_obs
from rtk_engine.solution import Solution
from rtk_engine.solvers.ppp import PppOptions, PppStream, solve_detailed
from rtk_engine.solvers.ppp.products import find_products
from tests.conftest import shared_path
from tests.test_ppp_esbc import require_pcv


def test_stream_equals_batch_opec_gec():
    """OPEC, 2 h, GPS+Galileo+BeiDou. The stream evaluates its models at its own running position instead of
    the batch's code-only median, so early epochs differ by mm (measured max 7 mm); once converged the two
    agree to well under a millimetre (measured 0.4 mm after 30 min, 0.04 mm at the end)."""
    obs = read_obs(shared_path("spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_30S_MO_3.04_croped.rnx"))
    obs = obs.select_epochs(slice(0, 240))
    ps = find_products([shared_path("ppp/opec-2022-001"), shared_path("antex/test.atx"), require_pcv()],
                       int(obs.time_ns[0]), int(obs.time_ns[-1]), need_clk=False)
    sp3, clk, atx, _ = ps.load()
    o = PppOptions(systems="GEC")
    batch = solve_detailed(obs, sp3, clk, atx, o).solution
    stream = PppStream(sp3, clk, atx, o)
    sol = Solution.concat([stream.step(e) for e in obs.epochs()])
    assert (sol.valid == batch.valid).all()
    d = np.linalg.norm(sol.ecef_m - batch.ecef_m, axis=1)
    assert np.nanmax(d) < 0.02
    assert np.nanmax(d[60:]) < 0.002
    # the first epoch lacks a code solution in both (receiver clock still settling): reported, not hidden
    assert any("no epoch has enough satellites" in n for n in stream.diagnostics.notes)
