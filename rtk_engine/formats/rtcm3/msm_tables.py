"""MSM message numbers, satellite numbering and signal-ID -> RINEX 3 code tables.

Signal IDs are those of RTCM 10403.3 as implemented by RTKLIB and pyrtcm (see
``shared/NTRIP_RTCM_NOTES.md``); BeiDou includes the BDS-3 B1C/B2a/B2b IDs that RTKLIB 2.4.3 drops.
"""
from __future__ import annotations

import numpy as np

from ...signals import BAND_FREQ_HZ

# first MSM message number (MSM1) per system; MSMn = base + n - 1
MSM_BASE = {"G": 1071, "R": 1081, "E": 1091, "S": 1101, "J": 1111, "C": 1121, "I": 1131}
SYSTEM_OF_BASE = {v: k for k, v in MSM_BASE.items()}
SYSTEM_ORDER = "GRESJCI"  # index used in state tables

# RINEX PRN = MSM satellite number + offset (SBAS mask bit 1 = PRN 120 = "S20"; QZSS 1 = J01)
PRN_OFFSET = {"G": 0, "R": 0, "E": 0, "S": 19, "J": 0, "C": 0, "I": 0}

SIGNAL_CODES: dict[str, dict[int, str]] = {
    "G": {2: "1C", 3: "1P", 4: "1W", 8: "2C", 9: "2P", 10: "2W", 15: "2S", 16: "2L", 17: "2X",
          22: "5I", 23: "5Q", 24: "5X", 30: "1S", 31: "1L", 32: "1X"},
    "R": {2: "1C", 3: "1P", 8: "2C", 9: "2P"},
    "E": {2: "1C", 3: "1A", 4: "1B", 5: "1X", 6: "1Z", 8: "6C", 9: "6A", 10: "6B", 11: "6X", 12: "6Z",
          14: "7I", 15: "7Q", 16: "7X", 18: "8I", 19: "8Q", 20: "8X", 22: "5I", 23: "5Q", 24: "5X"},
    "S": {2: "1C", 22: "5I", 23: "5Q", 24: "5X"},
    "J": {2: "1C", 9: "6S", 10: "6L", 11: "6X", 15: "2S", 16: "2L", 17: "2X", 22: "5I", 23: "5Q",
          24: "5X", 30: "1S", 31: "1L", 32: "1X"},
    "C": {2: "2I", 3: "2Q", 4: "2X", 8: "6I", 9: "6Q", 10: "6X", 14: "7I", 15: "7Q", 16: "7X",
          22: "5D", 23: "5P", 24: "5X", 25: "7D", 30: "1D", 31: "1P", 32: "1X"},
    "I": {22: "5A"},
}
SIGNAL_IDS = {s: {c: i for i, c in t.items()} for s, t in SIGNAL_CODES.items()}

# lookup arrays indexed [system index, id]: code string, satellite id string, carrier frequency
N_SYS = len(SYSTEM_ORDER)
CODE_TABLE = np.full((N_SYS, 33), "", dtype="<U2")
SAT_TABLE = np.full((N_SYS, 65), "", dtype="<U3")
FREQ_TABLE = np.full((N_SYS, 33), np.nan)  # Hz; GLONASS FDMA bands filled per channel at run time
GLO_BAND1 = np.zeros(33, bool)  # GLONASS signal ids on the G1 FDMA band
GLO_BAND2 = np.zeros(33, bool)
for _k, _s in enumerate(SYSTEM_ORDER):
    for _i, _c in SIGNAL_CODES[_s].items():
        CODE_TABLE[_k, _i] = _c
        FREQ_TABLE[_k, _i] = BAND_FREQ_HZ.get((_s, _c[0]), np.nan)
        if _s == "R":
            GLO_BAND1[_i] = _c[0] == "1"
            GLO_BAND2[_i] = _c[0] == "2"
    for _p in range(1, 65):
        _prn = _p + PRN_OFFSET[_s]
        SAT_TABLE[_k, _p] = f"{_s}{_prn:02d}" if _prn < 100 else ""
SYS_INDEX = {s: k for k, s in enumerate(SYSTEM_ORDER)}


def msm_kind(msg_type: int) -> tuple[str, int] | None:
    """Message number -> (system letter, MSM number 1-7), or None if not an MSM."""
    base = 1071 + (msg_type - 1071) // 10 * 10
    n = msg_type - base + 1
    s = SYSTEM_OF_BASE.get(base)
    if s is None or not 1 <= n <= 7:
        return None
    return s, n

# Integer keys used to assemble epochs fast: satellite key = system index * 100 + RINEX PRN,
# code key = system index * 64 + rank of the code in the system's sorted code list (so sorting
# keys sorts codes alphabetically within a system).
LEGACY_EXTRA_CODES = {"G": ("2D",)}
SYSTEM_CODES: dict[str, tuple[str, ...]] = {
    s: tuple(sorted(set(SIGNAL_CODES[s].values()) | set(LEGACY_EXTRA_CODES.get(s, ())))) for s in SYSTEM_ORDER}
CODE_KEY = {(s, c): SYS_INDEX[s] * 64 + i for s in SYSTEM_ORDER for i, c in enumerate(SYSTEM_CODES[s])}
CODE_OF_KEY = np.full(N_SYS * 64, "", dtype="<U2")
for (_s, _c), _key in CODE_KEY.items():
    CODE_OF_KEY[_key] = _c
CODE_KEY_TABLE = np.full((N_SYS, 33), -1, np.int64)  # [system index, MSM signal id] -> code key
for _k, _s in enumerate(SYSTEM_ORDER):
    for _i, _c in SIGNAL_CODES[_s].items():
        CODE_KEY_TABLE[_k, _i] = CODE_KEY[(_s, _c)]
SAT_OF_KEY = np.full(N_SYS * 100, "", dtype="<U3")
for _k, _s in enumerate(SYSTEM_ORDER):
    for _p in range(1, 100):
        SAT_OF_KEY[_k * 100 + _p] = f"{_s}{_p:02d}"
SAT_KEY_TABLE = np.full((N_SYS, 65), -1, np.int64)  # [system index, MSM satellite number] -> sat key
for _k, _s in enumerate(SYSTEM_ORDER):
    for _p in range(1, 65):
        _prn = _p + PRN_OFFSET[_s]
        if _prn < 100:
            SAT_KEY_TABLE[_k, _p] = _k * 100 + _prn
