"""`ticketing accounts check` against the sandbox: healthy, then broken one way at a time."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomlkit
from typer.testing import CliRunner

from tests.integration.asgi_thread import serve_in_thread
from tests.integration.operator_helpers import operator_config, with_public_url
from ticketing_pipeline.cli import app
from ticketing_pipeline.config import Platform, ProjectConfig
from ticketing_pipeline.ingest.sync import record_sync, sync_accounts
from ticketing_pipeline.operations.accounts_check import AccountHealth, Status, check_accounts
from ticketing_pipeline.operations.platform_calls import (
    delete_webhook,
    list_webhooks,
    platform_client,
)
from ticketing_pipeline.operations.webhook_registration import register_all
from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec
from ticketing_pipeline.sandbox.eventbrite_webhooks import WebhookRegistry, install_registry
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.receiver.app import create_app

SPEC = SandboxSpec(seed=32, orders=300, eventbrite_orgs=1, eventbrite_second_token_orgs=0)


def by_key(results: list[AccountHealth]) -> dict[str, AccountHealth]:
    return {r.key: r for r in results}


def status(result: AccountHealth, step: str) -> Status:
    found = result.step(step)
    assert found is not None, step
    return found.status


def write_config(config: ProjectConfig, path: Path) -> Path:
    document = tomlkit.document()
    document.update(config.model_dump(mode="json", exclude_none=True))
    path.write_text(tomlkit.dumps(document))
    return path


@pytest.fixture
def world(tmp_path: Path, monkeypatch):
    """A synced sandbox with a running receiver and a registered Eventbrite webhook."""
    with SandboxServer(SPEC) as sandbox:
        registry = install_registry(
            sandbox.app,
            WebhookRegistry(
                sandbox.dataset,
                auto_deliver_interval=None,
                eventbrite_api_base=sandbox.eventbrite_base_url,
            ),
        )
        config = operator_config(sandbox, tmp_path, monkeypatch)
        landing = LandingArea.for_data_dir(config.data_dir)
        with serve_in_thread(create_app(config, landing)) as receiver_url:
            config = with_public_url(config, receiver_url)
            assert all(r.ok for r in sync_accounts(config))
            assert all(o.error is None for o in register_all(config))
            yield sandbox, registry, config
        registry.close()


def test_healthy_accounts_then_each_way_of_breaking_them(world, monkeypatch) -> None:
    sandbox, registry, config = world
    [eb] = config.enabled_accounts(Platform.EVENTBRITE)
    hx = config.enabled_accounts(Platform.HUMANITIX)

    results = by_key(check_accounts(config))
    assert all(r.healthy for r in results.values()), [r.to_dict() for r in results.values()]
    assert status(results[eb.key], "api") is Status.OK
    assert status(results[eb.key], "webhook") is Status.OK
    assert status(results[eb.key], "last_sync") is Status.OK
    # Nothing was delivered yet: shown, not failed (a quiet account is not a broken one).
    assert status(results[eb.key], "deliveries") is Status.WARN
    assert status(results[hx[0].key], "webhook") is Status.OK  # the relay secret is set

    # A sandbox change arrives by webhook: the deliveries step says when.
    sandbox.dataset.mutate(fraction=0.05, seed=2)
    assert registry.deliver_pending()
    eb_health = by_key(check_accounts(config))[eb.key]
    assert status(eb_health, "deliveries") is Status.OK
    assert "ago" in eb_health.step("deliveries").detail
    # One of them failed to load: shown as a warning, with where to look.
    landing = LandingArea.for_data_dir(config.data_dir)
    landing.mark_failed(landing.list_incoming()[0], "the loader failed (test)")
    eb_health = by_key(check_accounts(config))[eb.key]
    assert status(eb_health, "deliveries") is Status.WARN
    assert "1 failed to load" in eb_health.step("deliveries").detail

    # The webhook is deleted on Eventbrite's side.
    client = platform_client(eb, config.sync)
    for webhook in list_webhooks(client, eb.account_id):
        delete_webhook(client, webhook.id)
    eb_health = by_key(check_accounts(config))[eb.key]
    assert not eb_health.healthy
    assert status(eb_health, "webhook") is Status.FAIL
    assert any("webhooks register" in fix for fix in eb_health.fixes)
    assert all(o.error is None for o in register_all(config))
    assert by_key(check_accounts(config))[eb.key].healthy

    assert status(results[eb.key], "receiver") is Status.OK  # probed at public_url

    # The receiver is not where public_url says (down, or a wrong proxy): named.
    nowhere = with_public_url(config, "http://127.0.0.1:9")
    eb_health = by_key(check_accounts(nowhere, [eb]))[eb.key]
    assert status(eb_health, "receiver") is Status.FAIL
    assert any("webhooks serve" in fix for fix in eb_health.fixes)

    # The receiver's public URL changed in the config but the webhook was not re-registered.
    moved = with_public_url(config, "https://hooks.example.com")
    eb_health = by_key(check_accounts(moved, [eb]))[eb.key]
    assert status(eb_health, "webhook") is Status.FAIL
    assert "hooks.example.com" in eb_health.step("webhook").detail

    # The webhook secret is missing: deliveries would be refused (the receiver will not start).
    token = os.environ[eb.webhook_secret_env]
    monkeypatch.delenv(eb.webhook_secret_env)
    eb_health = by_key(check_accounts(config, [eb]))[eb.key]
    assert status(eb_health, "webhook") is Status.FAIL
    assert eb_health.fixes == [f"export {eb.webhook_secret_env}"]
    # Too weak a secret: the receiver would refuse to start; said before it is deployed.
    monkeypatch.setenv(eb.webhook_secret_env, "short")
    eb_health = by_key(check_accounts(config, [eb]))[eb.key]
    assert status(eb_health, "webhook") is Status.FAIL
    assert "refuses this webhook secret" in eb_health.step("webhook").detail
    monkeypatch.setenv(eb.webhook_secret_env, token)
    assert by_key(check_accounts(config, [eb]))[eb.key].healthy

    # A wrong API key: the platform refuses it; the key itself is never in the output.
    monkeypatch.setenv(hx[0].secret_env, "not-the-key-0123456789")
    hx_health = by_key(check_accounts(config, [hx[0]]))[hx[0].key]
    assert status(hx_health, "api") is Status.FAIL
    assert "401" in hx_health.step("api").detail
    assert "not-the-key" not in json.dumps(hx_health.to_dict())

    # No API key at all: named, and the API call is skipped.
    monkeypatch.delenv(hx[0].secret_env)
    hx_health = by_key(check_accounts(config, [hx[0]]))[hx[0].key]
    assert status(hx_health, "secret") is Status.FAIL
    assert status(hx_health, "api") is Status.SKIP
    assert f"export {hx[0].secret_env}" in hx_health.fixes

    # The last sync failed; then no sync for longer than the allowed age.
    record_sync(resolve_warehouse(config), hx[1], None, error="PlatformAPIError: HTTP 503")
    hx_health = by_key(check_accounts(config, [hx[1]]))[hx[1].key]
    assert status(hx_health, "last_sync") is Status.FAIL
    assert "HTTP 503" in hx_health.step("last_sync").detail
    later = datetime.now(UTC) + timedelta(hours=3)
    eb_health = by_key(check_accounts(config, [eb], now=later))[eb.key]
    assert status(eb_health, "last_sync") is Status.FAIL
    assert "older than 2 h" in eb_health.step("last_sync").detail
    assert status(eb_health, "api") is Status.OK  # only the sync age is wrong


def test_cli_json_exit_status_and_no_secret_in_output(world, tmp_path: Path, monkeypatch) -> None:
    _, _, config = world
    path = write_config(config, tmp_path / "ticketing.toml")
    runner = CliRunner()
    healthy = runner.invoke(app, ["accounts", "check", "--json", "-c", str(path)])
    assert healthy.exit_code == 0, healthy.output
    document = json.loads(healthy.output)
    assert document["healthy"] is True
    assert {a["key"] for a in document["accounts"]} == {a.key for a in config.accounts}
    secrets = [
        os.environ[variable]
        for account in config.accounts
        for variable in (account.secret_env, account.webhook_secret_env)
    ]
    for secret in secrets:
        assert secret not in healthy.output

    [eb] = config.enabled_accounts(Platform.EVENTBRITE)
    monkeypatch.setenv(eb.secret_env, "wrong-token-0123456789")
    broken = runner.invoke(app, ["accounts", "check", "-c", str(path)])
    assert broken.exit_code == 1
    assert eb.key in broken.output and "fix:" in broken.output
    assert "wrong-token-0123456789" not in broken.output
    for secret in secrets:
        assert secret not in broken.output
