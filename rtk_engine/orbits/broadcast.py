"""Satellite position, velocity and clock from broadcast ephemerides, vectorised.

* GPS, Galileo, QZSS, NavIC, BeiDou MEO/IGSO: the ICD Kepler algorithm with each system's GM and
  Earth rotation rate (``constants.GM``, ``constants.OMEGA_E``); CNAV records add A-dot and
  delta-n-dot. For BeiDou the seconds of week of toe are BDT (toe_ns - 14 s).
* BeiDou GEO (C01-C05, C59-C63): position in the ICD's user-defined inertial frame, then rotated by
  -5 deg about X and by omega_e * tk about Z (BDS ICD 5.2.4.12).
* GLONASS: numerical integration (``orbits.glonass``).

Output frame: ECEF of each system (WGS84 / GTRF / CGCS2000 / PZ-90 treated as one) at the time
given, i.e. the satellite's position at transmission time in the Earth-fixed frame of that same
instant: callers apply the Earth-rotation (Sagnac) correction for the signal travel time.

Clock convention: ``clock_s`` is the satellite clock offset dt_sv [s] (satellite time minus system
time) such that the code pseudorange model is P = rho + c * (dt_rx - dt_sv) + ...; it includes
the relativistic eccentricity correction F e sqrt(A) sin(E) and excludes group delays. The
broadcast clock refers to the ionosphere-free L1/L2 P(Y) (GPS, QZSS), E1/E5a (F/NAV) or E1/E5b
(I/NAV) for Galileo, B3I for BeiDou D1/D2 and B-CNAV. :func:`group_delay_s` gives the term T to
subtract for a single-frequency code: dt_sv(code) = clock_s - group_delay_s(...).
Each clock is relative to its own system time (GPST, GST, BDT, GLONASS time): the integer
offsets (BDT = GPST - 14 s, UTC leap seconds) are removed by the time conversions, the sub-us
inter-system offsets are left to the receiver's per-system clock terms. GLONASS: no
relativistic term is added (as the ICD and RTKLIB do; tau_n absorbs the constant part).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import CLIGHT, GM, OMEGA_E
from ..gnss_time import BDT_OFFSET_S, NS, WEEK_NS
from ..nav import NavData
from ..satellites import is_bds_geo
from . import ephemeris_select
from .glonass import glonass_states

BDS_GEO_INCLINATION_RAD = np.deg2rad(-5.0)

__all__ = ["SatStates", "sat_states", "kepler_states", "group_delay_s"]


@dataclass
class SatStates:
    """Satellite states for N (satellite, time) requests; invalid rows are NaN with valid False."""

    pos_ecef_m: np.ndarray  # (N, 3)
    vel_ecef_mps: np.ndarray  # (N, 3)
    clock_s: np.ndarray  # (N,) dt_sv incl. relativistic correction, excl. group delays
    clock_drift_sps: np.ndarray  # (N,)
    valid: np.ndarray  # (N,) bool
    eph_index: np.ndarray  # (N,) row into nav.kepler (or nav.glonass for R), -1 none
    accuracy_m: np.ndarray  # (N,) URA / SISA [m], NaN unknown

    def __len__(self) -> int:
        return int(self.valid.shape[0])


def _per_system(values: dict[str, float], sysc: np.ndarray, default: float) -> np.ndarray:
    out = np.full(sysc.shape, default, dtype=float)
    for s, v in values.items():
        out[sysc == s] = v
    return out


def _solve_kepler(m: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Eccentric anomaly from mean anomaly (Newton; e < 0.1 for every GNSS converges in < 6 steps)."""
    ecc_anom = m.copy()
    for _ in range(30):
        d = (ecc_anom - e * np.sin(ecc_anom) - m) / (1.0 - e * np.cos(ecc_anom))
        ecc_anom -= d
        if np.all(np.abs(d) < 1e-14):
            break
    return ecc_anom


def kepler_states(nav: NavData, idx: np.ndarray, t_gpst_ns: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Position [m], velocity [m/s] (ECEF), clock [s], drift [s/s] from Kepler rows ``idx`` at ``t``."""
    k = nav.kepler
    idx = np.asarray(idx, dtype=np.int64)
    t = np.asarray(t_gpst_ns, dtype=np.int64)
    sats = k.sat[idx]
    sysc = sats.astype("<U1")
    gm = _per_system(GM, sysc, GM["G"])
    we = _per_system(OMEGA_E, sysc, OMEGA_E["G"])
    c = {name: k.cols[name][idx] for name in (
        "af0", "af1", "af2", "sqrt_a", "e", "i0", "omega0", "omega", "m0", "delta_n", "idot",
        "omega_dot", "cuc", "cus", "crc", "crs", "cic", "cis", "a_dot", "delta_n_dot")}
    a_dot = np.nan_to_num(c["a_dot"])
    dn_dot = np.nan_to_num(c["delta_n_dot"])
    toe = k.toe_ns[idx]
    is_c = sysc == "C"
    tk = (t - toe) / NS  # [s]; exact difference in int64 first
    # toe seconds of week in the system's own time scale (BDT for BeiDou)
    toe_sys = toe - np.where(is_c, BDT_OFFSET_S * NS, 0)
    toe_sow = np.mod(toe_sys, WEEK_NS) / NS

    a0 = c["sqrt_a"] ** 2
    a = a0 + a_dot * tk
    n0 = np.sqrt(gm / a0 ** 3)
    n = n0 + c["delta_n"] + 0.5 * dn_dot * tk
    m = c["m0"] + n * tk
    e = c["e"]
    ecc = _solve_kepler(m, e)
    sin_e, cos_e = np.sin(ecc), np.cos(ecc)
    one_ecos = 1.0 - e * cos_e
    sq1e2 = np.sqrt(1.0 - e * e)
    nu = np.arctan2(sq1e2 * sin_e, cos_e - e)
    phi = nu + c["omega"]
    s2, c2 = np.sin(2.0 * phi), np.cos(2.0 * phi)
    u = phi + c["cus"] * s2 + c["cuc"] * c2
    r = a * one_ecos + c["crs"] * s2 + c["crc"] * c2
    inc = c["i0"] + c["idot"] * tk + c["cis"] * s2 + c["cic"] * c2
    # rates
    e_dot = n / one_ecos
    phi_dot = e_dot * sq1e2 / one_ecos
    u_dot = phi_dot * (1.0 + 2.0 * (c["cus"] * c2 - c["cuc"] * s2))
    r_dot = a * e * sin_e * e_dot + a_dot * one_ecos + 2.0 * phi_dot * (c["crs"] * c2 - c["crc"] * s2)
    i_dot = c["idot"] + 2.0 * phi_dot * (c["cis"] * c2 - c["cic"] * s2)
    xp, yp = r * np.cos(u), r * np.sin(u)
    xp_dot = r_dot * np.cos(u) - yp * u_dot
    yp_dot = r_dot * np.sin(u) + xp * u_dot

    geo = is_bds_geo(sats)
    # GEO: right ascension in the inertial-like frame (no Earth rotation over tk); others: ECEF
    om_dot = c["omega_dot"] - np.where(geo, 0.0, we)
    om = c["omega0"] + om_dot * tk - we * toe_sow
    so, co = np.sin(om), np.cos(om)
    si, ci = np.sin(inc), np.cos(inc)
    x = xp * co - yp * ci * so
    y = xp * so + yp * ci * co
    z = yp * si
    vx = xp_dot * co - yp_dot * ci * so + yp * si * so * i_dot - om_dot * y
    vy = xp_dot * so + yp_dot * ci * co - yp * si * co * i_dot + om_dot * x
    vz = yp_dot * si + yp * ci * i_dot
    pos = np.stack([x, y, z], axis=1)
    vel = np.stack([vx, vy, vz], axis=1)
    if geo.any():
        pos[geo], vel[geo] = _geo_to_ecef(pos[geo], vel[geo], tk[geo], we[geo])

    # clock: polynomial at t - toc plus relativistic eccentricity term F e sqrt(A) sin(E)
    dt = (t - k.toc_ns[idx]) / NS
    rel_f = -2.0 * np.sqrt(gm) / CLIGHT ** 2
    sqrt_a = np.sqrt(a)
    clock = c["af0"] + c["af1"] * dt + np.nan_to_num(c["af2"]) * dt * dt + rel_f * e * sqrt_a * sin_e
    drift = c["af1"] + 2.0 * np.nan_to_num(c["af2"]) * dt + rel_f * e * sqrt_a * cos_e * e_dot
    return pos, vel, clock, drift


def _geo_to_ecef(pos: np.ndarray, vel: np.ndarray, tk: np.ndarray, we: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """BeiDou GEO: R_Z(we tk) R_X(-5 deg) applied to the inertial-like position/velocity."""
    cx, sx = np.cos(BDS_GEO_INCLINATION_RAD), np.sin(BDS_GEO_INCLINATION_RAD)
    # R_X(phi) = [[1, 0, 0], [0, cos, sin], [0, -sin, cos]]
    px = np.stack([pos[:, 0], cx * pos[:, 1] + sx * pos[:, 2], -sx * pos[:, 1] + cx * pos[:, 2]], axis=1)
    vxr = np.stack([vel[:, 0], cx * vel[:, 1] + sx * vel[:, 2], -sx * vel[:, 1] + cx * vel[:, 2]], axis=1)
    ang = we * tk
    cz, sz = np.cos(ang), np.sin(ang)
    # R_Z(phi) = [[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]]
    out_p = np.stack([cz * px[:, 0] + sz * px[:, 1], -sz * px[:, 0] + cz * px[:, 1], px[:, 2]], axis=1)
    out_v = np.stack([cz * vxr[:, 0] + sz * vxr[:, 1] + we * (-sz * px[:, 0] + cz * px[:, 1]),
                      -sz * vxr[:, 0] + cz * vxr[:, 1] + we * (-cz * px[:, 0] - sz * px[:, 1]),
                      vxr[:, 2]], axis=1)
    return out_p, out_v


def sat_states(nav: NavData, sats, t_gpst_ns, *, eph_index: np.ndarray | None = None,
               **select_options) -> SatStates:
    """Broadcast states for N requests: ``sats`` (N,) ids, ``t_gpst_ns`` (N,) GPST ns (transmission time).

    ``eph_index`` (N,) may be given (rows into nav.kepler / nav.glonass); otherwise it is chosen by
    :func:`ephemeris_select.select` with ``select_options`` (galileo="inav"|"fnav"|"any",
    beidou="d1d2"|"cnv1"|"cnv2"|"any", gps="lnav"|"cnav"|"any", healthy_only, max_dt_s).
    Rows without a valid ephemeris come back NaN with ``valid`` False.
    """
    sats = np.atleast_1d(np.asarray(sats, dtype="<U3"))
    t = np.broadcast_to(np.asarray(t_gpst_ns, dtype=np.int64), sats.shape).copy()
    n = sats.size
    if eph_index is None:
        eph_index = ephemeris_select.select(nav, sats, t, **select_options)
    eph_index = np.asarray(eph_index, dtype=np.int64)
    pos = np.full((n, 3), np.nan)
    vel = np.full((n, 3), np.nan)
    clk = np.full(n, np.nan)
    drift = np.full(n, np.nan)
    acc = np.full(n, np.nan)
    is_r = sats.astype("<U1") == "R"
    kep = (~is_r) & (eph_index >= 0)
    if kep.any():
        rows = np.flatnonzero(kep)
        pos[rows], vel[rows], clk[rows], drift[rows] = kepler_states(nav, eph_index[rows], t[rows])
        acc[rows] = nav.kepler.accuracy_m[eph_index[rows]]
    glo = is_r & (eph_index >= 0)
    if glo.any():
        rows = np.flatnonzero(glo)
        pos[rows], vel[rows], clk[rows], drift[rows] = glonass_states(nav.glonass, eph_index[rows], t[rows])
    valid = np.all(np.isfinite(pos), axis=1) & np.isfinite(clk)
    return SatStates(pos_ecef_m=pos, vel_ecef_mps=vel, clock_s=clk, clock_drift_sps=drift, valid=valid,
                     eph_index=np.where(valid, eph_index, -1), accuracy_m=acc)


# --- group delays -------------------------------------------------------------------------------
_F = {"L1": 1575.42e6, "L2": 1227.60e6, "L5": 1176.45e6, "E5b": 1207.14e6, "S": 2492.028e6}
GAMMA_GPS_L2 = (_F["L1"] / _F["L2"]) ** 2
GAMMA_GAL_E5A = (_F["L1"] / _F["L5"]) ** 2
GAMMA_GAL_E5B = (_F["L1"] / _F["E5b"]) ** 2
GAMMA_IRN_S = (_F["L5"] / _F["S"]) ** 2


def group_delay_s(nav: NavData, eph_index, system: str, code: str) -> np.ndarray:
    """Group-delay term T [s] for a single-frequency code, per ephemeris row (NaN when not broadcast).

    Use as dt_sv(code) = clock_s - T, i.e. add c * T to the modelled pseudorange's satellite clock
    side: P = rho + c * dt_rx - c * (clock_s - T) + ...  ``code`` is a RINEX 3 code such as "C1C"
    or "1C" (band digit then attribute).

    * GPS / QZSS LNAV: L1 -> TGD, L2 -> (f1/f2)^2 TGD (IS-GPS-200 20.3.3.3.3.2); L2C/L5 NaN.
      CNAV/CNAV-2 (IS-GPS-200 30.3.3.3.1.1, IS-GPS-705, IS-GPS-800): L1 C/A -> TGD - ISC_L1CA,
      L2C -> TGD - ISC_L2C, L5 I5/Q5 -> TGD - ISC_L5I5/Q5, L1C D/P -> TGD - ISC_L1CD/P,
      L2 P(Y) -> (f1/f2)^2 TGD.
    * Galileo (OS SIS ICD 5.1.5): with the F/NAV clock (E1/E5a) E1 -> BGD(E1,E5a); with the I/NAV
      clock (E1/E5b) E1 -> BGD(E1,E5b). Other bands: T(E5a) = T(E1) + (g_5a - 1) BGD(E1,E5a),
      T(E5b) = T(E1) + (g_5b - 1) BGD(E1,E5b) (which reduce to g * BGD for the matching clock);
      NaN where the needed BGD is not broadcast (F/NAV carries no BGD(E1,E5b)).
    * BeiDou D1/D2 (clock refers to B3I): B1I -> TGD1, B2I -> TGD2, B3I -> 0; B1C/B2a NaN.
      B-CNAV1/2: B1C pilot -> TGD_B1Cp, B1C data -> TGD_B1Cp + ISC_B1Cd (CNV1 records), B2a pilot ->
      TGD_B2ap, B2a data -> TGD_B2ap + ISC_B2ad (CNV2 records), B3I -> 0; B1I/B2I NaN.
      (BDS-SIS-ICD-B1C/B2a 7.x: dt_sv,B1Cd = dt_sv - ISC_B1Cd - TGD_B1Cp.)
    * NavIC: L5 -> TGD, S -> (fL5/fS)^2 TGD.  GLONASS: G1 -> 0 (tau_n refers to L1), others NaN.
    """
    idx = np.atleast_1d(np.asarray(eph_index, dtype=np.int64))
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    band, attr = code[-2], code[-1]
    if system == "R":
        out[ok] = 0.0 if band == "1" else np.nan
        return out
    k = nav.kepler
    if not ok.any() or len(k) == 0:
        return out
    i = idx[ok]
    tgd1, tgd2, src = k.tgd1_s[i], k.tgd2_s[i], k.source[i]
    isc = k.cols["isc_s"][i] if "isc_s" in k.cols else np.full(i.shape, np.nan)
    if system in ("G", "J"):
        cnav = (src & (4 | 8)) != 0

        def isc(name: str) -> np.ndarray:
            return k.cols[name][i] if name in k.cols else np.full(i.shape, np.nan)

        if band == "2" and attr in "PWYDM":  # P(Y)-code family: the LNAV/CNAV clock's own pair
            out[ok] = GAMMA_GPS_L2 * tgd1
        elif band == "1" and attr in "C":
            out[ok] = np.where(cnav, tgd1 - isc("isc_l1ca_s"), tgd1)
        elif band == "1" and attr in "PWYM":
            out[ok] = tgd1
        elif band == "1" and attr in "SLX":  # L1C data / pilot / both (pilot ISC for X)
            out[ok] = np.where(cnav, tgd1 - isc("isc_l1cd_s" if attr == "S" else "isc_l1cp_s"), np.nan)
        elif band == "2" and attr in "SLX":
            out[ok] = np.where(cnav, tgd1 - isc("isc_l2c_s"), np.nan)
        elif band == "5":
            out[ok] = np.where(cnav, tgd1 - isc("isc_l5i5_s" if attr == "I" else "isc_l5q5_s"), np.nan)
    elif system == "E":
        fnav = (src & 2) != 0
        bgd_a = tgd1
        bgd_b = np.where(fnav, np.nan, tgd2)  # F/NAV has no BGD(E1,E5b)
        t_e1 = np.where(fnav, bgd_a, bgd_b)
        if band == "1":
            out[ok] = t_e1
        elif band == "5":
            out[ok] = t_e1 + (GAMMA_GAL_E5A - 1.0) * bgd_a
        elif band == "7":
            out[ok] = t_e1 + (GAMMA_GAL_E5B - 1.0) * bgd_b
    elif system == "C":
        d12 = ((src & 3) != 0) | (src == 0)  # 0: source not recorded (e.g. RTCM 1042) = D1/D2
        cnav = (src & (4 | 8)) != 0
        if band == "6" and attr in "IQX":
            out[ok] = np.where(d12 | cnav, 0.0, np.nan)
        elif band == "2":
            out[ok] = np.where(d12, tgd1, np.nan)
        elif band == "7" and attr in "IQX":
            out[ok] = np.where(d12, tgd2, np.nan)
        elif band == "1":
            data = attr == "D"
            isc_ok = (src & 4) != 0
            out[ok] = np.where(cnav, tgd1 + (np.where(isc_ok, isc, np.nan) if data else 0.0), np.nan)
        elif band == "5":
            data = attr == "D"
            isc_ok = (src & 8) != 0
            out[ok] = np.where(cnav, tgd2 + (np.where(isc_ok, isc, np.nan) if data else 0.0), np.nan)
    elif system == "I":
        val = {"5": tgd1, "9": GAMMA_IRN_S * tgd1}.get(band)
        if val is not None:
            out[ok] = val
    return out
