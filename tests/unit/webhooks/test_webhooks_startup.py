"""The receiver refuses to start without a usable webhook secret for every enabled account."""

from __future__ import annotations

from pathlib import Path

import pytest
from webhooks_helpers import EB_TOKEN, HX_SECRET, make_config

from ticketing_pipeline.config import AccountConfig, ConfigError, MissingSecretError, Platform
from ticketing_pipeline.webhooks.receiver.app import create_app
from ticketing_pipeline.webhooks.receiver.server import serve


def test_missing_secret_variable_refuses_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EB_WEBHOOK_SECRET", EB_TOKEN)
    monkeypatch.delenv("HX_WEBHOOK_SECRET", raising=False)
    config = make_config(tmp_path)
    with pytest.raises(MissingSecretError, match="HX_WEBHOOK_SECRET") as raised:
        create_app(config)
    assert "main-org" in str(raised.value)
    # serve() checks before binding a port, so this returns at once instead of serving.
    with pytest.raises(MissingSecretError, match="HX_WEBHOOK_SECRET"):
        serve(config, "127.0.0.1", 0)


def test_account_without_webhook_secret_env_refuses_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = AccountConfig(
        platform=Platform.HUMANITIX,
        account_id="no-hooks",
        display_name="x",
        secret_env="HX_KEY",
    )
    with pytest.raises(ConfigError, match="no-hooks.*webhook_secret_env"):
        create_app(make_config(tmp_path, accounts=[account]))


def test_disabled_account_needs_no_secret(tmp_path: Path) -> None:
    account = AccountConfig(
        platform=Platform.HUMANITIX,
        account_id="off",
        display_name="x",
        secret_env="HX_KEY",
        webhook_secret_env="UNSET_WEBHOOK_SECRET_FOR_TEST",
        enabled=False,
    )
    app = create_app(make_config(tmp_path, accounts=[account]))
    assert app.state.receiver.auth == {}


@pytest.mark.parametrize(
    ("platform", "secret", "message"),
    [
        (Platform.EVENTBRITE, "short", "at least 16"),
        (Platform.EVENTBRITE, "has/slash-0123456789abcdef", "A-Z a-z 0-9"),
        (Platform.HUMANITIX, "whsec_***not-base64***", "base64"),
        (Platform.HUMANITIX, "whsec_c2hvcnQ=", "at least 16"),
    ],
)
def test_weak_or_invalid_secret_refuses_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    platform: Platform,
    secret: str,
    message: str,
) -> None:
    monkeypatch.setenv("SOME_WEBHOOK_SECRET", secret)
    account = AccountConfig(
        platform=platform,
        account_id="acct",
        display_name="x",
        secret_env="KEY",
        webhook_secret_env="SOME_WEBHOOK_SECRET",
    )
    with pytest.raises(ConfigError, match=message) as raised:
        create_app(make_config(tmp_path, accounts=[account]))
    assert "SOME_WEBHOOK_SECRET" in str(raised.value)
    assert secret not in str(raised.value)  # the message names the variable, never its value


def test_valid_secrets_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EB_WEBHOOK_SECRET", EB_TOKEN)
    monkeypatch.setenv("HX_WEBHOOK_SECRET", HX_SECRET)
    app = create_app(make_config(tmp_path))
    assert set(app.state.receiver.auth) == {("eventbrite", "1234567890"), ("humanitix", "main-org")}
