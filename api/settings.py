"""Service settings: one typed object, read from environment variables (``BEIDOU_*``)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""  # default: SQLite file in data_dir; PostgreSQL: postgresql+psycopg://...
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    caster_host: str = "127.0.0.1"
    caster_port: int = 2101
    admin_user: str = "admin"
    admin_password: str = ""  # first start only: creates the admin account (random if empty, printed once)
    token_ttl_s: int = 12 * 3600
    page_size_max: int = 500
    archive_keep_days: float = 90.0  # RINEX archive retention [days] from when a file was written; 0 keeps all
    extra: dict = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'beidou.sqlite3').as_posix()}"

    @staticmethod
    def from_env(**overrides) -> "Settings":
        env = os.environ
        values = dict(
            data_dir=Path(env.get("BEIDOU_DATA_DIR", "var")),
            database_url=env.get("BEIDOU_DATABASE_URL", ""),
            http_host=env.get("BEIDOU_HTTP_HOST", "127.0.0.1"),
            http_port=int(env.get("BEIDOU_HTTP_PORT", "8000")),
            caster_host=env.get("BEIDOU_CASTER_HOST", "127.0.0.1"),
            caster_port=int(env.get("BEIDOU_CASTER_PORT", "2101")),
            admin_user=env.get("BEIDOU_ADMIN_USER", "admin"),
            admin_password=env.get("BEIDOU_ADMIN_PASSWORD", ""),
            archive_keep_days=_non_negative(env.get("BEIDOU_ARCHIVE_KEEP_DAYS", "90"), "BEIDOU_ARCHIVE_KEEP_DAYS"),
        )
        values.update(overrides)
        return Settings(**values)


def _non_negative(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected a number of days (0 keeps everything)") from None
    if not value >= 0.0:
        raise ValueError(f"{name}={text!r}: must be >= 0 (0 keeps everything)")
    return value
