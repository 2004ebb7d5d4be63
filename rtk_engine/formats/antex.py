"""ANTEX 1.4 antenna phase-centre files: satellite and receiver PCO/PCV.

Units here are metres and radians (the file's millimetres and degrees are converted).
Frequency codes are ANTEX's: ``G01 G02 G05``, ``R01 R02``, ``E01 E05 E06 E07 E08``,
``C01`` (B1C), ``C02`` (B1I), ``C05`` (B2a), ``C06`` (B3I), ``C07`` (B2b/B2I), ``C08``,
``J01 J02 J05 J06``, ``I05 I09``, ``S01 S05``.

Frames and sign convention (IGS/ANTEX):

* receiver PCO is North/East/Up from the antenna reference point (ARP);
* satellite PCO is X/Y/Z in the IGS satellite body frame (Z towards the Earth, Y along the
  solar-panel axis, X completing the right-handed frame, towards the Sun side);
* the phase-centre correction of a range along unit line of sight ``e`` (from the receiver
  towards the satellite for receivers) is ``-dot(pco, e) + pcv``; PCV tables are indexed by
  azimuth and zenith angle (receivers) or nadir angle (satellites).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from rtk_engine import gnss_time
from rtk_engine.formats.fixed_width import FormatError, read_source_bytes

log = logging.getLogger(__name__)

T_MIN = np.iinfo(np.int64).min
T_MAX = np.iinfo(np.int64).max


class AntexError(FormatError):
    """Unreadable ANTEX content (message carries file and line)."""


@dataclass
class FrequencyPattern:
    """PCO [3] in metres and PCV in metres: ``noazi_m[Z]`` and ``grid_m[A, Z]`` (None if no azimuth table)."""

    pco_m: np.ndarray
    noazi_m: np.ndarray
    grid_m: np.ndarray | None = None


@dataclass
class AntennaEntry:
    """One ANTEX antenna block."""

    antenna_type: str  # 20 characters as in the file: type (16) + radome (4) for receivers, block for satellites
    serial: str  # receivers: serial or blank; satellites: PRN ("G01")
    svn: str = ""
    cospar: str = ""
    dazi_deg: float = 0.0
    zen1_deg: float = 0.0
    zen2_deg: float = 90.0
    dzen_deg: float = 5.0
    valid_from_ns: int = int(T_MIN)
    valid_until_ns: int = int(T_MAX)
    sinex_code: str = ""
    freqs: dict[str, FrequencyPattern] = field(default_factory=dict)

    @property
    def is_satellite(self) -> bool:
        return bool(self.serial[:1].isalpha() and self.serial[1:3].isdigit() and len(self.serial.strip()) == 3)

    @property
    def zenith_grid_rad(self) -> np.ndarray:
        n = int(round((self.zen2_deg - self.zen1_deg) / self.dzen_deg)) + 1
        return np.radians(self.zen1_deg + self.dzen_deg * np.arange(n))

    def pcv(self, freq: str, az_rad, zen_rad) -> np.ndarray:
        """PCV [m] at azimuth and zenith (receiver) / nadir (satellite) angles, bilinear in the table.

        Angles beyond the table's zenith range take the edge value.
        """
        pat = self.freqs[freq]
        zen = np.degrees(np.asarray(zen_rad, dtype=float))
        zf = np.clip((zen - self.zen1_deg) / self.dzen_deg, 0.0, pat.noazi_m.size - 1.0)
        z0 = np.minimum(np.floor(zf).astype(np.int64), pat.noazi_m.size - 2) if pat.noazi_m.size > 1 else \
            np.zeros(np.shape(zf), np.int64)
        wz = zf - z0
        z1 = np.minimum(z0 + 1, pat.noazi_m.size - 1)
        if pat.grid_m is None or self.dazi_deg <= 0:
            v = pat.noazi_m
            return v[z0] * (1 - wz) + v[z1] * wz
        az = np.mod(np.degrees(np.asarray(az_rad, dtype=float)), 360.0)
        af = az / self.dazi_deg
        a0 = np.minimum(np.floor(af).astype(np.int64), pat.grid_m.shape[0] - 2)
        wa = af - a0
        g = pat.grid_m
        return ((g[a0, z0] * (1 - wz) + g[a0, z1] * wz) * (1 - wa)
                + (g[a0 + 1, z0] * (1 - wz) + g[a0 + 1, z1] * wz) * wa)


def _receiver_key(antenna_type_with_radome: str) -> tuple[str, str]:
    """"TRM59800.80     NONE", "TRM59800.80 NONE" or "TRM59800.80" -> ("TRM59800.80", "NONE")."""
    s = antenna_type_with_radome.rstrip()
    if len(s) > 16 and s[16:20].strip():  # fixed ANTEX/RINEX layout: radome in columns 17-20
        return s[:16].strip(), s[16:20].strip()
    parts = s.split()
    if not parts:
        raise KeyError("empty antenna type")
    return parts[0], (parts[1] if len(parts) > 1 else "NONE")


@dataclass
class Antex:
    """Antennas of an ANTEX file: satellites by PRN (several validity periods each), receivers by (type, radome)."""

    satellites: dict[str, list[AntennaEntry]] = field(default_factory=dict)
    receivers: dict[tuple[str, str], AntennaEntry] = field(default_factory=dict)
    pcv_type: str = "A"  # A absolute, R relative

    def satellite(self, sat: str, t_gpst_ns: int) -> AntennaEntry:
        """The satellite's antenna valid at ``t_gpst_ns``; KeyError if none."""
        for e in self.satellites.get(sat, []):
            if e.valid_from_ns <= t_gpst_ns < e.valid_until_ns:
                return e
        raise KeyError(f"no ANTEX entry for {sat} at {gnss_time.to_iso(t_gpst_ns)}")

    def satellite_pco(self, sat: str, t_gpst_ns: int, freq: str) -> np.ndarray:
        """Satellite PCO [m], body frame X/Y/Z, for ANTEX frequency ``freq`` (e.g. "C02")."""
        e = self.satellite(sat, t_gpst_ns)
        if freq not in e.freqs:
            raise KeyError(f"{sat}: no ANTEX frequency {freq} (have {sorted(e.freqs)})")
        return e.freqs[freq].pco_m.copy()

    def satellite_pcv(self, sat: str, t_gpst_ns: int, freq: str, nadir_rad, az_rad=0.0) -> np.ndarray:
        """Satellite PCV [m] at nadir angle (and body-frame azimuth where the table has one)."""
        return self.satellite(sat, t_gpst_ns).pcv(freq, az_rad, nadir_rad)

    def receiver(self, antenna_type_with_radome: str, radome_fallback: bool = True) -> AntennaEntry:
        """Receiver antenna by type and radome; an uncalibrated radome falls back to NONE (logged)."""
        key = _receiver_key(antenna_type_with_radome)
        if key in self.receivers:
            return self.receivers[key]
        if radome_fallback and (key[0], "NONE") in self.receivers:
            log.warning("ANTEX: no calibration for %s %s, using radome NONE", *key)
            return self.receivers[(key[0], "NONE")]
        raise KeyError(f"no ANTEX entry for receiver antenna {key[0]} {key[1]}")

    def receiver_pco_pcv(self, antenna_type_with_radome: str, freq_code: str, az_rad, el_rad
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Receiver PCO [m] (North, East, Up) and PCV [m] at azimuth/elevation [rad] (arrays allowed)."""
        e = self.receiver(antenna_type_with_radome)
        if freq_code not in e.freqs:
            raise KeyError(f"{e.antenna_type.strip()}: no ANTEX frequency {freq_code} (have {sorted(e.freqs)})")
        zen = np.pi / 2 - np.asarray(el_rad, dtype=float)
        return e.freqs[freq_code].pco_m.copy(), e.pcv(freq_code, az_rad, zen)


def _valid_time(text: str, name: str, line_no: int) -> int:
    try:
        y, mo, d, h, mi = (int(v) for v in text[:30].split()[:5])
        s = float(text[30:43])
    except ValueError:
        raise AntexError(f"{name}: bad validity time in line {line_no}: {text!r}") from None
    return int(gnss_time.from_calendar(y, mo, d, h, mi, s))


def _floats(text: str, name: str, line_no: int) -> np.ndarray:
    try:
        return np.array(text.split(), dtype=float)
    except ValueError:
        raise AntexError(f"{name}: bad number in line {line_no}: {text!r}") from None


def read_antex(source) -> Antex:
    """Read an ANTEX file (path, bytes or file object; gzip handled)."""
    data, name = read_source_bytes(source)
    lines = data.decode("ascii", "replace").splitlines()
    if not lines or "ANTEX VERSION" not in lines[0][60:]:
        raise AntexError(f"{name}: not an ANTEX file (line 1 must be ANTEX VERSION / SYST)")
    out = Antex()
    ant: AntennaEntry | None = None
    freq: str | None = None
    noazi: np.ndarray | None = None
    grid_rows: list[np.ndarray] = []
    pco: np.ndarray | None = None
    in_rms = False
    in_header = True
    for i, line in enumerate(lines, start=1):
        label = line[60:].strip()
        if in_header:
            if label == "PCV TYPE / REFANT":
                out.pcv_type = line[:1]
            elif label == "END OF HEADER":
                in_header = False
            continue
        if label == "START OF ANTENNA":
            ant = AntennaEntry("", "")
        elif ant is None:
            if line.strip():
                raise AntexError(f"{name}: record outside an antenna block in line {i}: {line!r}")
        elif label == "TYPE / SERIAL NO":
            ant.antenna_type, ant.serial = line[:20], line[20:40].strip()
            ant.svn, ant.cospar = line[40:50].strip(), line[50:60].strip()
        elif label == "DAZI":
            ant.dazi_deg = float(_floats(line[:8], name, i)[0])
        elif label == "ZEN1 / ZEN2 / DZEN":
            ant.zen1_deg, ant.zen2_deg, ant.dzen_deg = (float(v) for v in _floats(line[:20], name, i)[:3])
        elif label == "VALID FROM":
            ant.valid_from_ns = _valid_time(line, name, i)
        elif label == "VALID UNTIL":
            ant.valid_until_ns = _valid_time(line, name, i)
        elif label == "SINEX CODE":
            ant.sinex_code = line[:10].strip()
        elif label == "START OF FREQUENCY":
            freq, noazi, grid_rows, pco = line[3:6], None, [], None
        elif label == "START OF FREQ RMS":
            in_rms = True
        elif label == "END OF FREQ RMS":
            in_rms = False
        elif in_rms:
            continue
        elif label == "NORTH / EAST / UP" and freq is not None:
            pco = _floats(line[:30], name, i) * 1e-3
            if pco.size != 3:
                raise AntexError(f"{name}: bad NORTH / EAST / UP in line {i}: {line!r}")
        elif label == "END OF FREQUENCY":
            if freq is None or pco is None or noazi is None:
                raise AntexError(f"{name}: incomplete frequency block ending in line {i}")
            grid = np.vstack(grid_rows) if grid_rows else None
            if grid is not None and grid.shape[1] != noazi.size:
                raise AntexError(f"{name}: azimuth rows of {grid.shape[1]} values vs {noazi.size} zeniths "
                                 f"(block ending line {i})")
            ant.freqs[freq] = FrequencyPattern(pco, noazi, grid)
            freq = None
        elif label == "END OF ANTENNA":
            if not ant.serial and not ant.antenna_type.strip():
                raise AntexError(f"{name}: antenna without TYPE / SERIAL NO ending in line {i}")
            if ant.is_satellite:
                out.satellites.setdefault(ant.serial, []).append(ant)
            else:
                out.receivers[_receiver_key(ant.antenna_type)] = ant
            ant = None
        elif freq is not None and line[3:8] == "NOAZI":
            noazi = _floats(line[8:], name, i) * 1e-3
        elif freq is not None and line[:8].strip() and not label.isupper():
            row = _floats(line, name, i)
            grid_rows.append(row[1:] * 1e-3)  # first value is the azimuth
    if ant is not None:
        raise AntexError(f"{name}: truncated (antenna block not closed)")
    for entries in out.satellites.values():
        entries.sort(key=lambda e: e.valid_from_ns)
    return out
