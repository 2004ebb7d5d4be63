"""NGS antenna calibration files (``ant_info`` / ``ngs_abs.pcv`` format, as shipped with RTKLIB).

Each antenna is 7 lines: name (type in columns 1-15, radome 17-20), L1 offset North/East/Up [mm],
two lines of L1 phase variation at elevations 90, 85, ... 0 deg [mm], then the same for L2.
Entries are returned as :class:`rtk_engine.formats.antex.AntennaEntry` objects (frequencies
``G01``/``G02``, zenith grid 0..90 deg by 5 deg, metres) so that they can be merged into an
:class:`~rtk_engine.formats.antex.Antex` and used exactly like ANTEX receiver entries.
"""
from __future__ import annotations

import numpy as np

from rtk_engine.formats.antex import Antex, AntennaEntry, FrequencyPattern
from rtk_engine.formats.fixed_width import FormatError, read_source_bytes


class NgsPcvError(FormatError):
    """Unreadable NGS antenna file content (message carries file and line)."""


def read_ngs_pcv(source) -> Antex:
    """Read an NGS PCV file into an :class:`Antex` holding receiver antennas only."""
    data, name = read_source_bytes(source)
    lines = data.decode("ascii", "replace").splitlines()
    out = Antex()
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        head = line[:15].strip()
        if not head or head.startswith(("[", "<", "ANTENNA ID")) or line[:1] == " ":
            i += 1
            continue
        if i + 6 >= n:
            raise NgsPcvError(f"{name}: line {i + 1}: truncated antenna block {head!r}")
        try:
            vals = [np.array(lines[i + k].split(), float) for k in range(1, 7)]
        except ValueError:
            raise NgsPcvError(f"{name}: line {i + 1}: bad number in antenna block {head!r}") from None
        if vals[0].size != 3 or vals[3].size != 3 or vals[1].size + vals[2].size != 19 \
                or vals[4].size + vals[5].size != 19:
            raise NgsPcvError(f"{name}: line {i + 1}: antenna block {head!r} is not 3 + 19 + 3 + 19 values")
        radome = line[16:20].strip() or "NONE"
        freqs = {}
        for code, off, pcv in (("G01", vals[0], np.concatenate(vals[1:3])), ("G02", vals[3], np.concatenate(vals[4:6]))):
            # file order is elevation 90..0, i.e. zenith 0..90 deg: the ANTEX NOAZI order
            freqs[code] = FrequencyPattern(pco_m=off / 1e3, noazi_m=pcv / 1e3)
        out.receivers[(head, radome)] = AntennaEntry(antenna_type=f"{head:<16}{radome:<4}", serial="", dzen_deg=5.0,
                                                     zen1_deg=0.0, zen2_deg=90.0, freqs=freqs)
        i += 7
    return out
