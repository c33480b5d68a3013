"""Configuration from `HUBBOT_*` environment variables (pydantic-settings)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from bot.services.hub_messages import HubPolicy


class Settings(BaseSettings):
    """Everything the admin can set; each field is `HUBBOT_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="HUBBOT_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("hubbot-data"), description="database, alert log")
    database_url: str | None = Field(default=None, description="default: SQLite in data_dir")
    feeds_file: Path = Path("feeds.yaml")
    console: bool | None = Field(
        default=None, description="print alerts on the console; default: when no chat network"
    )
    console_file: Path | None = Field(default=None, description="default: data_dir/alerts.jsonl")
    log_level: str = "INFO"
    log_wire: bool = Field(
        default=False, description="log what libraries send and receive (message texts, "
        "commands, product names): for debugging a connection only, never in production")
    backlog_days: float = Field(
        default=3, ge=0, le=3650,
        description="on a feed's first poll, entries older than this are recorded, not alerted",
    )
    report_retention_days: float = Field(
        default=180, gt=0, le=3650,
        description="members' reports (with their indicators and sightings) are kept this long",
    )
    fetch_timeout: float = Field(default=60.0, gt=0, description="seconds for a whole fetch")
    max_feed_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    feeds_allow_private: bool = Field(
        default=False, description="let redirects and CSAF-listed URLs reach loopback, "
        "private and link-local addresses (a feed configured on such a host always may)")
    telegram_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_timeout: float = Field(default=20.0, gt=0, description="seconds per API call")
    telegram_webhook_url: str | None = Field(
        default=None, description="public HTTPS URL Telegram posts updates to; unset: polling"
    )
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = Field(default=8443, gt=0, lt=65536)
    telegram_webhook_secret: SecretStr | None = None
    health_host: str = "127.0.0.1"
    health_port: int | None = Field(
        default=8181, ge=0, lt=65536, description="/healthz and /metrics; unset: no server"
    )
    matrix_homeserver: str | None = Field(default=None, description="e.g. https://matrix.org")
    matrix_user: str | None = Field(default=None, description="the bot's @user:server")
    matrix_password: SecretStr | None = None
    matrix_access_token: SecretStr | None = None
    matrix_store_path: Path | None = Field(
        default=None, description="login, device keys, sync token; default: data_dir/matrix"
    )
    admins: str | None = Field(
        default=None, description="Telegram user ids and Matrix ids of the hub's admins"
    )
    timezone: str = Field(default="UTC", description="the hub's time zone (IANA name)")
    default_language: str = Field(
        default="en", description="language of people who chose none and hub channels (de, en)"
    )
    digest_hour: int = Field(default=8, ge=0, le=23, description="default hour of digests")
    summary_day: str = Field(default="mon", description="weekday of the weekly summary")
    summary_hour: int = Field(default=8, ge=0, le=23)
    command_rate: str | None = Field(
        default="20/minute", description="commands per user (limits syntax); off: no limit"
    )

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # an empty variable is an unset one
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError(
                "Telegram takes 1 to 256 characters, only A-Z, a-z, 0-9, _ and -; e.g. the "
                "output of: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return value

    @field_validator("command_rate")
    @classmethod
    def _command_rate(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in {"", "off", "none"}:
            return None
        from limits import parse

        parse(value)  # ValueError on anything limits cannot read
        return value.strip()

    @field_validator("admins")
    @classmethod
    def _admins(cls, value: str | None) -> str | None:
        from bot.domain.roles import parse_admins

        parse_admins(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("use an IANA time zone name such as Europe/Berlin or UTC") from None
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        from bot.app.i18n import catalog_files

        value = value.strip().lower()
        known = {"en", *catalog_files()}
        if value not in known:
            raise ValueError(f"use one of {', '.join(sorted(known))}")
        return value

    @field_validator("summary_day")
    @classmethod
    def _day(cls, value: str) -> str:
        value = value.strip().lower()[:3]
        if value not in {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}:
            raise ValueError("use a weekday: mon, tue, wed, thu, fri, sat or sun")
        return value

    def policy(self) -> HubPolicy:
        from bot.domain.roles import parse_admins

        return HubPolicy(admins=parse_admins(self.admins), zone=self.timezone,
                         digest_hour=self.digest_hour, console=self.console_enabled)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line."""
        found = [
            s.get_secret_value()
            for s in (self.telegram_token, self.telegram_webhook_secret, self.matrix_password,
                      self.matrix_access_token)
            if s is not None
        ]
        if self.telegram_token is not None:
            found.append(self.telegram_token.get_secret_value().partition(":")[2])
        password = make_url(self.db_url).password if "://" in self.db_url else None
        if password:
            found.append(str(password))
        return found

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'hubbot.db').resolve()}"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, when the database is one."""
        url = make_url(self.db_url)
        if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
            return None
        return Path(str(url.database)).expanduser()

    def private_files(self) -> tuple[list[Path], list[Path]]:
        """What only the bot's user may read: (files and folders, folders with all they hold)."""
        paths = [self.data_dir, self.alerts_file]
        database = self.sqlite_path
        if database is not None:
            paths += [database, *(database.with_name(database.name + suffix)
                                  for suffix in ("-wal", "-shm", "-journal"))]
        return paths, [self.matrix_store]

    @property
    def chat_configured(self) -> bool:
        return self.telegram_token is not None or self.matrix_homeserver is not None

    @property
    def console_enabled(self) -> bool:
        return self.console if self.console is not None else not self.chat_configured

    @property
    def matrix_store(self) -> Path:
        return self.matrix_store_path or self.data_dir / "matrix"

    @property
    def alerts_file(self) -> Path:
        return self.console_file or self.data_dir / "alerts.jsonl"

    @property
    def telegram_file_url(self) -> str:
        base = self.telegram_base_url
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"
