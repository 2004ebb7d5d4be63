"""Solution exports besides ``.pos``: CSV, NMEA GGA, GeoJSON. Degrees, metres, GPST (UTC for NMEA)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .. import gnss_time as gt
from ..geodesy.ellipsoid import ecef_to_geodetic, enu_rotation
from ..solution import Quality, Solution
from .nmea import format_gga

# Solution quality -> NMEA GGA fix quality (0 invalid, 1 GPS SPS, 2 DGPS, 4 RTK fixed, 5 RTK float)
_GGA_QUALITY = {Quality.NONE: 0, Quality.FIX: 4, Quality.FLOAT: 5, Quality.SBAS: 2, Quality.DGPS: 2,
                Quality.SINGLE: 1, Quality.PPP: 5}


def _enu_sd(sol: Solution) -> tuple[np.ndarray, np.ndarray]:
    llh = ecef_to_geodetic(sol.ecef_m)
    r = enu_rotation(llh[:, 0], llh[:, 1])
    cov = np.einsum("eij,ejk,elk->eil", r, np.asarray(sol.cov_m2, float), r)
    return llh, np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))


def format_csv(sol: Solution, gauss_kruger_zone_width: int | None = None) -> str:
    """CSV with a header row: GPST ISO time, week, tow, lat/lon (deg), h, ECEF x/y/z, Q, ns, sd E/N/U.

    With ``gauss_kruger_zone_width`` (3 or 6) two columns ``gk_northing_m``/``gk_easting_m`` and the
    zone are appended (CGCS2000 Gauss-Krüger, pyproj).
    """
    llh, sd = _enu_sd(sol)
    week, tow = gt.to_week_sow(sol.time_ns)
    iso = gt.to_datetime64(sol.time_ns).astype("datetime64[ms]").astype(str)
    cols = ["time_gpst", "gps_week", "tow_s", "lat_deg", "lon_deg", "height_m", "x_m", "y_m", "z_m",
            "quality", "n_sats", "sd_e_m", "sd_n_m", "sd_u_m"]
    gk = None
    if gauss_kruger_zone_width:
        from ..geodesy.projections import gauss_kruger

        ok = np.isfinite(sol.ecef_m).all(1)
        north = np.full(len(sol), np.nan)
        east = np.full(len(sol), np.nan)
        zone = 0
        if ok.any():
            n_, e_, zone = gauss_kruger(sol.ecef_m[ok], gauss_kruger_zone_width)
            north[ok], east[ok] = n_, e_
        gk = (north, east, zone)
        cols += ["gk_northing_m", "gk_easting_m", "gk_zone"]
    lines = [",".join(cols)]
    lat, lon = np.rad2deg(llh[:, 0]), np.rad2deg(llh[:, 1])
    for i in range(len(sol)):
        row = (f"{iso[i]},{week[i]},{tow[i]:.3f},{lat[i]:.9f},{lon[i]:.9f},{llh[i, 2]:.4f},"
               f"{sol.ecef_m[i, 0]:.4f},{sol.ecef_m[i, 1]:.4f},{sol.ecef_m[i, 2]:.4f},{int(sol.quality[i])},"
               f"{int(sol.n_sats[i])},{sd[i, 0]:.4f},{sd[i, 1]:.4f},{sd[i, 2]:.4f}")
        if gk is not None:
            row += f",{gk[0][i]:.4f},{gk[1][i]:.4f},{gk[2]}"
        lines.append(row)
    return "\n".join(lines) + "\n"


def format_nmea(sol: Solution, talker: str = "GN", hdop: np.ndarray | None = None) -> str:
    """One GGA sentence per solved epoch (UTC time of day). ``hdop`` per epoch if the solver gave
    it; otherwise the horizontal standard deviation [m] is written in its place (documented
    approximation: HDOP times an assumed 1 m range error)."""
    ok = sol.valid & np.isfinite(sol.ecef_m).all(1)
    llh, sd = _enu_sd(sol)
    h_sd = np.hypot(sd[:, 0], sd[:, 1])
    utc = gt.gpst_to_utc(sol.time_ns)
    tod = (utc % (86_400 * gt.NS)) / gt.NS
    out = []
    for i in np.flatnonzero(ok):
        q = _GGA_QUALITY.get(Quality(int(sol.quality[i])), 0)
        hd = float(hdop[i]) if hdop is not None else float(min(h_sd[i], 99.9))
        age = float(sol.age_s[i]) if sol.quality[i] in (Quality.FIX, Quality.FLOAT, Quality.DGPS) else None
        out.append(format_gga(float(tod[i]), float(np.rad2deg(llh[i, 0])), float(np.rad2deg(llh[i, 1])),
                              float(llh[i, 2]), quality=q, n_sats=int(min(sol.n_sats[i], 99)), hdop=hd,
                              age_s=age, talker=talker))
    return "".join(out)


def to_geojson(sol: Solution) -> dict:
    """GeoJSON FeatureCollection of solved epochs: Point [lon, lat, h] with time and quality."""
    ok = sol.valid & np.isfinite(sol.ecef_m).all(1)
    llh, sd = _enu_sd(sol)
    iso = gt.to_datetime64(sol.time_ns).astype("datetime64[ms]").astype(str)
    feats = []
    for i in np.flatnonzero(ok):
        feats.append({"type": "Feature",
                      "geometry": {"type": "Point", "coordinates": [round(float(np.rad2deg(llh[i, 1])), 9),
                                                                    round(float(np.rad2deg(llh[i, 0])), 9),
                                                                    round(float(llh[i, 2]), 4)]},
                      "properties": {"time_gpst": str(iso[i]), "quality": Quality(int(sol.quality[i])).name.lower(),
                                     "q": int(sol.quality[i]), "n_sats": int(sol.n_sats[i]),
                                     "sd_enu_m": [round(float(x), 4) for x in sd[i]]}})
    return {"type": "FeatureCollection", "features": feats}


def write_solution(path: str | os.PathLike, sol: Solution, fmt: str = "pos", **kwargs) -> None:
    """Write ``sol`` as ``pos`` (kwargs to :func:`formats.pos.format_pos`), ``csv``, ``nmea`` or ``geojson``."""
    if fmt == "pos":
        from .pos import format_pos

        text = format_pos(sol, **kwargs)
    elif fmt == "csv":
        text = format_csv(sol, **kwargs)
    elif fmt == "nmea":
        text = format_nmea(sol, **kwargs)
    elif fmt == "geojson":
        text = json.dumps(to_geojson(sol))
    else:
        raise ValueError(f"unknown solution format {fmt!r} (pos, csv, nmea, geojson)")
    Path(path).write_text(text)
