"""Simulation settings: which systems and signals, the elevation mask and the error model.

Everything is SI: metres, seconds, radians unless a name says ``_deg``, ``_dbhz``, ``_per_h``.
``ErrorModel()`` gives realistic defaults for a geodetic receiver under a quiet mid-latitude
ionosphere (see docs/simulator.md); ``ErrorModel.none()`` switches every error source off so that
observations are pure geometry + clocks (+ integer ambiguities), which is what consistency tests need.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..satellites import BDS3_FIRST_PRN, BDS_GEO_PRNS

# RINEX 3 codes simulated per system (slot order of the ObsBlock).
DEFAULT_SIGNALS: dict[str, tuple[str, ...]] = {
    "G": ("1C", "2W", "5Q"),
    "E": ("1C", "5Q", "7Q"),
    "C": ("2I", "7I", "6I", "1P", "5P"),
}
_BDS2_CODES = frozenset({"2I", "7I", "6I"})  # B1I, B2I, B3I
_BDS3_CODES = frozenset({"2I", "6I", "1P", "1D", "1X", "5P", "5D", "5X", "7D", "7P", "7Z"})
_BDS3_GEO_CODES = frozenset({"2I", "6I"})  # BDS-3 GEOs broadcast B1I/B3I (no B1C/B2a)


def satellite_transmits(sat: str, code: str) -> bool:
    """True if satellite ``sat`` transmits signal ``code`` in this simulator.

    BeiDou: BDS-2 (C01-C18) B1I/B2I/B3I; BDS-3 MEO/IGSO B1I/B3I/B1C/B2a/B2b but no B2I; BDS-3 GEOs
    (C59-C63) B1I/B3I only. Other systems transmit every configured code.
    """
    if sat[0] != "C":
        return True
    prn = int(sat[1:])
    if prn < BDS3_FIRST_PRN:
        return code in _BDS2_CODES
    if prn in BDS_GEO_PRNS:
        return code in _BDS3_GEO_CODES
    return code in _BDS3_CODES


@dataclass(frozen=True)
class ErrorModel:
    """Error sources and their magnitudes (1 sigma unless stated). Set a magnitude to 0 to disable."""

    # white noise at zenith, scaled with C/N0 (see cn0 below): sigma(el) = sigma * 10^((cn0_zenith - cn0(el)) / 20)
    code_noise_m: float = 0.3
    phase_noise_m: float = 0.002
    doppler_noise_hz: float = 0.03
    # multipath: first-order Gauss-Markov per satellite and signal, same elevation scaling as the noise
    multipath_code_m: float = 0.2
    multipath_phase_m: float = 0.002
    multipath_tau_s: float = 120.0  # correlation time
    # C/N0 model: cn0(el) = cn0_zenith - cn0_span * (1 - sin el)^2
    cn0_zenith_dbhz: float = 50.0
    cn0_span_db: float = 18.0
    # troposphere: Saastamoinen + Niell truth plus a residual zenith wet delay per station made of a
    # network-common offset, a horizontal gradient (random direction) and a station part
    troposphere: bool = True
    tropo_residual_zwd_m: float = 0.02  # network-common offset, N(0, sigma)
    tropo_zwd_gradient_mm_per_km: float = 0.5  # 1 cm of relative zenith wet delay over 20 km
    tropo_station_zwd_m: float = 0.003  # independent per station, N(0, sigma)
    tropo_zwd_random_walk_m_per_sqrt_h: float = 0.003  # independent per station
    # ionosphere: Klobuchar (nav GPSA/GPSB) times iono_scale times exp(k . d_ipp), d_ipp the pierce point's
    # horizontal offset from the network centre: a relative gradient k [1/1000 km] (0.3 gives 1.5 mm/km
    # of vertical delay at 5 m, i.e. ~3 cm vertical over a 20 km baseline)
    ionosphere: bool = True
    iono_scale: float = 1.0
    iono_gradient_per_1000km: float = 0.3
    iono_gradient_azimuth_deg: float = 30.0  # direction of increasing delay, clockwise from north
    # Shapiro (gravitational) delay, up to ~19 mm; cancels in short-baseline double differences
    shapiro: bool = True
    # cycle slips: expected slips per satellite per hour of tracking (all signals of the satellite slip)
    cycle_slips_per_h: float = 0.0
    cycle_slips_flagged: bool = True  # LLI bit 0 set at the slip epoch
    cycle_slip_max_cycles: int = 20
    # short losses of lock (new ambiguity arc, LLI set), expected per satellite per hour; length in epochs
    outages_per_h: float = 0.0
    outage_max_epochs: int = 10
    # receiver clock: initial bias U(-b, b), drift [s/s] plus a random walk of the drift
    rcv_clock_bias_s: float = 2e-4
    rcv_clock_drift_sps: float = 5e-8
    rcv_clock_drift_rw_per_sqrt_s: float = 1e-11
    rcv_clock_ms_jumps: bool = False  # steer |bias| <= 0.5 ms by 1 ms jumps (code and phase jump together)
    # integer ambiguities drawn uniformly in [-max, max] per arc
    ambiguity_max_cycles: int = 1_000_000

    @staticmethod
    def none() -> "ErrorModel":
        """No noise, multipath, atmosphere, slips or clock drift: pure geometry + clocks."""
        return ErrorModel(code_noise_m=0.0, phase_noise_m=0.0, doppler_noise_hz=0.0, multipath_code_m=0.0,
                          multipath_phase_m=0.0, troposphere=False, tropo_residual_zwd_m=0.0,
                          tropo_zwd_gradient_mm_per_km=0.0, tropo_station_zwd_m=0.0,
                          tropo_zwd_random_walk_m_per_sqrt_h=0.0, ionosphere=False, iono_gradient_per_1000km=0.0,
                          shapiro=False, cycle_slips_per_h=0.0, outages_per_h=0.0, rcv_clock_bias_s=0.0,
                          rcv_clock_drift_sps=0.0, rcv_clock_drift_rw_per_sqrt_s=0.0)

    def with_(self, **changes) -> "ErrorModel":
        return replace(self, **changes)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate: systems (subset of the signals' keys), RINEX 3 codes per system, mask, errors.

    ``chunk_epochs`` bounds memory: the simulation runs in chunks of that many epochs carrying its
    random processes across chunk boundaries (results depend on it only through random draws).
    """

    systems: str = "GEC"
    signals: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_SIGNALS))
    elevation_mask_deg: float = 10.0
    errors: ErrorModel = field(default_factory=ErrorModel)
    chunk_epochs: int = 3600
    # blend broadcast ephemeris changeovers over this many seconds so the true orbit/clock has no steps
    # (0: the truth is exactly the broadcast model a receiver evaluates, steps included)
    ephemeris_blend_s: float = 300.0

    def __post_init__(self):
        bad = [s for s in self.systems if s not in self.signals]
        if bad:
            raise ValueError(f"no signals configured for system(s) {''.join(bad)}; give SimConfig.signals")
        if "R" in self.systems:
            raise ValueError("GLONASS is not simulated (FDMA); use systems from G, E, C, J")
        if self.chunk_epochs < 1:
            raise ValueError("chunk_epochs must be >= 1")

    def with_(self, **changes) -> "SimConfig":
        return replace(self, **changes)

    def active_signals(self) -> dict[str, tuple[str, ...]]:
        return {s: tuple(self.signals[s]) for s in self.systems}
