"""Pick, per (satellite, time), the broadcast ephemeris to use.

Rule: among healthy records of the preferred message type, the one whose toe is nearest to the
requested time, provided ``|t - toe|`` is within the system's validity window:

* GPS / QZSS: half the fit interval (2 h for the nominal 4 h fit; longer when the record says so).
  GPS uploads are broadcast up to ~2 h *before* their toe, so a future toe is as good as a past one.
* Galileo: the latest toe <= t up to 3 h old; a future toe (up to 1 h ahead) only when no past one
  exists. Galileo batches are broadcast from their toe onwards and fitted forwards: measured on
  ESBC 2020-177 against GRG SP3, using an ephemeris more than 1 h before its toe gives 18 m RMS
  (vs 0.9 m for ages 0..3 h), so nearest-toe is wrong for Galileo. I/NAV and F/NAV batches are
  refreshed every 10 min, so picks are normally minutes old; 3 h only matters across gaps in a
  station's file while keeping a margin to the ~4 h end of the fit (RTKLIB allows 4 h).
* BeiDou: 1 h either side (D1/D2 and CNAV data are refreshed every hour).
* NavIC: 2 h.  GLONASS: 15 min (a new tb every 30 min; the ICD's interval is tb +- 15 min).

Message preference (consistent per satellite, never mixed between neighbouring epochs): Galileo
``"inav"`` (default) or ``"fnav"``; BeiDou ``"d1d2"`` (default), ``"cnv1"`` or ``"cnv2"``; GPS/QZSS
``"lnav"`` (default) or ``"cnav"``. If a satellite has no record of the preferred type at all in
the navigation data, its other records are used (so a F/NAV-only file still works), and the
chosen record's ``source`` bits tell ``group_delay_s`` which clock reference applies.
Use ``"any"`` to take the nearest record of whatever type.

Vectorised: one ``searchsorted`` per satellite, no loop over requested rows.
"""
from __future__ import annotations

import numpy as np

from ..arrays import isin
from ..gnss_time import NS
from ..nav import GlonassEphemeris, KeplerEphemeris, NavData

MAX_DT_S = {"G": 7200.0, "J": 7200.0, "E": 10800.0, "C": 3600.0, "I": 7200.0, "R": 900.0}
# how far ahead of its toe (t < toe) a record may be used [s]; systems not listed: MAX_DT_S
MAX_AHEAD_S = {"E": 3600.0}
CAUSAL_SYSTEMS = frozenset("E")  # prefer the latest toe <= t over a nearer future toe

GAL_INAV_BITS = 1 | 4  # data source I/NAV E1-B or E5b-I
GAL_FNAV_BITS = 2
BDS_TYPE_BITS = {"d1d2": 1 | 2, "cnv1": 4, "cnv2": 8, "cnv3": 16}
GPS_TYPE_BITS = {"lnav": 1, "cnav": 4 | 8}


def _message_class(k: KeplerEphemeris, galileo: str, beidou: str, gps: str) -> np.ndarray:
    """Per Kepler record: 1 preferred type, 2 other type (fallback), for its system."""
    for opt, val, allowed in (("galileo", galileo, ("inav", "fnav", "any")),
                              ("beidou", beidou, (*BDS_TYPE_BITS, "any")), ("gps", gps, (*GPS_TYPE_BITS, "any"))):
        if val not in allowed:
            raise ValueError(f"{opt}={val!r}: expected one of {allowed}")
    sysc = k.sat.astype("<U1")
    src = k.source
    pref = np.ones(len(k), bool)
    if galileo != "any":
        is_fnav = (src & GAL_FNAV_BITS) != 0
        want = is_fnav if galileo == "fnav" else ~is_fnav  # source 0 (unknown) counts as I/NAV
        pref &= np.where(sysc == "E", want, True)
    # source 0 (not recorded, e.g. RTCM 1019/1042/1044) counts as the legacy message
    if beidou != "any":
        is_type = (src & BDS_TYPE_BITS[beidou]) != 0
        if beidou == "d1d2":
            is_type |= src == 0
        pref &= np.where(sysc == "C", is_type, True)
    if gps != "any":
        is_type = (src & GPS_TYPE_BITS[gps]) != 0
        if gps == "lnav":
            is_type |= src == 0
        pref &= np.where(np.isin(sysc, ["G", "J"]), is_type, True)
    return np.where(pref, 1, 2)


def _validity_s(sats: np.ndarray, fit_h: np.ndarray | None, max_dt: dict[str, float]) -> np.ndarray:
    sysc = np.asarray(sats).astype("<U1")
    out = np.zeros(sysc.shape)
    for s, v in max_dt.items():
        out[sysc == s] = v
    if fit_h is not None:
        gj = np.isin(sysc, ["G", "J"]) & np.isfinite(fit_h)
        out[gj] = np.maximum(out[gj], fit_h[gj] * 1800.0)  # half the fit interval [s]
    return out


def _nearest(cand_sat: np.ndarray, cand_toe: np.ndarray, win_after_s: np.ndarray, win_ahead_s: np.ndarray,
             causal: np.ndarray, cand_idx: np.ndarray, sats: np.ndarray, t_ns: np.ndarray,
             out: np.ndarray) -> None:
    """Fill ``out`` with a candidate index (or -1) per request; candidates sorted by (sat, toe).

    A candidate is usable for t when toe <= t <= toe + win_after or t < toe <= t + win_ahead.
    Non-causal satellites take the usable one with the nearest toe (ties: the earlier toe);
    causal ones the latest usable toe <= t, else the nearest usable future one.
    """
    if cand_idx.size == 0 or sats.size == 0:
        return
    usat, start = np.unique(cand_sat, return_index=True)
    stop = np.append(start[1:], cand_sat.size)
    order = np.argsort(sats, kind="stable")
    qs = sats[order]
    qu, qstart = np.unique(qs, return_index=True)
    qstop = np.append(qstart[1:], qs.size)
    pos_of = {s: i for i, s in enumerate(usat.tolist())}
    for s, a, b in zip(qu.tolist(), qstart.tolist(), qstop.tolist()):
        j = pos_of.get(s)
        if j is None:
            continue
        rows = order[a:b]
        c0, c1 = start[j], stop[j]
        toe = cand_toe[c0:c1]
        t = t_ns[rows]
        p = np.searchsorted(toe, t, side="right")  # toe[p-1] <= t < toe[p]
        lo = np.clip(p - 1, 0, toe.size - 1)
        hi = np.clip(p, 0, toe.size - 1)
        d_lo = t - toe[lo]  # >= 0 when p > 0
        d_hi = toe[hi] - t  # > 0 when p < size
        ok_lo = (p > 0) & (d_lo <= win_after_s[c0 + lo] * NS)
        ok_hi = (p < toe.size) & (d_hi <= win_ahead_s[c0 + hi] * NS)
        if causal[c0]:
            pick_hi = ~ok_lo & ok_hi
        else:
            pick_hi = ok_hi & (~ok_lo | (d_hi < d_lo))
        pick = np.where(pick_hi, hi, lo)
        ok = ok_lo | ok_hi
        out[rows] = np.where(ok, cand_idx[c0 + pick], -1)


def select_kepler(k: KeplerEphemeris, sats, t_gpst_ns, *, galileo: str = "inav", beidou: str = "d1d2",
                  gps: str = "lnav", healthy_only: bool = True,
                  max_dt_s: dict[str, float] | None = None, iode=None) -> np.ndarray:
    """Row of ``k`` per request (-1 when none is valid). ``sats`` (N,) ids, ``t_gpst_ns`` (N,).

    ``iode`` (N,) optional: where >= 0, only records with that IODE (as stored: GPS/QZSS IODE,
    Galileo IODnav, BeiDou AODE/IODE) qualify, e.g. to match SSR orbit corrections.
    """
    sats = np.asarray(sats, dtype="<U3")
    t = np.asarray(t_gpst_ns, dtype=np.int64)
    out = np.full(sats.shape, -1, np.int64)
    if len(k) == 0 or sats.size == 0:
        return out
    win = _validity_s(k.sat, k.cols.get("fit_interval_h"), {**MAX_DT_S, **(max_dt_s or {})})
    usable = np.isfinite(k.sqrt_a) & (k.sqrt_a > 0)
    if healthy_only:
        usable &= k.health == 0
    cls = _message_class(k, galileo, beidou, gps)
    # per satellite: does it have any usable record of the preferred class?
    sat_pref = isin(k.sat, k.sat[usable & (cls == 1)])
    take = usable & np.where(sat_pref, cls == 1, True)
    idx = np.flatnonzero(take)
    order = np.lexsort((k.ttr_ns[idx], k.toe_ns[idx], k.sat[idx]))
    idx = idx[order]
    sysc = k.sat[idx].astype("<U1")
    ahead = win[idx].copy()
    for sy, v in MAX_AHEAD_S.items():
        ahead[sysc == sy] = np.minimum(ahead[sysc == sy], v)
    causal = np.isin(sysc, list(CAUSAL_SYSTEMS))
    if iode is None:
        _nearest(k.sat[idx], k.toe_ns[idx], win[idx], ahead, causal, idx, sats, t, out)
        return out
    want = np.broadcast_to(np.asarray(iode, dtype=np.int64), sats.shape)
    plain = want < 0
    if plain.any():
        sub = np.full(int(plain.sum()), -1, np.int64)
        _nearest(k.sat[idx], k.toe_ns[idx], win[idx], ahead, causal, idx, sats[plain], t[plain], sub)
        out[plain] = sub
    if (~plain).any():
        # candidates keyed by satellite + IODE ("G01" + "57"), sorted by (key, toe)
        key_c = np.char.add(k.sat[idx], k.iode[idx].astype("<U6"))
        order = np.lexsort((k.toe_ns[idx], key_c))
        key_q = np.char.add(sats[~plain], want[~plain].astype("<U6"))
        sub = np.full(key_q.size, -1, np.int64)
        _nearest(key_c[order], k.toe_ns[idx[order]], win[idx[order]], ahead[order], causal[order], idx[order],
                 key_q, t[~plain], sub)
        out[~plain] = sub
    return out


def select_glonass(g: GlonassEphemeris, sats, t_gpst_ns, *, healthy_only: bool = True,
                   max_dt_s: float | None = None) -> np.ndarray:
    """Row of ``g`` per request (-1 when none within the window)."""
    sats = np.asarray(sats, dtype="<U3")
    t = np.asarray(t_gpst_ns, dtype=np.int64)
    out = np.full(sats.shape, -1, np.int64)
    if len(g) == 0 or sats.size == 0:
        return out
    use = g.health == 0 if healthy_only else np.ones(len(g), bool)
    idx = np.flatnonzero(use)
    idx = idx[np.lexsort((g.tof_ns[idx], g.toe_ns[idx], g.sat[idx]))]
    win = np.full(idx.size, MAX_DT_S["R"] if max_dt_s is None else max_dt_s)
    _nearest(g.sat[idx], g.toe_ns[idx], win, win, np.zeros(idx.size, bool), idx, sats, t, out)
    return out


def time_span_ns(nav: NavData) -> tuple[int, int] | None:
    """(earliest, latest) toe over all ephemerides [GPST ns], None when the data hold none.

    Lets a caller say "navigation file of the wrong day" instead of silently dropping satellites.
    """
    toes = np.concatenate([nav.kepler.toe_ns, nav.glonass.toe_ns])
    return (int(toes.min()), int(toes.max())) if toes.size else None


def select(nav: NavData, sats, t_gpst_ns, **options) -> np.ndarray:
    """Ephemeris row per request: into ``nav.glonass`` for GLONASS satellites, ``nav.kepler`` otherwise.

    ``options``: galileo, beidou, gps (message preference), healthy_only, max_dt_s ({system: s}),
    iode ((N,) for Kepler systems, -1 = any).
    """
    sats = np.atleast_1d(np.asarray(sats, dtype="<U3"))
    t = np.broadcast_to(np.asarray(t_gpst_ns, dtype=np.int64), sats.shape)
    out = np.full(sats.shape, -1, np.int64)
    is_r = sats.astype("<U1") == "R"
    options = dict(options)
    max_dt = options.pop("max_dt_s", None) or {}
    iode = options.pop("iode", None)
    healthy = options.get("healthy_only", True)
    if (~is_r).any():
        sub_iode = None if iode is None else np.broadcast_to(np.asarray(iode, np.int64), sats.shape)[~is_r]
        out[~is_r] = select_kepler(nav.kepler, sats[~is_r], t[~is_r], max_dt_s=max_dt, iode=sub_iode, **options)
    if is_r.any():
        out[is_r] = select_glonass(nav.glonass, sats[is_r], t[is_r], healthy_only=healthy,
                                   max_dt_s=max_dt.get("R"))
    return out
