"""rtk_engine.arrays equals NumPy's set functions (it exists to avoid their numpy.ma import)."""
import numpy as np
import pytest

from rtk_engine.arrays import intersect, isin, sorted_unique, unique


@pytest.mark.parametrize("seed", range(5))
def test_equal_to_numpy_on_numbers_and_strings(seed):
    rng = np.random.default_rng(seed)
    ints = rng.integers(-5, 20, rng.integers(0, 40))
    other = rng.integers(0, 30, rng.integers(0, 40))
    sats = np.array([f"{s}{p:02d}" for s, p in zip(rng.choice(list("GRECJ"), ints.size), rng.integers(1, 4, ints.size))],
                    dtype="<U3")
    sats2 = np.array(["G01", "C02", "E03", "R01", "J02"][: int(rng.integers(0, 6))], dtype="<U3")
    for a, b in ((ints, other), (sats, sats2), (other.astype(float) / 2, ints.astype(float))):
        np.testing.assert_array_equal(unique(a), np.unique(a))
        np.testing.assert_array_equal(sorted_unique(np.sort(a)), np.unique(a))
        np.testing.assert_array_equal(isin(a, b), np.isin(a, b))
        np.testing.assert_array_equal(intersect(a, b), np.intersect1d(a, b))
    assert unique(np.zeros((0,), int)).size == 0 and not isin(ints, np.zeros(0, int)).any()


def test_rtk_command_does_not_import_numpy_ma(tmp_path):
    """The start-up cost the module avoids: a whole ``beidou rtk`` run never imports numpy.ma."""
    import subprocess
    import sys

    from tests.conftest import shared_path

    d = shared_path("rtk/fujisawa-2021-078")
    code = ("import sys; from beidou.cli import main; rc = main(sys.argv[1:]); "
            "print('numpy.ma' in sys.modules); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code, "rtk", "--quiet", "--nav", str(d / "SEPT078M.21P"), "--base",
                          str(d / "3034078M1.21O"), "--base-pos=-3959400.631,3385704.533,3667523.111",
                          str(d / "SEPT078M1.21O"), "-o", str(tmp_path / "o.pos")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
