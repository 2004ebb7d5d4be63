"""Caster configuration: typed dataclasses with documented defaults, loaded from TOML (tomllib).

Example ``caster.toml``::

    [caster]
    host = "0.0.0.0"
    port = 2101
    tls_port = 2102            # optional; needs tls_cert and tls_key
    tls_cert = "cert.pem"
    tls_key = "key.pem"

    [[account]]
    name = "rover1"
    password = "secret"        # hashed at load time; or password_hash = "scrypt$..."
    mounts = ["HK01", "NEAREST"]
    max_connections = 2

    [[mountpoint]]
    name = "HK01"
    identifier = "Hong Kong"
    lat_deg = 22.30
    lon_deg = 114.18
    source_password = "upload" # or source_password_hash

    [[mountpoint]]
    name = "HK01_MSM4"
    view_of = "HK01"
    messages = [1005, 1006, 1033, 1074, 1084, 1094, 1124]

    [[mountpoint]]
    name = "HK01_NARROW"
    view_of = "HK01"
    convert = "msm4"           # MSM7 re-quantised to MSM4 (48 instead of 80 bits per cell)

    [[mountpoint]]
    name = "NEAREST"
    kind = "nearest"           # serves the closest live base to the rover's GGA
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from .auth import Account, hash_password


class ConfigError(ValueError):
    """A configuration value that cannot be used (the message names the key)."""


@dataclass
class Limits:
    max_clients: int = 20000                # all rover connections; beyond: 503
    max_sources: int = 200
    max_connections_per_address: int = 100  # rovers + sources from one IP; beyond: 503
    max_pending_headers: int = 2000         # connections still sending their header
    header_timeout_s: float = 10.0          # whole request header must arrive within this (slowloris)
    max_header_bytes: int = 8192
    client_backlog_bytes: int = 64 * 1024   # unsent bytes per rover before it is dropped as too slow
    rover_sndbuf_bytes: int = 64 * 1024     # kernel send buffer per rover (0 = OS autotuning, up to MBs)
    gga_timeout_s: float = 60.0             # GGA-dependent mountpoints close rovers silent this long
    gga_line_max_bytes: int = 256
    source_idle_timeout_s: float = 30.0     # a source that delivers no valid frame this long is cut
    source_lost_grace_s: float = 120.0      # rovers wait this long for a vanished source to return
    tick_s: float = 1.0                     # housekeeping period


@dataclass
class AbuseConfig:
    connect_window_s: float = 10.0
    max_connects_per_window: int = 30       # per address; more = reconnect storm -> ban
    ban_s: float = 600.0
    gga_max_per_s: float = 2.0              # rover GGA rate kept; excess is dropped and counted
    gga_flood_ban_excess: int = 100         # excess GGAs before the rover is cut and banned
    silent_source_strikes: int = 3          # idle-timeouts of sources from one address before a ban
    auth_failures_ban: int = 20             # failed logins per window from one address before a ban
    events_kept: int = 1000


@dataclass
class MountConfig:
    """One mountpoint. ``kind``: "base" (fed by a source), "view" (filtered copy of ``view_of``),
    "nearest" (closest live base to the rover's GGA, switching with ``hysteresis_m``)."""

    name: str
    kind: str = "base"
    identifier: str = ""
    format: str = "RTCM 3.3"
    format_details: str = ""
    carrier: int = 2
    nav_system: str = "GPS+GLO+GAL+BDS"
    network: str = "BEIDOU"
    country: str = "CHN"
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    generator: str = ""
    bitrate: int = 0
    misc: str = ""
    auth: bool = True                        # False: anyone may read
    fee: str = "N"
    source_password_hash: str | None = None
    view_of: str | None = None
    messages: tuple[int, ...] = ()           # view filter: message numbers passed (empty = all)
    convert: str = ""                        # view: "msm4" re-encodes MSM5/6/7 as MSM4 (before filtering)
    candidates: tuple[str, ...] = ()         # nearest: bases considered (empty = all bases)
    hysteresis_m: float = 500.0              # nearest: switch only when this much closer
    max_clients: int = 0                     # 0 = only the global limit


@dataclass
class CasterConfig:
    host: str = "127.0.0.1"
    port: int = 2101
    tls_port: int | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    name: str = "BeiDou caster"
    operator: str = ""
    country: str = "CHN"
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    network: str = "BEIDOU"
    limits: Limits = field(default_factory=Limits)
    abuse: AbuseConfig = field(default_factory=AbuseConfig)
    accounts: list[Account] = field(default_factory=list)
    mounts: list[MountConfig] = field(default_factory=list)

    def validate(self) -> None:
        names = [m.name for m in self.mounts]
        if len(set(names)) != len(names):
            raise ConfigError("duplicate mountpoint names")
        by = {m.name: m for m in self.mounts}
        for m in self.mounts:
            if m.kind not in ("base", "view", "nearest"):
                raise ConfigError(f"mountpoint {m.name}: kind must be base, view or nearest")
            if m.convert not in ("", "msm4") or (m.convert and m.kind != "view"):
                raise ConfigError(f"mountpoint {m.name}: convert must be \"msm4\" and only on a view")
            if m.kind == "view" and (m.view_of not in by or by[m.view_of].kind != "base"):
                raise ConfigError(f"mountpoint {m.name}: view_of must name a base mountpoint")
            for c in m.candidates:
                if c not in by:
                    raise ConfigError(f"mountpoint {m.name}: unknown candidate {c}")
        if self.tls_port is not None and not (self.tls_cert and self.tls_key):
            raise ConfigError("tls_port needs tls_cert and tls_key")


def _take(cls, data: dict, where: str):
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    return data


def mount_from_dict(d: dict) -> MountConfig:
    d = dict(d)
    pw = d.pop("source_password", None)
    if pw is not None:
        d["source_password_hash"] = hash_password(str(pw))
    if "view_of" in d and "kind" not in d:
        d["kind"] = "view"
    for key in ("messages", "candidates"):
        if key in d:
            d[key] = tuple(d[key])
    if "name" not in d:
        raise ConfigError("mountpoint without name")
    return MountConfig(**_take(MountConfig, d, f"mountpoint {d['name']}"))


def account_from_dict(d: dict) -> Account:
    d = dict(d)
    if "name" not in d:
        raise ConfigError("account without name")
    pw = d.pop("password", None)
    if pw is not None:
        d["password_hash"] = hash_password(str(pw))
    if "password_hash" not in d:
        raise ConfigError(f"account {d['name']}: needs password or password_hash")
    d["mounts"] = frozenset(d.get("mounts", ()))
    return Account(**_take(Account, d, f"account {d['name']}"))


def from_dict(data: dict) -> CasterConfig:
    """Build a :class:`CasterConfig` from the TOML structure described in the module docstring."""
    caster = dict(data.get("caster", {}))
    cfg = CasterConfig(**_take(CasterConfig, caster, "[caster]"))
    cfg.limits = Limits(**_take(Limits, data.get("limits", {}), "[limits]"))
    cfg.abuse = AbuseConfig(**_take(AbuseConfig, data.get("abuse", {}), "[abuse]"))
    cfg.accounts = [account_from_dict(a) for a in data.get("account", [])]
    cfg.mounts = [mount_from_dict(m) for m in data.get("mountpoint", [])]
    unknown = set(data) - {"caster", "limits", "abuse", "account", "mountpoint"}
    if unknown:
        raise ConfigError(f"unknown sections {sorted(unknown)}")
    cfg.validate()
    return cfg


def load(path: str | Path) -> CasterConfig:
    """Read a TOML file; errors name the file."""
    try:
        with open(path, "rb") as fh:
            return from_dict(tomllib.load(fh))
    except (tomllib.TOMLDecodeError, TypeError, ConfigError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
