"""The Dagster definitions load, and materializing the ingest assets in-process loads data."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from tests.integration.ingest_helpers import config_for, rows
from ticketing_pipeline.definitions import build_definitions
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.warehouse import resolve_warehouse

RAW_TABLES = {
    "raw_humanitix": {"events", "event_dates", "ticket_types", "orders", "tickets", "tags"},
    "raw_eventbrite": {
        "organizations",
        "events",
        "venues",
        "ticket_classes",
        "orders",
        "attendees",
    },
}


@pytest.fixture(scope="module")
def server():
    spec = SandboxSpec(seed=3, orders=600, eventbrite_orgs=1, eventbrite_second_token_orgs=0)
    with SandboxServer(spec) as running:
        yield running


def test_definitions_have_one_asset_per_raw_table_and_schedules(
    server, tmp_path: Path, monkeypatch
) -> None:
    defs = build_definitions(config_for(server, tmp_path, monkeypatch))
    graph = defs.resolve_asset_graph()
    raw = {tuple(key.path) for key in graph.get_all_asset_keys() if key.path[0].startswith("raw_")}
    assert raw == {(schema, t) for schema, tables in RAW_TABLES.items() for t in tables}
    orders = graph.get(dg.AssetKey(["raw_humanitix", "orders"]))
    assert orders.group_name == "raw_humanitix"
    assert {"dlt", "humanitix"} <= set(orders.kinds)
    assert orders.partitions_def.get_partition_keys() == ["hx-acc-1", "hx-acc-2"]
    schedules = {s.name: s for s in defs.schedules}
    assert {
        "humanitix_incremental_sync",
        "humanitix_daily_lookback_sync",
        "eventbrite_incremental_sync",
        "eventbrite_daily_lookback_sync",
    } <= set(schedules)
    assert schedules["humanitix_incremental_sync"].cron_schedule == "*/15 * * * *"
    defs.resolve_all_job_defs()


def test_materializing_one_account_partition_loads_it(server, tmp_path: Path, monkeypatch) -> None:
    config = config_for(server, tmp_path, monkeypatch)
    defs = build_definitions(config)
    job = defs.resolve_job_def("humanitix_ingest_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, partition_key="hx-acc-2")
        assert result.success
        materializations = {
            tuple(m.asset_key.path): m.metadata
            for m in result.asset_materializations_for_node("humanitix_ingest")
        }
    assert set(materializations) == {("raw_humanitix", t) for t in RAW_TABLES["raw_humanitix"]}
    truth = server.dataset.truth()[("humanitix", "hx-acc-2")]
    assert materializations[("raw_humanitix", "orders")]["rows_loaded"].value == truth.orders
    warehouse = resolve_warehouse(config)
    assert rows(warehouse, "select account_id, count(*) from raw_humanitix.orders group by 1") == [
        ("hx-acc-2", truth.orders)
    ]
    [(status,)] = rows(warehouse, "select status from ticketing_ops.sync_runs")
    assert status == "succeeded"


def test_lookback_run_config_is_accepted(server, tmp_path: Path, monkeypatch) -> None:
    defs = build_definitions(config_for(server, tmp_path, monkeypatch))
    job = defs.resolve_job_def("eventbrite_ingest_job")
    account_id = server.dataset.accounts[-1].account_id
    run_config = {"ops": {"eventbrite_ingest": {"config": {"lookback_days": 3}}}}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, partition_key=account_id, run_config=run_config
        )
    assert result.success
