"""Settings, read once from RUTA_* environment variables (see README "Configuration")."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
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

    console_url: str = Field(
        default="http://127.0.0.1:8501", description="Console address used in email links"
    )
    email_from: str = Field(default="ruta@example.org", description="Sender address of emails")
    sendgrid_api_key: SecretStr | None = Field(
        default=None, description="SendGrid API key; unset: emails are written as .eml files"
    )
    sendgrid_host: str = Field(
        default="https://api.sendgrid.com",
        description="SendGrid API host (https://api.eu.sendgrid.com for EU data residency)",
    )
    sendgrid_sandbox: bool = Field(
        default=False, description="SendGrid sandbox mode: validated, never delivered"
    )

    sweep_seconds: int = Field(default=60, ge=1, description="deadline-sweep interval")
    dispatch_seconds: int = Field(default=30, ge=1, description="outbox-dispatch interval")

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'ruta.sqlite3').resolve()}"
