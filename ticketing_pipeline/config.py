"""Project configuration: accounts, warehouse and sync settings, validated with clear errors.

Configuration lives in one TOML file (``ticketing.toml`` in the working directory, or the path in
``TICKETING_CONFIG``). Secrets never live in it: each account names the *environment variable*
that holds its API key or token, and the value is read only when a sync needs it. The warehouse
is one URL (``TICKETING_WAREHOUSE_URL`` overrides the file): DuckDB by default, PostgreSQL by a
``postgresql://`` URL.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

CONFIG_ENV = "TICKETING_CONFIG"
WAREHOUSE_URL_ENV = "TICKETING_WAREHOUSE_URL"
DATA_DIR_ENV = "TICKETING_DATA_DIR"
DEFAULT_CONFIG_FILE = "ticketing.toml"


class ConfigError(Exception):
    """The configuration is missing or invalid; the message says what to fix."""


class MissingSecretError(ConfigError):
    """An enabled account's secret is not in the environment.

    Raised instead of syncing nothing: a missing key must never look like "0 orders".
    """

    def __init__(self, account: AccountConfig, variable: str, purpose: str = "API secret") -> None:
        self.account_key = account.key
        self.variable = variable
        super().__init__(
            f"{account.platform.value} account '{account.account_id}' ({account.display_name}): "
            f"the {purpose} is not set; export the environment variable {variable}"
        )


class Platform(StrEnum):
    HUMANITIX = "humanitix"
    EVENTBRITE = "eventbrite"


DEFAULT_BASE_URLS: dict[Platform, str] = {
    Platform.HUMANITIX: "https://api.humanitix.com/v1",
    Platform.EVENTBRITE: "https://www.eventbriteapi.com/v3",
}

# Account ids become Dagster partition keys, dlt pipeline names and URL path parts.
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REGION = re.compile(r"^[A-Z]{2}$")


class AccountConfig(BaseModel):
    """One platform account: a Humanitix API key or an Eventbrite organization."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Platform
    # Eventbrite: the organization id; Humanitix: a label of your choice for the API key.
    account_id: str
    display_name: str
    secret_env: Annotated[str, Field(description="Name of the env var holding the key/token")]
    base_url: str | None = None
    enabled: bool = True
    webhook_secret_env: str | None = None
    # Humanitix keeps data per region (the records' `location`: AU, NZ, US, ...) and answers for
    # the key owner's region unless `overrideLocation` is sent. Empty: only the key's own region,
    # no parameter sent. Otherwise every listed region is synced, each with that parameter.
    regions: tuple[str, ...] = ()

    @field_validator("account_id")
    @classmethod
    def _valid_account_id(cls, value: str) -> str:
        if not _ACCOUNT_ID.match(value):
            raise ValueError(
                "account_id must be 1-64 characters of letters, digits, '_', '.' or '-'"
            )
        return value

    @field_validator("secret_env", "webhook_secret_env")
    @classmethod
    def _valid_env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"'{value}' is not an environment variable name")
        return value

    @field_validator("regions")
    @classmethod
    def _valid_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            if not _REGION.match(region):
                raise ValueError(f"region '{region}' must be a two-letter code such as AU or NZ")
        if len(set(value)) != len(value):
            raise ValueError("regions must not repeat")
        return value

    @model_validator(mode="after")
    def _regions_only_for_humanitix(self) -> AccountConfig:
        if self.regions and self.platform is not Platform.HUMANITIX:
            raise ValueError("regions apply to Humanitix accounts only")
        return self

    @field_validator("base_url")
    @classmethod
    def _valid_base_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"base_url '{value}' must be an http(s) URL")
        return value.rstrip("/") if value else value

    @property
    def key(self) -> str:
        """Unique across platforms: used for pipeline names and partition keys."""
        return f"{self.platform.value}-{self.account_id}"

    @property
    def api_base_url(self) -> str:
        return self.base_url or DEFAULT_BASE_URLS[self.platform]

    def api_secret(self) -> SecretStr:
        """The account's API key/token from the environment; raises if it is absent or empty."""
        return _read_secret(self, self.secret_env, "API secret")

    def webhook_secret(self) -> SecretStr:
        if not self.webhook_secret_env:
            raise ConfigError(
                f"{self.platform.value} account '{self.account_id}': no webhook_secret_env is "
                "configured, so its webhooks cannot be authenticated"
            )
        return _read_secret(self, self.webhook_secret_env, "webhook secret")


def _read_secret(account: AccountConfig, variable: str, purpose: str) -> SecretStr:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise MissingSecretError(account, variable, purpose)
    return SecretStr(value)


class SyncConfig(BaseModel):
    """How incremental syncs behave; the defaults suit a 15-minute schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Re-read this many seconds before the last cursor so late edits and clock skew are caught.
    lookback_seconds: int = Field(default=3600, ge=0)
    # The daily look-back sync re-reads this many days to catch late refunds.
    daily_lookback_days: int = Field(default=3, ge=1)
    # Orders/tickets of events that ended this many days before the last sync are not polled by
    # the frequent incremental sync (None: poll every event). The daily look-back sync polls all.
    skip_events_ended_days: int | None = Field(default=30, ge=0)
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    request_max_attempts: int = Field(default=6, ge=1)
    request_backoff_factor: float = Field(default=1.0, ge=0)
    request_max_retry_delay_seconds: float = Field(default=300.0, gt=0)
    # Eventbrite allows about 2,000 calls per hour per token; accounts sharing a token share it.
    # Calls are spaced to stay under it (at most `eventbrite_burst` at once, at most 1/25 of
    # the hourly figure) rather than running into 429s.
    eventbrite_calls_per_hour: int = Field(default=2000, ge=1)
    eventbrite_burst: int = Field(default=20, ge=1)
    # Humanitix has no account-wide orders/tickets endpoint: a backfill pages every event's
    # orders and tickets; this many events are fetched at once (1: one request at a time).
    # Humanitix publishes no rate limit; 6 is what a browser opens to one host, and it makes a
    # backfill 3.9x faster than one at a time (benchmarks/README.md).
    humanitix_concurrency: int = Field(default=6, ge=1, le=32)

    @model_validator(mode="after")
    def _burst_within_budget(self) -> SyncConfig:
        # Spacing calls by bursts keeps every hour within the budget only for small bursts
        # (see sources/ratelimit.py).
        if self.eventbrite_burst * 25 > self.eventbrite_calls_per_hour:
            raise ValueError(
                "eventbrite_burst can be at most 1/25 of eventbrite_calls_per_hour "
                f"({self.eventbrite_calls_per_hour // 25})"
            )
        return self


class WarehouseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "duckdb:///warehouse.duckdb"


class WebhooksConfig(BaseModel):
    """Where platforms reach the webhook receiver (``ticketing webhooks register`` uses it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The receiver's public base URL as the platforms see it (behind your HTTPS proxy), without
    # the /webhooks/... path: e.g. "https://hooks.example.com".
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _valid_public_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", value):
            raise ValueError(f"public_url '{value}' must be an http(s) URL without query")
        return value.rstrip("/") if value else value


class AlertsConfig(BaseModel):
    """Where failures are sent (``ticketing_pipeline/alerts.py``): a Slack-compatible incoming
    webhook and/or email. The webhook URL is a secret, so only the name of the environment
    variable holding it lives here; the SMTP password likewise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slack_webhook_url_env: str | None = None
    email_to: tuple[str, ...] = ()
    email_from: str = "ticketing-pipeline@localhost"
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username_env: str | None = None
    smtp_password_env: str | None = None
    # An enabled account without a successful sync for this long is reported stale.
    stale_after_hours: float = Field(default=6.0, gt=0)

    @field_validator("slack_webhook_url_env", "smtp_username_env", "smtp_password_env")
    @classmethod
    def _valid_env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"'{value}' is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _email_needs_smtp(self) -> AlertsConfig:
        if self.email_to and not self.smtp_host:
            raise ValueError("email_to needs smtp_host")
        return self


class ProjectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warehouse: WarehouseConfig = WarehouseConfig()
    sync: SyncConfig = SyncConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    alerts: AlertsConfig = AlertsConfig()
    accounts: list[AccountConfig] = []
    data_dir: Path = Path("data")

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(cls, accounts: list[AccountConfig]) -> list[AccountConfig]:
        seen: set[str] = set()
        for account in accounts:
            if account.key in seen:
                raise ValueError(f"account {account.key} is configured twice")
            seen.add(account.key)
        return accounts

    def enabled_accounts(self, platform: Platform | None = None) -> list[AccountConfig]:
        return [
            a for a in self.accounts if a.enabled and (platform is None or a.platform == platform)
        ]

    def account(self, platform: Platform | str, account_id: str) -> AccountConfig:
        for candidate in self.accounts:
            if candidate.platform == platform and candidate.account_id == account_id:
                return candidate
        raise ConfigError(f"no {platform} account '{account_id}' is configured")

    def account_by_key(self, key: str) -> AccountConfig:
        for candidate in self.accounts:
            if candidate.key == key:
                return candidate
        raise ConfigError(f"no account with key '{key}' is configured")


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))


def load_config(path: Path | str | None = None) -> ProjectConfig:
    """Load and validate the TOML config; environment variables override the file.

    Without a file, an empty configuration (no accounts, DuckDB warehouse) is returned so that a
    fresh checkout still loads its Dagster definitions.
    """
    explicit = path is not None or CONFIG_ENV in os.environ
    file = Path(path) if path is not None else config_path()
    raw: dict = {}
    if file.exists():
        try:
            raw = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{file}: not valid TOML: {error}") from error
    elif explicit:
        raise ConfigError(f"config file {file} does not exist")
    if data_dir := os.environ.get(DATA_DIR_ENV):
        raw["data_dir"] = data_dir
    if url := os.environ.get(WAREHOUSE_URL_ENV):
        raw.setdefault("warehouse", {})["url"] = url
    try:
        config = ProjectConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{file}: invalid configuration:\n{_describe(error)}") from error
    if not config.data_dir.is_absolute():
        base = file.parent.resolve() if file.exists() else Path.cwd()
        config = config.model_copy(update={"data_dir": base / config.data_dir})
    return config


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        lines.append(f"  - {where}: {item['msg']}")
    return "\n".join(lines)


@contextmanager
def environment_set(values: Mapping[str, str | None]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the block (``None``: unset), the previous values (or
    none) afterwards: secrets and settings handed to code that reads the environment."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
