"""fujisawa-2021-265: the same receiver on a moving vehicle (no reference trajectory).

Judged as the issue asks: fix rate beside rnx2rtkp with the same settings (L1+L2, GPS+Galileo+QZSS,
15 deg mask, fix-and-hold, ratio 3), and consistency of every epoch fixed both forward and backward
(a fix that disagrees by more than 3 cm counts as wrong)."""
from __future__ import annotations

import numpy as np
import pytest

from rtk_engine.solution import Quality
from rtk_engine.solvers.rtk import load_options, solve
from tests.conftest import shared_path
from tests.test_rtk_real import BASE_078, _load, rnx2rtkp

import rtk_engine.orbits.broadcast  # noqa: F401
F265 = "rtk/fujisawa-2021-265"
FILES = [f"{F265}/SEPT265G.21O", f"{F265}/3034265G.21O", f"{F265}/SEPT2650.21P"]


def test_vehicle_fix_rate_and_forward_backward_consistency(tmp_path):
    shared_path(FILES[0])
    rover, base, nav = _load(*FILES)
    fwd, rep_f = solve(rover, base, nav, BASE_078, load_options(direction="forward"))  # base is GEONET 3034 again
    bwd, _ = solve(rover, base, nav, BASE_078, load_options(direction="backward"))
    ref = rnx2rtkp(tmp_path, "veh", FILES, BASE_078, freq=2, armode="fix-and-hold")
    rtklib_rate = float(np.mean(ref.quality == Quality.FIX))
    ff, bf = fwd.quality == Quality.FIX, bwd.quality == Quality.FIX
    both = ff & bf
    d = np.linalg.norm(fwd.ecef_m - bwd.ecef_m, axis=1)
    wrong = both & (d > 0.03)
    consistent_rate = float(np.mean(ff & ~wrong))
    print(f"\n265 vehicle: rnx2rtkp fix {rtklib_rate:.1%}; ours forward {ff.mean():.1%}, backward {bf.mean():.1%}, "
          f"both {both.sum()}, disagreeing > 3 cm {wrong.sum()} (max {d[both].max() * 100:.1f} cm), "
          f"forward fixed and not contradicted {consistent_rate:.1%}")
    assert len(fwd) == rover.n_epochs
    assert consistent_rate >= 2 * rtklib_rate  # issue goal: at least double RTKLIB's fix rate, wrong fixes not counted
    # issue rule: every epoch fixed in both directions agrees within 3 cm (a disagreeing fix is wrong).
    # Measured max 2.35 cm after C/N0-drop weighting (was 3.1 cm: G14 at 16 deg diffracted before each
    # loss of lock, 4 cm of phase error pulling the held forward fix one way and the backward one the other)
    assert wrong.sum() == 0, f"{wrong.sum()} co-fixed epochs disagree by > 3 cm: {np.flatnonzero(wrong)}"
