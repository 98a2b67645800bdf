"""A loader or sync SIGKILLed at any dlt step loses nothing: the next run finishes the job.

Each crash is a real child process (``tests.faults.crash_child``) killed with SIGKILL at a dlt
step boundary, against real DuckDB files and the sandbox over HTTP; the recovery runs here, in
process. The whole matrix (more kill points, API faults, corrupt files) is
``tests/faults/run_matrix.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import (
    differences,
    humanitix_orders,
    land_relay,
    raw_checksums,
    run_child,
)
from tests.integration.ingest_helpers import rows
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sandbox_harness.config import sandbox_config
from ticketing_pipeline.sources.http import parse_json_exact
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.loader import load_landed


@pytest.fixture(scope="module")
def server():
    spec = SandboxSpec(
        seed=9, orders=400, humanitix_accounts=1, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as running:
        yield running


def _set_env(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


def _account(server: SandboxServer, platform: str) -> str:
    return next(a.account_id for a in server.dataset.accounts if a.platform == platform)


def _land_orders(area: LandingArea, account_id: str, prefix: str, records: list[bytes]):
    return [
        land_relay(area, "humanitix", account_id, f"{prefix}{n}", record)
        for n, record in enumerate(records)
    ]


@pytest.mark.parametrize("kill_point", ["normalize_commit", "load", "after_load"])
def test_landed_files_killed_mid_load_are_all_loaded_by_the_next_run(
    server, tmp_path: Path, monkeypatch, kill_point: str
) -> None:
    config, environment = sandbox_config(server, tmp_path / "crash")
    _set_env(monkeypatch, environment)
    warehouse = resolve_warehouse(config)
    area = LandingArea.for_data_dir(config.data_dir)
    account_id = _account(server, "humanitix")
    orders = humanitix_orders(server, account_id)
    warm, batch, later = orders[:10], orders[10:130], orders[130:170]

    # The warehouse already holds webhook rows (dlt keeps local packages only then).
    assert load_landed(config, warehouse, area, _land_orders(area, account_id, "w", warm)).loaded
    first = _land_orders(area, account_id, "a", batch)
    crashed = run_child(config, environment, "load", kill_point, first)
    assert crashed.killed, crashed.output
    # Nothing of the killed batch was acknowledged as loaded: every file is still in incoming/.
    assert area.counts() == {"incoming": 120, "processed": 10, "failed": 0, "dead-letter": 0}

    second = _land_orders(area, account_id, "b", later)
    result = load_landed(config, warehouse, area, area.list_incoming())
    assert result.retry == {} and result.failed == {}
    assert len(result.loaded) == 160
    assert area.counts() == {"incoming": 0, "processed": 170, "failed": 0, "dead-letter": 0}
    assert {p.name for p in result.loaded} == {p.name for p in first + second}

    # Every landed order is in the warehouse, once.
    expected = {str(parse_json_exact(o)["_id"]) for o in orders[:170]}
    loaded = rows(warehouse, "select order_id, count(*) from raw_humanitix.orders group by 1")
    assert {key for key, _ in loaded} == expected
    assert all(count == 1 for _, count in loaded)

    # And the tables are exactly those of a load that never crashed.
    reference, _ = sandbox_config(server, tmp_path / "reference")
    reference_area = LandingArea.for_data_dir(reference.data_dir)
    files = _land_orders(reference_area, account_id, "r", warm + batch + later)
    assert load_landed(reference, resolve_warehouse(reference), reference_area, files).loaded
    assert differences(raw_checksums(config), raw_checksums(reference)) == {}


def test_one_accounts_broken_loader_does_not_stop_the_others(
    server, tmp_path: Path, monkeypatch
) -> None:
    config, environment = sandbox_config(server, tmp_path)
    _set_env(monkeypatch, environment)
    area = LandingArea.for_data_dir(config.data_dir)
    hx_account, eb_account = _account(server, "humanitix"), _account(server, "eventbrite")
    # The Humanitix loader's dlt working folder cannot be created (a file sits in its place).
    (config.data_dir / "dlt").mkdir(parents=True)
    (
        config.data_dir / "dlt" / f"ticketing_webhooks_humanitix_{hx_account.replace('-', '_')}"
    ).touch()
    hx_files = _land_orders(area, hx_account, "h", humanitix_orders(server, hx_account)[:5])
    eb_orders = list(server.dataset.eb_orders.values())[:5]
    eb_files = [
        land_relay(area, "eventbrite", eb_account, f"e{n}", bytes(raw))
        for n, raw in enumerate(eb_orders)
    ]
    result = load_landed(config, resolve_warehouse(config), area, hx_files + eb_files)
    assert set(result.retry) == set(hx_files)
    assert all(f"humanitix-{hx_account}" in reason for reason in result.retry.values())
    assert {p.name for p in result.loaded} == {p.name for p in eb_files}
    assert all(p.exists() for p in hx_files)  # still in incoming/, for the next run
    [(loaded,)] = rows(resolve_warehouse(config), "select count(*) from raw_eventbrite.orders")
    assert loaded == 5


KILL_POINTS = ["normalize_commit", "load", "load_complete"]


def test_sync_killed_at_each_dlt_step_recovers_to_the_crash_free_tables(
    tmp_path: Path, monkeypatch
) -> None:
    spec = SandboxSpec(
        seed=5, orders=200, humanitix_accounts=2, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as server:
        configs = {
            name: sandbox_config(server, tmp_path / name, skip_events_ended_days=None)
            for name in ["reference", *KILL_POINTS]
        }
        _set_env(monkeypatch, configs["reference"][1])
        for config, _ in configs.values():  # the first sync of every warehouse
            assert all(r.ok for r in sync_accounts(config))
        server.dataset.mutate(fraction=0.1, seed=2)
        assert all(r.ok for r in sync_accounts(configs["reference"][0]))
        want = raw_checksums(configs["reference"][0])

        for kill_point in KILL_POINTS:
            config, environment = configs[kill_point]
            crashed = run_child(config, environment, "sync", kill_point)
            assert crashed.killed, crashed.output
            # The next sync finishes the killed run's package, then syncs, for every account.
            results = sync_accounts(config)
            assert [r.account.key for r in results] == [a.key for a in config.enabled_accounts()]
            assert [r.error for r in results if not r.ok] == [], kill_point
            assert differences(raw_checksums(config), want) == {}, kill_point
            statuses = rows(
                resolve_warehouse(config),
                "select status, count(*) from ticketing_ops.sync_runs group by 1",
            )
            assert dict(statuses).get("failed", 0) == 0
