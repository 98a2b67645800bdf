"""Invalid fields and rejected records show where the data team looks: a failing asset check per
raw table (naming table, field and counts) and the `ticketing sync` summary per account."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import orjson
import pytest
from typer.testing import CliRunner

from tests.integration.ingest_helpers import config_for, rows
from ticketing_pipeline import cli
from ticketing_pipeline.cli import app
from ticketing_pipeline.config import load_config
from ticketing_pipeline.definitions import build_definitions
from ticketing_pipeline.defs.raw_checks import RAW_QUALITY_CHECK
from ticketing_pipeline.ingest.reports import sync_quality
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sandbox_harness.config import render_toml
from ticketing_pipeline.sources.http import parse_json_exact
from ticketing_pipeline.warehouse import resolve_warehouse


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    spec = SandboxSpec(
        seed=6, orders=250, humanitix_accounts=2, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as running:
        yield running


def execute(sql: str, config) -> None:
    with resolve_warehouse(config).begin() as connection:
        connection.exec_driver_sql(sql)


def spoil(config, account_id: str, orders: int, rejected: int) -> None:
    """Mark ``orders`` orders of the account invalid and add ``rejected`` rejected records,
    as the shaping would have (the rows and the table exist once the sources record them)."""
    invalid = json.dumps(
        {"totals.grossSales": {"value": "12,50", "error": "does not fit MONEY: not a number"}}
    )
    execute(
        "alter table raw_humanitix.orders add column if not exists invalid_fields varchar", config
    )
    execute(
        f"update raw_humanitix.orders set invalid_fields = '{invalid}' where order_id in "
        f"(select order_id from raw_humanitix.orders where account_id = '{account_id}' "
        f"order by order_id limit {orders})",
        config,
    )
    execute(
        "create table if not exists raw_humanitix.rejected_records (account_id varchar not null, "
        "table_name varchar not null, reason varchar not null, record varchar not null, "
        "rejected_at timestamptz not null)",
        config,
    )
    for n in range(rejected):
        execute(
            "insert into raw_humanitix.rejected_records "
            "(account_id, table_name, reason, record, rejected_at) values "
            f"('{account_id}', 'orders', 'no _id: the record cannot be merged', "
            f"'{{\"n\": {n}}}', now())",
            config,
        )


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        "/".join(e.asset_key.path): e
        for e in result.get_asset_check_evaluations()
        if e.check_name == RAW_QUALITY_CHECK
    }


def test_raw_checks_fail_naming_table_field_and_counts(server, tmp_path: Path, monkeypatch) -> None:
    config = config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None)
    assert all(r.ok for r in sync_accounts(config))
    defs = build_definitions(config)
    job = defs.resolve_job_def("humanitix_ingest_job")
    accounts = job.partitions_def.get_partition_keys()
    with dg.instance_for_test() as instance:
        # Clean data: every raw table's check runs with the ingest and passes.
        clean = job.execute_in_process(instance=instance, partition_key=accounts[0])
        assert clean.success
        evaluations = check_results(clean)
        assert set(evaluations) == {
            f"raw_humanitix/{t}"
            for t in ("events", "event_dates", "ticket_types", "orders", "tickets", "tags")
        }
        assert all(e.passed for e in evaluations.values())

        spoil(config, accounts[1], orders=3, rejected=2)
        # The checks alone, as the UI's "execute checks" runs them.
        check_job = dg.define_asset_job(
            "raw_humanitix_checks",
            selection=dg.AssetSelection.checks_for_assets(
                dg.AssetKey(["raw_humanitix", "orders"]), dg.AssetKey(["raw_humanitix", "tickets"])
            ),
        )
        result = (
            dg.Definitions.merge(defs, dg.Definitions(jobs=[check_job]))
            .resolve_job_def("raw_humanitix_checks")
            .execute_in_process(instance=instance)
        )
    evaluations = check_results(result)
    orders, tickets = evaluations["raw_humanitix/orders"], evaluations["raw_humanitix/tickets"]
    assert tickets.passed
    assert not orders.passed
    metadata = {k: v.value for k, v in orders.metadata.items()}
    assert metadata["invalid_values"] == 3
    assert metadata["invalid_fields"] == {"totals.grossSales": 3}
    assert metadata["invalid_by_account_and_field"] == {f"{accounts[1]} totals.grossSales": 3}
    assert metadata["rejected_records"] == 2
    assert metadata["rejected_reasons"] == {"no _id: the record cannot be merged": 2}
    assert "raw_humanitix.orders field totals.grossSales" in orders.description
    assert f"invalid on 3 row(s) of account {accounts[1]}" in orders.description
    assert f"2 record(s) of account {accounts[1]} rejected" in orders.description


def corrupt_sandbox_orders(server: SandboxServer, account_id: str) -> tuple[str, str]:
    """Make the sandbox serve one order of the account with a gross that is no number, and
    one without its id: what the shaping keeps in invalid_fields and rejected_records."""
    events = [
        e for e in server.dataset.hx_events.values() if e.account_id == account_id and e.orders
    ]
    (bad_id, bad_order), (keyless_id, keyless_order) = [
        (order_id, parse_json_exact(text))
        for event in events[:1]
        for order_id, text in list(event.orders.items())[:2]
    ]
    bad_order["totals"]["grossSales"] = "12,50"
    keyless_order.pop("_id")
    event = events[0]
    event.orders[bad_id] = orjson.dumps(bad_order, default=str)
    event.orders[keyless_id] = orjson.dumps(keyless_order, default=str)
    return bad_id, keyless_id


def test_sync_summary_counts_invalid_fields_and_rejected_records_of_that_sync(
    tmp_path: Path, monkeypatch
) -> None:
    spec = SandboxSpec(
        seed=8, orders=200, humanitix_accounts=2, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as server:
        config = config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None)
        spoiled = next(a for a in config.accounts if a.platform.value == "humanitix")
        bad_id, _ = corrupt_sandbox_orders(server, spoiled.account_id)
        path = tmp_path / "ticketing.toml"
        path.write_text(render_toml(config))
        monkeypatch.setattr(cli.console, "width", 220)  # one line per table row
        result = CliRunner().invoke(app, ["sync", "--config", str(path)])
    assert result.exit_code == 0, result.output
    output = result.output
    # The spoiled account's own lines name the field and the reason ...
    assert re.search(r"invalid orders\.totals\.grossSales: 1 rows", output), output
    assert re.search(r"rejected orders: 1 records \(no _id", output), output
    # ... and the summary table has this run's counts per account, the spoiled one's non-zero.
    counts = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")][1:-1]
        if len(cells) == 9 and cells[1] in {a.account_id for a in config.accounts}:
            counts[cells[1]] = (cells[-2], cells[-1])
    assert counts[spoiled.account_id] == ("1", "1"), output
    others = {a.account_id for a in config.enabled_accounts()} - {spoiled.account_id}
    assert others and all(counts[a] == ("0", "0") for a in others), output
    # The warehouse agrees: the value is kept with its reason, the cell is null.
    warehouse = resolve_warehouse(load_config(path))
    [(gross, invalid)] = rows(
        warehouse,
        f"select totals_gross_sales, invalid_fields from raw_humanitix.orders "
        f"where order_id = '{bad_id}'",
    )
    assert gross is None and json.loads(invalid)["totals.grossSales"]["value"] == "12,50"

    # A second sync of the same data: the spoiled order is re-read (full look-back) or not,
    # but the rejected record of the first sync is not counted again.
    started = datetime.now(UTC)
    quality = sync_quality(warehouse, "humanitix", spoiled.account_id, {"orders": 0}, started)
    assert quality.recorded and quality.rejected_total == 0


def test_sync_quality_reads_nothing_from_a_warehouse_without_the_columns(tmp_path: Path) -> None:
    import duckdb

    from ticketing_pipeline.warehouse import Warehouse, WarehouseKind

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema raw_humanitix_staging")
        connection.execute("create table raw_humanitix_staging.orders (account_id varchar)")
        connection.execute("insert into raw_humanitix_staging.orders values ('a')")
    warehouse = Warehouse(WarehouseKind.DUCKDB, duckdb_path=path)
    quality = sync_quality(warehouse, "humanitix", "a", ["orders"], datetime.now(UTC))
    assert not quality.recorded
    assert quality.invalid_total == 0 and quality.rejected_total == 0


def test_quality_counts_on_postgresql(postgres_url: str) -> None:
    from ticketing_pipeline.defs.raw_checks import quality_check_result, raw_table_quality
    from ticketing_pipeline.warehouse import Warehouse, WarehouseKind

    warehouse = Warehouse(WarehouseKind.POSTGRES, postgres_url=postgres_url)
    bad = '{"totals.grossSales": {"value": "12,50", "error": "not a number"}}'
    with warehouse.begin() as connection:
        for schema in ("raw_humanitix", "raw_humanitix_staging"):
            connection.exec_driver_sql(f"create schema {schema}")
            connection.exec_driver_sql(
                f"create table {schema}.orders (account_id text, invalid_fields text)"
            )
            connection.exec_driver_sql(
                f"insert into {schema}.orders values ('a', '{bad}'), ('a', null), ('b', null)"
            )
        connection.exec_driver_sql(
            "create table raw_humanitix.rejected_records (account_id text, table_name text, "
            "reason text, record text, rejected_at timestamptz)"
        )
        connection.exec_driver_sql(
            "insert into raw_humanitix.rejected_records values "
            "('a', 'orders', 'no _id: the record cannot be merged', '{}', now())"
        )
    started = datetime.now(UTC)
    result = quality_check_result(
        "raw_humanitix", "orders", raw_table_quality(warehouse, "raw_humanitix", "orders")
    )
    assert not result.passed
    assert result.metadata["invalid_fields"].value == {"totals.grossSales": 1}
    assert result.metadata["rejected_records"].value == 1
    quality = sync_quality(warehouse, "humanitix", "a", ["orders"], started)
    assert quality.invalid_fields == {("orders", "totals.grossSales"): 1}
    assert quality.rejected_total == 0  # rejected before this "sync" started
    assert sync_quality(warehouse, "humanitix", "b", ["orders"], started).invalid_total == 0
