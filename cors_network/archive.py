"""Hourly RINEX 3 observation archive per station, gzip-compressed, with retention.

Epochs are buffered per (station, hour) and written when the hour is complete (an epoch of a later
hour arrives), on :meth:`HourlyArchive.flush` (shutdown: a partial hour is written, nothing is lost),
or when the buffer exceeds ``max_epochs``. File names follow the RINEX 3 long-name convention:
``archive/CODE/YYYY/DDD/CODE00CHN_R_YYYYDDDHH00_01H_<rate>_MO.rnx.gz``; a second write of the same hour
(e.g. after a restart) gets a ``_partN`` suffix instead of overwriting.
"""
from __future__ import annotations

import gzip
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtk_engine import gnss_time as gt
from rtk_engine.formats.rtcm3.decoder import stack_epochs
from rtk_engine.obs import ObsBlock, ObsHeader

log = logging.getLogger("beidou.archive")
HOUR_NS = 3600 * gt.NS


@dataclass
class ArchivedFile:
    station: str
    path: Path
    start_gpst_ns: int
    end_gpst_ns: int
    n_epochs: int
    size_bytes: int


class HourlyArchive:
    def __init__(self, root: Path, country: str = "CHN", max_epochs: int = 3600,
                 on_file=None) -> None:
        self.root = Path(root)
        self.country = country
        self.max_epochs = max_epochs
        self.on_file = on_file  # callback(ArchivedFile)
        self._buf: dict[str, list[ObsBlock]] = {}
        self._hour: dict[str, int] = {}
        self._header: dict[str, ObsHeader] = {}

    def set_header(self, station: str, header: ObsHeader) -> None:
        self._header[station] = header

    def add(self, station: str, epoch: ObsBlock) -> ArchivedFile | None:
        """Buffer one epoch (E = 1); returns the file written if this epoch closed an hour."""
        hour = int(epoch.time_ns[0]) // HOUR_NS
        written = None
        if station in self._hour and hour != self._hour[station]:
            written = self._write(station)
        self._hour[station] = hour
        self._buf.setdefault(station, []).append(epoch)
        if len(self._buf[station]) >= self.max_epochs:
            written = self._write(station) or written
        return written

    def flush(self) -> list[ArchivedFile]:
        return [f for s in list(self._buf) if (f := self._write(s)) is not None]

    def _path(self, station: str, t_ns: int, interval_s: float) -> Path:
        d = gt.to_datetime(t_ns)
        rate = f"{int(round(interval_s)):02d}S" if np.isfinite(interval_s) and interval_s >= 1 else "01S"
        name = f"{station[:4].upper():<4}00{self.country}_R_{d:%Y%j%H}00_01H_{rate}_MO.rnx.gz".replace(" ", "0")
        folder = self.root / station / f"{d:%Y}" / f"{d:%j}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        k = 1
        while path.exists():
            path = folder / name.replace("_MO.rnx.gz", f"_MO_part{k}.rnx.gz")
            k += 1
        return path

    def _write(self, station: str) -> ArchivedFile | None:
        from rtk_engine.formats.rinex_obs_writer import write_obs

        epochs = self._buf.pop(station, [])
        if not epochs:
            return None
        block = stack_epochs(epochs)
        hdr = self._header.get(station) or block.header
        dts = np.diff(block.time_ns)
        interval = float(np.median(dts) / gt.NS) if dts.size else float("nan")
        hdr.interval_s = interval
        hdr.marker_name = hdr.marker_name or station
        block.header = hdr
        path = self._path(station, int(block.time_ns[0]), interval)
        text = io.StringIO()
        write_obs(text, block)
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wt", encoding="ascii", newline="\n") as fh:
            fh.write(text.getvalue())
        tmp.replace(path)  # atomic: a reader never sees half a file
        f = ArchivedFile(station, path, int(block.time_ns[0]), int(block.time_ns[-1]), block.n_epochs,
                         path.stat().st_size)
        log.info("archived %s: %d epochs -> %s", station, block.n_epochs, path)
        if self.on_file:
            self.on_file(f)
        return f

    def prune(self, keep_days: float, now_unix: float | None = None) -> list[Path]:
        """Delete archive files older than ``keep_days`` (by modification time); returns them."""
        limit = (now_unix or time.time()) - keep_days * 86400.0
        gone = [p for p in self.root.rglob("*.rnx.gz") if p.stat().st_mtime < limit]
        for p in gone:
            p.unlink()
        return gone
