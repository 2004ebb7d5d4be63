"""Receiver antenna model for RTK: ARP offset (RINEX DELTA H/E/N) + ANTEX PCO + PCV, per signal.

The positions the engine estimates and takes (rover, base) are the **markers**. A signal's phase
centre is ``marker + ARP offset (up/east/north) + PCO_f (north/east/up)`` plus an elevation/azimuth
dependent variation ``PCV_f``, so the modelled range of a signal is

    rho_f = |sat - marker| - e . (arp + pco_f) + pcv_f(az, el)      [m]

with ``e`` the local (east, north, up) unit vector towards the satellite (ANTEX/IGS convention,
the same as ``rtk_engine.formats.antex``). Bands without a calibration in the ANTEX entry take the
nearest calibrated one (same carrier first, e.g. Galileo E1 -> GPS L1; otherwise the GPS L2 values,
as RTKLIB does for L5) and the substitution is reported in ``notes``.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the ANTEX reader is imported only when a file is given (start-up time)
    from ...formats.antex import Antex, AntennaEntry

log = logging.getLogger(__name__)

# (system, RINEX band digit) -> ANTEX frequency code
ANTEX_CODE = {("G", "1"): "G01", ("G", "2"): "G02", ("G", "5"): "G05",
              ("E", "1"): "E01", ("E", "5"): "E05", ("E", "7"): "E07", ("E", "8"): "E08", ("E", "6"): "E06",
              ("J", "1"): "J01", ("J", "2"): "J02", ("J", "5"): "J05", ("J", "6"): "J06",
              ("C", "1"): "C01", ("C", "2"): "C02", ("C", "5"): "C05", ("C", "6"): "C06", ("C", "7"): "C07",
              ("C", "8"): "C08", ("R", "1"): "R01", ("R", "2"): "R02"}
# substitutes, in order, for a frequency an antenna entry lacks (same or nearest carrier first)
FALLBACK = {"E01": ("G01",), "J01": ("G01",), "C01": ("G01",), "C02": ("G01",),
            "J02": ("G02",), "R01": ("G01",), "R02": ("G02",),
            "G05": ("G02",), "E05": ("G05", "G02"), "J05": ("G05", "G02"), "C05": ("G05", "G02"),
            "E07": ("C07", "G02"), "C07": ("E07", "G02"), "E08": ("G05", "G02"),
            "C06": ("E06", "G02"), "E06": ("C06", "G02"), "J06": ("E06", "G02"), "C08": ("E08", "G05", "G02")}


class AntennaError(ValueError):
    """An antenna the user named is not in the ANTEX file (or the file is unusable)."""


@functools.lru_cache(maxsize=4)
def load_antex(path: str) -> Antex:
    from ...formats.antex import read_antex

    return read_antex(path)


@dataclass
class ReceiverAntenna:
    """Per-slot antenna model of one receiver: ``correction(az, el)`` -> [S, F] metres."""

    name: str
    arp_enu_m: np.ndarray  # [3] east, north, up of the ARP above the marker
    entry: AntennaEntry | None
    codes: np.ndarray  # [S, F] ANTEX frequency code used per slot ("" none)
    notes: list = field(default_factory=list)

    def correction(self, az_rad: np.ndarray, el_rad: np.ndarray) -> np.ndarray:
        """Range correction [m] to add to the geometric range, [..., S, F] for az/el [..., S]."""
        az = np.asarray(az_rad, float)
        el = np.asarray(el_rad, float)
        ce = np.cos(el)
        e_enu = np.stack([np.sin(az) * ce, np.cos(az) * ce, np.sin(el)], axis=-1)
        out = np.broadcast_to(-(e_enu @ self.arp_enu_m)[..., None], az.shape + self.codes.shape[1:]).copy()
        if self.entry is None:
            return out
        zen = np.pi / 2 - el
        for code in np.unique(self.codes[self.codes != ""]):
            pat = self.entry.freqs[code]
            n, e, u = pat.pco_m
            pco = -(e_enu @ np.array([e, n, u]))
            pcv = self.entry.pcv(code, az, np.clip(zen, 0.0, np.pi / 2))
            m = self.codes == code  # [S, F]
            out[..., m] += np.broadcast_to((pco + pcv)[..., :, None], out.shape)[..., m]
        return out


def ant_key(antenna_type: str) -> str:
    """ANTEX fixed layout (type in columns 1-16, radome 17-20) from "TYPE RADOME" or the fixed form."""
    s = antenna_type.rstrip()
    if len(s) > 16 and s[15] == " " and s[16:20].strip():
        return s[:20]
    parts = s.split()
    return f"{parts[0]:<16}{(parts[1] if len(parts) > 1 else 'NONE'):<4}" if parts else s


def receiver_antenna(role: str, antenna_type: str, delta_hen_m, systems: np.ndarray, bands: np.ndarray,
                     antex: Antex | None, named: bool) -> ReceiverAntenna:
    """Build the model for a receiver. ``named``: the type came from the options (an unknown type is
    then an error); a header type missing from the ANTEX file is a note, and only the ARP applies."""
    h, e, n = (float(v) for v in np.asarray(delta_hen_m, float).reshape(3))
    arp = np.array([e, n, h])
    codes = np.full(bands.shape, "", "<U3")
    notes: list[str] = []
    entry = None
    label = antenna_type.strip() or "(none)"
    if antex is not None:
        blank = not antenna_type.strip() or antenna_type.split()[0].upper() in ("UNKNOWN", "NONE")
        if blank:
            notes.append(f"{role} antenna type not given (header says {label!r}): PCO/PCV not applied")
        else:
            try:
                entry = antex.receiver(ant_key(antenna_type))
            except KeyError as exc:
                if named:
                    raise AntennaError(f"{role} antenna: {exc.args[0]}") from None
                notes.append(f"{role} antenna {label}: not in the ANTEX file, PCO/PCV not applied")
    if entry is not None:
        subs: dict[str, str] = {}
        for idx in np.ndindex(bands.shape):
            b = bands[idx]
            if not b:
                continue
            want = ANTEX_CODE.get((str(systems[idx[0]]), str(b)))
            if want is None:
                continue
            have = want if want in entry.freqs else next((c for c in FALLBACK.get(want, ()) if c in entry.freqs), "")
            if have != want:
                subs[want] = have or "none"
            codes[idx] = have
        for want, have in sorted(subs.items()):
            notes.append(f"{role} antenna {label}: no {want} calibration, using {have}")
    for msg in notes:
        log.info(msg)
    return ReceiverAntenna(name=label, arp_enu_m=arp, entry=entry, codes=codes, notes=notes)
