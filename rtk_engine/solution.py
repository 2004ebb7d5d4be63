"""Position solutions as array records, one row per epoch."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum

import numpy as np


class Quality(IntEnum):
    """Solution quality flags, numbered as RTKLIB's ``.pos`` Q column."""

    NONE = 0
    FIX = 1
    FLOAT = 2
    SBAS = 3
    DGPS = 4
    SINGLE = 5
    PPP = 6


@dataclass
class Solution:
    """E epochs of solutions. ECEF metres; covariance ECEF [m^2]; NaN rows where no solution."""

    time_ns: np.ndarray  # [E] GPST int64 ns
    ecef_m: np.ndarray  # [E, 3]
    cov_m2: np.ndarray  # [E, 3, 3]
    quality: np.ndarray  # [E] uint8 (Quality)
    n_sats: np.ndarray  # [E] int, satellites used
    ratio: np.ndarray = None  # [E] AR validation ratio (0 when not applicable)
    age_s: np.ndarray = None  # [E] age of differential [s]
    vel_mps: np.ndarray | None = None  # [E, 3] ECEF velocity, when estimated
    clock_m: np.ndarray | None = None  # [E, n_sys] receiver clock per system [m]
    sats_per_system: dict[str, np.ndarray] = field(default_factory=dict)  # system -> [E] counts used

    def __post_init__(self) -> None:
        n = self.time_ns.shape[0]
        if self.ratio is None:
            self.ratio = np.zeros(n)
        if self.age_s is None:
            self.age_s = np.zeros(n)

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])

    @property
    def valid(self) -> np.ndarray:
        return self.quality != Quality.NONE

    def select(self, index) -> "Solution":
        def t(a):
            return None if a is None else a[index]
        return replace(self, time_ns=self.time_ns[index], ecef_m=self.ecef_m[index], cov_m2=self.cov_m2[index],
                       quality=self.quality[index], n_sats=self.n_sats[index], ratio=self.ratio[index],
                       age_s=self.age_s[index], vel_mps=t(self.vel_mps), clock_m=t(self.clock_m),
                       sats_per_system={k: v[index] for k, v in self.sats_per_system.items()})

    @staticmethod
    def concat(parts: list["Solution"]) -> "Solution":
        def cat(name):
            vals = [getattr(p, name) for p in parts]
            return None if any(v is None for v in vals) else np.concatenate(vals)
        keys = set().union(*(p.sats_per_system for p in parts)) if parts else set()
        return Solution(time_ns=cat("time_ns"), ecef_m=cat("ecef_m"), cov_m2=cat("cov_m2"), quality=cat("quality"),
                        n_sats=cat("n_sats"), ratio=cat("ratio"), age_s=cat("age_s"), vel_mps=cat("vel_mps"),
                        clock_m=cat("clock_m"),
                        sats_per_system={k: np.concatenate([p.sats_per_system.get(k, np.zeros(len(p), int))
                                                            for p in parts]) for k in keys})
