"""SINEX-BIAS 1.00 files (``.BIA``/``.BSX``): observable-specific (OSB) and differential (DSB) code/phase biases.

Only the ``+BIAS/SOLUTION`` block is read. Each record gives a bias for one satellite (or
station) and one observable (``C1C``, ``L2W``...; DSB records two), valid over a time window.
Values are converted to seconds (``ns`` units) or kept in cycles (``cyc``). Times are GPST ns
(the file's ``YYYY:DOY:SSSSS`` in its time system, GPS assumed).

Usage in PPP: ``code_bias_m(sat, "C1W", t)`` gives the OSB in metres to *subtract* from the
observed pseudorange (SINEX-BIAS convention: observation = true range + bias).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.constants import CLIGHT
from rtk_engine.formats.fixed_width import FormatError, read_source_bytes

NS = gnss_time.NS


class SinexBiasError(FormatError):
    """Unreadable SINEX-BIAS content (message carries file and line)."""


@dataclass
class BiasRecord:
    kind: str  # "OSB", "DSB", "ISB"
    sat: str  # "G01" or "" for station biases
    station: str
    obs1: str
    obs2: str
    start_ns: int
    end_ns: int
    unit: str  # "ns" or "cyc"
    value: float
    sigma: float


@dataclass
class SinexBias:
    records: list[BiasRecord] = field(default_factory=list)

    def osb(self, sat: str, obs: str, t_ns) -> np.ndarray:
        """OSB of ``sat``/``obs`` at times ``t_ns`` in the record's unit (ns or cycles), NaN where none."""
        t = np.atleast_1d(np.asarray(t_ns, np.int64))
        out = np.full(t.shape, np.nan)
        for r in self.records:
            if r.kind == "OSB" and r.sat == sat and r.obs1 == obs and not r.station:
                sel = (t >= r.start_ns) & (t < r.end_ns)
                out[sel] = r.value
        return out

    def code_bias_m(self, sat: str, obs: str, t_ns) -> np.ndarray:
        """Code OSB [m] (from ns) for a pseudorange observable such as ``C1C``; NaN where none."""
        return self.osb(sat, obs, t_ns) * 1e-9 * CLIGHT

    def dsb(self, sat: str, obs1: str, obs2: str) -> float:
        """First DSB value of ``sat`` between two observables (unit of the file), NaN if absent."""
        for r in self.records:
            if r.kind == "DSB" and r.sat == sat and r.obs1 == obs1 and r.obs2 == obs2:
                return r.value
        return float("nan")


def _time(text: str, name: str, line_no: int) -> int:
    try:
        y, doy, sod = text.split(":")
        y, doy, sod = int(y), int(doy), int(sod)
    except ValueError:
        raise SinexBiasError(f"{name}: line {line_no}: bad time {text!r}") from None
    if y == 0 and doy == 0 and sod == 0:  # open end
        return int(np.iinfo(np.int64).max)
    if y < 100:
        y += 2000 if y < 80 else 1900
    return int(gnss_time.from_calendar(y, 1, 1)) + (doy - 1) * 86_400 * NS + sod * NS


def read_sinex_bias(source) -> SinexBias:
    """Read a SINEX-BIAS file (path, bytes or file object; gzip handled)."""
    data, name = read_source_bytes(source)
    lines = data.decode("ascii", "replace").splitlines()
    if not lines or not lines[0].startswith("%=BIA"):
        raise SinexBiasError(f"{name}: line 1: not a SINEX-BIAS file (expected '%=BIA')")
    out = SinexBias()
    inside = False
    for i, line in enumerate(lines, 1):
        if line.startswith("+BIAS/SOLUTION"):
            inside = True
            continue
        if line.startswith("-BIAS/SOLUTION"):
            inside = False
            continue
        if not inside or line.startswith("*") or not line.strip():
            continue
        # fixed columns (SINEX-BIAS 1.00): type 2-4, SVN 7-10, PRN 12-14, station 16-24, OBS1 26-29,
        # OBS2 31-34, start 36-49, end 51-64, unit 66-69, value 71-91, std 93-103
        try:
            value = float(line[70:91])
            sigma = float(line[92:103]) if line[92:103].strip() else float("nan")
        except ValueError:
            raise SinexBiasError(f"{name}: line {i}: bad bias value {line[70:103]!r}") from None
        out.records.append(BiasRecord(kind=line[1:4].strip(), sat=line[11:14].strip(), station=line[15:24].strip(),
                                      obs1=line[25:29].strip(), obs2=line[30:34].strip(),
                                      start_ns=_time(line[35:49].strip(), name, i),
                                      end_ns=_time(line[50:64].strip(), name, i), unit=line[65:69].strip(),
                                      value=value, sigma=sigma))
    if not out.records:
        raise SinexBiasError(f"{name}: no +BIAS/SOLUTION records")
    return out
