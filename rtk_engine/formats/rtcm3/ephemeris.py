"""Broadcast ephemeris messages 1019 (GPS), 1020 (GLONASS), 1042 (BeiDou D1/D2), 1044 (QZSS),
1045 (Galileo F/NAV), 1046 (Galileo I/NAV): raw fields <-> payload, and raw fields <-> one row
of :class:`~rtk_engine.nav.KeplerEphemeris` / :class:`~rtk_engine.nav.GlonassEphemeris`.

Times become GPST ns: the 10-bit GPS/QZSS week and the GLONASS day are resolved against a
reference GPST instant; BeiDou (BDT, 13-bit week) and Galileo (12-bit week) weeks are absolute.
Angles in the messages are semicircles (converted with the ICD value of pi), distances metres.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from ... import gnss_time as gt
from ...nav import GlonassEphemeris, KeplerEphemeris
from .bits import BitWriter, Rtcm3DecodeError, read_schema

SC2RAD = 3.1415926535898  # pi as the GPS/Galileo/BeiDou ICDs define it
P2 = {n: 2.0 ** n for n in range(-70, 12)}

# ----------------------------------------------------------------------------- schemas
SCHEMAS: dict[int, tuple] = {
    1019: (("DF002", 12, "u"), ("DF009", 6, "u"), ("DF076", 10, "u"), ("DF077", 4, "u"), ("DF078", 2, "u"),
           ("DF079", 14, "s"), ("DF071", 8, "u"), ("DF081", 16, "u"), ("DF082", 8, "s"), ("DF083", 16, "s"),
           ("DF084", 22, "s"), ("DF085", 10, "u"), ("DF086", 16, "s"), ("DF087", 16, "s"), ("DF088", 32, "s"),
           ("DF089", 16, "s"), ("DF090", 32, "u"), ("DF091", 16, "s"), ("DF092", 32, "u"), ("DF093", 16, "u"),
           ("DF094", 16, "s"), ("DF095", 32, "s"), ("DF096", 16, "s"), ("DF097", 32, "s"), ("DF098", 16, "s"),
           ("DF099", 32, "s"), ("DF100", 24, "s"), ("DF101", 8, "s"), ("DF102", 6, "u"), ("DF103", 1, "u"),
           ("DF137", 1, "u")),
    1020: (("DF002", 12, "u"), ("DF038", 6, "u"), ("DF040", 5, "u"), ("DF104", 1, "u"), ("DF105", 1, "u"),
           ("DF106", 2, "u"), ("DF107", 12, "u"), ("DF108", 1, "u"), ("DF109", 1, "u"), ("DF110", 7, "u"),
           ("DF111", 24, "m"), ("DF112", 27, "m"), ("DF113", 5, "m"), ("DF114", 24, "m"), ("DF115", 27, "m"),
           ("DF116", 5, "m"), ("DF117", 24, "m"), ("DF118", 27, "m"), ("DF119", 5, "m"), ("DF120", 1, "u"),
           ("DF121", 11, "m"), ("DF122", 2, "u"), ("DF123", 1, "u"), ("DF124", 22, "m"), ("DF125", 5, "m"),
           ("DF126", 5, "u"), ("DF127", 1, "u"), ("DF128", 4, "u"), ("DF129", 11, "u"), ("DF130", 2, "u"),
           ("DF131", 1, "u"), ("DF132", 11, "u"), ("DF133", 32, "m"), ("DF134", 5, "u"), ("DF135", 22, "m"),
           ("DF136", 1, "u"), ("_r", 7, "u")),
    1042: (("DF002", 12, "u"), ("DF488", 6, "u"), ("DF489", 13, "u"), ("DF490", 4, "u"), ("DF491", 14, "s"),
           ("DF492", 5, "u"), ("DF493", 17, "u"), ("DF494", 11, "s"), ("DF495", 22, "s"), ("DF496", 24, "s"),
           ("DF497", 5, "u"), ("DF498", 18, "s"), ("DF499", 16, "s"), ("DF500", 32, "s"), ("DF501", 18, "s"),
           ("DF502", 32, "u"), ("DF503", 18, "s"), ("DF504", 32, "u"), ("DF505", 17, "u"), ("DF506", 18, "s"),
           ("DF507", 32, "s"), ("DF508", 18, "s"), ("DF509", 32, "s"), ("DF510", 18, "s"), ("DF511", 32, "s"),
           ("DF512", 24, "s"), ("DF513", 10, "s"), ("DF514", 10, "s"), ("DF515", 1, "u")),
    1044: (("DF002", 12, "u"), ("DF429", 4, "u"), ("DF430", 16, "u"), ("DF431", 8, "s"), ("DF432", 16, "s"),
           ("DF433", 22, "s"), ("DF434", 8, "u"), ("DF435", 16, "s"), ("DF436", 16, "s"), ("DF437", 32, "s"),
           ("DF438", 16, "s"), ("DF439", 32, "u"), ("DF440", 16, "s"), ("DF441", 32, "u"), ("DF442", 16, "u"),
           ("DF443", 16, "s"), ("DF444", 32, "s"), ("DF445", 16, "s"), ("DF446", 32, "s"), ("DF447", 16, "s"),
           ("DF448", 32, "s"), ("DF449", 24, "s"), ("DF450", 14, "s"), ("DF451", 2, "u"), ("DF452", 10, "u"),
           ("DF453", 4, "u"), ("DF454", 6, "u"), ("DF455", 8, "s"), ("DF456", 10, "u"), ("DF457", 1, "u")),
}
_GAL_COMMON = (("DF002", 12, "u"), ("DF252", 6, "u"), ("DF289", 12, "u"), ("DF290", 10, "u"))
_GAL_ORBIT = (("DF292", 14, "s"), ("DF293", 14, "u"), ("DF294", 6, "s"), ("DF295", 21, "s"), ("DF296", 31, "s"),
              ("DF297", 16, "s"), ("DF298", 16, "s"), ("DF299", 32, "s"), ("DF300", 16, "s"), ("DF301", 32, "u"),
              ("DF302", 16, "s"), ("DF303", 32, "u"), ("DF304", 14, "u"), ("DF305", 16, "s"), ("DF306", 32, "s"),
              ("DF307", 16, "s"), ("DF308", 32, "s"), ("DF309", 16, "s"), ("DF310", 32, "s"), ("DF311", 24, "s"),
              ("DF312", 10, "s"))
SCHEMAS[1045] = _GAL_COMMON + (("DF291", 8, "u"),) + _GAL_ORBIT + (("DF314", 2, "u"), ("DF315", 1, "u"), ("_r", 7, "u"))
SCHEMAS[1046] = _GAL_COMMON + (("DF286", 8, "u"),) + _GAL_ORBIT + (
    ("DF313", 10, "s"), ("DF316", 2, "u"), ("DF317", 1, "u"), ("DF287", 2, "u"), ("DF288", 1, "u"), ("_r", 2, "u"))

# Kepler row field -> (DF, scale, semicircles) per message. Scales from RTCM 10403.3 / the ICDs.
_GPS_LIKE = {  # 1019 fields; 1044 maps its own DF numbers onto the same layout below
    "idot": ("DF079", P2[-43], True), "af2": ("DF082", P2[-55], False), "af1": ("DF083", P2[-43], False),
    "af0": ("DF084", P2[-31], False), "crs": ("DF086", P2[-5], False), "delta_n": ("DF087", P2[-43], True),
    "m0": ("DF088", P2[-31], True), "cuc": ("DF089", P2[-29], False), "e": ("DF090", P2[-33], False),
    "cus": ("DF091", P2[-29], False), "sqrt_a": ("DF092", P2[-19], False), "cic": ("DF094", P2[-29], False),
    "omega0": ("DF095", P2[-31], True), "cis": ("DF096", P2[-29], False), "i0": ("DF097", P2[-31], True),
    "crc": ("DF098", P2[-5], False), "omega": ("DF099", P2[-31], True), "omega_dot": ("DF100", P2[-43], True),
    "tgd1_s": ("DF101", P2[-31], False),
}
_QZS_DF = {"DF079": "DF450", "DF082": "DF431", "DF083": "DF432", "DF084": "DF433", "DF086": "DF435",
           "DF087": "DF436", "DF088": "DF437", "DF089": "DF438", "DF090": "DF439", "DF091": "DF440",
           "DF092": "DF441", "DF094": "DF443", "DF095": "DF444", "DF096": "DF445", "DF097": "DF446",
           "DF098": "DF447", "DF099": "DF448", "DF100": "DF449", "DF101": "DF455"}
_BDS = {
    "idot": ("DF491", P2[-43], True), "a2": None, "af2": ("DF494", P2[-66], False), "af1": ("DF495", P2[-50], False),
    "af0": ("DF496", P2[-33], False), "crs": ("DF498", P2[-6], False), "delta_n": ("DF499", P2[-43], True),
    "m0": ("DF500", P2[-31], True), "cuc": ("DF501", P2[-31], False), "e": ("DF502", P2[-33], False),
    "cus": ("DF503", P2[-31], False), "sqrt_a": ("DF504", P2[-19], False), "cic": ("DF506", P2[-31], False),
    "omega0": ("DF507", P2[-31], True), "cis": ("DF508", P2[-31], False), "i0": ("DF509", P2[-31], True),
    "crc": ("DF510", P2[-6], False), "omega": ("DF511", P2[-31], True), "omega_dot": ("DF512", P2[-43], True),
    "tgd1_s": ("DF513", 1e-10, False), "tgd2_s": ("DF514", 1e-10, False),
}
del _BDS["a2"]
_GAL = {
    "idot": ("DF292", P2[-43], True), "af2": ("DF294", P2[-59], False), "af1": ("DF295", P2[-46], False),
    "af0": ("DF296", P2[-34], False), "crs": ("DF297", P2[-5], False), "delta_n": ("DF298", P2[-43], True),
    "m0": ("DF299", P2[-31], True), "cuc": ("DF300", P2[-29], False), "e": ("DF301", P2[-33], False),
    "cus": ("DF302", P2[-29], False), "sqrt_a": ("DF303", P2[-19], False), "cic": ("DF305", P2[-29], False),
    "omega0": ("DF306", P2[-31], True), "cis": ("DF307", P2[-29], False), "i0": ("DF308", P2[-31], True),
    "crc": ("DF309", P2[-5], False), "omega": ("DF310", P2[-31], True), "omega_dot": ("DF311", P2[-43], True),
    "tgd1_s": ("DF312", P2[-32], False),
}
KEPLER_MAPS = {
    1019: _GPS_LIKE,
    1044: {k: (_QZS_DF[df], s, sc) for k, (df, s, sc) in _GPS_LIKE.items()},
    1042: _BDS,
    1045: _GAL,
    1046: _GAL | {"tgd2_s": ("DF313", P2[-32], False)},
}
EPHEMERIS_TYPES = frozenset(SCHEMAS)

URA_M = np.array([2.4, 3.4, 4.85, 6.85, 9.65, 13.65, 24.0, 48.0, 96.0, 192.0, 384.0, 768.0, 1536.0,
                  3072.0, 6144.0, np.nan])  # GPS/QZSS URA index / BeiDou URAI -> metres; 15 = unknown


def _sisa_table() -> np.ndarray:
    n = np.arange(256, dtype=float)
    return np.where(n < 50, n * 0.01, np.where(n < 75, 0.5 + (n - 50) * 0.02, np.where(
        n < 100, 1.0 + (n - 75) * 0.04, np.where(n < 126, 2.0 + (n - 100) * 0.16, np.nan))))


SISA_M = _sisa_table()  # Galileo SISA index -> metres (126-255: no accuracy prediction)


def _index_of(table: np.ndarray, value: float, unknown: int) -> int:
    if not np.isfinite(value):
        return unknown
    return int(np.nanargmin(np.abs(table - value)))


_SAT_FIELD = {1019: ("G", "DF009"), 1020: ("R", "DF038"), 1042: ("C", "DF488"), 1044: ("J", "DF429"),
              1045: ("E", "DF252"), 1046: ("E", "DF252")}


@dataclass(slots=True)  # one garbage-collected object per message (streams carry many)
class EphemerisMessage:
    """A decoded ephemeris message: raw DF fields; ``nav`` is the one-row navigation container
    (built on first access; times resolved against ``t_ref_ns``, the decoder's reference at receipt)."""

    msg_type: int
    fields: dict[str, int]
    t_ref_ns: int
    _nav: KeplerEphemeris | GlonassEphemeris | None = None

    @property
    def nav(self) -> KeplerEphemeris | GlonassEphemeris:
        if self._nav is None:
            self._nav = fields_to_nav(self.fields, self.t_ref_ns)
        return self._nav

    @property
    def sat(self) -> str:
        sys_, df = _SAT_FIELD[self.msg_type]
        return f"{sys_}{self.fields[df]:02d}"

    @property
    def key(self) -> tuple:
        """What makes two ephemerides of one satellite distinct, from the raw fields (no ``nav`` row):
        (toe GPST ns,) for GLONASS, (toe GPST ns, IODE, source) otherwise - the row's values."""
        f, t = self.fields, self.msg_type
        if t == 1020:
            return (_glonass_times(f, self.t_ref_ns)[0],)
        return (_kepler_times(f, self.t_ref_ns, adjust=False)[0], f[_IODE_FIELD[t]], _SOURCE[t])


def ephemeris_fields(payload: bytes) -> dict[str, int]:
    """Raw integer DF fields of an ephemeris payload."""
    msg_type = (payload[0] << 4) | (payload[1] >> 4) if len(payload) >= 2 else 0
    if msg_type not in SCHEMAS:
        raise Rtcm3DecodeError(f"message {msg_type} is not an ephemeris message")
    return read_schema(payload, SCHEMAS[msg_type])[0]


def encode_ephemeris_fields(fields: dict[str, int]) -> bytes:
    """Raw DF fields (``DF002`` selects the message) -> payload bytes."""
    w = BitWriter()
    w.put_schema(fields, SCHEMAS[fields["DF002"]])
    return w.to_bytes()


def _week_near(week_mod: int, modulus: int, t_ref_ns: int) -> int:
    ref_week = int(t_ref_ns // _WEEK_NS)
    return week_mod + modulus * round((ref_week - week_mod) / modulus)


def _adjust_week(t_ns: int, toe_ns: int) -> int:
    """Keep toc within half a week of toe (toc and toe may straddle a week boundary)."""
    return t_ns + round((toe_ns - t_ns) / gt.WEEK_NS) * gt.WEEK_NS


def fields_to_nav(fields: dict[str, int], t_ref_ns: int) -> KeplerEphemeris | GlonassEphemeris:
    """Raw fields -> one-row navigation container (times GPST ns; week/day resolved near ``t_ref_ns``)."""
    t = fields["DF002"]
    if t == 1020:
        return _glonass_row(fields, t_ref_ns)
    row: dict = {k: fields[df] * s * (SC2RAD if sc else 1.0) for k, (df, s, sc) in KEPLER_MAPS[t].items()}
    toe, toc = _kepler_times(fields, t_ref_ns)
    if t == 1019:
        row |= {"sat": f"G{fields['DF009']:02d}", "iode": fields["DF071"], "iodc": fields["DF085"],
                "health": fields["DF102"], "accuracy_m": URA_M[fields["DF077"]], "source": 1,
                "fit_interval_h": 6.0 if fields["DF137"] else 4.0, "tgd2_s": np.nan}
    elif t == 1044:
        row |= {"sat": f"J{fields['DF429']:02d}", "iode": fields["DF434"], "iodc": fields["DF456"],
                "health": fields["DF454"], "accuracy_m": URA_M[fields["DF453"]], "source": 1,
                "fit_interval_h": 4.0 if fields["DF457"] else 2.0, "tgd2_s": np.nan}  # QZSS: 0 = 2 h, 1 = > 2 h
    elif t == 1042:
        row |= {"sat": f"C{fields['DF488']:02d}", "iode": fields["DF492"], "iodc": fields["DF497"],
                "health": fields["DF515"], "accuracy_m": URA_M[fields["DF490"]], "source": 0,
                "fit_interval_h": np.nan}
    else:  # Galileo 1045 F/NAV, 1046 I/NAV
        if t == 1045:
            health = (fields["DF314"] << 4) | (fields["DF315"] << 3)
            sisa = fields["DF291"]
            row["tgd2_s"] = np.nan
        else:
            health = (fields["DF316"] << 7) | (fields["DF317"] << 6) | (fields["DF287"] << 1) | fields["DF288"]
            sisa = fields["DF286"]
        row |= {"sat": f"E{fields['DF252']:02d}", "iode": fields["DF290"], "iodc": fields["DF290"],
                "health": health, "accuracy_m": SISA_M[sisa], "source": _SOURCE[t], "fit_interval_h": np.nan}
    row |= {"toe_ns": toe, "toc_ns": toc, "ttr_ns": int(t_ref_ns)}
    return KeplerEphemeris.from_rows([row])


_IODE_FIELD = {1019: "DF071", 1044: "DF434", 1042: "DF492", 1045: "DF290", 1046: "DF290"}
_SOURCE = {1019: 1, 1044: 1, 1042: 0, 1045: (1 << 1) | (1 << 8), 1046: (1 << 0) | (1 << 2) | (1 << 9)}  # RINEX source mask
_NS, _WEEK_NS, _DAY_NS = gt.NS, gt.WEEK_NS, 86_400 * gt.NS


def _kepler_times(f: dict[str, int], t_ref_ns: int, adjust: bool = True) -> tuple[int, int]:
    """(toe, toc) GPST ns of a Kepler ephemeris (1019/1042/1044/1045/1046); whole seconds, so the
    integer arithmetic equals :mod:`~rtk_engine.gnss_time`'s week/sow conversions. ``adjust=False``
    (toe alone wanted): toc's week is not adjusted to toe's."""
    t = f["DF002"]
    if t == 1019:
        week = _week_near(f["DF076"], 1024, t_ref_ns)
        toe, toc = week * _WEEK_NS + f["DF093"] * 16 * _NS, week * _WEEK_NS + f["DF081"] * 16 * _NS
    elif t == 1044:
        week = _week_near(f["DF452"], 1024, t_ref_ns)
        toe, toc = week * _WEEK_NS + f["DF442"] * 16 * _NS, week * _WEEK_NS + f["DF430"] * 16 * _NS
    elif t == 1042:  # BDT: BDS week + 1356, GPST = BDT + 14 s
        base = (f["DF489"] + gt.BDS_WEEK_OFFSET) * _WEEK_NS + gt.BDT_OFFSET_S * _NS
        toe, toc = base + f["DF505"] * 8 * _NS, base + f["DF493"] * 8 * _NS
    else:  # Galileo: GST = GPST, Galileo week + 1024
        base = (f["DF289"] + gt.GST_WEEK_OFFSET) * _WEEK_NS
        toe, toc = base + f["DF304"] * 60 * _NS, base + f["DF293"] * 60 * _NS
    return toe, (_adjust_week(toc, toe) if adjust else toc)


# leap-second steps as Python ints (same tables as gnss_time): scalar conversions without numpy calls
_LEAP_UTC = gt._LEAP_UTC_NS.tolist()
_LEAP_GPST = (gt._LEAP_UTC_NS + (gt._LEAP_VAL - 1) * gt.NS).tolist()
_LEAP_S = gt._LEAP_VAL.tolist()
_GLO_NS = gt.GLO_UTC_OFFSET_S * gt.NS


def _gpst_to_glonasst(t: int) -> int:
    """Scalar :func:`gnss_time.gpst_to_glonasst` (same steps, Python ints)."""
    i = bisect_right(_LEAP_GPST, t) - 1
    return t - (_LEAP_S[i] if i >= 0 else 0) * _NS + _GLO_NS


def _glonasst_to_gpst(t: int) -> int:
    """Scalar :func:`gnss_time.glonasst_to_gpst` (same steps, Python ints)."""
    u = t - _GLO_NS
    i = bisect_right(_LEAP_UTC, u) - 1
    return u + (_LEAP_S[i] if i >= 0 else 0) * _NS


def _glonass_times(f: dict[str, int], t_ref_ns: int) -> tuple[int, int]:
    """(toe, tof) GPST ns of a 1020: times of day (GLONASS time) on the day nearest ``t_ref_ns``."""
    ref_glo = _gpst_to_glonasst(int(t_ref_ns))
    day0 = ref_glo - ref_glo % _DAY_NS
    def near_day(tod_s: int) -> int:
        t = day0 + tod_s * _NS
        return _glonasst_to_gpst(t + round((ref_glo - t) / _DAY_NS) * _DAY_NS)
    tk = f["DF107"]
    return near_day(f["DF110"] * 900), near_day((tk >> 7) * 3600 + ((tk >> 1) & 0x3F) * 60 + (tk & 1) * 30)


def _glonass_row(f: dict[str, int], t_ref_ns: int) -> GlonassEphemeris:
    toe, tof = _glonass_times(f, t_ref_ns)
    km = 1000.0
    return GlonassEphemeris(
        sat=np.array([f"R{f['DF038']:02d}"]), toe_ns=np.array([toe], np.int64), tof_ns=np.array([tof], np.int64),
        pos_m=np.array([[f["DF112"], f["DF115"], f["DF118"]]]) * P2[-11] * km,
        vel_mps=np.array([[f["DF111"], f["DF114"], f["DF117"]]]) * P2[-20] * km,
        acc_mps2=np.array([[f["DF113"], f["DF116"], f["DF119"]]]) * P2[-30] * km,
        tau_n_s=np.array([f["DF124"] * P2[-30]]), gamma_n=np.array([f["DF121"] * P2[-40]]),
        channel=np.array([f["DF040"] - 7], np.int64), health=np.array([f["DF108"]], np.int64),
        age_d=np.array([f["DF126"]], np.int64), iode=np.array([f["DF110"]], np.int64))


def decode_ephemeris(payload: bytes, t_ref_ns: int) -> EphemerisMessage:
    fields = ephemeris_fields(payload)
    return EphemerisMessage(fields["DF002"], fields, t_ref_ns)


# ------------------------------------------------------------------------------ encode
def _q(value: float, scale: float, semicircles: bool) -> int:
    return int(round(float(value) / (scale * (SC2RAD if semicircles else 1.0))))


def kepler_fields(nav: KeplerEphemeris, i: int = 0) -> dict[str, int]:
    """Row ``i`` of a Kepler ephemeris -> raw fields of 1019/1042/1044/1045/1046 (chosen by system
    and, for Galileo, by ``source``: F/NAV bit 1 -> 1045, else 1046). Unrepresented flags are 0."""
    sat = str(nav.sat[i])
    sys_, prn = sat[0], int(sat[1:])
    c = {k: v[i] for k, v in nav.cols.items()}
    toe, toc = int(nav.toe_ns[i]), int(nav.toc_ns[i])
    if sys_ == "E":
        t = 1045 if int(c["source"]) & 2 else 1046
    else:
        t = {"G": 1019, "J": 1044, "C": 1042}.get(sys_)
        if t is None:
            raise ValueError(f"no RTCM ephemeris message for {sat}")
    f = {"DF002": t}
    for k, (df, s, sc) in KEPLER_MAPS[t].items():
        v = c.get(k, 0.0)
        f[df] = _q(v if np.isfinite(v) else 0.0, s, sc)
    ura = _index_of(URA_M, float(c.get("accuracy_m", np.nan)), 15)
    if t in (1019, 1044):
        week, sow_e = gt.to_week_sow(toe)
        _, sow_c = gt.to_week_sow(toc)
        g = {"DF009": prn, "DF076": int(week) % 1024, "DF077": ura, "DF071": int(c["iode"]),
             "DF081": int(round(float(sow_c) / 16)), "DF085": int(c["iodc"]), "DF093": int(round(float(sow_e) / 16)),
             "DF102": int(c["health"]),
             "DF137": int(c.get("fit_interval_h", 4.0) > (4.0 if t == 1019 else 2.0))}
        if t == 1044:
            g = {"DF429": prn, "DF452": g["DF076"], "DF453": ura, "DF434": g["DF071"], "DF430": g["DF081"],
                 "DF456": g["DF085"], "DF442": g["DF093"], "DF454": g["DF102"], "DF457": g["DF137"]}
        f |= g
    elif t == 1042:
        week, sow_e = gt.to_week_sow(gt.gpst_to_bdt(toe))
        _, sow_c = gt.to_week_sow(gt.gpst_to_bdt(toc))
        f |= {"DF488": prn, "DF489": int(week) - gt.BDS_WEEK_OFFSET, "DF490": ura, "DF492": int(c["iode"]),
              "DF493": int(round(float(sow_c) / 8)), "DF497": int(c["iodc"]), "DF505": int(round(float(sow_e) / 8)),
              "DF515": int(c["health"])}
    else:
        week, sow_e = gt.to_week_sow(toe)
        _, sow_c = gt.to_week_sow(toc)
        h = int(c["health"])
        sisa = _index_of(SISA_M, float(c.get("accuracy_m", np.nan)), 255)
        f |= {"DF252": prn, "DF289": int(week) - gt.GST_WEEK_OFFSET, "DF290": int(c["iode"]),
              "DF293": int(round(float(sow_c) / 60)), "DF304": int(round(float(sow_e) / 60))}
        if t == 1045:
            f |= {"DF291": sisa, "DF314": (h >> 4) & 3, "DF315": (h >> 3) & 1}
        else:
            f |= {"DF286": sisa, "DF316": (h >> 7) & 3, "DF317": (h >> 6) & 1, "DF287": (h >> 1) & 3, "DF288": h & 1}
    return f


def glonass_fields(nav: GlonassEphemeris, i: int = 0) -> dict[str, int]:
    """Row ``i`` of a GLONASS ephemeris -> raw 1020 fields (unrepresented flags 0, tk from ``tof_ns``)."""
    km = 1000.0
    tb = int(round(float(gt.gpst_to_glonasst(nav.toe_ns[i]) % (86_400 * gt.NS)) / gt.NS / 900))
    tk_s = int(gt.gpst_to_glonasst(nav.tof_ns[i]) % (86_400 * gt.NS) // gt.NS)
    tk = ((tk_s // 3600) << 7) | (((tk_s % 3600) // 60) << 1) | int((tk_s % 60) >= 30)
    f = {"DF002": 1020, "DF038": int(nav.sat[i][1:]), "DF040": int(nav.channel[i]) + 7, "DF107": tk,
         "DF108": int(nav.health[i]), "DF110": tb, "DF121": _q(nav.gamma_n[i], P2[-40], False),
         "DF124": _q(nav.tau_n_s[i], P2[-30], False), "DF126": int(nav.age_d[i])}
    for axis, (dp, dv, da) in enumerate((("DF112", "DF111", "DF113"), ("DF115", "DF114", "DF116"),
                                         ("DF118", "DF117", "DF119"))):
        f[dp] = _q(nav.pos_m[i, axis] / km, P2[-11], False)
        f[dv] = _q(nav.vel_mps[i, axis] / km, P2[-20], False)
        f[da] = _q(nav.acc_mps2[i, axis] / km, P2[-30], False)
    return f


def encode_ephemeris(nav: KeplerEphemeris | GlonassEphemeris, i: int = 0) -> bytes:
    """One navigation row -> ephemeris message payload."""
    if isinstance(nav, GlonassEphemeris):
        return encode_ephemeris_fields(glonass_fields(nav, i))
    return encode_ephemeris_fields(kepler_fields(nav, i))
