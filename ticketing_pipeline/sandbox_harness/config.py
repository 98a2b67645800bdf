"""Point the pipeline at a sandbox: its accounts as a project config plus their secrets.

The sandbox's keys and tokens are made-up fixtures of the generated data set, not credentials;
they still travel the way real ones do (environment variables named in the config), so the demo
exercises exactly the path a real deployment uses.

This module is the light half of the harness (no dlt, no dbt): ``ticketing sandbox serve
--write-config`` and ``ticketing up`` only write config files from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import tomlkit

from ticketing_pipeline.config import AccountConfig, ProjectConfig, SyncConfig, WarehouseConfig
from ticketing_pipeline.sandbox import eventbrite_api, humanitix_api

# The sandbox is not Eventbrite: its tokens have no hourly budget unless a test gives it one, so
# the client's call budget is set far above what any demo, test or benchmark needs. It is a
# local server too: a retry need not wait the back-offs a real platform asks for (the retry
# logic itself is dlt's), so a test or a demo meeting a fault does not wait minutes.
SANDBOX_SYNC = SyncConfig(
    eventbrite_calls_per_hour=3_600_000,
    eventbrite_burst=1000,
    request_backoff_factor=0.05,
    request_max_retry_delay_seconds=2.0,
)


class SandboxAccountLike(Protocol):
    platform: str
    account_id: str
    display_name: str
    secret: str


class _HasAccounts(Protocol):
    @property
    def accounts(self) -> Iterable[SandboxAccountLike]: ...


class RunningSandbox(Protocol):
    """A sandbox serving both APIs at ``url``: a ``SandboxServer``, or the benchmarks' and
    tests' own servers of a data set (another process, a wrapped app)."""

    @property
    def url(self) -> str: ...

    @property
    def dataset(self) -> _HasAccounts: ...


class SandboxConfig(NamedTuple):
    """A project config of a sandbox's accounts and the environment holding their secrets."""

    config: ProjectConfig
    secrets: dict[str, str]


def secret_env_name(platform: str, account_id: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", f"SANDBOX_{platform}_{account_id}_SECRET".upper())


def webhook_env_name(platform: str, account_id: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", f"SANDBOX_{platform}_{account_id}_WEBHOOK_SECRET".upper())


def sandbox_base_urls(url: str) -> tuple[str, str]:
    """The Humanitix and the Eventbrite API base URLs of a sandbox serving at ``url``."""
    root = url.rstrip("/")
    return root + humanitix_api.PREFIX, root + eventbrite_api.PREFIX


def sandbox_accounts(
    accounts: Iterable[SandboxAccountLike], humanitix_base_url: str, eventbrite_base_url: str
) -> tuple[list[AccountConfig], dict[str, str]]:
    """Account configs for the sandbox's accounts, and the environment holding their secrets."""
    configs, environment = [], {}
    for account in accounts:
        variable = secret_env_name(account.platform, account.account_id)
        base = humanitix_base_url if account.platform == "humanitix" else eventbrite_base_url
        configs.append(
            AccountConfig(
                platform=account.platform,
                account_id=account.account_id,
                display_name=account.display_name,
                secret_env=variable,
                base_url=base,
            )
        )
        environment[variable] = account.secret
    return configs, environment


def sandbox_project_config(
    accounts: list[AccountConfig], data_dir: Path, warehouse_url: str | None = None
) -> ProjectConfig:
    warehouse = WarehouseConfig(url=warehouse_url) if warehouse_url else WarehouseConfig()
    return ProjectConfig(
        accounts=accounts, data_dir=data_dir, warehouse=warehouse, sync=SANDBOX_SYNC
    )


def sandbox_config(
    sandbox: RunningSandbox,
    data_dir: Path,
    warehouse_url: str | None = None,
    **sync_overrides: Any,
) -> SandboxConfig:
    """The config syncing every account of a running sandbox into ``warehouse_url`` (by
    default the DuckDB file ``warehouse.duckdb`` under ``data_dir``), and their secrets.

    ``sync_overrides`` replace :data:`SANDBOX_SYNC` settings (``skip_events_ended_days=None``,
    ``humanitix_concurrency=4``, ...). The secrets are returned, not set: the caller decides
    where they live (``pipeline.sandbox_pipeline`` sets them in this process for a block; a
    test's monkeypatch; a child process's environment).
    """
    accounts, secrets = sandbox_accounts(sandbox.dataset.accounts, *sandbox_base_urls(sandbox.url))
    config = sandbox_project_config(accounts, data_dir, warehouse_url)
    if sync_overrides:
        sync = config.sync.model_copy(update=sync_overrides)
        config = config.model_copy(update={"sync": sync})
    return SandboxConfig(config, secrets)


def render_toml(config: ProjectConfig) -> str:
    """The config as a TOML file a user can keep and edit (no secrets: only variable names)."""
    document = tomlkit.document()
    document.add(tomlkit.comment("Generated for the local sandbox by `ticketing`; edit freely."))
    document["warehouse"] = {"url": config.warehouse.url}
    budget = ("eventbrite_calls_per_hour", "eventbrite_burst")
    if any(getattr(config.sync, name) != getattr(SyncConfig(), name) for name in budget):
        document["sync"] = {name: getattr(config.sync, name) for name in budget}
    accounts = tomlkit.aot()
    for account in config.accounts:
        accounts.append(
            tomlkit.item(
                account.model_dump(
                    mode="json", exclude_none=True, exclude={"enabled", *_empty(account)}
                )
            )
        )
    document["accounts"] = accounts
    return tomlkit.dumps(document)


def _empty(account: AccountConfig) -> set[str]:
    return {"regions"} if not account.regions else set()
