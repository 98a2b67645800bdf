"""The Dagster side: definitions load, dbt and ingest form one graph, checks/schedules/sensor
exist, and an in-process run of ingest + dbt against the sandbox succeeds."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from tests.integration.dbt.dbt_helpers import query
from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.defs.transform import (
    AUTOMATION_SENSOR,
    FULL_BUILD_JOB,
    MART_FRESHNESS,
    RAW_FRESHNESS,
    WAREHOUSE_WRITER_POOL,
    build_transform_defs,
    mart_key,
)
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sandbox_harness.pipeline import sandbox_pipeline
from ticketing_pipeline.warehouse import resolve_warehouse

pytestmark = pytest.mark.xdist_group("dbt_dagster")

MARTS = [
    "ticket_sales",
    "session_complete",
    "ticket_reconciliation",
    "daily_sales",
    "ticket_platforms",
]
MART_CHECKS = [
    "reconciliation_within_tolerance",
    "no_duplicate_sale_ids",
    "no_negative_quantities",
    "currencies_are_iso_4217",
]


def _project_defs(config: ProjectConfig) -> dg.Definitions:
    """The project's definitions as ticketing_pipeline/definitions.py assembles them."""
    from ticketing_pipeline.definitions import build_definitions

    return build_definitions(config)


@pytest.fixture(scope="module")
def project(
    sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ProjectConfig, dg.Definitions]:
    data_dir = tmp_path_factory.mktemp("dagster")
    url = f"duckdb:///{data_dir / 'warehouse.duckdb'}"
    with sandbox_pipeline(sandbox_server, data_dir, url) as run:
        yield run.config, _project_defs(run.config)


def test_transform_definitions_load_without_accounts(tmp_path: Path) -> None:
    config = ProjectConfig(data_dir=tmp_path)
    defs = build_transform_defs(config, resolve_warehouse(config))
    graph = defs.resolve_asset_graph()
    for mart in MARTS:
        assert graph.get(mart_key(mart)).is_materializable


def test_one_lineage_graph_from_raw_tables_to_marts(project) -> None:
    _, defs = project
    graph = defs.resolve_asset_graph()
    staging = graph.get(dg.AssetKey(["staging", "stg_humanitix__orders"]))
    assert dg.AssetKey(["raw_humanitix", "orders"]) in staging.parent_keys
    # The raw parents of the dbt models are the ingest assets themselves, not stubs.
    for key in (
        dg.AssetKey(["raw_humanitix", "tickets"]),
        dg.AssetKey(["raw_eventbrite", "attendees"]),
        dg.AssetKey(["raw_eventbrite", "ticket_classes"]),
    ):
        assert graph.get(key).is_materializable, key
    upstream = graph.get_ancestor_asset_keys(mart_key("ticket_sales"))
    assert dg.AssetKey(["raw_eventbrite", "orders"]) in upstream


def test_checks_schedules_sensor_pool_freshness_automation(project) -> None:
    _, defs = project
    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()

    check_names = {key.name for key in graph.asset_check_keys}
    assert set(MART_CHECKS) <= check_names
    # dbt tests are checks too, on the models they test.
    assert "unique_ticket_sales_sale_id" in check_names
    assert any(name.startswith("accepted_values_ticket_sales_order_status") for name in check_names)

    assert repository.get_schedule_def("dbt_daily_full_build").job_name == FULL_BUILD_JOB
    sensor = repository.get_sensor_def(AUTOMATION_SENSOR)
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)

    dbt_node = graph.get(mart_key("ticket_sales"))
    dbt_assets = graph.assets_def_for_key(dbt_node.key)
    assert dbt_assets.op.pool == WAREHOUSE_WRITER_POOL
    ingest_assets = graph.assets_def_for_key(dg.AssetKey(["raw_humanitix", "orders"]))
    assert ingest_assets.op.pool == WAREHOUSE_WRITER_POOL

    for mart in MARTS:
        node = graph.get(mart_key(mart))
        assert node.freshness_policy == MART_FRESHNESS, mart
        assert node.automation_condition is not None, mart
    assert graph.get(dg.AssetKey(["raw_eventbrite", "orders"])).freshness_policy == RAW_FRESHNESS


def test_materialize_ingest_then_dbt_in_process(project) -> None:
    config, defs = project
    instance = dg.DagsterInstance.ephemeral()
    repository = defs.get_repository_def()
    for job_name in ("humanitix_ingest_job", "eventbrite_ingest_job"):
        job = repository.get_job(job_name)
        for partition in job.partitions_def.get_partition_keys():
            result = job.execute_in_process(instance=instance, partition_key=partition)
            assert result.success, (job_name, partition)

    result = repository.get_job(FULL_BUILD_JOB).execute_in_process(instance=instance)
    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert {mart_key(mart) for mart in MARTS} <= materialized
    evaluations = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert set(MART_CHECKS) <= set(evaluations)
    failed = {name: e.description for name, e in evaluations.items() if not e.passed}
    assert not failed

    warehouse = resolve_warehouse(config)
    (row,) = query(warehouse, "select count(*) as n from marts.ticket_platforms")
    assert row["n"] == len(config.accounts)
    (row,) = query(warehouse, "select count(*) as n from marts.ticket_sales")
    assert row["n"] > 1000
