"""Raw observations posted for a monitoring point as JSON epochs -> :class:`ObsBlock`.

Format (RINEX 3 observation codes per satellite; GPST nanoseconds)::

    {"epochs": [{"time_gpst_ns": 1300190400000000000,
                 "obs": {"G05": {"C1C": 21345678.123, "L1C": 112233445.567, "S1C": 45.0, "D1C": -1234.5},
                         "C19": {"C2I": 22345678.9, "L2I": 116344556.1}}},
                ...]}

``C`` pseudorange [m], ``L`` carrier phase [cycles], ``D`` Doppler [Hz], ``S`` C/N0 [dB-Hz];
optional ``"lli": {"L1C": 1}`` per satellite. Anything malformed raises :class:`IntakeError`
naming the epoch and satellite.
"""
from __future__ import annotations

import numpy as np

from rtk_engine.obs import ObsBlock, ObsHeader

__all__ = ["IntakeError", "epochs_from_json"]

_FIELDS = {"C": "code_m", "L": "phase_cyc", "D": "doppler_hz", "S": "snr_dbhz"}
MAX_EPOCHS = 86400


class IntakeError(ValueError):
    """A malformed JSON observation document (message names the epoch / satellite / field)."""


def epochs_from_json(doc) -> ObsBlock:
    if not isinstance(doc, dict) or not isinstance(doc.get("epochs"), list) or not doc["epochs"]:
        raise IntakeError('expected {"epochs": [...]} with at least one epoch')
    epochs = doc["epochs"]
    if len(epochs) > MAX_EPOCHS:
        raise IntakeError(f"at most {MAX_EPOCHS} epochs per post, got {len(epochs)}")
    sats: set[str] = set()
    codes: dict[str, set[str]] = {}
    times = []
    for i, ep in enumerate(epochs):
        if not isinstance(ep, dict) or not isinstance(ep.get("obs"), dict):
            raise IntakeError(f"epoch {i}: expected an object with 'time_gpst_ns' and 'obs'")
        t = ep.get("time_gpst_ns")
        if not isinstance(t, int) or isinstance(t, bool) or not (0 < t < 4_000_000_000 * 10 ** 9):
            raise IntakeError(f"epoch {i}: time_gpst_ns must be a positive integer (GPST ns since 1980-01-06)")
        times.append(t)
        for sat, fields in ep["obs"].items():
            if not (isinstance(sat, str) and len(sat) == 3 and sat[0] in "GRECJIS" and sat[1:].isdigit()):
                raise IntakeError(f"epoch {i}: bad satellite id {sat!r} (RINEX 3, e.g. 'C19')")
            if not isinstance(fields, dict):
                raise IntakeError(f"epoch {i} {sat}: expected an object of observation codes")
            sats.add(sat)
            for key, val in fields.items():
                if key == "lli":
                    continue
                if len(key) != 3 or key[0] not in _FIELDS:
                    raise IntakeError(f"epoch {i} {sat}: bad observation code {key!r} (e.g. 'C1C', 'L2W')")
                if not isinstance(val, (int, float)) or isinstance(val, bool) or not np.isfinite(val):
                    raise IntakeError(f"epoch {i} {sat} {key}: value must be a finite number")
                codes.setdefault(sat[0], set()).add(key[1:])
    if len(set(times)) != len(times) or any(b <= a for a, b in zip(times, times[1:])):
        raise IntakeError("epoch times must be strictly increasing")
    signals = {s: tuple(sorted(c)) for s, c in sorted(codes.items())}
    sat_arr = np.array(sorted(sats), "<U3")
    block = ObsBlock.empty(signals, sat_arr, len(epochs), header=ObsHeader())
    block.time_ns[:] = np.array(times, np.int64)
    row = {s: k for k, s in enumerate(sat_arr)}
    for i, ep in enumerate(epochs):
        for sat, fields in ep["obs"].items():
            sig = signals[sat[0]]
            lli = fields.get("lli", {}) or {}
            for key, val in fields.items():
                if key == "lli":
                    continue
                getattr(block, _FIELDS[key[0]])[i, row[sat], sig.index(key[1:])] = float(val)
            for key, val in lli.items():
                if len(key) == 3 and key[1:] in sig:
                    block.lli[i, row[sat], sig.index(key[1:])] = int(val)
    return block
