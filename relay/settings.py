"""The relay's configuration, read once from the environment (and an optional `.env`).

Secrets (app secrets, tokens) only ever come from here, never from files the relay writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com/v25.0"
DEFAULT_INSTAGRAM_GRAPH_BASE_URL = "https://graph.instagram.com/v25.0"


def default_database_url() -> str:
    data_dir = Path(platformdirs.user_data_dir("omnidesk-relay", appauthor=False))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{data_dir / 'relay.sqlite3'}"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of the relay. Names map to `OMNIDESK_<NAME>` environment variables."""

    model_config = SettingsConfigDict(env_prefix="OMNIDESK_", env_file=".env", extra="ignore")

    relay_database_url: str = Field(default_factory=default_database_url)
    meta_app_secret: Annotated[list[str], NoDecode]
    instagram_app_secret: Annotated[list[str], NoDecode] = Field(default_factory=list)
    meta_verify_token: str
    meta_access_token: str
    graph_base_url: str = DEFAULT_GRAPH_BASE_URL
    instagram_graph_base_url: str = DEFAULT_INSTAGRAM_GRAPH_BASE_URL
    # Public base URL of this relay, used in links handed to the bot (media URLs).
    relay_public_url: str = "http://127.0.0.1:8000"

    # Bot bridge: off when no AMQP URL is set.
    amqp_url: str | None = None
    bot_inbound_queue: str = "omnidesk.bot.inbound"
    bot_outbound_queue: str = "omnidesk.bot.outbound"

    log_json: bool = False
    max_webhook_bytes: int = 4 * 1024 * 1024
    # Retries of transient send errors wait Meta's hint (or 0.5 s), doubling each time (4x for
    # 131056, Meta's 4^X schedule), times this scale (tests make it small), at most 15 min.
    send_retry_scale: float = 1.0
    send_max_attempts: int = 6
    # How often an SSE stream looks for events written by other relay processes.
    event_poll_s: float = 0.25

    @field_validator("meta_app_secret", "instagram_app_secret", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("meta_app_secret")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one app secret is required")
        return value

    @property
    def bot_enabled(self) -> bool:
        return bool(self.amqp_url)

    @property
    def webhook_secrets(self) -> list[bytes]:
        """Every secret a Meta webhook may be signed with (Meta app, then Instagram Login app)."""
        return [s.encode() for s in [*self.meta_app_secret, *self.instagram_app_secret]]


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it in one line."""


def load_settings(**overrides: object) -> Settings:
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        env = f"OMNIDESK_{field.upper()}"
        if first["type"] == "missing":
            raise SettingsError(f"missing required setting {env}") from None
        raise SettingsError(f"invalid setting {env}: {first['msg']}") from None
