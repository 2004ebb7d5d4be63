"""PPP jobs through the API: products from the service's product folder (no network), the final
coordinate against the ESBC truth, and a clear failure naming the product that is missing."""
from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.conftest import shared_path
from tests.test_jobs_api import login, upload, wait
from tests.test_ppp_esbc import TRUTH  # ESBC header (ETRF2000) moved to ITRF2014 at the epoch (EPSG:8405)

ESBC = "spp/esbc-2020-177"
PPP = "ppp/esbc-2020-177"


def test_ppp_job_with_product_folder_and_missing_products(tmp_path):
    products = tmp_path / "products"
    products.mkdir()
    for name in ("GRG0MGXFIN_20201770000_01D_15M_ORB.SP3.gz", "GRG0MGXFIN_20201770000_01D_30S_CLK.CLK.gz"):
        (products / name).symlink_to(shared_path(f"{PPP}/{name}"))
    app = create_app(Settings(data_dir=tmp_path, admin_password="admin-pass-123", extra={"job_workers": 1}))
    with TestClient(app) as c:
        h = login(c)
        rover = upload(c, h, f"{ESBC}/ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz", "obs")
        job = c.post("/api/jobs", json={"rover_file": rover, "mode": "ppp", "options": {"systems": "GE"}},
                     headers=h).json()
        (done,) = wait(c, h, [job["id"]], timeout=240)
        assert done["status"] == "done", done["error"]
        s = done["summary"]
        # 24 h static-data PPP processed epoch by epoch: the final kinematic/static estimate is within
        # a few cm of the ITRF truth (the library tests hold the static engine to 1 cm / 2 cm)
        err = np.linalg.norm(np.array(s["final"]["itrf"]["ecef_m"]) - TRUTH)
        print(f"PPP job final 3D error {err * 100:.1f} cm")
        assert err < 0.10, err
        assert any("SP3" in p for p in s["products"])
        # without the orbit file the job fails and names what is missing
        (products / "GRG0MGXFIN_20201770000_01D_15M_ORB.SP3.gz").unlink()
        job2 = c.post("/api/jobs", json={"rover_file": rover, "mode": "ppp"}, headers=h).json()
        (failed,) = wait(c, h, [job2["id"]], timeout=60)
        assert failed["status"] == "failed" and "no precise orbits" in failed["error"] and "SP3" in failed["error"]
