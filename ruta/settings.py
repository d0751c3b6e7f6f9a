"""Settings, read once from RUTA_* environment variables (see README "Configuration")."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUTA_", extra="ignore")

    home: Path = Field(default=Path("./ruta-data"), description="Data directory")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under RUTA_HOME"
    )
    protocols_dir: Path | None = Field(
        default=None, description="Protocol files; default: the packaged protocols/countries"
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'ruta.sqlite3').resolve()}"
