"""Satellite identifiers (RINEX 3 style ``"C01"``) and their system/orbit class.

System letters: G GPS, R GLONASS, E Galileo, C BeiDou, J QZSS, I NavIC, S SBAS.
"""
from __future__ import annotations

import numpy as np

from .arrays import isin

SYSTEMS = "GRECJIS"
SYSTEM_NAMES = {"G": "GPS", "R": "GLONASS", "E": "Galileo", "C": "BeiDou", "J": "QZSS",
                "I": "NavIC", "S": "SBAS"}

# BeiDou orbit classes by PRN (ICD and CSNO constellation status)
BDS_GEO_PRNS = frozenset({1, 2, 3, 4, 5, 59, 60, 61, 62, 63})
BDS_IGSO_PRNS = frozenset({6, 7, 8, 9, 10, 13, 16, 31, 38, 39, 40, 56})
_BDS_GEO_PRN_LIST = np.array(sorted(BDS_GEO_PRNS))
_BDS_IGSO_PRN_LIST = np.array(sorted(BDS_IGSO_PRNS))
BDS3_FIRST_PRN = 19  # C19 and above are BDS-3 (BDS-3S test satellites included)


def sat_id(system: str, prn: int) -> str:
    """("C", 1) -> "C01"."""
    return f"{system}{int(prn):02d}"


def normalize(sat: str) -> str:
    """Accept "G 1", "G1", "1" (RINEX 2 GPS default) and return "G01"."""
    s = sat.strip()
    if not s:
        raise ValueError("empty satellite id")
    if s[0].isdigit():
        s = "G" + s
    sys_, prn = s[0].upper(), s[1:].strip()
    if sys_ not in SYSTEMS or not prn.isdigit():
        raise ValueError(f"bad satellite id {sat!r}")
    return sat_id(sys_, int(prn))


def systems_of(sats) -> np.ndarray:
    """Array of system letters for an array of satellite ids."""
    a = np.asarray(sats, dtype="<U3")
    return a.astype("<U1")


def prns_of(sats) -> np.ndarray:
    """Array of PRN numbers for an array of satellite ids."""
    a = np.atleast_1d(np.asarray(sats, dtype="<U3"))
    chars = a.view("<U1").reshape(a.size, 3).view(np.int32) - ord("0")
    return (chars[:, 1] * 10 + chars[:, 2]).astype(np.int64)


def is_bds_geo(sats) -> np.ndarray:
    """True for BeiDou GEO satellites (C01-C05, C59-C63)."""
    a = np.atleast_1d(np.asarray(sats, dtype="<U3"))
    prn = prns_of(a)
    return (systems_of(a) == "C") & isin(prn, _BDS_GEO_PRN_LIST)


def is_bds_igso(sats) -> np.ndarray:
    a = np.atleast_1d(np.asarray(sats, dtype="<U3"))
    return (systems_of(a) == "C") & isin(prns_of(a), _BDS_IGSO_PRN_LIST)


def is_bds3(sats) -> np.ndarray:
    """True for BDS-3 satellites (PRN >= 19)."""
    a = np.atleast_1d(np.asarray(sats, dtype="<U3"))
    return (systems_of(a) == "C") & (prns_of(a) >= BDS3_FIRST_PRN)


def bds_orbit_class(sat: str) -> str:
    """"GEO", "IGSO" or "MEO" for a BeiDou satellite id."""
    prn = int(sat[1:])
    if prn in BDS_GEO_PRNS:
        return "GEO"
    if prn in BDS_IGSO_PRNS:
        return "IGSO"
    return "MEO"
