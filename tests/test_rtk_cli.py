"""``beidou rtk`` end to end: RINEX in, RTKLIB-compatible .pos out (read back by our reader)."""
from __future__ import annotations

import numpy as np
import pytest

from beidou.cli import main
from tests.conftest import shared_path
from tests.test_rtk_real import BASE_078, F078, TRUTH_078

pytest.importorskip("rtk_engine.orbits.broadcast")


def test_cli_writes_fixed_pos(tmp_path, capsys):
    from rtk_engine.formats.pos import read_pos

    out = tmp_path / "out.pos"
    rc = main(["rtk", "--nav", str(shared_path(f"{F078}/SEPT078M.21P")), "--base", str(shared_path(f"{F078}/3034078M1.21O")),
               "--base-pos=" + ",".join(str(v) for v in BASE_078), str(shared_path(f"{F078}/SEPT078M1.21O")),
               "-o", str(out), "--coords", "llh", "--quiet"])
    assert rc == 0
    sol = read_pos(out)
    assert len(sol) == 60 and np.all(sol.quality == 1)
    assert np.max(np.linalg.norm(sol.ecef_m - TRUTH_078, axis=1)) < 0.02  # llh round trip keeps mm
    assert "fixed 60 (100.0%)" in capsys.readouterr().err


def test_cli_reports_missing_base_position(tmp_path, capsys):
    rc = main(["rtk", "--nav", str(shared_path(f"{F078}/SEPT078M.21P")), "--base", str(shared_path(f"{F078}/3034078M1.21O")),
               str(shared_path(f"{F078}/SEPT078M1.21O")), "-o", str(tmp_path / "x.pos"), "--quiet"])
    assert rc == 1 and "base position missing" in capsys.readouterr().err


def test_cli_antex_options(tmp_path, capsys):
    from rtk_engine.formats.pos import read_pos

    args = ["rtk", "--nav", str(shared_path(f"{F078}/SEPT078M.21P")), "--base", str(shared_path(f"{F078}/3034078M1.21O")),
            "--base-pos=" + ",".join(str(v) for v in BASE_078), str(shared_path(f"{F078}/SEPT078M1.21O")),
            "--quiet", "--antex", str(shared_path("antex/test.atx")), "--base-ant", "TRM59800.80 NONE"]
    rc = main(args + ["-o", str(tmp_path / "a.pos"), "--rover-ant", "JAVRINGANT_DM SCIS"])
    assert rc == 0 and np.all(read_pos(tmp_path / "a.pos").quality == 1)
    capsys.readouterr()
    rc = main(args + ["-o", str(tmp_path / "b.pos"), "--rover-ant", "NOSUCHANT NONE"])
    assert rc == 1 and "NOSUCHANT" in capsys.readouterr().err
