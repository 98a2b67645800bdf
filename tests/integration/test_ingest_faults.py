"""Faults: API errors are retried or fail loudly per account; nothing is lost or zeroed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.ingest_helpers import (
    assert_staging_equals_truth,
    config_for,
    rows,
)
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sandbox_harness.config import secret_env_name
from ticketing_pipeline.warehouse import resolve_warehouse


@pytest.fixture(scope="module")
def server():
    spec = SandboxSpec(
        seed=5, orders=600, humanitix_accounts=2, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_faults(server):
    server.faults.clear()
    yield
    server.faults.clear()


def _ok(results) -> dict[str, bool]:
    return {r.account.key: r.ok for r in results}


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "status", "status": 429, "retry_after": 1, "count": 2},
        {"kind": "status", "status": 503, "count": 2},
        {"kind": "status", "status": 500, "count": 1},
        {"kind": "malformed", "count": 1},
    ],
    ids=["429-retry-after", "503", "500", "malformed-body"],
)
def test_transient_errors_are_retried(server, tmp_path: Path, monkeypatch, rule) -> None:
    config = config_for(server, tmp_path, monkeypatch)
    # Fail the first order pages of both platforms.
    server.faults.add(platform="humanitix", path="/events/*/orders", **rule)
    server.faults.add(platform="eventbrite", path="/organizations/*/orders/", **rule)
    results = sync_accounts(config)
    assert all(r.ok for r in results), [r.error for r in results]
    assert server.stats.count(platform="humanitix") > 0
    assert_staging_equals_truth(config, server)


def test_timeouts_are_retried(server, tmp_path: Path, monkeypatch) -> None:
    config = config_for(server, tmp_path, monkeypatch, request_timeout_seconds=0.5)
    server.faults.add(
        kind="slow", delay=2.0, platform="eventbrite", path="/organizations/*/orders/"
    )
    results = sync_accounts(config)
    assert all(r.ok for r in results), [r.error for r in results]
    assert_staging_equals_truth(config, server)


def test_page_failing_mid_sync_fails_the_account_and_loses_nothing(
    server, tmp_path: Path, monkeypatch
) -> None:
    config = config_for(server, tmp_path, monkeypatch, request_max_attempts=2)
    broken = "hx-acc-1"
    events = [e for e in server.dataset.hx_events.values() if e.account_id == broken]
    # Orders of the last event fail for good: earlier events' pages were already read.
    server.faults.add(platform="humanitix", path=f"/events/{events[-1].id}/orders", count=None)
    results = {r.account.account_id: r for r in sync_accounts(config)}
    assert not results[broken].ok
    assert "HTTP 500" in results[broken].error
    assert broken in results[broken].error
    assert all(r.ok for key, r in results.items() if key != broken)

    # Nothing half-loaded was committed for the broken account: its cursor did not move, so once
    # the platform recovers the next sync brings everything.
    warehouse = resolve_warehouse(config)
    loaded = (
        rows(warehouse, f"select count(*) from raw_humanitix.orders where account_id = '{broken}'")
        if _has_orders(warehouse)
        else [(0,)]
    )
    assert loaded == [(0,)]
    server.faults.clear()
    assert all(_ok(sync_accounts(config)).values())
    assert_staging_equals_truth(config, server)


def _has_orders(warehouse) -> bool:
    import sqlalchemy as sa

    with warehouse.connect() as connection:
        return sa.inspect(connection).has_table("orders", schema="raw_humanitix")


def test_wrong_key_fails_clearly_and_others_still_load(server, tmp_path: Path, monkeypatch) -> None:
    config = config_for(server, tmp_path, monkeypatch)
    wrong = "definitely-not-the-key-0123456789"
    monkeypatch.setenv(secret_env_name("humanitix", "hx-acc-2"), wrong)
    results = {r.account.key: r for r in sync_accounts(config)}
    failed = results["humanitix-hx-acc-2"]
    assert not failed.ok
    assert "HTTP 401" in failed.error and "Invalid API Key." in failed.error
    assert wrong not in failed.error  # the secret is never part of an error
    assert [key for key, r in results.items() if not r.ok] == ["humanitix-hx-acc-2"]
    warehouse = resolve_warehouse(config)
    counts = dict(
        rows(warehouse, "select account_id, count(*) from raw_humanitix.orders group by 1")
    )
    assert "hx-acc-2" not in counts and counts["hx-acc-1"] > 0
    sync_log = rows(
        warehouse,
        "select status, error from ticketing_ops.sync_runs where account_id = 'hx-acc-2'",
    )
    assert sync_log and sync_log[0][0] == "failed" and "401" in sync_log[0][1]


def test_missing_secret_names_the_variable(server, tmp_path: Path, monkeypatch) -> None:
    config = config_for(server, tmp_path, monkeypatch)
    variable = secret_env_name("eventbrite", config.enabled_accounts()[-1].account_id)
    monkeypatch.delenv(variable)
    server.stats.reset()
    results = {r.account.platform.value: r for r in sync_accounts(config)}
    assert not results["eventbrite"].ok
    assert variable in results["eventbrite"].error
    assert results["humanitix"].ok
    # It failed before sending anything: no request reached Eventbrite without a token.
    assert server.stats.count(platform="eventbrite") == 0
