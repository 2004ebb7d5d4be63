"""``beidou ppp`` end to end on OPEC (3.6 h): product manager, .pos output readable by our reader, summary."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from rtk_engine.formats.pos import read_pos
from rtk_engine.geodesy.ellipsoid import ecef_to_enu
from tests.conftest import REPO, shared_path
from tests.test_ppp_esbc import require_pcv
from tests.test_ppp_opec import TRUTH


def test_cli_ppp_static_with_product_folder(tmp_path):
    out = tmp_path / "opec.pos"
    cmd = [sys.executable, "-m", "beidou.cli", "ppp", "--products", str(shared_path("ppp/opec-2022-001")),
           "--atx", str(shared_path("antex/test.atx")), "--pcv", str(require_pcv()), "--systems", "GEC", "--quiet",
           str(shared_path("spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_30S_MO_3.04_croped.rnx")),
           "-o", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "solved 439" in p.stdout and "C 7.6" in p.stdout
    assert "C05: absent from SP3" in p.stderr  # observed but not in the CODE product: reported per satellite
    sol = read_pos(out)
    assert (sol.quality == 6).all()
    enu = ecef_to_enu(sol.ecef_m[-1], TRUTH)
    assert np.hypot(enu[0], enu[1]) < 0.04  # as tests/test_ppp_opec.py::test_combined


def test_cli_ppp_reports_missing_orbits(tmp_path):
    p = subprocess.run([sys.executable, "-m", "beidou.cli", "ppp", "--products", str(tmp_path),
                        str(shared_path("spp/opec-2022-001/OPEC00NOR_S_20220010000_01D_30S_MO_3.04_croped.rnx")),
                        "-o", str(tmp_path / "x.pos")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 1 and "no SP3 orbits" in p.stderr
