"""RTCM 3 encoding: an ObsBlock epoch -> MSM4/MSM7 frames, NavData -> ephemeris frames, station -> 1005/1006/1033.

:class:`Rtcm3Encoder` is stateful because two MSM fields need history:

* the lock-time indicator: continuous tracking time per (satellite, signal), restarted where the
  input sets LLI bit 0 or the signal was absent in the previous epoch;
* carrier phase that a RINEX file holds far from the pseudorange (arbitrary ambiguity): it is shifted
  by a whole number of cycles into the MSM phase-range window, with the shift kept per
  (satellite, signal) so the phase stays continuous; a new shift restarts the lock time.

Units: as :class:`~rtk_engine.obs.ObsBlock` (metres, cycles, Hz, dB-Hz); GPST ns times.
"""
from __future__ import annotations

import numpy as np

from ...constants import CLIGHT
from ...nav import GlonassEphemeris, KeplerEphemeris, NavData
from ...obs import ObsBlock
from ..rtcm3_frame import frame
from . import msm_tables as T
from .ephemeris import encode_ephemeris
from .glonass_bias import GlonassBiases, encode_glonass_biases
from .msm import FINE_PH_MS, FINE_PR_MS, RANGE_MS_M, MsmMessage, encode_msm, msm_epoch_field
from .station import StationDescriptor, StationPosition, encode_station_descriptor, encode_station_position

# lock-time indicator tables: minimum lock time [ms] of each indicator value
LOCK4_MIN_MS = np.array([0] + [2 ** (i + 4) for i in range(1, 16)], np.int64)  # DF402
_I = np.arange(705, dtype=np.int64)
_S = np.where(_I < 64, 0, (_I - 64) // 32 + 1)
LOCK10_MIN_MS = (2 ** _S) * (_I - 32 * _S)  # DF407 (extended resolution)


def lock_indicator(lock_ms: np.ndarray, msm: int) -> np.ndarray:
    """Continuous lock time [ms] -> DF402 (MSM4/5) or DF407 (MSM6/7) indicator."""
    table = LOCK10_MIN_MS if msm >= 6 else LOCK4_MIN_MS
    return np.searchsorted(table, np.asarray(lock_ms, np.int64), side="right") - 1


class Rtcm3Encoder:
    """Stateful encoder of observation epochs (MSM4 or MSM7) plus stateless helpers for other messages."""

    def __init__(self, station_id: int = 0, msm: int = 7, systems: str = "GRESJCI") -> None:
        if msm not in (4, 7):
            raise ValueError("MSM4 and MSM7 are supported for encoding")
        self.station_id = station_id
        self.msm = msm
        self.systems = systems
        # state per (satellite key, code key) of msm_tables, flattened: lock start [GPST ns], last epoch
        # seen [GPST ns], and whole cycles removed from the phase
        n = T.N_SYS * 100 * 64  # satellite key x code rank within its system
        self._lock_start = np.full(n, -1, np.int64)
        self._last_seen = np.full(n, -1, np.int64)
        self._phase_shift = np.zeros(n)
        self._prev_t: int | None = None

    # ------------------------------------------------------------------- observations
    def encode_epoch(self, block: ObsBlock, e: int = 0) -> list[bytes]:
        """Epoch ``e`` of ``block`` -> framed MSM messages (one or more per system)."""
        return [frame(p) for p in self.epoch_payloads(block, e)]

    def epoch_payloads(self, block: ObsBlock, e: int = 0) -> list[bytes]:
        t = int(block.time_ns[e])
        msgs: list[MsmMessage] = []
        sys_all = block.systems
        chans = block.header.glonass_channels
        for s in T.SYSTEM_ORDER:
            if s not in self.systems or s not in block.signals:
                continue
            rows = np.nonzero(sys_all == s)[0]
            if rows.size == 0:
                continue
            msgs.extend(self._system_messages(block, e, s, rows, t, chans))
        for i, m in enumerate(msgs):
            m.multiple = i < len(msgs) - 1
        self._prev_t = t
        return [encode_msm(m) for m in msgs]

    def _system_messages(self, block: ObsBlock, e: int, s: str, rows: np.ndarray, t: int,
                         chans: dict[str, int]) -> list[MsmMessage]:
        k = T.SYS_INDEX[s]
        codes = block.signals[s]
        slot_ids = [(f, T.SIGNAL_IDS[s][c]) for f, c in enumerate(codes) if c in T.SIGNAL_IDS[s]]
        if not slot_ids:
            return []
        slots = np.array([f for f, _ in slot_ids])
        sig_of_slot = np.array([i for _, i in slot_ids])
        sats = block.sats[rows]
        prn = np.array([int(x[1:]) - T.PRN_OFFSET[s] for x in sats.tolist()])
        ok_sat = (prn >= 1) & (prn <= 64)
        code = block.code_m[e][np.ix_(rows, slots)]
        phase = block.phase_cyc[e][np.ix_(rows, slots)]
        dop = block.doppler_hz[e][np.ix_(rows, slots)]
        snr = block.snr_dbhz[e][np.ix_(rows, slots)].astype(float)
        lli = block.lli[e][np.ix_(rows, slots)]
        present = (np.isfinite(code) | np.isfinite(phase)) & ok_sat[:, None]
        # carrier frequency per (sat, slot)
        freq = np.broadcast_to(T.FREQ_TABLE[k, sig_of_slot], present.shape).copy()
        if s == "R":
            ch = np.array([chans.get(x, np.nan) for x in sats.tolist()], float)[:, None]
            freq = np.where(T.GLO_BAND1[sig_of_slot], 1602e6 + 0.5625e6 * ch,
                            np.where(T.GLO_BAND2[sig_of_slot], 1246e6 + 0.4375e6 * ch, freq))
        order = np.argsort(prn)
        out = []
        groups: list[list[int]] = []
        cur: list[int] = []
        cur_sigs: set[int] = set()
        for i in order.tolist():  # pack satellites while Nsat x Nsig <= 64
            if not present[i].any():
                continue
            sigs = cur_sigs | set(np.nonzero(present[i])[0].tolist())
            if cur and (len(cur) + 1) * len(sigs) > 64:
                groups.append(cur)
                cur, sigs = [], set(np.nonzero(present[i])[0].tolist())
            cur.append(i)
            cur_sigs = sigs
        if cur:
            groups.append(cur)
        for g in groups:
            gi = np.array(g)
            cols = np.nonzero(present[gi].any(axis=0))[0]
            cols = cols[np.argsort(sig_of_slot[cols])]
            out.append(self._message(s, t, gi, cols, prn, sats, sig_of_slot, codes, slots, present, code, phase,
                                     dop, snr, lli, freq, chans))
        return out

    def _message(self, s, t, gi, cols, prn, sats, sig_of_slot, codes, slots, present, code, phase, dop, snr, lli,
                 freq, chans) -> MsmMessage:
        m7 = self.msm == 7
        sub = np.ix_(gi, cols)
        mask = present[sub]
        cs, cg = np.nonzero(mask)
        si, sj = gi[cs], cols[cg]
        pr = code[si, sj]
        lam = CLIGHT / freq[si, sj]
        ph_m = phase[si, sj] * lam
        # rough range per satellite: the first valid pseudorange (else phase range), in 2^-10 ms
        ref = np.where(np.isfinite(pr), pr, ph_m) / RANGE_MS_M
        rough_q = np.full(gi.size, -1, np.int64)
        valid = np.nonzero(np.isfinite(ref))[0]  # cells are in (satellite, signal id) order
        first_sat, first = np.unique(cs[valid], return_index=True)
        rough_q[first_sat] = np.round(ref[valid[first]] * 1024).astype(np.int64)
        bad_sat = (rough_q < 0) | (rough_q >= 255 * 1024)
        rough_ms = np.where(bad_sat, 255, rough_q // 1024)
        rough_mod = np.where(bad_sat, 0, rough_q % 1024)
        rough = (rough_q / 1024.0)[cs]
        w_pr, w_ph = (20, 24) if m7 else (15, 22)
        pr_res, ph_res = FINE_PR_MS[self.msm], FINE_PH_MS[self.msm]
        fine_pr = np.round((pr / RANGE_MS_M - rough) / pr_res)
        fine_pr = np.where(np.isfinite(fine_pr) & (np.abs(fine_pr) < 2 ** (w_pr - 1)) & ~bad_sat[cs], fine_pr,
                           -(2 ** (w_pr - 1))).astype(np.int64)
        # phase: shift by whole cycles into the window around the rough range
        k = T.SYS_INDEX[s]
        sat_key = k * 100 + prn[si] + T.PRN_OFFSET[s]
        code_key = T.CODE_KEY_TABLE[k, sig_of_slot[sj]]
        key = sat_key * 64 + (code_key & 63)
        shift = self._phase_shift[key]
        ph_rel = (ph_m - shift * lam) / RANGE_MS_M - rough
        limit = 2 ** (w_ph - 1) * ph_res * 0.5
        restart = np.isfinite(ph_rel) & (np.abs(ph_rel) > limit) & ~bad_sat[cs]
        if restart.any():
            shift = np.where(restart, np.round((ph_m - rough * RANGE_MS_M) / lam), shift)
            self._phase_shift[key[restart]] = shift[restart]
        ph_rel = (ph_m - shift * lam) / RANGE_MS_M - rough
        fine_ph = np.round(ph_rel / ph_res)
        fine_ph = np.where(np.isfinite(fine_ph) & (np.abs(fine_ph) < 2 ** (w_ph - 1)) & ~bad_sat[cs], fine_ph,
                           -(2 ** (w_ph - 1))).astype(np.int64)
        # lock time: continuous since the signal was last seen in the previous epoch without a slip
        lli_c = lli[si, sj]
        prev_t = -2 if self._prev_t is None else self._prev_t
        continuous = ((self._lock_start[key] >= 0) & (self._last_seen[key] == prev_t) & ((lli_c & 1) == 0)
                      & ~restart & np.isfinite(ph_m))
        start = np.where(continuous, self._lock_start[key], t)
        self._lock_start[key] = start
        self._last_seen[key] = t
        lock_ms = (t - start) // 1_000_000
        lock = lock_indicator(lock_ms, self.msm)
        half = ((lli_c >> 1) & 1).astype(np.int64)
        cnr_res = 2.0 ** -4 if m7 else 1.0
        sn = snr[si, sj]
        cnr = np.where(np.isfinite(sn), np.clip(np.round(sn / cnr_res), 1, 1023 if m7 else 63), 0).astype(np.int64)
        ext = rate = fine_rate = None
        if m7:
            rate_mps = -dop[si, sj] * lam
            rough_rate = np.full(gi.size, -8192, np.int64)
            valid = np.nonzero(np.isfinite(rate_mps))[0]
            first_sat, first = np.unique(cs[valid], return_index=True)
            rough_rate[first_sat] = np.round(rate_mps[valid[first]]).astype(np.int64)
            rough_rate = np.where(np.abs(rough_rate) > 8191, -8192, rough_rate)
            fr = np.round((rate_mps - rough_rate[cs]) / 1e-4)
            fine_rate = np.where(np.isfinite(fr) & (np.abs(fr) < 16384) & (rough_rate[cs] != -8192), fr,
                                 -16384).astype(np.int64)
            rate = rough_rate
            if s == "R":
                ch = np.array([chans.get(x, np.nan) for x in sats[gi].tolist()], float)
                ext = np.where(np.isfinite(ch), ch + 7, 15).astype(np.int64)
            else:
                ext = np.zeros(gi.size, np.int64)
        kind = T.MSM_BASE[s] + self.msm - 1
        return MsmMessage(kind, s, self.msm, self.station_id, msm_epoch_field(s, t), False, 0, 0, 0, 0, 0,
                          prn[gi], sig_of_slot[cols], mask, rough_ms, ext, rough_mod, rate, fine_pr, fine_ph,
                          lock, half, cnr, fine_rate)

    # ---------------------------------------------------------------- other messages
    @staticmethod
    def encode_station(pos: StationPosition) -> bytes:
        """1005 (or 1006 when ``pos.msg_type == 1006``) frame."""
        return frame(encode_station_position(pos))

    @staticmethod
    def encode_descriptor(d: StationDescriptor) -> bytes:
        """1007/1008/1033 frame."""
        return frame(encode_station_descriptor(d))

    @staticmethod
    def encode_glonass_biases(b: GlonassBiases) -> bytes:
        return frame(encode_glonass_biases(b))

    @staticmethod
    def encode_nav(nav: NavData | KeplerEphemeris | GlonassEphemeris) -> list[bytes]:
        """Every ephemeris row -> 1019/1020/1042/1044/1045/1046 frames (systems without a message skipped)."""
        tables = [nav.kepler, nav.glonass] if isinstance(nav, NavData) else [nav]
        out = []
        for tab in tables:
            for i in range(len(tab)):
                if isinstance(tab, KeplerEphemeris) and str(tab.sat[i])[0] not in "GJCE":
                    continue
                out.append(frame(encode_ephemeris(tab, i)))
        return out
