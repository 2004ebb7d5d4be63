"""Request and response bodies (pydantic). ECEF metres in, ECEF plus CGCS2000 and Gauss-Krüger out."""
from __future__ import annotations

import datetime as dt
import math
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cors_network.relay import source_problem

_CODE = re.compile(r"^[A-Za-z0-9_\-]{2,16}$")
_MOUNT = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    expires_in_s: int | None


class OperatorIn(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9_.\-]{2,64}$")
    password: str = Field(min_length=8, max_length=256)
    role: str = Field(pattern="^(admin|operator|readonly)$")


class OperatorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: str
    enabled: bool


class ApiKeyIn(BaseModel):
    label: str = Field(min_length=1, max_length=64)


class StationIn(BaseModel):
    code: str
    name: str = ""
    x_m: float
    y_m: float
    z_m: float
    antenna_type: str = Field("", max_length=32)
    antenna_height_m: float = Field(0.0, ge=0.0, le=100.0)
    receiver_type: str = Field("", max_length=32)
    country: str = Field("CHN", pattern="^[A-Z]{3}$", description="ISO 3166 alpha-3 (sourcetable, RINEX file names)")
    mountpoint: str = ""
    source_kind: str = Field("ntrip", pattern="^(ntrip|tcp|serial|replay|simulated)$")
    source_url: str = Field("", max_length=512)

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not _CODE.match(v):
            raise ValueError("code: 2-16 letters, digits, '_' or '-'")
        return v.upper()

    @model_validator(mode="after")
    def _source(self):
        problem = source_problem(self.source_kind, self.source_url)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _on_earth(self):
        r = math.sqrt(self.x_m**2 + self.y_m**2 + self.z_m**2)
        if not 6_300_000.0 < r < 6_400_000.0:
            raise ValueError(f"ECEF position is {r / 1000:.1f} km from the geocentre; a station is at ~6370 km")
        return self


class StationPatch(BaseModel):
    name: str | None = None
    antenna_type: str | None = None
    antenna_height_m: float | None = Field(None, ge=0.0, le=100.0)
    receiver_type: str | None = None
    country: str | None = Field(None, pattern="^[A-Z]{3}$")
    mountpoint: str | None = None
    source_kind: str | None = Field(None, pattern="^(ntrip|tcp|serial|replay|simulated)$")
    source_url: str | None = None
    status: str | None = Field(None, pattern="^(online|degraded|offline|unknown|maintenance)$")


class StationOut(BaseModel):
    id: int
    code: str
    name: str
    ecef_m: list[float]
    cgcs2000: dict  # lat_deg, lon_deg, h_m
    gauss_kruger: dict  # northing_m, easting_m, zone (3-degree)
    antenna_type: str
    antenna_height_m: float
    receiver_type: str
    country: str
    mountpoint: str
    source_kind: str
    source_url: str
    status: str
    updated_at: dt.datetime


class MountpointIn(BaseModel):
    name: str
    kind: str = Field("base", pattern="^(base|view|nearest)$")
    station_code: str | None = None
    view_of: str = ""
    messages: list[int] = Field(default_factory=list)
    format: str = "RTCM 3.3"
    systems: str = "GPS+GLO+GAL+BDS"
    source_password: str | None = Field(None, min_length=6, max_length=128)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _MOUNT.match(v):
            raise ValueError("mountpoint name: 1-64 letters, digits, '_' or '-'")
        return v


class MountpointOut(BaseModel):
    id: int
    name: str
    kind: str
    station_code: str | None
    view_of: str
    messages: list[int]
    format: str
    systems: str
    lat_deg: float
    lon_deg: float
    enabled: bool
    has_source_password: bool


class NtripUserIn(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9_.\-]{2,64}$")
    password: str = Field(min_length=6, max_length=128)
    mountpoints: list[str] = Field(default_factory=list)
    max_connections: int = Field(1, ge=0, le=10000)
    enabled: bool = True


class NtripUserPatch(BaseModel):
    password: str | None = Field(None, min_length=6, max_length=128)
    mountpoints: list[str] | None = None
    max_connections: int | None = Field(None, ge=0, le=10000)
    enabled: bool | None = None


class NtripUserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    mountpoints: list[str]
    max_connections: int
    enabled: bool


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    station_id: int
    time: dt.datetime
    kind: str
    severity: str
    message: str
