"""Config loading: validation errors say what to fix; secrets are read late and never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ticketing_pipeline.config import (
    AccountConfig,
    ConfigError,
    MissingSecretError,
    Platform,
    load_config,
)
from ticketing_pipeline.warehouse import WarehouseKind, resolve_warehouse

CONFIG = """
[warehouse]
url = "duckdb:///wh.duckdb"

[sync]
lookback_seconds = 120

[[accounts]]
platform = "humanitix"
account_id = "hx-main"
display_name = "Main"
secret_env = "TEST_HX_MAIN_KEY"

[[accounts]]
platform = "eventbrite"
account_id = "1234567"
display_name = "Org"
secret_env = "TEST_EB_TOKEN"
base_url = "http://127.0.0.1:9/eventbrite/v3/"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ticketing.toml"
    path.write_text(text)
    return path


def test_loads_accounts_and_resolves_paths(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TICKETING_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("TICKETING_DATA_DIR", raising=False)
    config = load_config(write(tmp_path, CONFIG))
    assert [a.key for a in config.accounts] == ["humanitix-hx-main", "eventbrite-1234567"]
    assert config.sync.lookback_seconds == 120
    eventbrite = config.account(Platform.EVENTBRITE, "1234567")
    assert eventbrite.api_base_url == "http://127.0.0.1:9/eventbrite/v3"
    assert config.account("humanitix", "hx-main").api_base_url == "https://api.humanitix.com/v1"
    warehouse = resolve_warehouse(config)
    assert warehouse.kind is WarehouseKind.DUCKDB
    assert warehouse.duckdb_path == tmp_path / "data" / "wh.duckdb"


def test_environment_overrides_the_warehouse(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TICKETING_WAREHOUSE_URL", "postgresql://u:pw@db.example:5433/wh")
    warehouse = resolve_warehouse(load_config(write(tmp_path, CONFIG)))
    assert warehouse.kind is WarehouseKind.POSTGRES
    assert warehouse.sqlalchemy_url() == "postgresql+psycopg2://u:pw@db.example:5433/wh"
    # What may be printed never holds the password.
    assert "pw" not in warehouse.display
    assert warehouse.display == "postgresql://u@db.example:5433/wh"


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ('platform = "ticketmaster"', "accounts.0.platform"),
        ('account_id = "../etc"', "account_id must be"),
        ('secret_env = "not a var"', "is not an environment variable name"),
        ('base_url = "ftp://x"', "must be an http(s) URL"),
        ('api_key = "oops"', "Extra inputs are not permitted"),
    ],
)
def test_invalid_accounts_say_what_is_wrong(tmp_path: Path, snippet: str, message: str) -> None:
    key = snippet.split(" = ")[0]
    base = {
        "platform": '"humanitix"',
        "account_id": '"a"',
        "display_name": '"A"',
        "secret_env": '"A_KEY"',
    }
    lines = [f"{k} = {v}" for k, v in base.items() if k != key] + [snippet]
    path = write(tmp_path, "[[accounts]]\n" + "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_duplicate_accounts_are_rejected(tmp_path: Path) -> None:
    block = '[[accounts]]\nplatform="humanitix"\naccount_id="a"\ndisplay_name="A"\nsecret_env="K"\n'
    with pytest.raises(ConfigError, match="configured twice"):
        load_config(write(tmp_path, block * 2))


def test_missing_config_file_named_explicitly_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_bad_warehouse_url(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TICKETING_WAREHOUSE_URL", "mysql://x")
    with pytest.raises(ConfigError, match="duckdb:/// or postgresql://"):
        resolve_warehouse(load_config(write(tmp_path, CONFIG)))


def test_missing_secret_names_account_and_variable(monkeypatch) -> None:
    account = AccountConfig(
        platform="eventbrite", account_id="42", display_name="Org 42", secret_env="EB_TOKEN_42"
    )
    monkeypatch.delenv("EB_TOKEN_42", raising=False)
    with pytest.raises(MissingSecretError) as error:
        account.api_secret()
    assert "EB_TOKEN_42" in str(error.value)
    assert "'42'" in str(error.value)
    monkeypatch.setenv("EB_TOKEN_42", "   ")
    with pytest.raises(MissingSecretError):  # blank is as good as missing
        account.api_secret()


def test_secret_value_is_never_shown(monkeypatch, caplog) -> None:
    secret = "s3cr3t-token-value-xyz"
    monkeypatch.setenv("HX_SECRET_TEST", secret)
    account = AccountConfig(
        platform="humanitix", account_id="a", display_name="A", secret_env="HX_SECRET_TEST"
    )
    value = account.api_secret()
    assert value.get_secret_value() == secret
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("account %s secret %s", account, value)
    shown = repr(account) + str(account) + repr(value) + str(value) + caplog.text
    assert secret not in shown
    assert "HX_SECRET_TEST" in repr(account)


def test_sync_budget_and_concurrency_settings(tmp_path: Path) -> None:
    text = CONFIG.replace(
        "lookback_seconds = 120",
        "lookback_seconds = 120\neventbrite_calls_per_hour = 1500\neventbrite_burst = 10\n"
        "humanitix_concurrency = 3",
    )
    sync = load_config(write(tmp_path, text)).sync
    assert (sync.eventbrite_calls_per_hour, sync.eventbrite_burst) == (1500, 10)
    assert sync.humanitix_concurrency == 3
    defaults = load_config(write(tmp_path, CONFIG)).sync
    assert (defaults.eventbrite_calls_per_hour, defaults.eventbrite_burst) == (2000, 20)
    assert defaults.humanitix_concurrency == 6


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("eventbrite_calls_per_hour = 0", "sync.eventbrite_calls_per_hour"),
        ("eventbrite_calls_per_hour = 1000\neventbrite_burst = 41", "at most 1/25"),
        ("humanitix_concurrency = 0", "sync.humanitix_concurrency"),
        ("humanitix_concurrency = 500", "sync.humanitix_concurrency"),
    ],
)
def test_invalid_sync_settings_say_what_is_wrong(
    tmp_path: Path, settings: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, f"[sync]\n{settings}\n"))


def test_humanitix_regions(tmp_path: Path) -> None:
    text = CONFIG.replace(
        'secret_env = "TEST_HX_MAIN_KEY"', 'secret_env = "TEST_HX_MAIN_KEY"\nregions = ["AU", "NZ"]'
    )
    config = load_config(write(tmp_path, text))
    assert config.account("humanitix", "hx-main").regions == ("AU", "NZ")
    # Default: no regions, i.e. the key owner's own region without any parameter.
    assert load_config(write(tmp_path, CONFIG)).account("humanitix", "hx-main").regions == ()


@pytest.mark.parametrize(
    ("platform", "regions", "message"),
    [
        ("humanitix", '["au"]', "two-letter code"),
        ("humanitix", '["AUS"]', "two-letter code"),
        ("humanitix", '["AU", "AU"]', "must not repeat"),
        ("eventbrite", '["AU"]', "Humanitix accounts only"),
    ],
)
def test_invalid_regions_are_rejected(
    tmp_path: Path, platform: str, regions: str, message: str
) -> None:
    block = (
        f'[[accounts]]\nplatform="{platform}"\naccount_id="a"\ndisplay_name="A"\n'
        f'secret_env="K"\nregions = {regions}\n'
    )
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, block))
