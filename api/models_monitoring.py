"""Persistent records for monitoring points and post-processing jobs (SQLAlchemy ORM).

Coordinates ECEF metres; displacements ENU millimetres from the point's reference coordinates;
solution times and the alarm times the rules set (raised/level changes) are datetimes in the GPST
calendar (GPST ns kept beside them where the solver's time is the key); record-keeping times
(created, received, operator actions) are UTC.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base
from .models import utcnow


class MonitoringPoint(Base):
    """A GNSS receiver on a tower, slope, dam or bridge, solved against reference station(s)."""

    __tablename__ = "monitoring_points"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    owner: Mapped[str] = mapped_column(String(128), default="")
    x_m: Mapped[float] = mapped_column(Float)  # reference (fixed) coordinates, ECEF
    y_m: Mapped[float] = mapped_column(Float)
    z_m: Mapped[float] = mapped_column(Float)
    reference_stations: Mapped[list] = mapped_column(JSON, default=list)  # station codes; empty = nearest
    webhook_url: Mapped[str] = mapped_column(String(512), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # commissioning: the reference coordinates are set once to the median of the point's first
    # zero_after_s seconds of fixed solutions (its reference epoch); displacement rules run after that
    zero_after_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    zeroed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # UTC


class ObservationUpload(Base):
    """A chunk of raw observations posted for a point (RINEX or JSON epochs), stored before the 2xx."""

    __tablename__ = "observation_uploads"
    __table_args__ = (UniqueConstraint("point_id", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("monitoring_points.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8), default="rinex")  # rinex | json
    path: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="stored")  # stored | processed | failed
    n_epochs: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")


class PointSolution(Base):
    """One solution of a monitoring point: raw and filtered displacement."""

    __tablename__ = "point_solutions"
    __table_args__ = (UniqueConstraint("point_id", "time_ns"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("monitoring_points.id", ondelete="CASCADE"), index=True)
    time_ns: Mapped[int] = mapped_column(BigInteger, index=True)  # GPST ns
    time: Mapped[dt.datetime] = mapped_column(DateTime)  # the same instant in the GPST calendar (no leap seconds)
    quality: Mapped[int] = mapped_column(Integer)  # rtk_engine.solution.Quality
    n_sats: Mapped[int] = mapped_column(Integer, default=0)
    ratio: Mapped[float] = mapped_column(Float, default=0.0)
    e_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    n_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    u_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    fe_mm: Mapped[float | None] = mapped_column(Float, nullable=True)  # robust-filtered
    fn_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    fu_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    outlier: Mapped[bool] = mapped_column(Boolean, default=False)
    # several reference stations: the ones combined (comma-separated codes) and the largest pair
    # disagreement change (horizontal mm, cors_network.monitoring.multiref)
    references_used: Mapped[str] = mapped_column(String(128), default="")
    disagreement_mm: Mapped[float | None] = mapped_column(Float, nullable=True)


class ReferenceSolutionRow(Base):
    """The point solved against one of its reference stations (per-reference result of an epoch)."""

    __tablename__ = "point_reference_solutions"
    __table_args__ = (UniqueConstraint("point_id", "time_ns", "station"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("monitoring_points.id", ondelete="CASCADE"), index=True)
    time_ns: Mapped[int] = mapped_column(BigInteger)  # GPST ns
    station: Mapped[str] = mapped_column(String(16))
    quality: Mapped[int] = mapped_column(Integer)
    n_sats: Mapped[int] = mapped_column(Integer, default=0)
    ratio: Mapped[float] = mapped_column(Float, default=0.0)
    e_mm: Mapped[float | None] = mapped_column(Float, nullable=True)  # fixed solutions only
    n_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    u_mm: Mapped[float | None] = mapped_column(Float, nullable=True)


class AlarmRuleRow(Base):
    """An alarm rule of a point (see cors_network.monitoring.rules.Rule for the fields)."""

    __tablename__ = "alarm_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("monitoring_points.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    definition: Mapped[dict] = mapped_column(JSON, default=dict)  # Rule.to_dict()
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class AlarmRow(Base):
    """An alarm: open -> acknowledged -> closed; its level follows the rule."""

    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("monitoring_points.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alarm_rules.id", ondelete="SET NULL"), nullable=True)
    rule_name: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[int] = mapped_column(Integer, default=0)
    max_level: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    acknowledged_by: Mapped[str] = mapped_column(String(64), default="")
    closed_by: Mapped[str] = mapped_column(String(64), default="")
    history: Mapped[list] = mapped_column(JSON, default=list)  # AlarmEvent dicts


class WebhookDelivery(Base):
    """One webhook POST (with its retries) for an alarm event."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id", ondelete="SET NULL"), nullable=True)
    url: Mapped[str] = mapped_column(String(512))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Job(Base):
    """A post-processing job: rover RINEX -> SPP / PPK solution files and a summary."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), default="")
    mode: Mapped[str] = mapped_column(String(8))  # spp | ppk
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|running|done|failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    rover_path: Mapped[str] = mapped_column(String(512))
    nav_path: Mapped[str] = mapped_column(String(512), default="")
    base_station: Mapped[str] = mapped_column(String(16), default="")
    base_paths: Mapped[list] = mapped_column(JSON, default=list)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
