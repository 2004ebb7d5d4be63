"""RTK engine on real recorded baselines, against truth coordinates and RTKLIB (rnx2rtkp) run here
with the same settings (elevation mask 15 deg, Saastamoinen troposphere, ratio 3 fix-and-hold).

Truth (INVENTORY.md): fujisawa-2021-078 rover and base are known to mm; gsi-2005-092 has no
independent rover truth, so RTKLIB's static solution of the same data is the judge.
"""
from __future__ import annotations

import functools
import subprocess

import numpy as np
import pytest

from rtk_engine.geodesy.ellipsoid import ecef_to_enu
from rtk_engine.solution import Quality
from rtk_engine.solvers.rtk import load_options, solve
from tests.conftest import require_tool, shared_path

import rtk_engine.orbits.broadcast  # noqa: F401
from rtk_engine.formats.pos import read_pos  # noqa: E402
from rtk_engine.formats.rinex_nav import read_nav  # noqa: E402
from rtk_engine.formats.rinex_obs import read_obs  # noqa: E402

F078 = "rtk/fujisawa-2021-078"
BASE_078 = np.array([-3959400.631, 3385704.533, 3667523.111])
TRUTH_078 = np.array([-3962108.673, 3381309.574, 3668678.638])
GSI = "rtk/gsi-2005-092"
BASE_GSI = np.array([-3978241.958, 3382840.234, 3649900.853])


@functools.lru_cache(maxsize=None)
def _load(rover: str, base: str, nav: str):
    return read_obs(shared_path(rover)), read_obs(shared_path(base)), read_nav(shared_path(nav))


def data_078():
    return _load(f"{F078}/SEPT078M1.21O", f"{F078}/3034078M1.21O", f"{F078}/SEPT078M.21P")


def rnx2rtkp(tmp_path, name: str, files: list[str], base_pos, mode: str = "kinematic", freq: int = 2,
             navsys: int = 25, armode: str = "fix-and-hold", soltype: str = "forward", extra: list[str] = ()):
    """Run RTKLIB with our default settings (plus ``extra`` configuration lines) and return its Solution."""
    exe = require_tool("rnx2rtkp")
    conf = tmp_path / f"{name}.conf"
    conf.write_text("\n".join([
        f"pos1-posmode       ={mode}", f"pos1-frequency     ={freq}", f"pos1-soltype       ={soltype}",
        "pos1-elmask        =15", f"pos1-navsys        ={navsys}", "pos1-tropopt       =saas",
        f"pos2-armode        ={armode}", "pos2-arthres       =3", "out-solformat      =xyz",
        "ant2-postype       =xyz", f"ant2-pos1          ={base_pos[0]}", f"ant2-pos2          ={base_pos[1]}",
        f"ant2-pos3          ={base_pos[2]}", *extra, ""]))
    out = tmp_path / f"{name}.pos"
    subprocess.run([exe, "-k", str(conf), "-o", str(out), *[str(shared_path(f)) for f in files]],
                   check=True, capture_output=True, timeout=300)
    return read_pos(out)


def _errors(sol, truth):
    fixed = sol.quality == Quality.FIX
    enu = ecef_to_enu(sol.ecef_m, truth)
    h = np.sqrt(np.mean(np.sum(enu[fixed, :2] ** 2, axis=1))) if fixed.any() else np.nan
    v = np.sqrt(np.mean(enu[fixed, 2] ** 2)) if fixed.any() else np.nan
    worst = np.max(np.linalg.norm(enu[fixed], axis=1)) if fixed.any() else 0.0
    return fixed, h, v, worst


FILES_078 = [f"{F078}/SEPT078M1.21O", f"{F078}/3034078M1.21O", f"{F078}/SEPT078M.21P"]


def test_fujisawa_078_kinematic_l1l2_fixes_from_first_epoch(tmp_path):
    """Issue item 1 with RTKLIB's default L1+L2 (GPS, Galileo E1/E5b, QZSS)."""
    rover, base, nav = data_078()
    sol, rep = solve(rover, base, nav, BASE_078, load_options(max_freqs=2))
    fixed, h, v, worst = _errors(sol, TRUTH_078)
    ref = rnx2rtkp(tmp_path, "k2", FILES_078, BASE_078, freq=2)
    rfixed, rh, rv, rworst = _errors(ref, TRUTH_078)
    print(f"\n078 L1+L2 ours: fix {fixed.mean():.0%} h {h * 1e3:.1f} mm v {v * 1e3:.1f} mm worst {worst * 1e3:.1f} mm; "
          f"rnx2rtkp: fix {rfixed.mean():.0%} h {rh * 1e3:.1f} mm v {rv * 1e3:.1f} mm")
    assert len(sol) == 60 and sol.quality[0] == Quality.FIX and fixed.all()
    assert rep.time_to_first_fix_s == 0.0
    assert h <= 0.002  # issue bound: horizontal RMS <= 2 mm (RTKLIB: 1.4 mm)
    assert v <= 0.006  # issue bound: vertical RMS <= 6 mm (RTKLIB: 2.7 mm)


@pytest.mark.parametrize("label, opts, rtklib", [
    ("L1+L2+L5", {"max_freqs": 3}, {"freq": 3}),
    ("GPS only L1+L2", {"systems": "G", "max_freqs": 2}, {"navsys": 1, "freq": 2}),
    ("L1 only", {"max_freqs": 1}, {"freq": 1}),
    ("GPS L1 only", {"systems": "G", "max_freqs": 1}, {"navsys": 1, "freq": 1}),
])
def test_fujisawa_078_variants_no_wrong_fix(tmp_path, label, opts, rtklib):
    """Harder variants: fix rate beside rnx2rtkp and zero fixed epochs more than 5 cm from truth."""
    rover, base, nav = data_078()
    sol, _ = solve(rover, base, nav, BASE_078, load_options(**opts))
    fixed, h, v, worst = _errors(sol, TRUTH_078)
    ref = rnx2rtkp(tmp_path, "v", FILES_078, BASE_078, **rtklib)
    rfixed, rh, rv, rworst = _errors(ref, TRUTH_078)
    print(f"\n078 {label}: ours fix {fixed.mean():.0%} h {h * 1e3:.1f} v {v * 1e3:.1f} worst {worst * 1e3:.1f} mm | "
          f"rnx2rtkp fix {rfixed.mean():.0%} h {rh * 1e3:.1f} v {rv * 1e3:.1f} worst {rworst * 1e3:.1f} mm")
    assert worst <= 0.05  # issue: no fixed epoch more than 5 cm from truth
    # fix rate beside RTKLIB: our validation also asks for a bootstrapped success rate, so single-
    # frequency single-system first epochs may stay float where RTKLIB's ratio-only test fixes;
    # allow at most 10 points less, never more wrong fixes (above)
    assert fixed.mean() >= rfixed.mean() - 0.10


def test_fujisawa_078_backward_and_combined_agree_with_truth():
    rover, base, nav = data_078()
    for direction in ("backward", "combined"):
        sol, _ = solve(rover, base, nav, BASE_078, load_options(max_freqs=2, direction=direction))
        fixed, h, v, worst = _errors(sol, TRUTH_078)
        assert fixed.all(), direction
        assert worst <= 0.02, direction  # static antenna: every fix within 2 cm of truth (mm-level RMS above)


def test_fujisawa_078_instantaneous_ar_every_epoch_alone():
    """Instantaneous mode resets every ambiguity each epoch: each epoch is a single-epoch fix."""
    rover, base, nav = data_078()
    sol, _ = solve(rover, base, nav, BASE_078, load_options(ar={"mode": "instantaneous"}))
    fixed, h, v, worst = _errors(sol, TRUTH_078)
    assert fixed.mean() >= 0.95 and worst <= 0.05


def test_gsi_2005_092_static_matches_rtklib(tmp_path):
    """Issue item 2: GPS L1/L2 at 30 s, 3.3 km: 100 % fixed and within 1 cm of RTKLIB's static solution."""
    files = [f"{GSI}/07590920.05o", f"{GSI}/30400920.05o", f"{GSI}/07590920.05n"]
    rover, base, nav = _load(*files)
    sol, rep = solve(rover, base, nav, BASE_GSI, load_options(mode="static", systems="G", max_freqs=2))
    ref = rnx2rtkp(tmp_path, "s", files, BASE_GSI, mode="static", navsys=1)
    rtklib_static = ref.ecef_m[-1]  # RTKLIB's static estimate after all epochs
    d = np.linalg.norm(sol.ecef_m - rtklib_static, axis=1)
    print(f"\ngsi static: fix {rep.fix_rate:.0%} final diff to RTKLIB {d[-1] * 1e3:.1f} mm, worst epoch {d.max() * 1e3:.1f} mm")
    assert rep.fix_rate == 1.0
    assert d[-1] <= 0.01 and np.all(d <= 0.01)  # issue bound: <= 1 cm from RTKLIB's static solution


def test_too_few_satellites_for_a_position_never_fix():
    """QZSS alone (3-4 satellites, one DD short of a kinematic position) once gave 'fixes' 1.4 m
    off; the fixed set must now span enough satellites to determine the position."""
    rover, base, nav = data_078()
    sol, _ = solve(rover, base, nav, BASE_078, load_options(systems="J", max_freqs=3))
    fixed, h, v, worst = _errors(sol, TRUTH_078)
    assert worst <= 0.05 and not fixed.any()
