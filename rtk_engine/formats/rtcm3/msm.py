"""Multiple Signal Messages (MSM1-7): raw field decode/encode and conversion to observables.

A message is kept as integer fields exactly as transmitted (:class:`MsmMessage`); satellite
and cell fields are numpy arrays gathered from the payload unpacked once, so a message of
60 cells costs a few dozen numpy calls, not a Python loop over cells.

Units of the raw fields (RTCM 10403.3):
``rough_ms`` DF397 whole ms (255 = invalid), ``rough_mod`` DF398 2^-10 ms, ``rough_rate`` DF399 m/s,
``fine_pr`` DF400 2^-24 ms (MSM1-5) / DF405 2^-29 ms (MSM6-7), ``fine_ph`` DF401 2^-29 ms /
DF406 2^-31 ms, ``lock`` DF402 (4 bit) / DF407 (10 bit) indicators, ``half`` DF420, ``cnr`` DF403
1 dB-Hz / DF408 2^-4 dB-Hz, ``fine_rate`` DF404 1e-4 m/s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...constants import CLIGHT
from ...gnss_time import NS, WEEK_NS, BDT_OFFSET_S, gpst_to_glonasst, glonasst_to_gpst
from . import msm_tables as T
from .bits import BitWriter, Rtcm3DecodeError, gather_fields, pack_uint_array

RANGE_MS_M = CLIGHT * 1e-3  # metres per light-millisecond
DAY_NS = 86_400 * NS

# per MSM number: (fine_pr bits, fine_ph bits, lock bits, has half, cnr bits, fine_rate bits)
_CELL_LAYOUT = {
    1: (15, 0, 0, False, 0, 0), 2: (0, 22, 4, True, 0, 0), 3: (15, 22, 4, True, 0, 0),
    4: (15, 22, 4, True, 6, 0), 5: (15, 22, 4, True, 6, 15),
    6: (20, 24, 10, True, 10, 0), 7: (20, 24, 10, True, 10, 15),
}
# per MSM number: (has rough_ms, has ext_info + rough_rate)
_SAT_LAYOUT = {1: (False, False), 2: (False, False), 3: (False, False), 4: (True, False),
               5: (True, True), 6: (True, False), 7: (True, True)}
# resolution of fine fields in ms (pseudorange, phase) per MSM number
FINE_PR_MS = {1: 2.0 ** -24, 3: 2.0 ** -24, 4: 2.0 ** -24, 5: 2.0 ** -24, 6: 2.0 ** -29, 7: 2.0 ** -29}
FINE_PH_MS = {2: 2.0 ** -29, 3: 2.0 ** -29, 4: 2.0 ** -29, 5: 2.0 ** -29, 6: 2.0 ** -31, 7: 2.0 ** -31}
CNR_DBHZ = {4: 1.0, 5: 1.0, 6: 2.0 ** -4, 7: 2.0 ** -4}
HEADER_BITS = 169


@dataclass
class MsmMessage:
    """One MSM message, fields as transmitted (see module docstring for units)."""

    msg_type: int
    system: str  # "G", "R", "E", "S", "J", "C", "I"
    msm: int  # 1..7
    station_id: int
    epoch_ms: int  # 30-bit DF004/DF248/DF416+DF034/DF427: TOW ms, or GLONASS (dow << 27) | tod ms
    multiple: bool  # DF393: more MSMs follow for this epoch
    iods: int
    clock_steering: int
    external_clock: int
    smoothing: int
    smoothing_interval: int
    sat_ids: np.ndarray  # [Ns] MSM satellite numbers 1..64
    sig_ids: np.ndarray  # [Nsig] MSM signal ids 1..32
    cell_mask: np.ndarray  # [Ns, Nsig] bool
    rough_ms: np.ndarray | None  # [Ns]
    ext_info: np.ndarray | None  # [Ns]
    rough_mod: np.ndarray  # [Ns]
    rough_rate: np.ndarray | None  # [Ns]
    fine_pr: np.ndarray | None  # [Nc]
    fine_ph: np.ndarray | None
    lock: np.ndarray | None
    half: np.ndarray | None
    cnr: np.ndarray | None
    fine_rate: np.ndarray | None
    reserved: int = 0  # the 7 reserved header bits, kept for byte-exact re-encoding
    layout_key: tuple | None = None  # (type, satellite mask, signal mask, cell mask) for caches

    @property
    def cell_sat(self) -> np.ndarray:
        """Index into ``sat_ids`` of each cell [Nc]."""
        return np.nonzero(self.cell_mask)[0]

    @property
    def cell_sig(self) -> np.ndarray:
        """Index into ``sig_ids`` of each cell [Nc]."""
        return np.nonzero(self.cell_mask)[1]

    @property
    def n_cells(self) -> int:
        return int(self.cell_mask.sum())


_MASK_CACHE: dict[tuple[int, int], np.ndarray] = {}
_LAYOUT_CACHE: dict[tuple, tuple] = {}
_CELL_CACHE: dict[tuple[int, int, int], tuple[np.ndarray, int]] = {}
_CACHE_MAX = 4096


def _mask_ids(value: int, width: int) -> np.ndarray:
    """Positions (1-based, MSB first) of the set bits of a mask (cached: masks repeat every epoch)."""
    ids = _MASK_CACHE.get((value, width))
    if ids is None:
        ids = np.array([i + 1 for i in range(width) if (value >> (width - 1 - i)) & 1], np.int64)
        if len(_MASK_CACHE) < _CACHE_MAX:
            _MASK_CACHE[(value, width)] = ids
    return ids


def _cell_mask(value: int, ns: int, nsig: int) -> tuple[np.ndarray, int]:
    key = (value, ns, nsig)
    hit = _CELL_CACHE.get(key)
    if hit is None:
        n = ns * nsig
        bits = np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], bool).reshape(ns, nsig)
        hit = (bits, int(bits.sum()))
        if len(_CELL_CACHE) < _CACHE_MAX:
            _CELL_CACHE[key] = hit
    return hit


def _layout(msm: int, ns: int, nc: int, start: int) -> tuple:
    """Start bits, widths, signedness of every satellite and cell field, and the slices per field."""
    key = (msm, ns, nc, start)
    hit = _LAYOUT_CACHE.get(key)
    if hit is not None:
        return hit
    has_ms, has_ext = _SAT_LAYOUT[msm]
    w_pr, w_ph, w_lock, has_half, w_cnr, w_rate = _CELL_LAYOUT[msm]
    groups = [("rough_ms", 8 if has_ms else 0, False, ns), ("ext_info", 4 if has_ext else 0, False, ns),
              ("rough_mod", 10, False, ns), ("rough_rate", 14 if has_ext else 0, True, ns),
              ("fine_pr", w_pr, True, nc), ("fine_ph", w_ph, True, nc), ("lock", w_lock, False, nc),
              ("half", int(has_half), False, nc), ("cnr", w_cnr, False, nc), ("fine_rate", w_rate, True, nc)]
    starts, widths, signed, slices = [], [], [], {}
    pos, idx = start, 0
    for name, w, sg, n in groups:
        if w == 0:
            slices[name] = None
            continue
        starts.append(pos + w * np.arange(n, dtype=np.int64))
        widths.append(np.full(n, w, np.int64))
        signed.append(np.full(n, sg))
        slices[name] = slice(idx, idx + n)
        idx += n
        pos += w * n
    hit = (np.concatenate(starts), np.concatenate(widths), np.concatenate(signed), slices, pos)
    if len(_LAYOUT_CACHE) < _CACHE_MAX:
        _LAYOUT_CACHE[key] = hit
    return hit


def decode_msm(payload: bytes) -> MsmMessage:
    """Decode an MSM1-7 payload into raw fields. Raises :class:`Rtcm3DecodeError` if malformed."""
    n_bits = len(payload) * 8
    if n_bits < HEADER_BITS:
        raise Rtcm3DecodeError(f"MSM payload of {len(payload)} bytes shorter than its header")
    head = int.from_bytes(payload[:30].ljust(30, b"\0"), "big")  # 240 bits: header + cell mask
    def f(pos: int, n: int) -> int:
        return (head >> (240 - pos - n)) & ((1 << n) - 1)
    msg_type = f(0, 12)
    kind = T.msm_kind(msg_type)
    if kind is None:
        raise Rtcm3DecodeError(f"message {msg_type} is not an MSM")
    system, msm = kind
    sat_mask, sig_mask = f(73, 64), f(137, 32)
    sat_ids = _mask_ids(sat_mask, 64)
    sig_ids = _mask_ids(sig_mask, 32)
    ns, nsig = sat_ids.size, sig_ids.size
    nm = ns * nsig
    if nm > 64:
        raise Rtcm3DecodeError(f"MSM {msg_type}: cell mask of {ns}x{nsig} > 64 bits")
    cell_mask, nc = _cell_mask(f(HEADER_BITS, nm) if nm else 0, ns, nsig)
    starts, widths, signed, sl, end = _layout(msm, ns, nc, HEADER_BITS + nm)
    if end > n_bits:
        raise Rtcm3DecodeError(f"MSM {msg_type}: {len(payload)}-byte payload too short for {ns} satellites, {nc} cells")
    v = gather_fields(payload, starts, widths, signed) if starts.size else np.zeros(0, np.int64)
    g = {k: (None if s_ is None else v[s_]) for k, s_ in sl.items()}
    return MsmMessage(msg_type, system, msm, f(12, 12), f(24, 30), bool(f(54, 1)), f(55, 3),
                      f(65, 2), f(67, 2), f(69, 1), f(70, 3), sat_ids, sig_ids, cell_mask,
                      g["rough_ms"], g["ext_info"], g["rough_mod"], g["rough_rate"], g["fine_pr"], g["fine_ph"],
                      g["lock"], g["half"], g["cnr"], g["fine_rate"], f(58, 7),
                      (msg_type, sat_mask, sig_mask, f(HEADER_BITS, nm) if nm else 0))


# ------------------------------------------------------------------------------------ time
def _nearest(t_ns: int, ref_ns: int, period_ns: int) -> int:
    """Shift ``t_ns`` by whole periods to be within half a period of ``ref_ns``."""
    return t_ns + round((ref_ns - t_ns) / period_ns) * period_ns


_LEAP_CACHE: dict[tuple[str, int], int] = {}


def _leap_hourly(kind: str, t_ns: int) -> int:
    """Leap seconds (GPST - UTC) looked up once per hour of time (gnss_time is array-oriented)."""
    key = (kind, t_ns // (3600 * NS))
    v = _LEAP_CACHE.get(key)
    if v is None:
        t0 = key[1] * 3600 * NS  # sampled at the start of the hour
        v = (int(gpst_to_glonasst(t0)) if kind == "to" else int(glonasst_to_gpst(t0))) - t0
        if len(_LEAP_CACHE) > 10_000:
            _LEAP_CACHE.clear()
        _LEAP_CACHE[key] = v
    return v


def _gpst_to_glonasst(t_ns: int) -> int:
    # the offset is constant over the hour when it is equal at its start and at the next hour's start;
    # otherwise (the hour of a leap second) the exact array path is taken
    a, b = _leap_hourly("to", t_ns), _leap_hourly("to", t_ns + 3600 * NS)
    return t_ns + a if a == b else int(gpst_to_glonasst(t_ns))


def _glonasst_to_gpst(t_ns: int) -> int:
    a, b = _leap_hourly("from", t_ns), _leap_hourly("from", t_ns + 3600 * NS)
    return t_ns + a if a == b else int(glonasst_to_gpst(t_ns))


def msm_time_ns(system: str, epoch_ms: int, t_ref_ns: int) -> int:
    """MSM epoch field -> GPST ns, the week (or GLONASS day) resolved nearest ``t_ref_ns``.

    GPS/Galileo/QZSS/SBAS/NavIC: TOW ms in GPST. BeiDou: BDT TOW (GPST = BDT + 14 s).
    GLONASS: day of week (3 bits, 0 = Sunday, 7 = unknown) + time of day in GLONASS time; with a
    known day the week is resolved (as for GPS), otherwise the day nearest the reference (within 12 h).
    """
    if system == "R":
        tod_ns = (epoch_ms & ((1 << 27) - 1)) * 1_000_000
        dow = epoch_ms >> 27
        ref_glo = _gpst_to_glonasst(t_ref_ns)
        if dow <= 6:
            t_glo = _nearest(ref_glo - ref_glo % WEEK_NS + dow * DAY_NS + tod_ns, ref_glo, WEEK_NS)
        else:
            t_glo = _nearest(ref_glo - ref_glo % DAY_NS + tod_ns, ref_glo, DAY_NS)
        return _glonasst_to_gpst(t_glo)
    t = epoch_ms * 1_000_000
    if system == "C":
        t += BDT_OFFSET_S * NS
    return _nearest(t_ref_ns - t_ref_ns % WEEK_NS + t, t_ref_ns, WEEK_NS)


def msm_epoch_field(system: str, t_gpst_ns: int) -> int:
    """Inverse of :func:`msm_time_ns`: the 30-bit epoch field for a GPST instant (ms resolution)."""
    if system == "R":
        t_glo = int(gpst_to_glonasst(t_gpst_ns))
        dow = (t_glo // DAY_NS) % 7  # GPS epoch day 0 is a Sunday
        return (int(dow) << 27) | int((t_glo % DAY_NS) // 1_000_000)
    t = int(t_gpst_ns) - (BDT_OFFSET_S * NS if system == "C" else 0)
    return int((t % WEEK_NS) // 1_000_000)


# ------------------------------------------------------------------------------ observables
@dataclass
class MsmCells:
    """Physical observables of the cells of one MSM message (arrays of length Nc)."""

    sat: np.ndarray  # "G05"
    code: np.ndarray  # RINEX 3 code "1C"
    sys_index: int
    prn_index: np.ndarray  # MSM satellite number
    sig_id: np.ndarray
    code_m: np.ndarray
    phase_cyc: np.ndarray
    doppler_hz: np.ndarray
    snr_dbhz: np.ndarray
    lock: np.ndarray  # lock-time indicator, -1 if absent
    half: np.ndarray  # half-cycle ambiguity flag
    missing_wavelength: int  # cells whose phase/Doppler were dropped (GLONASS channel unknown)
    sat_key: np.ndarray  # integer satellite key (msm_tables.SAT_OF_KEY), -1 if no RINEX id
    code_key: np.ndarray  # integer code key (msm_tables.CODE_OF_KEY)


_GEOM_CACHE: dict[tuple, tuple] = {}


def _geometry(msg: MsmMessage) -> tuple:
    """Per-cell lookups that depend only on the masks (cached: the same masks repeat every epoch)."""
    key = msg.layout_key or (msg.msg_type, msg.sat_ids.tobytes(), msg.sig_ids.tobytes(), msg.cell_mask.tobytes())
    hit = _GEOM_CACHE.get(key)
    if hit is None:
        k = T.SYS_INDEX[msg.system]
        cs, cg = np.nonzero(msg.cell_mask)
        prn, sig = msg.sat_ids[cs], msg.sig_ids[cg]
        hit = (k, cs, prn, sig, T.SAT_TABLE[k, prn], T.CODE_TABLE[k, sig], T.FREQ_TABLE[k, sig],
               T.SAT_KEY_TABLE[k, prn], T.CODE_KEY_TABLE[k, sig], T.GLO_BAND1[sig], T.GLO_BAND2[sig],
               T.SAT_TABLE[k, msg.sat_ids])
        if len(_GEOM_CACHE) < _CACHE_MAX:
            _GEOM_CACHE[key] = hit
    return hit


def msm_cells(msg: MsmMessage, glonass_channels: dict[str, int] | None = None) -> MsmCells:
    """Convert raw MSM fields to pseudorange [m], phase [cycles], Doppler [Hz], C/N0 [dB-Hz].

    Invalid fields become NaN; MSM1-3 carry no whole milliseconds, so their ranges are NaN.
    GLONASS FDMA wavelengths need the channel: MSM5/7 extended info, else ``glonass_channels``.
    """
    k, cs, prn, sig, sat, code, freq, sat_key, code_key, band1, band2, msg_sats = _geometry(msg)
    nc = cs.size
    if msg.system == "R":
        chan = np.full(msg.sat_ids.size, np.nan)
        if glonass_channels:
            chan = np.array([glonass_channels.get(s, np.nan) for s in msg_sats.tolist()], float)
        if msg.ext_info is not None:
            chan = np.where(msg.ext_info <= 13, msg.ext_info - 7.0, chan)
        c = chan[cs]
        freq = np.where(band1, 1602e6 + 0.5625e6 * c, np.where(band2, 1246e6 + 0.4375e6 * c, freq))
    m = msg.msm
    if msg.rough_ms is not None:
        rough = msg.rough_ms + msg.rough_mod * (1.0 / 1024.0)
        if (msg.rough_ms == 255).any():
            rough[msg.rough_ms == 255] = np.nan
        r = rough[cs]
    else:
        r = np.full(nc, np.nan)
    code_m = phase = dop = snr = None
    if msg.fine_pr is not None:
        code_m = (r + msg.fine_pr * FINE_PR_MS[m]) * RANGE_MS_M
        bad = msg.fine_pr == -(1 << (19 if m >= 6 else 14))
        if bad.any():
            code_m[bad] = np.nan
    if msg.fine_ph is not None:
        phase = (r + msg.fine_ph * FINE_PH_MS[m]) * (RANGE_MS_M / CLIGHT) * freq
        bad = msg.fine_ph == -(1 << (23 if m >= 6 else 21))
        if bad.any():
            phase[bad] = np.nan
    if msg.fine_rate is not None and msg.rough_rate is not None:
        rr = msg.rough_rate.astype(float)
        if (msg.rough_rate == -8192).any():
            rr[msg.rough_rate == -8192] = np.nan
        dop = (rr[cs] + msg.fine_rate * 1e-4) * (-1.0 / CLIGHT) * freq
        bad = msg.fine_rate == -16384
        if bad.any():
            dop[bad] = np.nan
    if msg.cnr is not None:
        snr = (msg.cnr * CNR_DBHZ[m]).astype(np.float32)
        snr[msg.cnr == 0] = np.nan
    nan = np.full(nc, np.nan)
    missing = 0
    if msg.system == "R":
        missing = int(np.count_nonzero(np.isnan(freq) & np.isfinite(code_m if code_m is not None else nan)))
    lock = msg.lock if msg.lock is not None else np.full(nc, -1, np.int64)
    half = msg.half if msg.half is not None else np.zeros(nc, np.int64)
    return MsmCells(sat, code, k, prn, sig, nan if code_m is None else code_m, nan if phase is None else phase,
                    nan if dop is None else dop, nan.astype(np.float32) if snr is None else snr, lock, half,
                    missing, sat_key, code_key)


# ---------------------------------------------------------------------------------- encode
def encode_msm(msg: MsmMessage) -> bytes:
    """Raw MSM fields -> payload bytes (inverse of :func:`decode_msm`)."""
    w = BitWriter()
    m = msg.msm
    w.put(msg.msg_type, 12)
    w.put(msg.station_id, 12)
    w.put(msg.epoch_ms, 30)
    w.put(int(msg.multiple), 1)
    w.put(msg.iods, 3)
    w.put(msg.reserved, 7)
    w.put(msg.clock_steering, 2)
    w.put(msg.external_clock, 2)
    w.put(msg.smoothing, 1)
    w.put(msg.smoothing_interval, 3)
    sat_mask = 0
    for s in msg.sat_ids.tolist():
        sat_mask |= 1 << (64 - s)
    sig_mask = 0
    for s in msg.sig_ids.tolist():
        sig_mask |= 1 << (32 - s)
    w.put(sat_mask, 64)
    w.put(sig_mask, 32)
    if msg.cell_mask.size > 64:
        raise ValueError("MSM cell mask larger than 64 bits: split the satellites over several messages")
    w.put_bits(msg.cell_mask.astype(np.uint8).ravel())
    has_ms, has_ext = _SAT_LAYOUT[m]
    parts = []
    if has_ms:
        parts.append(pack_uint_array(msg.rough_ms, 8))
    if has_ext:
        parts.append(pack_uint_array(msg.ext_info, 4))
    parts.append(pack_uint_array(msg.rough_mod, 10))
    if has_ext:
        parts.append(pack_uint_array(msg.rough_rate, 14))
    w_pr, w_ph, w_lock, has_half, w_cnr, w_rate = _CELL_LAYOUT[m]
    for arr, width in ((msg.fine_pr, w_pr), (msg.fine_ph, w_ph), (msg.lock, w_lock),
                       (msg.half, int(has_half)), (msg.cnr, w_cnr), (msg.fine_rate, w_rate)):
        if width:
            parts.append(pack_uint_array(arr, width))
    w.put_bits(np.concatenate(parts))
    return w.to_bytes()
