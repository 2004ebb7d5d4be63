"""PPP options: one typed record, every field with its unit and default."""
from __future__ import annotations

from dataclasses import dataclass, field

# Code / phase signal preference per system and band (RINEX 3 codes without the type letter).
# Band 1 and band 2 of the ionosphere-free pair: GPS L1/L2, Galileo E1/E5a, BeiDou B1I/B3I.
# GPS code prefers the P(Y) codes because IGS clocks refer to C1W/C2W; phase prefers L1C.
DEFAULT_CODES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "G": (("1W", "1P", "1C", "1X"), ("2W", "2P", "2X", "2L", "2S", "2C")),
    "E": (("1C", "1X", "1B"), ("5Q", "5X", "5I")),
    "C": (("2I", "2X", "2Q"), ("6I", "6X", "6Q")),
}
DEFAULT_PHASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "G": (("1C", "1W", "1P", "1X"), ("2W", "2P", "2L", "2X", "2S", "2C")),
    "E": (("1C", "1X", "1B"), ("5Q", "5X", "5I")),
    "C": (("2I", "2X", "2Q"), ("6I", "6X", "6Q")),
}
# ANTEX frequency codes of the same bands (satellite and receiver PCO/PCV).
ANTEX_FREQS: dict[str, tuple[str, str]] = {"G": ("G01", "G02"), "E": ("E01", "E05"), "C": ("C02", "C06")}


@dataclass
class PppOptions:
    """Float ionosphere-free PPP settings (metres, seconds, degrees where named)."""

    mode: str = "static"  # "static" (one constant position) or "kinematic" (white-noise position)
    systems: str = "GEC"
    elmask_deg: float = 10.0
    # sigma vs elevation: "a2b2" sigma^2 ~ (1 + 1/sin^2 el) / 2 (default; ESBC 24 h static height -1.84 ->
    # -1.62 cm, see docs/ppp.md) or "sin": sigma ~ 1/sin el
    elevation_weighting: str = "a2b2"
    code_sigma_m: float = 0.3  # undifferenced code sigma at zenith, per frequency
    phase_sigma_m: float = 0.003  # undifferenced phase sigma at zenith, per frequency
    # Extra phase/code sigma [m] for satellite clocks interpolated over sparse samples (e.g. 15 min SP3
    # clocks); None: chosen from the clock sampling (0 for <= 30 s, see filter.clock_interp_sigma_m).
    clock_interp_sigma_m: float | None = None
    bds_geo_weight: float = 0.2  # weight factor (variance / factor^2 ... as sigma * 1/factor) for BeiDou GEOs
    # BeiDou IF code carries satellite code biases (clocks referenced to B3I, TGD/DCB of several ns) unless
    # a SINEX-BIAS file corrects them: its code sigma is widened by this factor when no biases are given.
    bds_code_sigma_factor: float = 4.0
    bds3_own_clock: bool = True  # BDS-3 (C19+) gets its own receiver clock state (ISB vs BDS-2)
    zwd_rw_m2_per_s: float = (1e-4) ** 2  # ZWD random walk [m^2/s] (~6 mm/sqrt(h))
    zwd_sigma0_m: float = 0.3
    gradients: bool = True  # estimate north/east tropospheric gradients (random walk)
    gradient_sigma0_m: float = 0.003
    gradient_rw_m2_per_s: float = (2e-6) ** 2  # ~0.1 mm/sqrt(h)... see docs/ppp.md
    amb_sigma0_m: float = 30.0  # initial IF ambiguity sigma [m]
    clock_sigma_m: float = 100.0  # receiver clock: white noise, prior sigma around the code estimate
    kinematic_pos_sigma_m: float = 30.0  # kinematic: white-noise position prior sigma per axis
    static_pos_sigma0_m: float = 30.0
    innovation_sigma: float = 5.0  # reject measurements whose normalised innovation exceeds this
    max_rejections: int = 8  # per epoch
    slip_gf_m: float = 0.05  # geometry-free jump between consecutive epochs [m]
    slip_mw_cycles: float = 4.0  # Melbourne-Wuebbena jump [wide-lane cycles]
    max_gap_s: float = 300.0  # a phase gap longer than this resets the ambiguity
    tides: bool = True
    windup: bool = True
    shapiro: bool = True
    satellite_pco: bool = True
    # satellites the antenna file lacks get block-nominal PCOs (rtk_engine.products.satellite_antenna_nominal)
    nominal_satellite_pco: bool = True
    satellite_pcv: bool = True  # nadir-dependent satellite PCV where the antenna entry has a table
    codes: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=lambda: dict(DEFAULT_CODES))
    phases: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=lambda: dict(DEFAULT_PHASES))

    def __post_init__(self) -> None:
        if self.mode not in ("static", "kinematic"):
            raise ValueError(f"PPP mode must be 'static' or 'kinematic', not {self.mode!r}")
        if self.elevation_weighting not in ("a2b2", "sin"):
            raise ValueError(f"PPP elevation_weighting must be 'a2b2' or 'sin', not {self.elevation_weighting!r}")
        unknown = set(self.systems) - set(DEFAULT_CODES)
        if unknown:
            raise ValueError(f"PPP supports systems G, E, C; not {''.join(sorted(unknown))}")
