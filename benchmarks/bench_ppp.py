"""Whole-process time of a 24 h static PPP (ESBC 2020-06-25, 30 s, GPS+Galileo, GRG products) against
RTKLIB ``rnx2rtkp`` on the same data in the same run.

Both sides start from the files as they are in ../shared/data: ours reads the Hatanaka+gzip RINEX
and gzip products directly; RTKLIB gets plain files written beforehand (not timed: it cannot read
them compressed). Prints both wall times and the ratio ours / RTKLIB.

    .venv/bin/python benchmarks/bench_ppp.py
"""
from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

CONF = """pos1-posmode=ppp-static
pos1-frequency=l1+2
pos1-elmask=10
pos1-tidecorr=on
pos1-ionoopt=dual-freq
pos1-tropopt=est-ztd
pos1-sateph=precise
pos1-posopt1=on
pos1-posopt2=on
pos1-posopt3=on
pos1-navsys=9
out-solformat=xyz
ant1-postype=rinexhead
ant1-anttype=*
file-satantfile={atx}
file-rcvantfile=/usr/share/rtklib/ngs_abs.pcv
"""


def main() -> int:
    obs = DATA / "spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz"
    if not obs.exists() or shutil.which("rnx2rtkp") is None:
        print("skip: needs ../shared/data and RTKLIB rnx2rtkp")
        return 0
    ppp = DATA / "ppp/esbc-2020-177"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from rtk_engine.formats.rinex_obs import read_obs
        from rtk_engine.formats.rinex_obs_writer import write_obs

        write_obs(tmp / "esbc.obs", read_obs(obs, systems="GE"))
        plain = []
        for f in ("GRG0MGXFIN_20201760000_01D_15M_ORB.SP3.gz", "GRG0MGXFIN_20201770000_01D_15M_ORB.SP3.gz",
                  "GRG0MGXFIN_20201770000_01D_30S_CLK.CLK.gz"):
            (tmp / f[:-3]).write_bytes(gzip.decompress((ppp / f).read_bytes()))
            plain.append(str(tmp / f[:-3]))
        nav = tmp / "esbc.nav"
        nav.write_bytes(gzip.decompress((DATA / "spp/esbc-2020-177/ESBC00DNK_R_20201770000_01D_MN.rnx.gz").read_bytes()))
        (tmp / "ppp.conf").write_text(CONF.format(atx=DATA / "antex/test.atx"))

        t = time.perf_counter()
        subprocess.run(["rnx2rtkp", "-k", str(tmp / "ppp.conf"), "-o", str(tmp / "rtk.pos"), str(tmp / "esbc.obs"),
                        str(nav), *plain], check=True, capture_output=True)
        t_rtklib = time.perf_counter() - t

        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "beidou.cli", "ppp", "--products", str(ppp), "--agency", "GRG",
                        "--atx", str(DATA / "antex/test.atx"), "--pcv", "/usr/share/rtklib/ngs_abs.pcv",
                        "--systems", "GE", "--quiet", str(obs), "-o", str(tmp / "ours.pos")],
                       check=True, capture_output=True, cwd=REPO)
        t_ours = time.perf_counter() - t
    print(f"24 h static PPP, 2880 epochs GPS+Galileo: ours {t_ours:.1f} s (incl. Hatanaka/gzip reading), "
          f"rnx2rtkp {t_rtklib:.1f} s (plain files)")
    print(f"ratio ours / rnx2rtkp = {t_ours / t_rtklib:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
