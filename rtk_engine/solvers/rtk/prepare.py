"""Per-file (or per-block) preparation for the RTK filter, vectorised over epochs and satellites.

From a rover and a base :class:`~rtk_engine.obs.ObsBlock`, a navigation set and the base
position this builds an :class:`EpochArrays` record: for every rover epoch that has a base epoch
at most ``max_age_s`` older, the rover and base observations of the common satellites on one
band-slot layout, the satellite positions at each receiver's transmission time, the base range,
elevation and troposphere. Nothing here depends on the rover position, so it is all computed
before the epoch loop; the filter only adds the rover range.

Satellite positions: the transmission time is ``t_rx - P / c`` (the pseudorange carries both
clock offsets, so this is the satellite-clock reading at transmission) corrected by the satellite
clock, which makes it independent of the receiver clock.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ...arrays import intersect
from ...constants import CLIGHT
from ...geodesy.ellipsoid import ecef_to_geodetic
from ...models.geometry import az_el_from_los, geometric_range
from ...models.troposphere import tropo_delay
from ...obs import ObsBlock
from ...satellites import is_bds_geo, systems_of
from ...signals import frequencies_hz, rank
from .antenna import AntennaError, ReceiverAntenna, load_antex, receiver_antenna
from .options import RtkOptions

log = logging.getLogger(__name__)

NS = 1_000_000_000


class RtkInputError(ValueError):
    """Input that cannot give an RTK solution (no overlap, bad base position, no ephemerides)."""


@dataclass
class SignalLayout:
    """Which RINEX code each (system, slot) uses in the rover and in the base file."""

    sats: np.ndarray  # [S] common satellites
    n_slots: int
    rover_slot: np.ndarray  # [S, F] slot index in the rover block (-1 none)
    base_slot: np.ndarray  # [S, F] slot index in the base block (-1 none)
    band: np.ndarray  # [S, F] band digit ("" none)
    codes: dict = field(default_factory=dict)  # system -> [(band, rover code, base code)]


@dataclass
class EpochArrays:
    """Everything the filter needs per epoch, for E epochs (E = 1 in streaming)."""

    time_ns: np.ndarray  # [E] rover epochs, GPST ns
    age_s: np.ndarray  # [E] rover time - base time
    sats: np.ndarray  # [S]
    wavelength_m: np.ndarray  # [S, F] (NaN: no signal in this slot)
    group: np.ndarray  # [S, F] int: id of (system, band), -1 none
    fixable: np.ndarray  # [S] bool: system/orbit allowed in AR
    phase_r: np.ndarray  # [E, S, F] cycles
    phase_b: np.ndarray
    code_r: np.ndarray  # [E, S, F] metres
    code_b: np.ndarray
    doppler_r: np.ndarray  # [E, S, F] Hz
    doppler_b: np.ndarray
    lli_r: np.ndarray  # [E, S, F] uint8
    lli_b: np.ndarray
    sat_pos_r: np.ndarray  # [E, S, 3] ECEF at rover transmission time
    sat_clk_r_m: np.ndarray  # [E, S] c * satellite clock at rover transmission
    sat_clk_b_m: np.ndarray  # [E, S]
    range_b_m: np.ndarray  # [E, S] base geometric range incl. Sagnac
    trop_b_m: np.ndarray  # [E, S]
    el_b_rad: np.ndarray  # [E, S] elevation at the base (NaN invalid)
    base_pos: np.ndarray  # [3]
    skipped: list = field(default_factory=list)
    snr_r: np.ndarray | None = None  # [E, S, F] carrier-to-noise density [dB-Hz] (NaN: not reported)
    snr_b: np.ndarray | None = None
    ant_r: ReceiverAntenna | None = None  # rover antenna model (correction at the rover's az/el, in the filter)
    ant_b_m: np.ndarray | None = None  # [E, S, F] base antenna range correction [m] (ARP + PCO + PCV)
    iono_map_b: np.ndarray | None = None  # [E, S] broadcast (Klobuchar) slant / vertical delay at the base

    @property
    def n_epochs(self) -> int:
        return int(self.time_ns.shape[0])

    def take(self, idx) -> "EpochArrays":
        """Epoch subset (index array or slice), e.g. reversed for backward processing."""
        kw = {}
        for name, val in self.__dict__.items():
            if isinstance(val, np.ndarray) and name in _PER_EPOCH:
                kw[name] = val[idx]
            else:
                kw[name] = val
        return EpochArrays(**kw)


_PER_EPOCH = {"time_ns", "age_s", "phase_r", "phase_b", "code_r", "code_b", "doppler_r", "doppler_b",
              "lli_r", "lli_b", "snr_r", "snr_b", "ant_b_m", "iono_map_b",
              "sat_pos_r", "sat_clk_r_m", "sat_clk_b_m", "range_b_m", "trop_b_m", "el_b_rad"}


def check_base_position(base_pos, base: ObsBlock | None = None, tol_m: float = 1000.0) -> np.ndarray:
    """Validate a base ECEF position [m]: finite, near the Earth's surface, near the header position."""
    if base_pos is None:
        raise RtkInputError("base position missing: give --base-pos X,Y,Z (ECEF metres)")
    p = np.asarray(base_pos, float).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise RtkInputError(f"base position must be three finite ECEF metres, got {base_pos!r}")
    h = ecef_to_geodetic(p)[2]
    if not -1000.0 < h < 20000.0:
        raise RtkInputError(f"base position {p.tolist()} is {h / 1000:.1f} km from the ellipsoid: not on the Earth")
    if base is not None:
        hdr = np.asarray(base.header.approx_pos_ecef_m, float)
        if np.all(np.isfinite(hdr)) and np.linalg.norm(hdr) > 1e6 and np.linalg.norm(hdr - p) > tol_m:
            raise RtkInputError(f"base position {p.tolist()} is {np.linalg.norm(hdr - p):.0f} m from the base file's "
                                f"header position {hdr.tolist()}: wrong station or wrong coordinates?")
    return p


def _pick_code(block: ObsBlock, system: str, band: str) -> str | None:
    codes = [c for c in block.signals.get(system, ()) if c[0] == band]
    if system == "C" and band == "2":
        codes += [c for c in block.signals.get(system, ()) if c == "1I"]  # RINEX 3.02 B1I
    if not codes:
        return None
    rows = block.systems == system
    usable = []
    for c in codes:
        f = block.slot(system, c)
        if np.any(np.isfinite(block.phase_cyc[:, rows, f])):
            usable.append(c)
    if not usable:
        return None
    return min(usable, key=lambda c: rank(system, c))


def signal_layout(rover: ObsBlock, base: ObsBlock, opts: RtkOptions) -> SignalLayout:
    """Common satellites and, per system, the bands both files track (with their codes)."""
    systems = [s for s in opts.systems if s in rover.signals and s in base.signals]
    codes: dict[str, list] = {}
    for s in systems:
        lst = []
        for band in opts.band_list(s):
            rc, bc = _pick_code(rover, s, band), _pick_code(base, s, band)
            if rc and bc:
                lst.append((band, rc, bc))
        if lst:
            codes[s] = lst
    sats = intersect(rover.sats, base.sats)
    sats = sats[np.isin(systems_of(sats), list(codes))]
    if sats.size == 0:
        raise RtkInputError(f"rover and base share no satellites with a common signal in systems {opts.systems!r}")
    return layout_with_codes(rover, base, sats, codes)


def layout_with_codes(rover: ObsBlock, base: ObsBlock, sats: np.ndarray, codes: dict) -> SignalLayout:
    """Slot layout for given satellites and per-system (band, rover code, base code) lists; signals
    a block does not carry get slot -1 (streams: the satellite list is a fixed catalogue)."""
    n_f = max(len(v) for v in codes.values())
    s_sys = systems_of(sats)
    rslot = np.full((sats.size, n_f), -1)
    bslot = np.full((sats.size, n_f), -1)
    band = np.full((sats.size, n_f), "", "<U1")
    for s, lst in codes.items():
        rows = s_sys == s
        for f, (b, rc, bc) in enumerate(lst):
            band[rows, f] = b
            if rc in rover.signals.get(s, ()):
                rslot[rows, f] = rover.slot(s, rc)
            if bc in base.signals.get(s, ()):
                bslot[rows, f] = base.slot(s, bc)
    return SignalLayout(sats=sats, n_slots=n_f, rover_slot=rslot, base_slot=bslot, band=band, codes=codes)


def _gather(block: ObsBlock, sats: np.ndarray, slots: np.ndarray, epochs: np.ndarray):
    """Arrays [E, S, F] of code, phase, doppler, lli, snr for the given satellites/slots/epochs
    (satellites the block does not hold come out absent)."""
    si = np.minimum(np.searchsorted(block.sats, sats), max(block.n_sats - 1, 0))
    present = block.sats[si] == sats if block.n_sats else np.zeros(sats.size, bool)
    fi = np.maximum(slots, 0)
    none = (slots < 0) | ~present[:, None]
    out = []
    for arr, fill in ((block.code_m, np.nan), (block.phase_cyc, np.nan), (block.doppler_hz, np.nan), (block.lli, 0),
                      (block.snr_dbhz, np.nan)):
        a = arr[epochs[:, None, None], si[None, :, None], fi[None]]
        a = np.where(none[None], fill, a)
        out.append(a)
    return out


def align_epochs(rover_t: np.ndarray, base_t: np.ndarray, max_age_s: float) -> tuple[np.ndarray, np.ndarray]:
    """For each rover epoch, the index of the latest base epoch not later than it (within max_age).

    Returns (rover indices, base indices) of the usable pairs; a 1 ms tolerance absorbs time-tag jitter.
    """
    j = np.searchsorted(base_t, rover_t + 1_000_000, side="right") - 1
    ok = j >= 0
    age = np.where(ok, rover_t - base_t[np.maximum(j, 0)], np.iinfo(np.int64).max)
    ok &= age <= max_age_s * NS + 1_000_000
    return np.nonzero(ok)[0], j[ok]


def _sat_states(nav, sats_flat, t_ns_flat):
    from ...orbits.broadcast import sat_states  # imported late: the orbit module is a sibling's

    return sat_states(nav, sats_flat, t_ns_flat)


def _tx_states(nav, sats: np.ndarray, t_rx_ns: np.ndarray, code_m: np.ndarray):
    """Satellite ECEF position [E, S, 3] and clock [E, S] (m) at transmission, valid mask [E, S]."""
    e_n, s_n = code_m.shape[:2]
    p = np.nanmax(np.where(np.isfinite(code_m), code_m, -np.inf), axis=2)  # any tracked code [m]
    have = np.isfinite(p) & (p > 1e6) & (p < 1e8)
    ee, ss = np.nonzero(have)
    pos = np.full((e_n, s_n, 3), np.nan)
    clk = np.full((e_n, s_n), np.nan)
    valid = np.zeros((e_n, s_n), bool)
    if ee.size == 0:
        return pos, clk, valid
    t_tx = t_rx_ns[ee] - np.round(p[ee, ss] / CLIGHT * NS).astype(np.int64)
    st = _sat_states(nav, sats[ss], t_tx)
    # second pass at the satellite-clock corrected time (clock up to ~1 ms: 4 m of orbit)
    t_tx2 = t_tx - np.round(np.nan_to_num(st.clock_s) * NS).astype(np.int64)
    st = _sat_states(nav, sats[ss], t_tx2)
    ok = np.asarray(st.valid, bool) & np.all(np.isfinite(st.pos_ecef_m), axis=1) & np.isfinite(st.clock_s)
    pos[ee[ok], ss[ok]] = st.pos_ecef_m[ok]
    clk[ee[ok], ss[ok]] = st.clock_s[ok] * CLIGHT
    valid[ee[ok], ss[ok]] = True
    return pos, clk, valid


def prepare(rover: ObsBlock, base: ObsBlock, nav, base_pos, opts: RtkOptions,
            layout: SignalLayout | None = None) -> EpochArrays:
    """Build the filter input for all rover epochs that have a base epoch (see module doc)."""
    base_pos = check_base_position(base_pos, base)
    if rover.n_epochs == 0 or base.n_epochs == 0:
        raise RtkInputError(f"no epochs: rover has {rover.n_epochs}, base has {base.n_epochs}")
    ri, bi = align_epochs(rover.time_ns, base.time_ns, opts.max_age_s)
    if ri.size == 0:
        from ...gnss_time import to_iso

        raise RtkInputError(
            f"base and rover do not overlap: rover {to_iso(rover.time_ns[0])}..{to_iso(rover.time_ns[-1])}, "
            f"base {to_iso(base.time_ns[0])}..{to_iso(base.time_ns[-1])} (max age {opts.max_age_s} s)")
    skipped = []
    if ri.size < rover.n_epochs:
        msg = f"{rover.n_epochs - ri.size} rover epochs without a base epoch within {opts.max_age_s} s skipped"
        log.warning(msg)
        skipped.append(msg)
    layout = layout or signal_layout(rover, base, opts)
    if "R" not in opts.systems:
        n_glo = intersect(rover.sats[systems_of(rover.sats) == "R"], base.sats[systems_of(base.sats) == "R"]).size
        if n_glo:
            msg = f"GLONASS: {n_glo} satellites observed by both receivers not used (not in systems {opts.systems!r})"
            log.info(msg)
            skipped.append(msg)
    sats = layout.sats
    code_r, phase_r, dop_r, lli_r, snr_r = _gather(rover, sats, layout.rover_slot, ri)
    code_b, phase_b, dop_b, lli_b, snr_b = _gather(base, sats, layout.base_slot, bi)
    t_r = rover.time_ns[ri]
    t_b = base.time_ns[bi]

    pos_r, clk_r, ok_r = _tx_states(nav, sats, t_r, code_r)
    pos_b, clk_b, ok_b = _tx_states(nav, sats, t_b, code_b)
    observed = np.any(np.isfinite(code_r), axis=2) & np.any(np.isfinite(code_b), axis=2)
    if not np.any(ok_r & ok_b & observed):
        raise RtkInputError("the navigation data has no usable ephemeris for any satellite observed by both receivers")
    n_noeph = int(np.sum(observed & ~(ok_r & ok_b)))
    if n_noeph:
        missing = sorted(set(sats[np.any(observed & ~(ok_r & ok_b), axis=0)].tolist()))
        msg = f"{n_noeph} satellite-epochs without a usable ephemeris skipped ({', '.join(missing[:12])})"
        log.info(msg)
        skipped.append(msg)

    rng_b, los_b = geometric_range(pos_b, base_pos[None, None, :])
    az_b, el_b, llh_b = az_el_from_los(los_b, np.broadcast_to(base_pos, (t_b.size, 3)))
    doy = _day_of_year(t_b)
    trop_b, _ = tropo_delay(el_b, llh_b[:, 0:1], llh_b[:, 2:3], doy[:, None])
    el_b = np.where(ok_r & ok_b, el_b, np.nan)

    s_sys = systems_of(sats)
    chans = {**nav.glonass_channels(), **rover.header.glonass_channels, **base.header.glonass_channels} \
        if hasattr(nav, "glonass_channels") else {}
    k_glo = np.array([chans.get(str(x), np.nan) for x in sats], float)
    freq = frequencies_hz(s_sys[:, None], layout.band, k_glo[:, None])  # GLONASS FDMA: per-channel carrier
    freq = np.where(layout.band == "", np.nan, freq)
    no_k = (s_sys == "R") & ~np.isfinite(k_glo) & observed.any(axis=0)
    if no_k.any():
        msg = f"GLONASS: no frequency channel known for {', '.join(sats[no_k].tolist())}: not used"
        log.warning(msg)
        skipped.append(msg)
    wl = CLIGHT / freq
    sys_idx = np.array(["GECJR".index(s) for s in s_sys])
    band_num = np.where(layout.band == "", "0", layout.band).astype(int)
    group = np.where(layout.band == "", -1, sys_idx[:, None] * 16 + band_num)
    fixable = s_sys != "R"  # GLONASS ambiguities stay float (FDMA inter-frequency biases)
    if opts.ar.exclude_bds_geo:
        fixable &= ~is_bds_geo(sats)

    ant_r, ant_b_m = _antennas(rover, base, s_sys, layout.band, az_b, el_b, opts, skipped)
    iono_map_b = _broadcast_iono_mapping(nav, t_b, llh_b, az_b, el_b) if opts.noise.iono_mapping == "broadcast" else None

    # observations of invalid satellites are removed here once, so the filter sees NaN
    bad = ~(ok_r & ok_b)[..., None]
    for a in (code_r, phase_r, code_b, phase_b):
        a[np.broadcast_to(bad, a.shape)] = np.nan
    return EpochArrays(time_ns=t_r, age_s=(t_r - t_b) / NS, sats=sats, wavelength_m=wl, group=group.astype(int),
                       fixable=fixable, phase_r=phase_r, phase_b=phase_b, code_r=code_r, code_b=code_b,
                       doppler_r=dop_r, doppler_b=dop_b, lli_r=lli_r.astype(np.uint8), lli_b=lli_b.astype(np.uint8),
                       sat_pos_r=pos_r, sat_clk_r_m=clk_r, sat_clk_b_m=clk_b, range_b_m=rng_b,
                       trop_b_m=trop_b, el_b_rad=el_b, base_pos=base_pos, skipped=skipped,
                       snr_r=snr_r.astype(float), snr_b=snr_b.astype(float), ant_r=ant_r, ant_b_m=ant_b_m,
                       iono_map_b=iono_map_b)


def _broadcast_iono_mapping(nav, t_b, llh_b, az_b, el_b) -> np.ndarray | None:
    """GPS Klobuchar slant delay of each satellite over the zenith delay at the base [E, S] (None: no
    coefficients). The relative ionosphere between two nearby stations scales with the total delay
    along each path far better than with the geometric mapping alone (the delay varies over the sky)."""
    from ...models.ionosphere import klobuchar_gps

    a, b = nav.iono.get("GPSA"), nav.iono.get("GPSB")
    if a is None or b is None:
        return None
    lat, lon = llh_b[:, 0:1], llh_b[:, 1:2]
    with np.errstate(invalid="ignore"):
        slant = klobuchar_gps(a, b, t_b[:, None], lat, lon, az_b, el_b)
        zen = klobuchar_gps(a, b, t_b[:, None], lat, lon, 0.0, np.pi / 2)
        return slant / zen


def _antennas(rover: ObsBlock, base: ObsBlock, s_sys, bands, az_b, el_b, opts: RtkOptions, skipped: list):
    """Rover antenna model and the base's range correction [E, S, F] (None, None: no antenna model).

    Without an ANTEX file only the header ARP heights apply (when any is non-zero)."""
    o = opts.antenna
    antex = None
    if o.antex:
        try:
            antex = load_antex(o.antex)
        except (OSError, ValueError) as exc:
            raise RtkInputError(f"ANTEX file {o.antex}: {exc}") from None
    delta_r, delta_b = rover.header.antenna_delta_hen_m, base.header.antenna_delta_hen_m
    if antex is None and not (np.any(np.asarray(delta_r) != 0) or np.any(np.asarray(delta_b) != 0)):
        return None, None
    models = []
    for role, block, named in (("rover", rover, o.rover_type), ("base", base, o.base_type)):
        try:
            m = receiver_antenna(role, named or block.header.antenna_type, block.header.antenna_delta_hen_m,
                                 s_sys, bands, antex, bool(named))
        except AntennaError as exc:
            raise RtkInputError(str(exc)) from None
        skipped.extend(m.notes)
        models.append(m)
    with np.errstate(invalid="ignore"):
        ant_b_m = models[1].correction(az_b, el_b)
    return models[0], ant_b_m


def _day_of_year(t_ns: np.ndarray) -> np.ndarray:
    from ...gnss_time import to_datetime64

    d = to_datetime64(t_ns).astype("datetime64[D]")
    return (d - d.astype("datetime64[Y]")).astype(np.int64) + 1
