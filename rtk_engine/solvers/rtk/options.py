"""RTK options: typed dataclasses mirroring ``rtk_defaults.toml`` (the documented defaults).

``load_options(path)`` reads a user TOML holding only the keys it changes; unknown keys raise
:class:`RtkOptionsError` naming the key, so typos never pass silently.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path

DEFAULTS_PATH = Path(__file__).resolve().parents[1] / "rtk_defaults.toml"


class RtkOptionsError(ValueError):
    """A bad options file or value."""


@dataclass(frozen=True)
class NoiseOptions:
    phase_a_m: float = 0.003
    phase_b_m: float = 0.003
    code_phase_ratio: float = 100.0
    code_correlation_s: float = 60.0
    amb_process_cyc_per_sqrt_s: float = 1e-4
    amb_init_std_cyc: float = 30.0
    kinematic_pos_std_m: float = 30.0
    static_pos_process_m_per_sqrt_s: float = 0.0
    iono_std_m_per_10km: float = 0.03
    iono_process_m_per_sqrt_s: float = 0.0002
    iono_vertical_std_m_per_10km: float = 0.05
    iono_vertical_process_m_per_sqrt_s: float = 0.0001
    iono_residual_std_m_per_10km: float = 0.03
    iono_gradient_std_m_per_10km: float = 0.05
    tropo_std_m: float = 0.03
    tropo_process_m_per_sqrt_s: float = 0.0001
    iono_gradient_process_m_per_sqrt_s: float = 0.0001
    iono_mapping: str = "geometric"
    glonass_code_factor: float = 10.0
    snr_drop_decay_db_per_s: float = 0.1
    snr_drop_free_db: float = 3.0
    snr_drop_db_per_decade: float = 3.0
    snr_drop_max_factor: float = 1000.0


@dataclass(frozen=True)
class ArOptions:
    mode: str = "fix-and-hold"
    elevation_mask_deg: float = 15.0
    min_lock_epochs: int = 0
    exclude_bds_geo: bool = True
    bds_geo_with_iono: bool = True
    ratio_at_10: float = 3.0
    ratio_min: float = 1.8
    ratio_max: float = 6.0
    min_success_rate: float = 0.999
    success_floor: float = 0.5
    strong_ratio_factor: float = 3.0
    min_ambiguities: int = 4
    max_drop_sats: int = 6
    fix_float_chi2: float = 25.0
    fix_residual_sigma: float = 4.0
    fix_residual_floor_m: float = 0.02
    min_fixed_sats: int = 5
    max_fixed_pos_std_m: float = 0.05
    iono_std_m_per_10km: float = 0.005
    iono_max_hor_std_m: float = 0.006
    iono_max_unfixed_sats: int = 3
    hold_min_fix: int = 3
    hold_var_cyc2: float = 0.001

    def ratio_threshold(self, n: int) -> float:
        """Ratio-test threshold for ``n`` ambiguities: stricter for few, looser for many."""
        thr = 1.0 + (self.ratio_at_10 - 1.0) * (10.0 / max(n, 1)) ** 0.5
        return min(max(thr, self.ratio_min), self.ratio_max)

    def accept(self, n: int, ratio: float, success_rate: float) -> bool:
        """Validation: the n-dependent ratio with a high bootstrapped success rate, or a ratio
        ``strong_ratio_factor`` times higher when the (pessimistic, lower-bound) success rate is
        only above ``success_floor``."""
        thr = self.ratio_threshold(n)
        if success_rate >= self.min_success_rate:
            return ratio >= thr
        return success_rate >= self.success_floor and ratio >= thr * self.strong_ratio_factor


@dataclass(frozen=True)
class SlipOptions:
    gf_m: float = 0.05
    mw_cyc: float = 4.0
    doppler_cyc: float = 8.0
    max_outage_epochs: int = 5
    innovation_sigma: float = 4.0


@dataclass(frozen=True)
class AntennaOptions:
    antex: str = ""
    rover_type: str = ""
    base_type: str = ""


@dataclass(frozen=True)
class CombineOptions:
    max_diff_m: float = 0.03


def _default_bands() -> dict[str, tuple[str, ...]]:
    return {"G": ("1", "2", "5"), "E": ("1", "7", "5"), "J": ("1", "2", "5"), "C": ("2", "7", "6", "1", "5"),
            "R": ("1", "2")}


@dataclass(frozen=True)
class RtkOptions:
    mode: str = "kinematic"
    direction: str = "forward"
    systems: str = "GECJ"
    max_freqs: int = 2
    elevation_mask_deg: float = 15.0
    max_age_s: float = 30.0
    iono: str = "auto"
    iono_auto_baseline_km: float = 10.0
    tropo: str = "off"
    tropo_auto_baseline_km: float = 10.0
    bands: dict = field(default_factory=_default_bands)
    noise: NoiseOptions = field(default_factory=NoiseOptions)
    ar: ArOptions = field(default_factory=ArOptions)
    slip: SlipOptions = field(default_factory=SlipOptions)
    combine: CombineOptions = field(default_factory=CombineOptions)
    antenna: AntennaOptions = field(default_factory=AntennaOptions)

    def __post_init__(self) -> None:
        if self.mode not in ("kinematic", "static"):
            raise RtkOptionsError(f"mode must be 'kinematic' or 'static', not {self.mode!r}")
        if self.direction not in ("forward", "backward", "combined"):
            raise RtkOptionsError(f"direction must be forward, backward or combined, not {self.direction!r}")
        if self.noise.iono_mapping not in ("geometric", "broadcast"):
            raise RtkOptionsError(f"noise.iono_mapping must be geometric or broadcast, not {self.noise.iono_mapping!r}")
        if self.iono not in ("off", "estimate", "auto"):
            raise RtkOptionsError(f"iono must be off, estimate or auto, not {self.iono!r}")
        if self.tropo not in ("off", "estimate", "auto"):
            raise RtkOptionsError(f"tropo must be off, estimate or auto, not {self.tropo!r}")
        if self.ar.mode not in ("off", "instantaneous", "continuous", "fix-and-hold"):
            raise RtkOptionsError(f"ar.mode must be off, instantaneous, continuous or fix-and-hold, not {self.ar.mode!r}")
        if not 1 <= self.max_freqs <= 5:
            raise RtkOptionsError(f"max_freqs must be 1..5, not {self.max_freqs}")
        bad = set(self.systems) - set("GECJR")
        if bad:
            raise RtkOptionsError(f"systems {''.join(sorted(bad))!r} unknown to the RTK engine (use G, E, C, J, R)")

    def band_list(self, system: str) -> tuple[str, ...]:
        return tuple(self.bands.get(system, ()))[: self.max_freqs]

    def with_(self, **changes) -> "RtkOptions":
        """Copy with changes; nested groups take dicts (``ar={"mode": "continuous"}``)."""
        return _merge(self, changes, "")


def _merge(obj, changes: dict, prefix: str):
    kw = {}
    names = {f.name: f for f in fields(obj)}
    for key, val in changes.items():
        if key not in names:
            raise RtkOptionsError(f"unknown RTK option '{prefix}{key}'")
        cur = getattr(obj, key)
        if is_dataclass(cur):
            if not isinstance(val, dict):
                raise RtkOptionsError(f"option group {prefix}{key!r} needs a table")
            kw[key] = _merge(cur, val, f"{prefix}{key}.")
        elif key == "bands":
            kw[key] = {**cur, **{k: tuple(str(b) for b in v) for k, v in val.items()}}
        else:
            try:
                kw[key] = type(cur)(val) if not isinstance(cur, bool) else bool(val)
            except (TypeError, ValueError) as exc:
                raise RtkOptionsError(f"option {prefix}{key}: bad value {val!r} ({exc})") from None
    return replace(obj, **kw)


def load_options(path: str | Path | None = None, **overrides) -> RtkOptions:
    """Options from the documented defaults, then a user TOML file, then keyword overrides."""
    opts = _merge(RtkOptions(), tomllib.loads(DEFAULTS_PATH.read_text()), "")
    if path is not None:
        try:
            user = tomllib.loads(Path(path).read_text())
        except tomllib.TOMLDecodeError as exc:
            raise RtkOptionsError(f"{path}: {exc}") from None
        opts = _merge(opts, user, "")
    return _merge(opts, overrides, "") if overrides else opts
