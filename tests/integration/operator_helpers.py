"""Helpers for the operator tool tests: a sandbox config with webhook secrets and a receiver."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.integration.ingest_helpers import config_for
from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.sandbox.server import SandboxServer


def eventbrite_token(account_id: str, generation: int = 0) -> str:
    return f"eb-url-token-{account_id}-{generation}-0123456789abcdef"


def relay_secret(account_id: str) -> str:
    raw = f"relay-secret-{account_id}".ljust(32, "!").encode()
    return "whsec_" + base64.b64encode(raw).decode()


def operator_config(
    sandbox: SandboxServer,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    public_url: str | None = None,
) -> ProjectConfig:
    """The sandbox's accounts, each with a webhook secret in the environment."""
    config = config_for(sandbox, data_dir, monkeypatch, skip_events_ended_days=None)
    accounts = []
    for n, account in enumerate(config.accounts):
        variable = f"OPERATOR_WEBHOOK_SECRET_{n}"
        if account.platform.value == "eventbrite":
            monkeypatch.setenv(variable, eventbrite_token(account.account_id))
        else:
            monkeypatch.setenv(variable, relay_secret(account.account_id))
        accounts.append(account.model_copy(update={"webhook_secret_env": variable}))
    webhooks = config.webhooks.model_copy(update={"public_url": public_url})
    return config.model_copy(update={"accounts": accounts, "webhooks": webhooks})


def with_public_url(config: ProjectConfig, public_url: str) -> ProjectConfig:
    return config.model_copy(
        update={"webhooks": config.webhooks.model_copy(update={"public_url": public_url})}
    )
