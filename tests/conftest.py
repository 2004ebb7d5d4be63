"""Shared test fixtures: the real recorded data in ../shared/data (skip with a reason if absent)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

# as the `beidou` program does (beidou/cli.py): one BLAS thread, so results do not depend on the
# machine's core count; set before any test module imports NumPy
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BEIDOU_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(rel: str) -> Path:
    """Path of a file in ../shared/data; skips the test with a clear reason when it is absent."""
    p = SHARED_DATA / rel
    if not p.exists():
        pytest.skip(f"real test data {p} is absent (CI always has ../shared/data)")
    return p


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def require_tool(name: str) -> str:
    """Full path of an external oracle program (RTKLIB); skips if missing."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} missing in CI: `make sysdeps` should have installed Debian rtklib")
        pytest.skip(f"{name} not installed (Debian package rtklib; `make sysdeps`)")
    return path
