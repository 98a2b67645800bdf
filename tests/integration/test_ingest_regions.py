"""Humanitix regions: data lives per region; a second region is read only with overrideLocation.

The sandbox (``humanitix_second_region``) gives each Humanitix account events in a second
region, served (events, and their orders and tickets) only when ``overrideLocation=<region>`` is
sent, as the real platform does. An account that lists its regions gets everything; one that
lists none gets its key's own region, without the parameter, and nothing else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.ingest_helpers import (
    assert_no_duplicate_keys,
    assert_staging_equals_truth,
    config_for,
    rows,
)
from ticketing_pipeline.config import Platform, ProjectConfig
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.warehouse import resolve_warehouse

SPEC = SandboxSpec(
    seed=31,
    orders=2_400,
    humanitix_accounts=2,
    eventbrite_orgs=1,
    eventbrite_second_token_orgs=0,
    events_per_account=12,
    humanitix_second_region=True,
)


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SPEC) as running:
        yield running


def with_regions(config: ProjectConfig, server: SandboxServer) -> ProjectConfig:
    regions = {a.account_id: a.regions for a in server.dataset.accounts}
    accounts = [
        a.model_copy(update={"regions": regions[a.account_id]})
        if a.platform is Platform.HUMANITIX
        else a
        for a in config.accounts
    ]
    return config.model_copy(update={"accounts": accounts})


def events_by_region(config: ProjectConfig) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    sql = "select account_id, location, count(*) from raw_humanitix.events group by 1, 2"
    for account_id, location, count in rows(resolve_warehouse(config), sql):
        found.setdefault(account_id, {})[location] = count
    return found


def test_the_sandbox_really_has_a_second_region(server: SandboxServer) -> None:
    for account in server.dataset.accounts:
        if account.platform == "humanitix":
            assert len(account.regions) == 2
            truth = server.dataset.truth()[("humanitix", account.account_id)]
            assert set(truth.events_by_region) == set(account.regions)


def test_listed_regions_are_all_synced_full_and_incremental(
    server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = with_regions(
        config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None), server
    )
    results = sync_accounts(config)
    assert all(r.ok for r in results), [r.error for r in results]
    assert_staging_equals_truth(config, server)
    truth = server.dataset.truth()
    assert events_by_region(config) == {
        account_id: truth[("humanitix", account_id)].events_by_region
        for (platform, account_id) in truth
        if platform == "humanitix"
    }
    # Orders and tickets of the second region's events came too (with the parameter: without
    # it their per-event calls are 404s and the sync would fail).
    sql = (
        "select o.account_id, e.location, count(*) from raw_humanitix.orders o "
        "join raw_humanitix.events e on e.account_id = o.account_id and e.event_id = o.event_id "
        "group by 1, 2"
    )
    orders_by_region = {(a, region): n for a, region, n in rows(resolve_warehouse(config), sql)}
    assert sorted(orders_by_region) == sorted(
        (a.account_id, region) for a in server.dataset.accounts for region in a.regions
    )
    assert all(orders_by_region.values())

    # Changes in every region arrive with the incremental sync.
    server.dataset.mutate(fraction=0.1, seed=3)
    results = sync_accounts(config)
    assert all(r.ok for r in results), [r.error for r in results]
    assert_staging_equals_truth(config, server)
    assert_no_duplicate_keys(config)


def test_without_regions_only_the_keys_own_region_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server of its own: the module's one is mutated by the test above.
    with SandboxServer(SPEC) as server:
        config = config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None)
        results = sync_accounts(config)
        assert all(r.ok for r in results), [r.error for r in results]
        own = {
            a.account_id: a.regions[0] for a in server.dataset.accounts if a.regions
        }  # the key owner's region comes first
        truth = server.dataset.truth()
        assert events_by_region(config) == {
            account_id: {region: truth[("humanitix", account_id)].events_by_region[region]}
            for account_id, region in own.items()
        }
