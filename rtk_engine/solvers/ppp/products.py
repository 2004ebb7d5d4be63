"""Product manager: find the precise products (SP3, CLK, ANTEX, SINEX-BIAS) that cover an observation span.

Point :func:`find_products` at folders and/or files. Each file's kind and time span come from its
IGS long name (``GRG0MGXFIN_20201770000_01D_30S_CLK.CLK.gz``: start, length) when it has one, or
else from its content (SP3 header; first and last clock records). Nothing is downloaded. What
is missing is said exactly: which kind, which part of the span, and the file name that would
cover it. :func:`coverage_report` then checks, per satellite, that the loaded products hold
orbits and clocks over the span (absent satellites, gaps), so that the solution can go on
with the satellites that are valid and say which were not.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.formats.fixed_width import read_source_bytes

NS = gnss_time.NS
DAY_NS = 86_400 * NS
LONG_NAME = re.compile(r"^(?P<ac>\w{3})\d\w{3}\w{3}_(?P<y>\d{4})(?P<doy>\d{3})(?P<h>\d{2})(?P<m>\d{2})_(?P<len>\d{2})"
                       r"(?P<unit>[MHDWY])_(?P<smp>\d{2}[SMHDU])_(?P<type>\w{3})\.(?P<fmt>\w{3})", re.I)
UNIT_NS = {"M": 60 * NS, "H": 3600 * NS, "D": DAY_NS, "W": 7 * DAY_NS, "Y": 365 * DAY_NS}
SP3_MARGIN_EPOCHS = 5  # Lagrange interpolation needs this many samples beyond each end of the span


@dataclass
class ProductFile:
    path: Path
    kind: str  # "sp3", "clk", "atx", "bias", "pcv"
    start_ns: int | None = None  # GPST; None for ANTEX / PCV
    end_ns: int | None = None
    interval_s: float | None = None
    agency: str = ""  # analysis centre (long name, SP3 header or CLK header)


@dataclass
class ProductSet:
    """Files chosen for a span, and what is missing (one line per problem, empty when complete)."""

    sp3: list[Path] = field(default_factory=list)
    clk: list[Path] = field(default_factory=list)
    atx: Path | None = None
    pcv: Path | None = None
    bias: Path | None = None
    agency: str = ""
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    def load(self):
        """Read the chosen files: ``(sp3, clk or None, antex or None, bias or None)``."""
        from rtk_engine.formats.antex import Antex, read_antex
        from rtk_engine.formats.ngs_pcv import read_ngs_pcv
        from rtk_engine.formats.rinex_clk import read_clk
        from rtk_engine.formats.sp3 import read_sp3_many
        from rtk_engine.formats.sinex_bias import read_sinex_bias

        if not self.sp3:
            raise FileNotFoundError("no SP3 orbit file: " + "; ".join(self.missing))
        sp3 = read_sp3_many(self.sp3)
        clk = None
        if self.clk:
            parts = [read_clk(p, with_sigma=False) for p in self.clk]
            clk = parts[0] if len(parts) == 1 else merge_clk(parts)
        atx = read_antex(self.atx) if self.atx else None
        if self.pcv:
            ngs = read_ngs_pcv(self.pcv)
            atx = atx or Antex()
            for k, v in ngs.receivers.items():
                atx.receivers.setdefault(k, v)
        bias = read_sinex_bias(self.bias) if self.bias else None
        return sp3, clk, atx, bias


def merge_clk(parts):
    """Join clock products of consecutive days (union of epochs and satellites; the first wins)."""
    from dataclasses import replace

    sats = np.unique(np.concatenate([p.sats for p in parts]))
    times = np.unique(np.concatenate([p.time_ns for p in parts]))
    bias = np.full((times.size, sats.size), np.nan)
    for p in reversed(parts):
        ti = np.searchsorted(times, p.time_ns)
        si = np.searchsorted(sats, p.sats)
        sub = bias[np.ix_(ti, si)]
        ok = np.isfinite(p.bias_s)
        sub[ok] = p.bias_s[ok]
        bias[np.ix_(ti, si)] = sub
    return replace(parts[0], time_ns=times, sats=sats, bias_s=bias, sigma_s=np.full_like(bias, np.nan))


def _kind_from_name(name: str) -> str | None:
    n = name.lower()
    for suffix in (".gz", ".z", ".bz2"):
        if n.endswith(suffix):
            n = n[: -len(suffix)]
    if n.endswith((".sp3", ".eph", ".pre")) or re.search(r"\.sp3$", n):
        return "sp3"
    if n.endswith((".clk", ".clk_30s")) or re.search(r"_clk\.", n):
        return "clk"
    if n.endswith(".atx"):
        return "atx"
    if n.endswith((".bia", ".bsx", ".snx_bias")):
        return "bias"
    if n.endswith(".pcv"):
        return "pcv"
    return None


def _span_from_long_name(name: str):
    m = LONG_NAME.match(name)
    if not m:
        return None
    start = int(gnss_time.from_calendar(int(m["y"]), 1, 1)) + (int(m["doy"]) - 1) * DAY_NS \
        + int(m["h"]) * 3600 * NS + int(m["m"]) * 60 * NS
    length = int(m["len"]) * UNIT_NS[m["unit"].upper()]
    smp = m["smp"]
    interval = int(smp[:2]) * {"S": 1, "M": 60, "H": 3600, "D": 86400}.get(smp[2].upper(), 0)
    return start, length, float(interval) or None


def _sp3_span(path: Path):
    data, _ = read_source_bytes(path)
    head = data[:400].decode("ascii", "replace").splitlines()
    if not head or not head[0].startswith("#"):
        raise ValueError(f"{path}: not an SP3 file (first line {head[0][:20] if head else ''!r})")
    y, mo, d, h, mi = (int(v) for v in head[0][3:31].split()[:5])
    sec = float(head[0][3:31].split()[5])
    n = int(head[0][32:39])
    interval = float(head[1][24:38])
    start = int(gnss_time.from_calendar(y, mo, d, h, mi, sec))
    return start, start + int(round((n - 1) * interval * NS)), interval, head[0][55:60].strip()


def _clk_span(path: Path):
    data, _ = read_source_bytes(path)
    recs = re.findall(rb"^AS \S+\s+(\d{4}) +(\d+) +(\d+) +(\d+) +(\d+) +([\d.]+)", data[:2_000_000], re.M)
    tail = re.findall(rb"^AS \S+\s+(\d{4}) +(\d+) +(\d+) +(\d+) +(\d+) +([\d.]+)", data[-20_000:], re.M)
    if not recs or not tail:
        raise ValueError(f"{path}: no satellite clock (AS) records")

    def t(r):
        return int(gnss_time.from_calendar(*(int(v) for v in r[:5]), float(r[5])))

    times = sorted({t(r) for r in recs[:2000]})
    interval = (times[1] - times[0]) / NS if len(times) > 1 else None
    m = re.search(rb"^(.{3}).{57}ANALYSIS CENTER", data[:20_000], re.M)
    return t(recs[0]), t(tail[-1]), interval, (m.group(1).decode().strip() if m else "")


def scan(sources) -> list[ProductFile]:
    """Classify the product files in folders/files ``sources`` (str, Path or a list of them)."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            paths.extend(sorted(q for q in p.iterdir() if q.is_file()))
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"product source {p} does not exist")
    out = []
    for p in paths:
        kind = _kind_from_name(p.name)
        if kind is None:
            continue
        pf = ProductFile(p, kind)
        if kind in ("sp3", "clk"):
            span = _span_from_long_name(p.name)
            if span is not None:
                pf.start_ns, length, pf.interval_s = span
                pf.end_ns = pf.start_ns + length - (int(pf.interval_s * NS) if pf.interval_s else 0)
                pf.agency = p.name[:3].upper()
            else:
                pf.start_ns, pf.end_ns, pf.interval_s, pf.agency = (_sp3_span if kind == "sp3" else _clk_span)(p)
        out.append(pf)
    return out


def _day_text(t_ns: int) -> str:
    d = gnss_time.to_datetime(int(t_ns))
    return f"{d:%Y-%m-%d} (day {d.timetuple().tm_yday:03d})"


def _expected(kind: str, t_ns: int) -> str:
    d = gnss_time.to_datetime(int(t_ns))
    tag = f"{d.year}{d.timetuple().tm_yday:03d}0000_01D"
    return f"*_{tag}_*_ORB.SP3[.gz]" if kind == "sp3" else f"*_{tag}_*_CLK.CLK[.gz]"


def _cover(files: list[ProductFile], start: int, end: int, kind: str, missing: list[str]) -> list[Path]:
    """Pick files whose spans cover [start, end]; note uncovered parts day by day."""
    chosen: list[ProductFile] = []
    # prefer the finest sampling, then the earliest start
    for f in sorted(files, key=lambda f: (f.interval_s or 1e9, f.start_ns)):
        if f.end_ns >= start and f.start_ns <= end and not any(
                c.start_ns <= f.start_ns and c.end_ns >= f.end_ns for c in chosen):
            chosen.append(f)
    # uncovered parts: walk the span in steps of the finest interval
    step = int(min((f.interval_s or 900.0) for f in chosen) * NS) if chosen else DAY_NS
    grid = np.unique(np.append(np.arange(start, end + 1, step, dtype=np.int64), np.int64(end)))
    covered = np.zeros(grid.size, bool)
    for f in chosen:
        covered |= (grid >= f.start_ns) & (grid <= f.end_ns)
    if not covered.all():
        days = sorted({int(gnss_time.from_calendar(d.year, d.month, d.day)) for d in
                       (gnss_time.to_datetime(int(g)) for g in grid[~covered])})
        for day in days:
            gaps = grid[~covered & (grid >= day) & (grid < day + DAY_NS)]
            # a gap only at the end of a day (after its last sample) is closed by the next day's file
            before = [f.end_ns for f in chosen if f.end_ns < gaps[0]]
            tail = bool(chosen) and bool(before) and gaps[0] > day + DAY_NS - 2 * step and kind == "sp3"
            want = day + DAY_NS if tail else day
            after = f" (last sample {gnss_time.to_iso(int(max(before)))[11:19]})" if before else ""
            missing.append(f"{kind.upper()}: nothing covers {gnss_time.to_iso(int(gaps[0]))[:19]} - "
                           f"{gnss_time.to_iso(int(gaps[-1]))[:19]} of {_day_text(day)}{after}: expected a file like "
                           f"{_expected(kind, want)}")
    return [f.path for f in sorted(chosen, key=lambda f: f.start_ns)]


def find_products(sources, start_ns: int, end_ns: int, *, need_clk: bool = True, agency: str | None = None
                  ) -> ProductSet:
    """Choose SP3 (with the interpolation margin), CLK, ANTEX/PCV and SINEX-BIAS files for [start, end] GPST.

    Orbits and clocks of different analysis centres are never mixed (their clock datums differ):
    ``agency`` picks one ("GRG", "IAC", "COD"); by default the one whose files cover the most of
    the span, preferring one with a clock file. ``need_clk=False`` accepts the SP3 clock column
    (products without a CLK file, e.g. IAC or CODE 5 min SP3): then a missing CLK is not reported.
    """
    files = scan(sources)
    ps = ProductSet()
    orbit_files = [f for f in files if f.kind in ("sp3", "clk")]
    agencies = sorted({f.agency for f in orbit_files})
    if agency is None and agencies:
        def score(ac):
            fs = [f for f in orbit_files if f.agency == ac]
            over = sum(max(0, min(f.end_ns, end_ns) - max(f.start_ns, start_ns)) for f in fs if f.kind == "sp3")
            return (any(f.kind == "clk" for f in fs), over)
        agency = max(agencies, key=score)
    if agency is not None:
        ps.agency = agency
        if len(agencies) > 1:
            others = [a for a in agencies if a != agency]
            ps_note = f"products of {', '.join(others)} ignored: orbits/clocks come from {agency} only"
            ps.notes.append(ps_note)
        files = [f for f in files if f.kind not in ("sp3", "clk") or f.agency == agency]
    sp3s = [f for f in files if f.kind == "sp3"]
    clks = [f for f in files if f.kind == "clk"]
    interval = min((f.interval_s or 900.0) for f in sp3s) if sp3s else 900.0
    margin = int(SP3_MARGIN_EPOCHS * interval * NS)
    if not sp3s:
        ps.missing.append(f"SP3: no orbit file among the sources; expected a file like {_expected('sp3', start_ns)}")
    else:
        ps.sp3 = _cover(sp3s, start_ns, end_ns, "sp3", ps.missing)
        margin_notes: list[str] = []  # the span's neighbours, for centred interpolation windows
        extra = _cover(sp3s, start_ns - margin, end_ns + margin, "sp3", margin_notes)
        ps.sp3 = sorted(set(ps.sp3) | set(extra))
        if not ps.missing:
            ps.notes += [n + " (interpolation margin only: off-centre Lagrange windows near the span end)"
                         for n in margin_notes]
    if clks:
        ps.clk = _cover(clks, start_ns, end_ns, "clk", ps.missing)
    elif need_clk:
        ps.missing.append(f"CLK: no clock file among the sources; expected a file like {_expected('clk', start_ns)}"
                          " (or use the SP3 clock column)")
    for kind in ("atx", "pcv", "bias"):
        found = [f.path for f in files if f.kind == kind]
        if found:
            setattr(ps, kind, found[0])
    return ps


def coverage_report(sp3, clk, sats, start_ns: int, end_ns: int) -> dict[str, list[str]]:
    """Per satellite, what the loaded products lack over [start, end]: absent satellites and gaps.

    Returns ``{sat: [problem, ...]}`` only for satellites with problems.
    """
    out: dict[str, list[str]] = {}
    for name, times, values, interval in (
            ("SP3", sp3.time_ns, np.isfinite(sp3.pos_ecef_m[..., 0]), sp3.interval_s),
            *((("CLK", clk.time_ns, np.isfinite(clk.bias_s), clk.interval_s),) if clk is not None else
              (("SP3 clock", sp3.time_ns, np.isfinite(sp3.clock_s), sp3.interval_s),))):
        idx_all = _index(getattr(sp3 if name.startswith("SP3") else clk, "sats"), sats)
        inside = (times >= start_ns) & (times <= end_ns)
        for sat, j in zip(sats, idx_all):
            if j < 0:
                out.setdefault(str(sat), []).append(f"absent from {name}")
                continue
            have = values[inside, j]
            if have.size and not have.all():
                t_miss = times[inside][~have]
                out.setdefault(str(sat), []).append(
                    f"{name}: {int((~have).sum())} of {have.size} samples missing between "
                    f"{gnss_time.to_iso(int(t_miss[0]))[11:19]} and {gnss_time.to_iso(int(t_miss[-1]))[11:19]}")
    return out


def _index(table, sats) -> np.ndarray:
    from rtk_engine.formats.sp3 import _index_of

    return _index_of(np.asarray(table), sats)
