"""Station layouts for simulated networks and RINEX output of a simulated network.

Positions are ECEF metres; layouts are given as horizontal distance [km] and azimuth [deg, clockwise
from north] from a centre, with an optional height offset [m]. Stations sit at the centre's
ellipsoidal height plus their offset (the local east/north plane is projected back onto the
ellipsoid, so a 20 km offset does not put the station 31 m in the air).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np

from ..geodesy.ellipsoid import ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from ..gnss_time import to_datetime

CHONGQING_LLH_DEG = (29.56, 106.55, 300.0)  # latitude [deg], longitude [deg], ellipsoidal height [m]


def network_around(lat_deg: float, lon_deg: float, h_m: float,
                   offsets: Mapping[str, tuple[float, ...]]) -> dict[str, np.ndarray]:
    """Stations around a centre: ``{name: (distance_km, azimuth_deg[, dh_m])}`` -> ``{name: ECEF [3]}``."""
    lat, lon = np.deg2rad(lat_deg), np.deg2rad(lon_deg)
    centre = geodetic_to_ecef(np.array([lat, lon, h_m]))
    rot = enu_rotation(lat, lon)  # rows: east, north, up
    out = {}
    for name, spec in offsets.items():
        dist_km, az_deg = float(spec[0]), float(spec[1])
        dh = float(spec[2]) if len(spec) > 2 else 0.0
        az = np.deg2rad(az_deg)
        enu = np.array([np.sin(az), np.cos(az), 0.0]) * dist_km * 1e3
        llh = ecef_to_geodetic(centre + rot.T @ enu)
        llh[2] = h_m + dh
        out[name] = geodetic_to_ecef(llh)
    return out


def ring_network(lat_deg: float, lon_deg: float, h_m: float, n: int, radius_km: float, prefix: str = "CQ",
                 centre_name: str | None = None) -> dict[str, np.ndarray]:
    """``n`` stations evenly on a ring of ``radius_km`` (first one to the north), plus an optional
    centre station: a CORS-like network for the demo service."""
    offsets: dict[str, tuple[float, ...]] = {}
    if centre_name:
        offsets[centre_name] = (0.0, 0.0)
    for i in range(n):
        offsets[f"{prefix}{i + 1:02d}"] = (radius_km, 360.0 * i / n)
    return network_around(lat_deg, lon_deg, h_m, offsets)


def rinex_long_name(name: str, start_gpst_ns: int, duration_s: float, rate_s: float, country: str = "CHN") -> str:
    """RINEX 3 long file name ``NAME00CHN_S_YYYYDDDHHMM_DDU_RRU_MO.rnx`` (S = simulated/stream source)."""
    t = to_datetime(int(start_gpst_ns))
    code = (name.upper() + "XXXX")[:4]
    dur = f"{int(round(duration_s / 60)):02d}M" if duration_s < 3600 else (
        f"{int(round(duration_s / 3600)):02d}H" if duration_s < 86_400 else f"{int(round(duration_s / 86_400)):02d}D")
    rate = f"{int(round(rate_s)):02d}S" if rate_s >= 1 else f"{int(round(1 / rate_s)):02d}Z"
    return f"{code}00{country}_S_{t:%Y%j%H%M}_{dur}_{rate}_MO.rnx"


def write_network_rinex(results: Mapping, out_dir: str | os.PathLike, duration_s: float | None = None,
                        long_names: bool = True) -> dict[str, Path]:
    """Write each station's block to a RINEX 3 observation file in ``out_dir``.

    ``results`` maps names to :class:`~rtk_engine.simulate.StationResult` / ``StationSim`` (anything with
    a ``block``) or to bare ObsBlocks. Returns ``{name: path}``.
    """
    from ..formats.rinex_obs_writer import write_obs

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, res in results.items():
        block = getattr(res, "block", res)
        if block.n_epochs == 0:
            raise ValueError(f"station {name}: empty block, nothing to write")
        rate = float(block.header.interval_s) if np.isfinite(block.header.interval_s) else (
            (block.time_ns[1] - block.time_ns[0]) / 1e9 if block.n_epochs > 1 else 1.0)
        dur = duration_s if duration_s is not None else block.n_epochs * rate
        fname = rinex_long_name(name, int(block.time_ns[0]), dur, rate) if long_names else f"{name}.rnx"
        path = out / fname
        write_obs(path, block)
        paths[name] = path
    return paths
