"""RTCM 3 message codec: MSM1-7, station, ephemeris, GLONASS bias and legacy messages.

Framing lives in :mod:`rtk_engine.formats.rtcm3_frame`; this package decodes and encodes payloads.
"""
from .bits import Rtcm3DecodeError
from .decoder import Rtcm3Counters, Rtcm3Decoder, build_epoch, decode_bytes, decode_message, read_rtcm3, stack_epochs
from .ephemeris import EphemerisMessage, decode_ephemeris, encode_ephemeris
from .glonass_bias import GlonassBiases, decode_glonass_biases, encode_glonass_biases
from .legacy import LegacyObs, decode_legacy
from .msm import MsmMessage, decode_msm, encode_msm, msm_cells
from .station import (StationDescriptor, StationPosition, decode_station_descriptor, decode_station_position,
                      encode_station_descriptor, encode_station_position)

__all__ = [
    "Rtcm3DecodeError", "Rtcm3Counters", "Rtcm3Decoder", "build_epoch", "decode_bytes", "decode_message",
    "read_rtcm3", "stack_epochs", "EphemerisMessage", "decode_ephemeris", "encode_ephemeris", "GlonassBiases",
    "decode_glonass_biases", "encode_glonass_biases", "LegacyObs", "decode_legacy", "MsmMessage", "decode_msm",
    "encode_msm", "msm_cells", "StationDescriptor", "StationPosition", "decode_station_descriptor",
    "decode_station_position", "encode_station_descriptor", "encode_station_position",
]
