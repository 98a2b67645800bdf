"""The sandbox harness: the config it derives for a sandbox, the secrets it sets only for its
block, the server it starts and stops, and the sync failures it will not let pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from ticketing_pipeline.config import AccountConfig, Platform
from ticketing_pipeline.ingest.sync import AccountSyncResult
from ticketing_pipeline.sandbox import SandboxSpec, generate
from ticketing_pipeline.sandbox_harness import pipeline as harness_pipeline
from ticketing_pipeline.sandbox_harness.config import SANDBOX_SYNC, sandbox_config, secret_env_name
from ticketing_pipeline.sandbox_harness.pipeline import SandboxSyncError, sandbox_pipeline

SPEC = SandboxSpec(seed=3, orders=60)


@pytest.fixture(scope="module")
def dataset():
    return generate(SPEC)


def test_config_reaches_every_account_under_the_sandbox_url(dataset, tmp_path: Path) -> None:
    sandbox = SimpleNamespace(url="http://127.0.0.1:9999/", dataset=dataset)
    config, secrets = sandbox_config(sandbox, tmp_path, skip_events_ended_days=None)

    assert [(a.platform.value, a.account_id) for a in config.accounts] == [
        (a.platform, a.account_id) for a in dataset.accounts
    ]
    for account in config.accounts:
        api = "humanitix/v1" if account.platform is Platform.HUMANITIX else "eventbrite/v3"
        assert account.base_url == f"http://127.0.0.1:9999/{api}"
        assert account.secret_env == secret_env_name(account.platform.value, account.account_id)
    assert secrets == {
        secret_env_name(a.platform, a.account_id): a.secret for a in dataset.accounts
    }
    # The override applies; the rest is the sandbox's settings (budget, short back-offs).
    assert config.sync.skip_events_ended_days is None
    assert config.sync.request_backoff_factor == SANDBOX_SYNC.request_backoff_factor
    assert config.sync.eventbrite_calls_per_hour == SANDBOX_SYNC.eventbrite_calls_per_hour
    assert config.data_dir == tmp_path
    assert config.warehouse.url == "duckdb:///warehouse.duckdb"


def test_pipeline_sets_the_secrets_for_its_block_and_stops_the_server_it_started(
    dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = dataset.accounts[0]
    variable = secret_env_name(first.platform, first.account_id)
    monkeypatch.setenv(variable, "set-before")
    others = [secret_env_name(a.platform, a.account_id) for a in dataset.accounts[1:]]
    for name in others:
        monkeypatch.delenv(name, raising=False)

    with sandbox_pipeline(dataset, tmp_path / "data", "duckdb:///w.duckdb") as run:
        assert os.environ[variable] == first.secret
        assert all(os.environ[name] for name in others)
        assert httpx.get(f"{run.server.url}/_sandbox/health").is_success
        url = run.server.url

    assert os.environ[variable] == "set-before"
    assert not [name for name in others if name in os.environ]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/_sandbox/health", timeout=2)
    assert (tmp_path / "data").is_dir()


def test_sync_raises_on_a_failed_account_unless_told_not_to_check(
    dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def one_fails(config, accounts=None):  # noqa: ANN001, ANN202 - sync_accounts' signature
        account: AccountConfig = config.accounts[0]
        return [AccountSyncResult(account=account, ok=False, seconds=0.0, error="HTTP 401")]

    monkeypatch.setattr(harness_pipeline, "sync_accounts", one_fails)
    with sandbox_pipeline(dataset, tmp_path) as run:
        with pytest.raises(SandboxSyncError, match="HTTP 401"):
            run.sync()
        (result,) = run.sync(check=False)
    assert not result.ok


def test_the_harness_config_does_not_import_the_sync_runner() -> None:
    # `ticketing up` and `ticketing sandbox serve --write-config` only write config files.
    code = (
        "import sys, ticketing_pipeline.sandbox_harness.config as h; "
        "assert h.render_toml and 'dlt' not in sys.modules, 'dlt imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
