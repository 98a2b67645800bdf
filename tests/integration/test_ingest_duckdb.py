"""Ingest both platforms from the sandbox into DuckDB: full, incremental, re-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.ingest_helpers import (
    assert_no_duplicate_keys,
    assert_staging_equals_truth,
    config_for,
)
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer


@pytest.fixture
def server():
    with SandboxServer(SandboxSpec(seed=11, orders=3_000)) as running:
        yield running


def test_full_then_incremental_load_equals_truth(server, tmp_path: Path, monkeypatch) -> None:
    # The sandbox changes orders of past events too; poll every event to see all of them.
    config = config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None)

    results = sync_accounts(config)
    assert [r.error for r in results if not r.ok] == []
    assert_staging_equals_truth(config, server)

    summary = server.dataset.mutate(fraction=0.05, seed=1)
    assert summary is not None
    server.stats.reset()
    results = sync_accounts(config)
    assert all(r.ok for r in results), [r.error for r in results]
    assert_staging_equals_truth(config, server)
    assert_no_duplicate_keys(config)

    # Nothing changed since: a re-run leaves the same tables.
    results = sync_accounts(config)
    assert all(r.ok for r in results)
    assert_staging_equals_truth(config, server)
    assert_no_duplicate_keys(config)


def test_accounts_with_more_events_than_one_page(tmp_path: Path, monkeypatch) -> None:
    # Humanitix pages events by 100: a second page of events must not lose any of its orders
    # (dlt moves a transformer's cursor between the items it receives).
    spec = SandboxSpec(
        seed=3,
        orders=1_500,
        humanitix_accounts=1,
        eventbrite_orgs=1,
        eventbrite_second_token_orgs=0,
        events_per_account=130,
    )
    with SandboxServer(spec) as server:
        assert sum(1 for _ in server.dataset.hx_events) > 100
        config = config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None)
        assert all(r.ok for r in sync_accounts(config))
        assert_staging_equals_truth(config, server)
        server.dataset.mutate(fraction=0.1, seed=5)
        assert all(r.ok for r in sync_accounts(config))
        assert_staging_equals_truth(config, server)
        assert_no_duplicate_keys(config)
