"""MSM5/6/7 -> MSM4 re-quantisation for narrow-link mountpoints (an MSM4 view of an MSM7 station).

Field by field (RTCM 10403.3 resolutions): fine pseudorange 2^-29 -> 2^-24 ms, fine phase range
2^-31 -> 2^-29 ms, lock time DF407 (10 bit) -> DF402 (4 bit) via the minimum lock time each
indicator stands for, CNR 2^-4 -> 1 dB-Hz; extended info and phase-range rates are dropped.
Invalid markers stay invalid. MSM4 then costs 48 bits per cell instead of 80.
"""
from __future__ import annotations

import numpy as np

from rtk_engine.formats.rtcm3.bits import Rtcm3DecodeError
from rtk_engine.formats.rtcm3.encoder import LOCK10_MIN_MS, lock_indicator
from rtk_engine.formats.rtcm3.msm import MsmMessage, decode_msm, encode_msm
from rtk_engine.formats.rtcm3.msm_tables import msm_kind
from rtk_engine.formats.rtcm3_frame import frame, message_number

_PR_INVALID_7, _PR_INVALID_4 = -(1 << 19), -(1 << 14)
_PH_INVALID_7, _PH_INVALID_4 = -(1 << 23), -(1 << 21)


def _requantise(v: np.ndarray, shift: int, invalid_in: int, invalid_out: int) -> np.ndarray:
    v = np.asarray(v, np.int64)
    out = np.floor_divide(v + (1 << (shift - 1)), 1 << shift) if shift else v.copy()  # round half up
    lim = -invalid_out - 1
    out = np.clip(out, -lim, lim)
    return np.where(v == invalid_in, invalid_out, out)


def to_msm4(msg: MsmMessage) -> MsmMessage:
    """An MSM4/5/6/7 message as MSM4 (same satellites, signals, cells and header)."""
    if msg.msm == 4:
        return msg
    if msg.msm < 4:
        raise ValueError(f"MSM{msg.msm} lacks fields MSM4 needs")
    high = msg.msm >= 6
    pr = _requantise(msg.fine_pr, 5 if high else 0, _PR_INVALID_7 if high else _PR_INVALID_4, _PR_INVALID_4)
    ph = _requantise(msg.fine_ph, 2 if high else 0, _PH_INVALID_7 if high else _PH_INVALID_4, _PH_INVALID_4)
    if high:
        lock = lock_indicator(LOCK10_MIN_MS[np.clip(msg.lock, 0, LOCK10_MIN_MS.size - 1)], 4)
        cnr = np.clip((np.asarray(msg.cnr, np.int64) + 8) // 16, 0, 63)
    else:
        lock, cnr = msg.lock, msg.cnr
    return MsmMessage(msg.msg_type - msg.msm + 4, msg.system, 4, msg.station_id, msg.epoch_ms, msg.multiple,
                      msg.iods, msg.clock_steering, msg.external_clock, msg.smoothing, msg.smoothing_interval,
                      msg.sat_ids, msg.sig_ids, msg.cell_mask, msg.rough_ms, None, msg.rough_mod, None, pr, ph,
                      lock, msg.half, cnr, None, msg.reserved)


def frame_to_msm4(fr: bytes) -> bytes:
    """A whole RTCM3 frame: MSM5/6/7 re-encoded as MSM4, anything else returned unchanged.
    Raises ValueError (Rtcm3DecodeError) on a malformed MSM payload."""
    kind = msm_kind(message_number(fr))
    if kind is None or kind[1] in (1, 2, 3, 4):
        return fr
    try:
        return frame(encode_msm(to_msm4(decode_msm(fr[3:-3]))))
    except Rtcm3DecodeError as exc:
        raise ValueError(str(exc)) from None
