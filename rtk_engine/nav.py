"""Broadcast navigation data, columnar: one row per broadcast ephemeris record.

All times are GPST int64 ns (BeiDou BDT and Galileo GST are converted on reading).
Angles in radians, distances in metres, clock terms in seconds.

Readers (RINEX 2/3/4 navigation, RTCM 1019/1020/1042/1044/1045/1046) fill these containers;
``orbits.broadcast`` evaluates them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

# Kepler ephemeris columns (GPS LNAV/CNAV, Galileo I/NAV F/NAV, BeiDou D1/D2/CNAV1/2, QZSS, NavIC)
KEPLER_FLOAT_FIELDS = (
    "af0", "af1", "af2",  # clock bias [s], drift [s/s], drift rate [s/s^2] at toc
    "sqrt_a", "e", "i0", "omega0", "omega", "m0",  # [m^0.5], -, rad, rad, rad, rad
    "delta_n", "idot", "omega_dot",  # [rad/s]
    "cuc", "cus", "crc", "crs", "cic", "cis",  # [rad], [m]
    "tgd1_s", "tgd2_s",  # GPS/QZSS: TGD, -; Galileo: BGD E5a/E1, BGD E5b/E1; BeiDou: TGD1 (B1I), TGD2 (B2I)
    "accuracy_m",  # URA / SISA / URAI decoded to metres (NaN unknown)
    "a_dot", "delta_n_dot",  # CNAV only (0 otherwise) [m/s], [rad/s^2]
    "fit_interval_h",
)
KEPLER_INT_FIELDS = (
    "iode", "iodc", "health",
    "source",  # bit mask: Galileo data sources (bit 0 I/NAV E1-B, 1 F/NAV, 2 I/NAV E5b, 8/9 clock for E5a/E5b);
               # BeiDou: 1 D1, 2 D2, 4 CNAV1, 8 CNAV2, 16 CNAV3; GPS: 1 LNAV, 4 CNAV
)


@dataclass
class KeplerEphemeris:
    """Columnar Kepler broadcast ephemerides (all arrays of length N)."""

    sat: np.ndarray = field(default_factory=lambda: np.zeros(0, "<U3"))
    toe_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # GPST
    toc_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # GPST
    ttr_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # transmission time, GPST
    cols: dict[str, np.ndarray] = field(default_factory=dict)  # the KEPLER_*_FIELDS

    def __len__(self) -> int:
        return int(self.sat.shape[0])

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("cols", {})
        if name in cols:
            return cols[name]
        raise AttributeError(name)

    @staticmethod
    def from_rows(rows: list[dict]) -> "KeplerEphemeris":
        """Build from a list of dicts keyed by 'sat', 'toe_ns', 'toc_ns', 'ttr_ns' and the field names."""
        if not rows:
            return KeplerEphemeris(cols={k: np.zeros(0) for k in KEPLER_FLOAT_FIELDS}
                                   | {k: np.zeros(0, np.int64) for k in KEPLER_INT_FIELDS})
        cols = {k: np.array([r.get(k, np.nan if k != "a_dot" and k != "delta_n_dot" else 0.0) for r in rows], float)
                for k in KEPLER_FLOAT_FIELDS}
        cols |= {k: np.array([int(r.get(k, 0)) for r in rows], np.int64) for k in KEPLER_INT_FIELDS}
        return KeplerEphemeris(sat=np.array([r["sat"] for r in rows], "<U3"),
                               toe_ns=np.array([r["toe_ns"] for r in rows], np.int64),
                               toc_ns=np.array([r["toc_ns"] for r in rows], np.int64),
                               ttr_ns=np.array([r.get("ttr_ns", r["toe_ns"]) for r in rows], np.int64),
                               cols=cols)

    def take(self, idx) -> "KeplerEphemeris":
        return KeplerEphemeris(sat=self.sat[idx], toe_ns=self.toe_ns[idx], toc_ns=self.toc_ns[idx],
                               ttr_ns=self.ttr_ns[idx], cols={k: v[idx] for k, v in self.cols.items()})

    def concat(self, other: "KeplerEphemeris") -> "KeplerEphemeris":
        keys = set(self.cols) | set(other.cols)
        def col(e, k):
            return e.cols.get(k, np.zeros(len(e), np.int64 if k in KEPLER_INT_FIELDS else float))
        return KeplerEphemeris(sat=np.concatenate([self.sat, other.sat]),
                               toe_ns=np.concatenate([self.toe_ns, other.toe_ns]),
                               toc_ns=np.concatenate([self.toc_ns, other.toc_ns]),
                               ttr_ns=np.concatenate([self.ttr_ns, other.ttr_ns]),
                               cols={k: np.concatenate([col(self, k), col(other, k)]) for k in keys})


@dataclass
class GlonassEphemeris:
    """Columnar GLONASS broadcast ephemerides, PZ-90 ECEF state at toe."""

    sat: np.ndarray = field(default_factory=lambda: np.zeros(0, "<U3"))
    toe_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # GPST
    tof_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # frame time, GPST
    pos_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    vel_mps: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    acc_mps2: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # luni-solar acceleration
    tau_n_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # -TauN clock bias sign as RINEX: clock = -tau_n + gamma_n * dt
    gamma_n: np.ndarray = field(default_factory=lambda: np.zeros(0))
    channel: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # FDMA k
    health: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    age_d: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    iode: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # tb index (toe minutes / 15)

    def __len__(self) -> int:
        return int(self.sat.shape[0])

    def take(self, idx) -> "GlonassEphemeris":
        return GlonassEphemeris(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def concat(self, other: "GlonassEphemeris") -> "GlonassEphemeris":
        return GlonassEphemeris(**{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                                   for f in fields(self)})


@dataclass
class NavData:
    """Everything a navigation file (or an RTCM stream) carries."""

    kepler: KeplerEphemeris = field(default_factory=KeplerEphemeris)
    glonass: GlonassEphemeris = field(default_factory=GlonassEphemeris)
    # Ionosphere: "GPSA"/"GPSB" Klobuchar alpha/beta (4 each), "BDSA"/"BDSB" BeiDou Klobuchar,
    # "QZSA"/"QZSB", "GAL" NeQuick ai0..ai2; each a float array.
    iono: dict[str, np.ndarray] = field(default_factory=dict)
    leap_seconds: int | None = None
    # What a reader skipped or repaired (SBAS/STO/EOP records, angles in semicircles), one line each
    skipped: list[str] = field(default_factory=list)

    def glonass_channels(self) -> dict[str, int]:
        """FDMA channel per GLONASS satellite from the ephemerides."""
        return {s: int(k) for s, k in zip(self.glonass.sat.tolist(), self.glonass.channel.tolist())}

    def merge(self, other: "NavData") -> "NavData":
        return NavData(kepler=self.kepler.concat(other.kepler) if len(other.kepler) else self.kepler,
                       glonass=self.glonass.concat(other.glonass) if len(other.glonass) else self.glonass,
                       iono={**other.iono, **self.iono},
                       leap_seconds=self.leap_seconds if self.leap_seconds is not None else other.leap_seconds,
                       skipped=[*self.skipped, *other.skipped])

    @property
    def systems(self) -> str:
        s = set(self.kepler.sat.astype("<U1").tolist()) | ({"R"} if len(self.glonass) else set())
        return "".join(c for c in "GRECJIS" if c in s)
