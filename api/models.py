"""Persistent records (SQLAlchemy ORM). Coordinates are ECEF metres; times are UTC datetimes."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base

ROLES = ("admin", "operator", "readonly")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class OperatorUser(Base):
    """A person using the REST API / dashboard."""

    __tablename__ = "operator_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="readonly")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    """Bearer tokens: login sessions (expiring) and long-lived API keys. Only a SHA-256 digest is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("operator_users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64), default="session")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[OperatorUser] = relationship()


class Station(Base):
    """A reference station (CORS)."""

    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # e.g. "CQ01"
    name: Mapped[str] = mapped_column(String(128), default="")
    x_m: Mapped[float] = mapped_column(Float)
    y_m: Mapped[float] = mapped_column(Float)
    z_m: Mapped[float] = mapped_column(Float)
    antenna_type: Mapped[str] = mapped_column(String(32), default="")
    antenna_height_m: Mapped[float] = mapped_column(Float, default=0.0)
    receiver_type: Mapped[str] = mapped_column(String(32), default="")
    country: Mapped[str] = mapped_column(String(3), default="CHN", server_default="CHN")  # ISO 3166 alpha-3
    mountpoint: Mapped[str] = mapped_column(String(64), default="")
    source_kind: Mapped[str] = mapped_column(String(16), default="ntrip")  # ntrip | tcp | serial | replay
    source_url: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[str] = mapped_column(String(16), default="unknown")  # online | degraded | offline | unknown
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Mountpoint(Base):
    """An NTRIP mountpoint of the caster."""

    __tablename__ = "mountpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="base")  # base | view | nearest
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="SET NULL"), nullable=True)
    view_of: Mapped[str] = mapped_column(String(64), default="")
    messages: Mapped[list] = mapped_column(JSON, default=list)  # message filter for views
    format: Mapped[str] = mapped_column(String(32), default="RTCM 3.3")
    systems: Mapped[str] = mapped_column(String(64), default="GPS+GLO+GAL+BDS")
    lat_deg: Mapped[float] = mapped_column(Float, default=0.0)
    lon_deg: Mapped[float] = mapped_column(Float, default=0.0)
    source_password_hash: Mapped[str] = mapped_column(String(256), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class NtripUser(Base):
    """A rover account of the caster."""

    __tablename__ = "ntrip_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    mountpoints: Mapped[list] = mapped_column(JSON, default=list)  # empty = all
    max_connections: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class StationEvent(Base):
    """Something that happened to a station (went silent, degraded, moved, recovered)."""

    __tablename__ = "station_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    time: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16), default="info")  # info | warning | critical
    message: Mapped[str] = mapped_column(Text, default="")


class QualitySample(Base):
    """Periodic quality figures of a station's stream."""

    __tablename__ = "quality_samples"
    __table_args__ = (UniqueConstraint("station_id", "time"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    time: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    sats_per_system: Mapped[dict] = mapped_column(JSON, default=dict)
    cn0_mean_dbhz: Mapped[float | None] = mapped_column(Float, nullable=True)
    completeness: Mapped[float | None] = mapped_column(Float, nullable=True)  # 0..1
    latency_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    slips_per_1000: Mapped[float | None] = mapped_column(Float, nullable=True)
    mp1_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    mp2_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_epoch: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ArchiveFile(Base):
    """A RINEX file in the station archive."""

    __tablename__ = "archive_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default="obs")  # obs | nav
    start: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    end: Mapped[dt.datetime] = mapped_column(DateTime)
    path: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    n_epochs: Mapped[int] = mapped_column(Integer, default=0)
from . import models_monitoring  # noqa: E402,F401  (monitoring + job tables, so Alembic sees them)
