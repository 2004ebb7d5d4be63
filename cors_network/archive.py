"""Hourly RINEX 3 observation and navigation archive per station, gzip-compressed, with retention.

Observation epochs are buffered per (station, hour) and written when the hour is complete (an epoch
of a later hour arrives), on :meth:`HourlyArchive.flush` (shutdown: a partial hour is written, nothing
is lost), or when the buffer exceeds ``max_epochs``.

Broadcast ephemerides decoded from the same stream (:meth:`HourlyArchive.add_nav`) are collected per
station and hour of receipt, deduplicated by (satellite, toe, IODE, message: LNAV, I/NAV, F/NAV, D1/D2)
and, for GLONASS, (satellite, toe), and written as a RINEX 3.04 mixed navigation file for the same
hour when the observation hour closes (or an ephemeris of a later hour arrives), and on ``flush``.
Streams repeat their ephemerides every few seconds to minutes, so each hourly navigation file holds
every ephemeris broadcast in that hour and serves the hour's observations on its own.

File names follow the RINEX 3 long-name convention, next to each other:
``archive/CODE/YYYY/DDD/CODE00CHN_R_YYYYDDDHH00_01H_<rate>_MO.rnx.gz`` (observations) and
``..._01H_MN.rnx.gz`` (navigation); a second write of the same hour (e.g. after a restart) gets a
``_partN`` suffix instead of overwriting. :meth:`HourlyArchive.prune` applies the retention.
"""
from __future__ import annotations

import gzip
import io
import logging
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from rtk_engine import gnss_time as gt
from rtk_engine.formats.rtcm3.decoder import stack_epochs
from rtk_engine.nav import GlonassEphemeris, KeplerEphemeris, NavData
from rtk_engine.obs import ObsBlock, ObsHeader

log = logging.getLogger("beidou.archive")
HOUR_NS = 3600 * gt.NS


@dataclass
class ArchivedFile:
    station: str
    path: Path
    start_gpst_ns: int
    end_gpst_ns: int
    n_epochs: int  # observation epochs; for a navigation file the number of ephemeris records
    size_bytes: int
    kind: str = "obs"  # "obs" | "nav"


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
        # navigation per station: rows of the open hour, their dedup keys, the hour
        self._nav: dict[str, list[KeplerEphemeris | GlonassEphemeris]] = {}
        self._nav_keys: dict[str, set] = {}
        self._nav_hour: dict[str, int] = {}

    def set_header(self, station: str, header: ObsHeader) -> None:
        self._header[station] = header

    def add(self, station: str, epoch: ObsBlock) -> ArchivedFile | None:
        """Buffer one epoch (E = 1); returns the file written if this epoch closed an hour."""
        hour = int(epoch.time_ns[0]) // HOUR_NS
        written = None
        if station in self._hour and hour != self._hour[station]:
            written = self._write(station)
        if self._nav_hour.get(station, hour) != hour:  # the hour's ephemerides go with its observations
            written_nav = self._write_nav(station)
            self._nav_hour[station] = hour
            written = written or written_nav
        self._hour[station] = hour
        self._buf.setdefault(station, []).append(epoch)
        if len(self._buf[station]) >= self.max_epochs:
            written = self._write(station) or written
        return written

    def add_nav(self, station: str, eph: KeplerEphemeris | GlonassEphemeris, received_gpst_ns: int
                ) -> ArchivedFile | None:
        """Collect ephemeris rows received at ``received_gpst_ns`` (GPST ns, the stream's time);
        repeats within the hour are dropped. Returns the navigation file written if an ephemeris of
        another hour closed the open one."""
        hour = int(received_gpst_ns) // HOUR_NS
        written = None
        if station in self._nav_hour and hour != self._nav_hour[station]:
            written = self._write_nav(station)
        self._nav_hour[station] = hour
        keys = self._nav_keys.setdefault(station, set())
        if isinstance(eph, GlonassEphemeris):
            new = [("R", s, t) for s, t in zip(eph.sat.tolist(), eph.toe_ns.tolist())]
        else:
            new = [("K", s, t, i, m) for s, t, i, m in zip(eph.sat.tolist(), eph.toe_ns.tolist(),
                                                          eph.iode.tolist(), eph.source.tolist())]
        fresh = [j for j, k in enumerate(new) if k not in keys]
        if fresh:
            keys.update(new[j] for j in fresh)
            self._nav.setdefault(station, []).append(eph if len(fresh) == len(new) else eph.take(np.array(fresh)))
        return written

    def flush(self) -> list[ArchivedFile]:
        """Write every open hour (observations and navigation); call on shutdown."""
        obs = [f for s in list(self._buf) if (f := self._write(s)) is not None]
        return obs + [f for s in list(self._nav) if (f := self._write_nav(s)) is not None]

    def _path(self, station: str, t_ns: int, kind: str, interval_s: float = float("nan")) -> Path:
        d = gt.to_datetime(t_ns)
        if kind == "nav":
            tail = "MN.rnx.gz"
        else:
            tail = (f"{int(round(interval_s)):02d}S" if np.isfinite(interval_s) and interval_s >= 1 else "01S") \
                + "_MO.rnx.gz"
        name = f"{station[:4].upper():<4}00{self.country}_R_{d:%Y%j%H}00_01H_{tail}".replace(" ", "0")
        folder = self.root / station / f"{d:%Y}" / f"{d:%j}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        k = 1
        while path.exists():
            path = folder / name.replace(".rnx.gz", f"_part{k}.rnx.gz")
            k += 1
        return path

    @staticmethod
    def _write_gz(path: Path, text: str) -> None:
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wt", compresslevel=6, encoding="ascii", newline="\n") as fh:
            fh.write(text)
        tmp.replace(path)  # atomic: a reader never sees half a file

    def _write_nav(self, station: str) -> ArchivedFile | None:
        from rtk_engine.formats.rinex_nav_writer import nav_text

        rows = self._nav.pop(station, [])
        self._nav_keys.pop(station, None)
        if not rows:
            return None
        kep = [r for r in rows if isinstance(r, KeplerEphemeris)]
        glo = [r for r in rows if isinstance(r, GlonassEphemeris)]
        nav = NavData(kepler=_concat(kep) if kep else KeplerEphemeris.from_rows([]),
                      glonass=_concat(glo) if glo else GlonassEphemeris())
        text, res = nav_text(nav, comments=(f"Station {station}: broadcast ephemerides received in the hour",))
        t0 = self._nav_hour[station] * HOUR_NS
        path = self._path(station, t0, "nav")
        self._write_gz(path, text)
        # the span a navigation file serves: its hour (what jobs match observation spans against)
        f = ArchivedFile(station, path, t0, t0 + HOUR_NS - gt.NS, res.n_records, path.stat().st_size, kind="nav")
        log.info("archived %s: %d ephemerides -> %s%s", station, res.n_records, path,
                 f" ({'; '.join(res.skipped)})" if res.skipped else "")
        if self.on_file:
            self.on_file(f)
        return f

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
        path = self._path(station, int(block.time_ns[0]), "obs", interval)
        text = io.StringIO()
        write_obs(text, block)
        self._write_gz(path, text.getvalue())
        f = ArchivedFile(station, path, int(block.time_ns[0]), int(block.time_ns[-1]), block.n_epochs,
                         path.stat().st_size)
        log.info("archived %s: %d epochs -> %s", station, block.n_epochs, path)
        if self.on_file:
            self.on_file(f)
        return f

    def prune(self, keep_days: float, now_unix: float | None = None) -> list[Path]:
        """Retention: delete archive files (observation and navigation) written more than ``keep_days``
        ago (by modification time, i.e. when the archive wrote them) and the folders left empty;
        returns the deleted files."""
        limit = (now_unix or time.time()) - keep_days * 86400.0
        gone = [p for p in self.root.rglob("*.rnx.gz") if p.stat().st_mtime < limit]
        for p in gone:
            p.unlink()
        for folder in sorted({q for p in gone for q in p.parents if self.root in q.parents}, key=lambda q: -len(q.parts)):
            try:
                folder.rmdir()  # only if empty
            except OSError:
                pass
        return gone

def _concat(rows: list):
    """One container from many (Kepler or GLONASS) ephemeris containers, in one pass."""
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(r, name) for r in rows])

    if isinstance(rows[0], GlonassEphemeris):
        return GlonassEphemeris(**{f.name: cat(f.name) for f in fields(GlonassEphemeris)})
    return KeplerEphemeris(sat=cat("sat"), toe_ns=cat("toe_ns"), toc_ns=cat("toc_ns"), ttr_ns=cat("ttr_ns"),
                           cols={k: np.concatenate([r.cols[k] for r in rows]) for k in rows[0].cols})
