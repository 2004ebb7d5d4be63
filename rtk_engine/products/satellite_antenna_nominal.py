"""Nominal satellite antenna phase-centre offsets (PCO) for satellites an ANTEX file lacks.

PPP models the range to the satellite antenna, but SP3 orbits give the centre of mass. Without a
PCO the satellite is used at its centre of mass: the radial part (0.6-1.6 m) then enters every
range as ``z * cos(nadir)``; its constant part is taken by clocks and ambiguities, but the
elevation-dependent rest (``z * (1 - cos(nadir))``, up to 4 cm for GPS at a 10 deg mask) and the
yaw-dependent projection of the X offset (IIF: 0.394 m * sin(nadir) <= 9 cm) are not.

Only the elevation- and yaw-dependent parts matter to a PPP user, so block-level values are
enough: an error of 0.3 m in Z changes a range by at most 0.9 cm at 10 deg elevation.

Sources (per-satellite origin is reported by :func:`fill_missing_satellite_pco`):

* ``antex-block``: the satellite of the same block in the given ANTEX file (``antex/test.atx`` is
  an IGS14 subset, SINEX code IGS14_2247): GPS IIF from G01 (SVN63), Galileo FOC from E02
  (GSAT0211, the GSC "Galileo satellite metadata" calibration), BDS-3 CAST MEO from C22 (C205).
* ``igs14-iir-nominal``: GPS Block IIR-A / IIR-B / IIR-M: X = Y = 0 and block-level Z offsets of
  the IGS absolute model (Schmid et al. 2007, J Geod 81:781; IGS14 keeps per-satellite values
  around these). These are rounded block values, not the per-satellite IGS14 numbers (no igs14.atx
  on this machine): expect +-0.3 m in Z, i.e. <= 0.9 cm of elevation-dependent range error.
* ``mgex-bds2-conventional``: BDS-2 MEO/IGSO/GEO: the MGEX conventional X/Y/Z = 0.6 / 0.0 / 1.1 m
  (all frequencies), as used by the MGEX analysis centres before CSNO published calibrations.
* ``z-only``: Galileo IOV (E11, E12, E19, E20): different antenna panel and body frame; the FOC
  Z is used, X and Y are left at zero (their sign convention differs between the IOV metadata
  and the IGS frame; an X error of 0.2 m is <= 4 cm at the lowest elevations, as before).

GPS PRN -> SVN/block assignments change with launches and retirements: the table is valid from
2020-01-13 (PRN18 = SVN75 set usable) to 2020-06-30 (PRN23 passed from SVN60 to SVN76); other
epochs get no nominal GPS values (reported). GPS III (SVN74, SVN75) is left at its centre of mass:
Lockheed Martin's PCOs were published only in December 2020. Galileo and BeiDou PRNs used here
kept their satellites from 2018-07-25 (last Galileo launch before 2021-12) to 2021-12-05.
"""
from __future__ import annotations

import copy

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.formats.antex import Antex, AntennaEntry, FrequencyPattern

# GPS blocks by PRN, valid 2020-01-13 .. 2020-06-30 (PRN -> SVN from the IGS satellite metadata / NANUs):
GPS_BLOCK_2020H1: dict[int, str] = {
    **{p: "IIF" for p in (1, 3, 6, 8, 9, 10, 24, 25, 26, 27, 30, 32)},
    **{p: "IIR-A" for p in (11, 13, 14, 20, 21, 28)},  # SVN46 43 41 51 45 44
    **{p: "IIR-B" for p in (2, 16, 19, 22, 23)},  # SVN61 56 59 47 60
    **{p: "IIR-M" for p in (5, 7, 12, 15, 17, 29, 31)},  # SVN50 48 58 55 53 57 52
    **{p: "III" for p in (4, 18)},  # SVN74 75: no PCO available then
}
GPS_PERIOD = (gnss_time.from_calendar(2020, 1, 13), gnss_time.from_calendar(2020, 6, 30))
GNSS_PERIOD = (gnss_time.from_calendar(2018, 7, 25), gnss_time.from_calendar(2021, 12, 5))

# Block-level IIR Z offsets [m] (X = Y = 0), IGS absolute model, rounded (see the module docstring).
IIR_Z_M = {"IIR-A": 1.30, "IIR-B": 0.90, "IIR-M": 0.90}
GALILEO_IOV = (11, 12, 19, 20)
GALILEO_FOC_1_2 = (14, 18)  # eccentric-orbit FOC satellites: same FOC antenna
BDS3_CAST_MEO = (19, 20, 21, 22, 23, 24, 32, 33, 36, 37)
BDS2 = tuple(range(1, 17))
ANTEX_FREQS_BY_SYSTEM = {"G": ("G01", "G02", "G05"), "E": ("E01", "E05", "E06", "E07", "E08"),
                         "C": ("C01", "C02", "C05", "C06", "C07")}


def _entry(sat: str, block: str, pco_by_freq: dict[str, np.ndarray], valid: tuple[int, int]) -> AntennaEntry:
    e = AntennaEntry(antenna_type=f"{block:<20s}", serial=sat, valid_from_ns=int(valid[0]),
                     valid_until_ns=int(valid[1]))
    e.freqs = {f: FrequencyPattern(np.asarray(v, float).copy(), np.zeros(1)) for f, v in pco_by_freq.items()}
    return e


def _copy_of(sat: str, donor: AntennaEntry, valid: tuple[int, int]) -> AntennaEntry:
    """The donor's PCO and PCV tables for ``sat`` (same block and antenna)."""
    e = copy.deepcopy(donor)
    e.serial, e.svn, e.cospar = sat, "", ""
    e.valid_from_ns, e.valid_until_ns = int(valid[0]), int(valid[1])
    return e


def _donor(atx: Antex, sat: str, t_ns: int) -> AntennaEntry | None:
    try:
        return atx.satellite(sat, t_ns)
    except KeyError:
        return None


def nominal_entry(atx: Antex, sat: str, t_ns: int) -> tuple[AntennaEntry | None, str]:
    """Nominal antenna entry for ``sat`` at ``t_ns`` (PCO only, no PCV) and the name of its source,
    or ``(None, reason)`` when no nominal value is known."""
    sys_, prn = sat[0], int(sat[1:])
    if sys_ == "G":
        if not GPS_PERIOD[0] <= t_ns < GPS_PERIOD[1]:
            return None, "GPS PRN->block table not valid at this epoch"
        block = GPS_BLOCK_2020H1.get(prn)
        if block == "IIF":
            d = _donor(atx, "G01", t_ns)
            if d is None or not d.antenna_type.startswith("BLOCK IIF"):
                return None, "no IIF satellite in the antenna file to copy"
            return _copy_of(sat, d, GPS_PERIOD), "antex-block (G01 IIF)"
        if block in IIR_Z_M:
            z = np.array([0.0, 0.0, IIR_Z_M[block]])
            return _entry(sat, "BLOCK " + block, {f: z for f in ANTEX_FREQS_BY_SYSTEM["G"]}, GPS_PERIOD), \
                f"igs14-iir-nominal ({block})"
        return None, f"GPS block {block or 'unknown'}: no nominal PCO"
    if not GNSS_PERIOD[0] <= t_ns < GNSS_PERIOD[1]:
        return None, "PRN table not valid at this epoch"
    if sys_ == "E":
        d = _donor(atx, "E02", t_ns)
        if d is None:
            return None, "no Galileo FOC satellite in the antenna file to copy"
        if prn in GALILEO_IOV:
            pco = {f: np.array([0.0, 0.0, p.pco_m[2]]) for f, p in d.freqs.items()}
            return _entry(sat, "GALILEO-1", pco, GNSS_PERIOD), "z-only (IOV, FOC Z from E02)"
        return _copy_of(sat, d, GNSS_PERIOD), "antex-block (E02 FOC)"
    if sys_ == "C":
        if prn in BDS2:
            v = np.array([0.6, 0.0, 1.1])
            return _entry(sat, "BEIDOU-2", {f: v for f in ANTEX_FREQS_BY_SYSTEM["C"]}, GNSS_PERIOD), \
                "mgex-bds2-conventional"
        if prn in BDS3_CAST_MEO:
            d = _donor(atx, "C22", t_ns)
            if d is None:
                return None, "no BDS-3 CAST MEO satellite in the antenna file to copy"
            return _copy_of(sat, d, GNSS_PERIOD), "antex-block (C22 CAST MEO)"
        return None, "BeiDou satellite type without a nominal PCO here (SECM MEO, BDS-3 IGSO/GEO)"
    return None, f"system {sys_}: no nominal PCO"


def fill_missing_satellite_pco(atx: Antex | None, sats, t_ns: int) -> tuple[Antex | None, dict[str, str]]:
    """A copy of ``atx`` with nominal entries for the satellites it lacks at ``t_ns``.

    Returns the augmented :class:`Antex` (``atx`` itself is not modified) and the source used for
    each satellite: ``"antenna file"``, a nominal source tag (see the module docstring) or
    ``"none: <reason>"`` (the satellite stays at its centre of mass).
    """
    if atx is None:
        return None, {str(s): "none: no antenna file" for s in sats}
    out = copy.copy(atx)
    out.satellites = dict(atx.satellites)
    source: dict[str, str] = {}
    for s in sorted({str(x) for x in sats}):
        if _donor(atx, s, t_ns) is not None:
            source[s] = "antenna file"
            continue
        entry, why = nominal_entry(atx, s, t_ns)
        if entry is None:
            source[s] = "none: " + why
        else:
            out.satellites[s] = list(atx.satellites.get(s, [])) + [entry]
            source[s] = why
    return out, source
