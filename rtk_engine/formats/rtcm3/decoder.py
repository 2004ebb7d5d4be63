"""Stateful RTCM 3 stream decoder: bytes in, epochs / ephemerides / station info out.

``Rtcm3Decoder.feed(data)`` accepts any chunking of a byte stream, frames it with
:class:`~rtk_engine.formats.rtcm3_frame.FrameScanner` and returns the items completed by that
chunk, in stream order:

* :class:`~rtk_engine.obs.ObsBlock` (E = 1) per epoch: all MSM (and legacy 1004/1012) messages of one
  epoch combined via the multiple-message bit (or a change of epoch time); GPST times;
* :class:`~.ephemeris.EphemerisMessage` (raw fields + one-row ``KeplerEphemeris``/``GlonassEphemeris``);
* :class:`~.station.StationPosition` (1005/1006), :class:`~.station.StationDescriptor` (1007/1008/1033);
* :class:`~.glonass_bias.GlonassBiases` (1230).

Nothing escapes as an exception: malformed payloads and unsupported message types are counted
per type in :attr:`Rtcm3Decoder.counters` (and logged once per type).
"""
from __future__ import annotations

import logging
import operator
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ... import _ext
from ... import gnss_time as gt
from ...nav import GlonassEphemeris, KeplerEphemeris, NavData
from ...obs import ObsBlock, ObsHeader
from ..rtcm3_frame import FrameScanner
from . import msm_tables as T
from .bits import Rtcm3DecodeError, compiled_reader, read_schema
from .ephemeris import EPHEMERIS_TYPES, SCHEMAS, EphemerisMessage, decode_ephemeris
from .glonass_bias import GlonassBiases, decode_glonass_biases
from .legacy import LEGACY_TYPES, LegacyObs, decode_legacy, kernel_args, legacy_records, sat_set, sat_set_key
from .msm import MsmCells, MsmMessage, decode_msm, msm_cells, msm_time_ns
from .msm_batch import decode_run, decode_run_lli, head_plan, loss_of_lock
from .station import StationDescriptor, StationPosition, decode_station_descriptor, decode_station_position

log = logging.getLogger(__name__)

STATION_POSITION_TYPES = frozenset({1005, 1006})
_CHANNEL_TYPES = frozenset({1010, 1012, 1020})  # messages that reveal GLONASS FDMA channels
DESCRIPTOR_TYPES = frozenset({1007, 1008, 1033})
SUPPORTED_TYPES = (frozenset(range(1071, 1078)) | frozenset(range(1081, 1088)) | frozenset(range(1091, 1098))
                   | frozenset(range(1101, 1108)) | frozenset(range(1111, 1118)) | frozenset(range(1121, 1128))
                   | frozenset(range(1131, 1138)) | STATION_POSITION_TYPES | DESCRIPTOR_TYPES | LEGACY_TYPES
                   | EPHEMERIS_TYPES | {1230})
MAX_NOTES = 100
_MSM_TYPES = frozenset(t for t in range(4096) if T.msm_kind(t) is not None)


def message_type(payload: bytes) -> int:
    return (payload[0] << 4) | (payload[1] >> 4) if len(payload) >= 2 else 0


def decode_message(payload: bytes, t_ref_ns: int):
    """Decode one payload into its raw object (MsmMessage, LegacyObs, EphemerisMessage, StationPosition,
    StationDescriptor, GlonassBiases). Raises Rtcm3DecodeError if malformed, KeyError if unsupported."""
    t = message_type(payload)
    if T.msm_kind(t) is not None:
        return decode_msm(payload)
    if t in EPHEMERIS_TYPES:
        return decode_ephemeris(payload, t_ref_ns)
    if t in STATION_POSITION_TYPES:
        return decode_station_position(payload)
    if t in DESCRIPTOR_TYPES:
        return decode_station_descriptor(payload)
    if t in LEGACY_TYPES:
        return decode_legacy(payload)
    if t == 1230:
        return decode_glonass_biases(payload)
    raise KeyError(t)


def _new_counter() -> Counter:
    """An empty Counter without Counter.__init__'s Python-level update call (a decoder per stream makes three)."""
    return Counter.__new__(Counter)


@dataclass
class Rtcm3Counters:
    """What the decoder saw. ``frames``/``bad_crc``/``garbage_bytes`` come from the framer."""

    frames: int = 0
    bad_crc: int = 0
    garbage_bytes: int = 0
    decoded: Counter = field(default_factory=lambda: _new_counter())  # per message type
    unsupported: Counter = field(default_factory=lambda: _new_counter())  # per message type (valid frame, no decoder)
    malformed: Counter = field(default_factory=lambda: _new_counter())  # per message type (decoder rejected it)
    epochs: int = 0
    incomplete_epochs: int = 0  # epochs cut off at the end of the stream (multiple-message bit still set)
    cells_no_glonass_channel: int = 0  # GLONASS phase/Doppler dropped: FDMA channel unknown
    cells_ambiguous_range: int = 0  # MSM1-3 cells: ranges modulo 1 ms, left NaN
    cells_unknown_satellite: int = 0  # satellite numbers without a RINEX id (e.g. QZSS > 99)
    notes: list[str] = field(default_factory=list)  # first MAX_NOTES problems, human readable


@dataclass
class _Cells:
    """Observables of one message ready for epoch assembly (arrays of length N)."""

    sat_key: np.ndarray  # msm_tables.SAT_OF_KEY index, -1 unknown
    code_key: np.ndarray  # msm_tables.CODE_OF_KEY index
    code_m: np.ndarray
    phase_cyc: np.ndarray
    doppler_hz: np.ndarray
    snr_dbhz: np.ndarray
    lli: np.ndarray
    layout: object = None  # msm_batch run layout the cells came from (caches the epoch structure)


class Rtcm3Decoder:
    """Stateful RTCM 3 decoder (see module docstring).

    ``t_ref_ns``: a GPST instant within half a week of the stream (for GPS/Galileo/BeiDou
    weeks) and within 12 h (for GLONASS days); defaults to the current time, which is right for
    live streams. After each epoch the reference follows the stream, so week rollovers are handled.
    ``keep_raw``: also return the raw :class:`MsmMessage`/:class:`LegacyObs` objects.
    ``glonass_channels``: FDMA channels known in advance ("R01" -> k); MSM5/7 and 1020 update them.
    """

    def __init__(self, t_ref_ns: int | None = None, *, keep_raw: bool = False,
                 glonass_channels: dict[str, int] | None = None) -> None:
        if t_ref_ns is None:
            now_utc = int(time.time() * gt.NS) - int((np.datetime64("1980-01-06", "ns") - np.datetime64("1970-01-01", "ns")).astype(np.int64))
            t_ref_ns = int(gt.utc_to_gpst(now_utc))
        self.t_ref_ns = int(t_ref_ns)
        self.keep_raw = keep_raw
        self.scanner = FrameScanner()
        self.counters = Rtcm3Counters()
        self.header = ObsHeader()
        self.station: StationPosition | None = None
        self.descriptor: StationDescriptor | None = None
        self.glonass_biases: GlonassBiases | None = None
        self.glonass_channels: dict[str, int] = dict(glonass_channels or {})
        # distinct ephemerides per satellite, oldest first, at most EPHEMERIDES_PER_SATELLITE each
        # (a long-running stream repeats them every few seconds: memory stays bounded)
        self._eph: dict[str, dict[tuple, tuple[int, EphemerisMessage]]] = {}
        self._eph_seq = 0
        self._eph_memo: dict[bytes, tuple] = {}  # ephemeris payload -> (t_ref_ns, fields, satellite, key)
        self._nav_cache: NavData | None = None
        self._pending: list[_Cells] = []
        self._raw: list[bytes] = []  # MSM payloads of the pending epoch, not decoded yet
        self._raw_plans: list = []
        self._closed: list[tuple] = []  # completed epochs waiting for their cells (see _close_epoch)
        self._n_closed_raw = 0  # held MSMs that belong to them (the rest: the open epoch)
        self._chan_cache: tuple | None = None
        self._times: dict[tuple, int] = {}  # (system, MSM epoch field, reference) -> GPST ns
        self._pending_t: int | None = None
        self._pending_anchor = False
        self._header_cache: tuple | None = None
        # last lock-time indicator per [system, satellite number, signal id] (-1 never seen); three kinds:
        # 0 MSM 4-bit DF402, 1 MSM 10-bit DF407, 2 legacy 7-bit (signal 1 = L1, 2 = L2)
        self._lock = _LOCK_NEVER.copy()  # -1: never seen (indicators <= 10 bits)
        self._lock_flat = self._lock.reshape(-1)  # a view

    # ------------------------------------------------------------------ input
    def feed(self, data: bytes) -> list:
        """Bytes (any chunking) -> decoded items completed by them.

        MSM payloads are held (header-checked) until their epoch is complete; the cells of all epochs
        completed by one call are decoded together (:mod:`.msm_batch`), so the cost per epoch does not
        grow when the stream arrives in small chunks and shrinks when it arrives in large ones. Items
        come out in stream order.
        """
        out: list = []
        for fr in self.scanner.feed(data):
            p = fr[3:-3]
            t = (p[0] << 4) | (p[1] >> 4) if len(p) >= 2 else 0
            if self.keep_raw:
                out.extend(self.feed_payload(p))
            elif t in _MSM_TYPES:
                self._add_msm(p, t, out)
            else:
                if self._raw and (t in _CHANNEL_TYPES or t in LEGACY_TYPES):
                    self._finish_epochs(True)  # they change GLONASS channels or add cells: held MSMs come first
                if t in EPHEMERIS_TYPES:
                    self._add_ephemeris(p, t, out)
                elif t in LEGACY_TYPES:
                    self._add_legacy(p, t, out)
                else:
                    out.extend(self.feed_payload(p))
        self._finish_epochs(False)
        st = self.scanner.stats
        self.counters.frames, self.counters.bad_crc, self.counters.garbage_bytes = st.frames, st.bad_crc, st.garbage_bytes
        return out

    def flush(self) -> list:
        """End of stream: an epoch still waiting for messages announced by the multiple-message bit is
        incomplete; it is dropped, counted in ``counters.incomplete_epochs`` and noted (logged at INFO: a
        recording or connection cut in mid-epoch is the usual end of a stream, not a fault of its data)."""
        self._finish_epochs(True)  # its cells still count (and update lock and channel state)
        if self._pending_t is not None:
            self.counters.incomplete_epochs += 1
            self._note(0, f"incomplete epoch {gt.to_iso(self._pending_t)} at end of stream dropped", count=False)
        self._pending, self._pending_t, self._pending_anchor = [], None, False
        return []

    def feed_payload(self, payload: bytes) -> list:
        """One CRC-checked message payload -> decoded items (never raises on bad content)."""
        t = message_type(payload)
        try:
            obj = decode_message(payload, self.t_ref_ns)
        except KeyError:
            self.counters.unsupported[t] += 1
            return []
        except (Rtcm3DecodeError, ValueError, IndexError) as exc:
            self._note(t, f"message {t}: {exc}")
            return []
        self.counters.decoded[t] += 1
        try:
            return self._handle(t, obj)
        except (Rtcm3DecodeError, ValueError, IndexError) as exc:  # inconsistent content
            self._note(t, f"message {t}: {exc}")
            return []

    def _add_ephemeris(self, p: bytes, t: int, out: list) -> None:
        """:meth:`feed_payload` of an ephemeris message, without the generic dispatch. Streams repeat each
        ephemeris every few seconds: a payload seen before gives its fields (a copy), satellite and key
        (recomputed when the time reference moved) without being read again."""
        memo = self._eph_memo.get(p)
        if memo is not None:
            t_ref, fields, sat, key = memo
            obj = EphemerisMessage(t, dict(fields), self.t_ref_ns)
            if t_ref != self.t_ref_ns:  # the key's week/day resolution depends on the reference
                key = obj.key
                self._eph_memo[p] = (self.t_ref_ns, fields, sat, key)
            self.counters.decoded[t] += 1
            self._take_ephemeris(obj, sat, key)
            out.append(obj)
            return
        reader = _EPH_READERS.get(t, False)
        if reader is False:
            reader = _EPH_READERS[t] = compiled_reader(SCHEMAS[t])
        try:
            if reader is not None and _ext.enabled() and len(p) * 8 >= reader[0]:
                obj = EphemerisMessage(t, reader[2](p, 0, reader[1]), self.t_ref_ns)
            else:
                obj = EphemerisMessage(t, read_schema(p, SCHEMAS[t])[0], self.t_ref_ns)
        except (Rtcm3DecodeError, ValueError, IndexError) as exc:
            self._note(t, f"message {t}: {exc}")
            return
        self.counters.decoded[t] += 1
        sat, key = obj.sat, obj.key
        if len(self._eph_memo) >= _EPH_MEMO_SIZE:
            self._eph_memo.clear()
        self._eph_memo[p] = (self.t_ref_ns, dict(obj.fields), sat, key)
        self._take_ephemeris(obj, sat, key)
        out.append(obj)

    def _add_legacy(self, p: bytes, t: int, out: list) -> None:
        """:meth:`feed_payload` of a legacy 1002/1004/1010/1012: with the compiled kernel, records straight to
        cells (one call: observables, LLI) through a cached plan of the satellite set; else the generic path."""
        kernel = _ext.kernel("rtcm3_core", "legacy_cells")
        try:
            rec = legacy_records(p) if kernel is not None else None
            plan = self._legacy_plan(rec[0], rec[4], rec[5]) if rec is not None else None
        except (Rtcm3DecodeError, ValueError, IndexError) as exc:
            self._note(t, f"message {t}: {exc}")
            return
        if plan is None or plan.flat is None:  # no kernel, or a satellite twice in one message (numpy rule)
            out.extend(self.feed_payload(p))
            return
        t, _, epoch, multiple, v, _ = rec
        self.counters.decoded[t] += 1
        code, phase, dop, snr, lli = kernel(v, *plan.args, plan.rows, plan.nf, self._lock_flat, plan.flat)
        cells = _Cells(plan.sat_key, plan.code_key, code, phase, dop, snr, lli, plan)
        out.extend(self._add_legacy_obs(t, epoch, multiple, plan.chans, cells, None))

    def _legacy_plan(self, t: int, v: np.ndarray, layout) -> "_LegacyPlan":
        plan = _LEGACY_PLANS.get(sat_set_key(t, v, layout))
        if plan is None:
            (sats, codes, keep, chans), key = sat_set(t, v, None, layout)
            nf = 1 if t in (1002, 1010) else 2
            kk, pp, sig, sat_key, code_key, zeros, flat = self._legacy_layout(sats, codes[:, :nf])
            plan = _LegacyPlan(kernel_args(t, layout), np.flatnonzero(keep), nf, sat_key, code_key, flat, chans)
            if len(_LEGACY_PLANS) > 512:
                _LEGACY_PLANS.clear()
            _LEGACY_PLANS[key] = plan
        return plan

    def _add_legacy_obs(self, t: int, epoch_ms: int, multiple: bool, channels: dict[str, int], cells: "_Cells",
                        raw) -> list:
        sys_ = "G" if t in (1002, 1004) else "R"
        self.glonass_channels.update(channels)
        epoch = epoch_ms | (7 << 27) if sys_ == "R" else epoch_ms  # 1010/1012: time of day only
        return self._add_obs(msm_time_ns(sys_, epoch, self.t_ref_ns), cells, multiple, raw, sys_ == "G")

    def _take_ephemeris(self, obj: EphemerisMessage, sat: str | None = None, key: tuple | None = None) -> None:
        """Channel (1020) and store; ``sat``/``key``: ``obj.sat``/``obj.key`` if known."""
        sat = obj.sat if sat is None else sat
        if obj.msg_type == 1020:
            self.glonass_channels[sat] = obj.fields["DF040"] - 7
        self._keep_ephemeris(obj, sat, key)

    def _add_msm(self, p: bytes, t: int, out: list) -> None:
        """Header-check one MSM payload and hold it with its epoch; a completed epoch goes to ``out``."""
        try:
            _, system, msm, head, plan = head_plan(p)
        except (Rtcm3DecodeError, ValueError, IndexError) as exc:
            self._note(t, f"message {t}: {exc}")
            return
        self.counters.decoded[t] += 1
        if msm <= 3:
            self.counters.cells_ambiguous_range += plan.nc
        epoch_ms = (head >> 186) & 0x3FFFFFFF
        key = (system if system in "RC" else "G", epoch_ms, self.t_ref_ns)  # GPS-like systems share TOW
        t_ns = self._times.get(key)
        if t_ns is None:
            if len(self._times) > 64:
                self._times.clear()
            t_ns = self._times[key] = msm_time_ns(system, epoch_ms, self.t_ref_ns)
        if self._pending_t is not None and t_ns != self._pending_t:
            self._close_epoch(out)
        self._pending_t = t_ns
        self._pending_anchor = self._pending_anchor or system != "R" or (epoch_ms >> 27) <= 6
        self._raw.append(p)
        self._raw_plans.append(plan)
        if not (head >> 185) & 1:  # multiple-message bit clear, end of epoch: later times follow the new reference
            self._close_epoch(out)

    def _close_epoch(self, out: list) -> None:
        """The pending epoch is complete: reserve its place in ``out``; its block is built by _finish_epochs."""
        n_raw = len(self._raw) - self._n_closed_raw  # its held MSMs (earlier ones may be decoded already)
        self._closed.append((out, len(out), self._pending_t, self.header, self._pending, n_raw))
        out.append(None)
        self._n_closed_raw = len(self._raw)
        if self._pending_anchor:  # GLONASS time of day alone cannot move the week reference
            self.t_ref_ns = self._pending_t
        self._pending, self._pending_t, self._pending_anchor = [], None, False
        self.counters.epochs += 1

    def _finish_epochs(self, with_open: bool) -> None:
        """Decode the held MSMs of the completed epochs and put their blocks in place; ``with_open``: the
        held MSMs of the open epoch too (into its pending cells)."""
        closed = self._closed
        if closed:
            k = self._n_closed_raw
            payloads, plans = self._raw[:k], self._raw_plans[:k]
            del self._raw[:k], self._raw_plans[:k]
            self._closed, self._n_closed_raw = [], 0
            batch = self._decode_batch(payloads, plans, [c[5] for c in closed])
            j = 0
            for e, (out, i, t_ns, header, parts, n) in enumerate(closed):
                if batch is None:  # one epoch at a time
                    cells = self._decode_one(payloads[j:j + n], plans[j:j + n])
                else:
                    cells, glo_prn, ext = batch[e]
                    self._learn_channels(glo_prn, ext)
                j += n
                out[i] = self._block(t_ns, parts + cells, header)  # header channels: those known after it
        if with_open and self._raw:
            self._pending.extend(self._decode_one(self._raw, self._raw_plans))
            self._raw, self._raw_plans = [], []

    def _decode_one(self, payloads: list[bytes], plans: list) -> list[_Cells]:
        """Cells of one epoch's held MSMs (GLONASS channels learnt from their extended info)."""
        if not payloads:
            return []
        fused = decode_run_lli(payloads, plans, self._channel_array(), self._lock_flat)  # compiled: one call
        if fused is not None:
            lay, code_m, phase, dop, snr, lli, ext, missing = fused
            self.counters.cells_no_glonass_channel += missing
            if ext is not None:
                self._learn_channels(lay.kmat[4], ext)
            return [_Cells(lay.kmat[2], lay.kmat[3], code_m, phase, dop, snr, lli, lay)]
        rc = decode_run(payloads, plans, self._channel_array())
        self.counters.cells_no_glonass_channel += rc.missing_wavelength
        lli = loss_of_lock(self._lock_flat, rc.lock_index, rc.lock, rc.lock_unique)
        lli = lli.astype(np.uint8) | ((rc.half.astype(np.uint8) & 1) << 1)
        if rc.has_ext:
            self._learn_channels(rc.glo_prn, rc.ext)
        return [_Cells(rc.sat_key, rc.code_key, rc.code_m, rc.phase_cyc, rc.doppler_hz, rc.snr_dbhz, lli, rc.layout)]

    def _decode_batch(self, payloads: list[bytes], plans: list, n_msgs: list[int]) -> list | None:
        """Cells of consecutive epochs (``n_msgs`` held MSMs each) decoded together: per epoch (cells, GLONASS
        numbers, extended info) for the caller to learn channels from in order. None when one epoch at a time
        would give other numbers (a later epoch relies on a channel learnt in the batch) or is as cheap."""
        if len(n_msgs) < 2 or not payloads or _ext.kernel("rtcm3_core", "msm_run") is not None:
            return None  # with the compiled kernel, epochs with cached layouts are cheaper one at a time
        rc = decode_run(payloads, plans, self._channel_array())
        if rc.has_ext and self._learnt_channel_used(rc):
            return None
        self.counters.cells_no_glonass_channel += rc.missing_wavelength
        lli = loss_of_lock(self._lock_flat, rc.lock_index, rc.lock)  # keys repeat across epochs: in order
        lli = lli.astype(np.uint8) | ((rc.half.astype(np.uint8) & 1) << 1)
        bounds = np.cumsum([0] + [p.nc for p in plans]).tolist()
        out, j = [], 0
        no_ext = np.zeros(0, np.int64)
        for n in n_msgs:
            sl = slice(bounds[j], bounds[j + n])
            j += n
            cells = [_Cells(rc.sat_key[sl], rc.code_key[sl], rc.code_m[sl], rc.phase_cyc[sl], rc.doppler_hz[sl],
                            rc.snr_dbhz[sl], lli[sl])] if n else []
            out.append((cells, rc.glo_prn[sl] if rc.has_ext else no_ext, rc.ext[sl] if rc.has_ext else no_ext))
        return out

    @staticmethod
    def _learnt_channel_used(rc) -> bool:
        """Whether a GLONASS satellite given a channel by extended info in the batch also has cells that
        rely on the known channels (FDMA band, no extended info of their own)."""
        own = (rc.ext >= 0) & (rc.ext <= 13)
        learnt = rc.glo_prn[(rc.glo_prn > 0) & own]
        relying = rc.glo_prn[(rc.glo_prn > 0) & ~own & rc.fdma]
        return bool(learnt.size and relying.size and np.isin(relying, learnt).any())

    def _learn_channels(self, glo_prn: np.ndarray, ext: np.ndarray) -> None:
        """GLONASS FDMA channels from MSM5/7 extended info (ext = channel + 7, 0..13)."""
        key = glo_prn.tobytes() + ext.tobytes()
        pairs = _LEARNT.get(key)
        if pairs is None:  # the same satellites and channels usually repeat for many epochs
            glo = (glo_prn > 0) & (ext >= 0) & (ext <= 13)
            pairs = [(f"R{prn:02d}", e - 7) for prn, e in set(zip(glo_prn[glo].tolist(), ext[glo].tolist()))]
            if len(_LEARNT) > 256:
                _LEARNT.clear()
            _LEARNT[key] = pairs
        if pairs:
            self.glonass_channels.update(pairs)

    def _channel_array(self) -> np.ndarray:
        """Known GLONASS FDMA channel per satellite number (NaN unknown), rebuilt when the channels change."""
        if not self.glonass_channels:
            return _NO_CHANNELS
        cached = self._chan_cache
        if cached is None or cached[0] != self.glonass_channels:
            chan = np.full(65, np.nan)
            for sat, k in self.glonass_channels.items():
                chan[int(sat[1:])] = k
            cached = self._chan_cache = (dict(self.glonass_channels), chan)
        return cached[1]

    def _note(self, t: int, text: str, count: bool = True) -> None:
        if not count:
            log.info("RTCM3 %s", text)
        else:
            self.counters.malformed[t] += 1
            if self.counters.malformed[t] == 1:
                log.warning("RTCM3 %s", text)
        if len(self.counters.notes) < MAX_NOTES:
            self.counters.notes.append(text)

    def _handle(self, t: int, obj) -> list:
        if isinstance(obj, MsmMessage):
            anchor = obj.system != "R" or (obj.epoch_ms >> 27) <= 6  # a week-resolved time
            return self._add_obs(msm_time_ns(obj.system, obj.epoch_ms, self.t_ref_ns), self._msm_cells(obj),
                                 obj.multiple, obj, anchor)
        if isinstance(obj, LegacyObs):
            return self._add_legacy_obs(t, obj.epoch_ms, obj.multiple, obj.channels, self._legacy_cells(obj), obj)
        if isinstance(obj, EphemerisMessage):
            self._take_ephemeris(obj)
            return [obj]
        if isinstance(obj, StationPosition):
            old = self.station
            self.station = obj
            if (old is not None and old.station_id == obj.station_id and old.antenna_height_m == obj.antenna_height_m
                    and np.array_equal(old.ecef_m, obj.ecef_m)):
                return [obj]  # repeated every few seconds: the header stays the same object
            self.header = _header_with(self.header)  # new object: epochs already returned keep theirs
            self.header.approx_pos_ecef_m = obj.ecef_m.copy()
            self.header.antenna_delta_hen_m = np.array([obj.antenna_height_m, 0.0, 0.0])
            self.header.marker_number = str(obj.station_id)
            return [obj]
        if isinstance(obj, StationDescriptor):
            self.descriptor = obj
            h = self.header
            new = {"antenna_type": obj.antenna_descriptor, "antenna_serial": obj.antenna_serial or h.antenna_serial}
            if obj.msg_type == 1033:
                new.update(receiver_type=obj.receiver_type, receiver_version=obj.receiver_firmware)
            if any(getattr(h, k) != v for k, v in new.items()):  # repeated descriptors keep the header object
                self.header = _header_with(h, **new)
            return [obj]
        if isinstance(obj, GlonassBiases):
            self.glonass_biases = obj
            return [obj]
        return [obj]

    # ------------------------------------------------------------ observations
    def _lli(self, kind: int, k: np.ndarray | int, prn: np.ndarray, sig: np.ndarray, lock: np.ndarray,
             half: np.ndarray) -> np.ndarray:
        """Loss of lock (bit 0) where the lock-time indicator dropped, or is 0 now and was 0 (or never
        seen) before, the rule RTKLIB applies; half-cycle ambiguity (DF420) -> bit 1."""
        state = self._lock[kind]
        prev = state[k, prn, sig]
        state[k, prn, sig] = lock
        slip = (lock < prev) | ((lock == 0) & (prev <= 0))
        return (slip.astype(np.uint8) | (np.asarray(half, np.uint8) << 1)).astype(np.uint8)

    def _msm_cells(self, m: MsmMessage) -> _Cells:
        if m.system == "R" and m.ext_info is not None:
            for s, e in zip(T.SAT_TABLE[T.SYS_INDEX["R"], m.sat_ids].tolist(), m.ext_info.tolist()):
                if e <= 13:
                    self.glonass_channels[s] = e - 7
        c: MsmCells = msm_cells(m, self.glonass_channels)
        self.counters.cells_no_glonass_channel += c.missing_wavelength
        if m.msm <= 3:
            self.counters.cells_ambiguous_range += c.sat.size
        if m.lock is not None:
            lli = self._lli(int(m.msm >= 6), c.sys_index, c.prn_index, c.sig_id, c.lock, c.half)
        else:
            lli = np.zeros(c.sat.size, np.uint8)
        return _Cells(c.sat_key, c.code_key, c.code_m, c.phase_cyc, c.doppler_hz, c.snr_dbhz, lli)

    def _legacy_cells(self, o: LegacyObs) -> _Cells:
        nf = o.codes.shape[1]
        kk, pp, sig, sat_key, code_key, zeros, flat = self._legacy_layout(o.sats, o.codes)
        lock = o.lock.ravel()
        compiled = _ext.kernel("rtcm3_core", "lock_slips") if flat is not None else None
        if compiled is not None and lock.dtype == np.int64 and lock.flags.c_contiguous and lock.size == flat.size:
            lli = compiled(self._lock_flat, flat, lock).view(np.uint8)  # no half-cycle flag in legacy
        else:
            lli = self._lli(2, kk, pp, sig, lock, zeros)
        return _Cells(sat_key, code_key, o.code_m.ravel(), o.phase_cyc.ravel(),
                      np.full(nf * o.sats.size, np.nan), o.snr_dbhz.ravel(), lli)

    def _legacy_layout(self, sats: np.ndarray, codes: np.ndarray) -> tuple:
        """Index arrays of the cells of legacy satellites ``sats`` with signals ``codes`` [n, nf]: system, number,
        signal (1 = L1, 2 = L2), satellite key, code key, zeros, flat lock-state key (None: a key twice)."""
        n, nf = codes.shape
        lay_key = sats.tobytes() + b"|" + codes.tobytes()
        lay = _LEGACY_LAYOUTS.get(lay_key)
        if lay is None:  # the same satellites and codes usually repeat for many epochs
            k = np.array([T.SYS_INDEX[s[0]] for s in sats.tolist()], np.int64) if n else np.zeros(0, np.int64)
            prn = np.array([int(s[1:]) for s in sats.tolist()], np.int64) if n else np.zeros(0, np.int64)
            code_key = np.array([T.CODE_KEY[(s[0], c)] for s, c in zip(np.repeat(sats, nf).tolist(),
                                                                       codes.ravel().tolist())], np.int64)
            kk, pp, sig = np.repeat(k, nf), np.repeat(prn, nf), np.tile(np.arange(1, nf + 1), n)
            flat = np.ravel_multi_index((np.full(kk.size, 2), kk, pp, sig), self._lock.shape)
            lay = (kk, pp, sig, np.repeat(k * 100 + prn, nf), code_key, np.zeros(nf * n, np.uint8),
                   flat if np.unique(flat).size == flat.size else None)  # unique keys: the compiled rule applies
            if len(_LEGACY_LAYOUTS) > 256:
                _LEGACY_LAYOUTS.clear()
            _LEGACY_LAYOUTS[lay_key] = lay
        return lay

    def _add_obs(self, t_ns: int, cells: _Cells, multiple: bool, raw, anchor: bool) -> list:
        out = []
        if self._pending_t is not None and t_ns != self._pending_t:
            out.extend(self._emit())
        self._pending_t = t_ns
        self._pending_anchor = self._pending_anchor or anchor
        self._pending.append(cells)
        if self.keep_raw and raw is not None:
            out.append(raw)
        if not multiple:
            out.extend(self._emit())
        return out

    def _emit(self) -> list:
        if self._pending_t is None:
            return []
        t_ns, parts = self._pending_t, self._pending
        self._pending, self._pending_t = [], None
        if self._pending_anchor:  # GLONASS time of day alone cannot move the week reference
            self.t_ref_ns = t_ns
        self._pending_anchor = False
        self.counters.epochs += 1
        return [self._block(t_ns, parts, self.header)]

    def _block(self, t_ns: int, parts: list[_Cells], header: ObsHeader) -> ObsBlock:
        """The epoch's ObsBlock; its header is ``header`` with the GLONASS channels known now."""
        hc = self._header_cache
        if hc is None or hc[0] is not header or hc[1] != self.glonass_channels:
            hc = (header, dict(self.glonass_channels), _header_with(header, glonass_channels=dict(self.glonass_channels)))
            self._header_cache = hc
        st = epoch_structure(parts)
        if not st[0]:  # cells of satellites without a RINEX id: left out
            self.counters.cells_unknown_satellite += st[1].size - st[2][0].size
        return build_epoch(t_ns, parts, hc[2], st)  # epochs share the header until station data change

    # ------------------------------------------------------------------ output
    def _keep_ephemeris(self, obj: EphemerisMessage, sat: str, key: tuple | None = None) -> None:
        """Store a distinct ephemeris (satellite, toe, IOD, source); repeats are dropped, and a
        satellite keeps its newest ``EPHEMERIDES_PER_SATELLITE``."""
        if key is None:
            key = obj.key  # from the raw fields: the nav row is built only when asked for
        per_sat = self._eph.get(sat)
        if per_sat is None:
            per_sat = self._eph[sat] = {}
        if key in per_sat:
            return
        self._eph_seq += 1
        per_sat[key] = (self._eph_seq, obj)
        while len(per_sat) > EPHEMERIDES_PER_SATELLITE:
            per_sat.pop(next(iter(per_sat)))
        self._nav_cache = None

    def nav_data(self) -> NavData:
        """The ephemerides kept (distinct by satellite/toe/IOD, newest ``EPHEMERIDES_PER_SATELLITE``
        per satellite), in order of receipt."""
        if self._nav_cache is None:
            self._nav_cache = self._build_nav()
        return NavData(kepler=self._nav_cache.kepler, glonass=self._nav_cache.glonass)

    def _build_nav(self) -> NavData:
        kept = sorted((v for per_sat in self._eph.values() for v in per_sat.values()), key=lambda v: v[0])
        kepler = [m for _, m in kept if m.msg_type != 1020]
        glonass = [m for _, m in kept if m.msg_type == 1020]
        nav = NavData()
        if kepler:
            rows = [m.nav for m in kepler]
            k = KeplerEphemeris(sat=np.concatenate([r.sat for r in rows]),
                                toe_ns=np.concatenate([r.toe_ns for r in rows]),
                                toc_ns=np.concatenate([r.toc_ns for r in rows]),
                                ttr_ns=np.concatenate([r.ttr_ns for r in rows]),
                                cols={c: np.concatenate([r.cols[c] for r in rows]) for c in rows[0].cols})
            key = np.char.add(np.char.add(k.sat, k.toe_ns.astype(str)),
                              np.char.add(k.cols["iode"].astype(str), k.cols["source"].astype(str)))
            _, first = np.unique(key, return_index=True)
            nav.kepler = k.take(np.sort(first))
        if glonass:
            rows = [m.nav for m in glonass]
            g = GlonassEphemeris(**{f: np.concatenate([getattr(r, f) for r in rows]) for f in _GLO_FIELDS})
            key = np.char.add(g.sat, g.toe_ns.astype(str))
            _, first = np.unique(key, return_index=True)
            nav.glonass = g.take(np.sort(first))
        return nav


_EPOCH_CACHE: dict[bytes, tuple] = {}
_LOCK_NEVER = np.full((3, T.N_SYS, 65, 33), -1, np.int16)  # a new decoder's lock-time state (copied)
_NO_CHANNELS = np.full(65, np.nan)  # _channel_array with no GLONASS channel known (read only)
_NO_CHANNELS.flags.writeable = False
_MULTI_EPOCHS: dict[tuple, tuple] = {}  # ids of an epoch's part layouts -> (the layouts, build_epoch structure)
_NO_KEEP = np.zeros(0, np.uint8)
_EPH_MEMO_SIZE = 256  # ephemeris payloads a decoder remembers (~1.1 kB each; all systems broadcast ~200 at a time)
_EPH_READERS: dict[int, tuple | None] = {}  # ephemeris type -> bits.compiled_reader (None: no kernel)
_LEARNT: dict[bytes, list] = {}  # GLONASS numbers + extended info of a run -> (satellite, channel) pairs
_LEGACY_LAYOUTS: dict[bytes, tuple] = {}  # legacy satellites + codes -> index arrays of their cells (read only)


class _LegacyPlan:
    """What the compiled legacy path needs of one satellite set (type + satellite/code/channel columns); also
    the cells' layout for :func:`build_epoch`'s structure cache."""

    __slots__ = ("args", "rows", "nf", "sat_key", "code_key", "flat", "chans", "epoch")

    def __init__(self, args: tuple, rows: np.ndarray, nf: int, sat_key: np.ndarray, code_key: np.ndarray,
                 flat: np.ndarray | None, chans: dict[str, int]) -> None:
        self.args, self.rows, self.nf, self.sat_key, self.code_key = args, rows, nf, sat_key, code_key
        self.flat, self.chans, self.epoch = flat, chans, None


_LEGACY_PLANS: dict[tuple, _LegacyPlan] = {}  # legacy.sat_set key -> plan (read only)
# Distinct ephemerides a decoder keeps per satellite: 48 h of GPS (2 h toe spacing), 24 h of BeiDou,
# 12 h of GLONASS, 4 h of Galileo (10 min): more than an archive hour or a live solution needs
EPHEMERIDES_PER_SATELLITE = 24
_GLO_FIELDS = [f.name for f in fields(GlonassEphemeris)]


def _header_with(h: ObsHeader, **changes) -> ObsHeader:
    """``dataclasses.replace(h, **changes)`` for ObsHeader (no __post_init__): the same field values,
    without the generic __init__ call (a few us per station message and per channel change)."""
    new = object.__new__(ObsHeader)
    new.__dict__.update(h.__dict__)
    new.__dict__.update(changes)
    return new


def build_epoch(t_ns: int, parts: list[_Cells], header: ObsHeader, structure: tuple | None = None) -> ObsBlock:
    """Combine the cells of one epoch's messages into an E = 1 :class:`ObsBlock`.

    Slots per system hold its codes in sorted order ("1C", "1W", "2L", ...); a cell repeated by
    two messages keeps the later value. ``structure``: :func:`epoch_structure` of ``parts`` if known.
    """
    all_known, keep, hit = structure or epoch_structure(parts)
    si, slot, signals, sats, shape = hit
    compiled = _ext.kernel("rtcm3_core", "scatter_parts")  # the same scatter in one call, no concatenation
    if compiled is not None and keep.size == sum([p.code_m.size for p in parts]):
        code, phase, dop, snr, lli = compiled(si, slot, shape[1], shape[2], _NO_KEEP if all_known else keep.view(np.uint8),
                                              [(p.code_m, p.phase_cyc, p.doppler_hz, p.snr_dbhz, p.lli) for p in parts])
        return ObsBlock(time_ns=np.array([t_ns], np.int64), sats=sats.copy(), signals=dict(signals), code_m=code,
                        phase_cyc=phase, doppler_hz=dop, snr_dbhz=snr, lli=lli, header=header)
    def values(name: str) -> np.ndarray:
        v = getattr(parts[0], name) if len(parts) == 1 else np.concatenate([getattr(p, name) for p in parts])
        return v if all_known else v[keep]
    f3 = np.full((3,) + shape, np.nan)  # code, phase, Doppler filled in one scatter
    f3[:, 0, si, slot] = np.stack([values("code_m"), values("phase_cyc"), values("doppler_hz")])
    snr = np.full(shape, np.nan, np.float32)
    snr[0, si, slot] = values("snr_dbhz")
    lli = np.zeros(shape, np.uint8)
    lli[0, si, slot] = values("lli")
    return ObsBlock(time_ns=np.array([t_ns], np.int64), sats=sats.copy(), signals=dict(signals),
                    code_m=f3[0], phase_cyc=f3[1], doppler_hz=f3[2], snr_dbhz=snr, lli=lli, header=header)


def epoch_structure(parts: list[_Cells]) -> tuple:
    """(all satellites known, keep mask, (row, slot, signals, sats, shape)) of an epoch made of ``parts``;
    cached by the parts' layouts (MSM runs, legacy satellite sets) when they all have one: the same
    messages with the same satellites and signals usually repeat for many epochs."""
    if len(parts) == 1:
        lay = parts[0].layout
        if lay is None:
            return _epoch_structure(parts)
        if lay.epoch is None:  # the first epoch of exactly this run of messages
            lay.epoch = _epoch_structure(parts)
        return lay.epoch
    layouts = tuple([p.layout for p in parts])  # e.g. an MSM run + a legacy 1002
    if any([x is None for x in layouts]):
        return _epoch_structure(parts)
    key = tuple(map(id, layouts))
    known = _MULTI_EPOCHS.get(key)
    if known is not None and all(map(operator.is_, known[0], layouts)):  # (the ids are still theirs)
        return known[1]
    st = _epoch_structure(parts)
    if len(_MULTI_EPOCHS) > 256:
        _MULTI_EPOCHS.clear()
    _MULTI_EPOCHS[key] = (layouts, st)
    return st


def _epoch_structure(parts: list[_Cells]) -> tuple:
    """:func:`epoch_structure`, computed (satellite/code-key sets cached by their bytes)."""
    if len(parts) == 1:
        sat_key, code_key = parts[0].sat_key, parts[0].code_key
    else:
        sat_key = np.concatenate([p.sat_key for p in parts])
        code_key = np.concatenate([p.code_key for p in parts])
    keep = sat_key >= 0
    all_known = bool(keep.all())
    if not all_known:
        sat_key, code_key = sat_key[keep], code_key[keep]
    cache_key = sat_key.tobytes() + b"|" + code_key.tobytes()
    hit = _EPOCH_CACHE.get(cache_key)
    if hit is None:  # the same satellites and signals usually repeat for many epochs
        sat_u, si = np.unique(sat_key, return_inverse=True)
        code_u, ci = np.unique(code_key, return_inverse=True)
        sys_u = code_u >> 6
        slot_u = np.arange(code_u.size) - np.searchsorted(sys_u, sys_u)
        slot = slot_u[ci]
        signals: dict[str, tuple[str, ...]] = {}
        for ks, cname in zip(sys_u.tolist(), T.CODE_OF_KEY[code_u].tolist()):
            sys_ = T.SYSTEM_ORDER[ks]
            signals[sys_] = signals.get(sys_, ()) + (cname,)
        sats = T.SAT_OF_KEY[sat_u]
        order = np.argsort(sats, kind="stable")  # system-index order -> RINEX id order
        si = np.argsort(order)[si]  # rows in RINEX id order directly
        n_f = max((len(v) for v in signals.values()), default=0)
        hit = (si, slot, dict(sorted(signals.items())), sats[order], (1, sat_u.size, n_f))
        if len(_EPOCH_CACHE) > 256:
            _EPOCH_CACHE.clear()
        _EPOCH_CACHE[cache_key] = hit
    return all_known, keep, hit


def stack_epochs(blocks: list[ObsBlock]) -> ObsBlock:
    """Concatenate single-epoch blocks into one block (union of satellites and signals)."""
    if not blocks:
        return ObsBlock.empty({}, [], 0)
    sats = np.unique(np.concatenate([b.sats for b in blocks]))
    signals: dict[str, tuple[str, ...]] = {}
    for s in sorted({k for b in blocks for k in b.signals}):
        signals[s] = tuple(sorted({c for b in blocks for c in b.signals.get(s, ())}))
    out = ObsBlock.empty(signals, sats, len(blocks), header=blocks[-1].header)
    sys_list = sorted(signals)
    cache: dict = {}
    for e, b in enumerate(blocks):
        out.time_ns[e] = b.time_ns[0]
        if b.n_sats == 0:
            continue
        key = tuple(b.signals.items())
        table = cache.get(key)
        if table is None:  # [system, block slot] -> slot in the stacked block (-1 unused)
            table = np.full((len(sys_list), max(b.n_slots, 1)), -1, np.int64)
            for s, codes in b.signals.items():
                for f, c in enumerate(codes):
                    table[sys_list.index(s), f] = signals[s].index(c)
            cache[key] = table
        rows = np.searchsorted(sats, b.sats)
        dst = table[np.searchsorted(sys_list, b.systems)][:, :b.n_slots]
        valid = dst >= 0
        r = np.broadcast_to(rows[:, None], dst.shape)[valid]
        d = dst[valid]
        for name in ("code_m", "phase_cyc", "doppler_hz", "snr_dbhz", "lli"):
            getattr(out, name)[e, r, d] = getattr(b, name)[0][valid]
    return out


def decode_bytes(data: bytes, t_ref_ns: int, glonass_channels: dict[str, int] | None = None) -> tuple[list, Rtcm3Decoder]:
    """Decode a whole recorded stream; returns (items in order, the decoder with counters and state)."""
    dec = Rtcm3Decoder(t_ref_ns, glonass_channels=glonass_channels)
    items = dec.feed(data)
    items.extend(dec.flush())
    return items, dec


def read_rtcm3(path: str | Path, t_ref_ns: int) -> tuple[ObsBlock, NavData, Rtcm3Decoder]:
    """A recorded RTCM 3 file -> (all epochs as one ObsBlock, ephemerides, decoder with station/counters).

    GLONASS cells seen before the satellite's FDMA channel (1020 or MSM5/7) arrives lack phase and
    Doppler in a single pass; when the file reveals those channels later, it is decoded a second
    time with them known (a file, unlike a live stream, can look ahead).
    """
    data = Path(path).read_bytes()
    items, dec = decode_bytes(data, t_ref_ns)
    if dec.counters.cells_no_glonass_channel and dec.glonass_channels:
        items, dec = decode_bytes(data, t_ref_ns, dec.glonass_channels)
    obs = stack_epochs([i for i in items if isinstance(i, ObsBlock)])
    return obs, dec.nav_data(), dec
