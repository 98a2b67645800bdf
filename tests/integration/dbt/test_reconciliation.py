"""Reconciliation: an order missing from the store makes the Dagster check fail and name the
event; a clean load passes; the tolerance is a dbt var."""

from __future__ import annotations

import dagster as dg
import pytest

from tests.integration.dbt.conftest import BuiltWarehouse
from tests.integration.dbt.dbt_helpers import execute, query, run_dbt
from ticketing_pipeline.defs.transform_checks import build_mart_checks

pytestmark = pytest.mark.xdist_group("dbt_duckdb")


def _run_check(built: BuiltWarehouse, name: str) -> dg.AssetCheckResult:
    (check,) = [c for c in build_mart_checks(built.warehouse) if c.check_key.name == name]
    result = check()
    assert isinstance(result, dg.AssetCheckResult)
    return result


def _paid_order(built: BuiltWarehouse, platform: str) -> dict:
    """A completed order with several tickets, and the event and session it belongs to."""
    (row,) = query(
        built.warehouse,
        """
        select order_id, event_id, session_id, sum(quantity) as tickets
        from marts.ticket_sales
        where platform = :platform and order_status = 'completed' and gross_amount > 0
        group by order_id, event_id, session_id
        having sum(quantity) >= 2
        order by order_id
        limit 1
        """,
        platform=platform,
    )
    return row


def test_clean_load_passes_every_mart_check(duckdb_built: BuiltWarehouse) -> None:
    for name in (
        "reconciliation_within_tolerance",
        "no_duplicate_sale_ids",
        "no_negative_quantities",
        "currencies_are_iso_4217",
    ):
        result = _run_check(duckdb_built, name)
        assert result.passed, (name, result.description)


def test_order_deleted_from_raw_fails_the_check_naming_the_events(
    duckdb_copy: BuiltWarehouse,
) -> None:
    hx = _paid_order(duckdb_copy, "humanitix")
    eb = _paid_order(duckdb_copy, "eventbrite")
    execute(
        duckdb_copy.warehouse,
        "delete from raw_humanitix.orders where order_id = :id",
        id=hx["order_id"],
    )
    execute(
        duckdb_copy.warehouse,
        "delete from raw_eventbrite.orders where order_id = :id",
        id=eb["order_id"],
    )
    run = run_dbt(duckdb_copy.config, ["build"], duckdb_copy.target_path)
    # Missing orders are the reconciliation's business: the build itself still succeeds.
    assert run.ok, run.output[-3000:]

    rows = query(
        duckdb_copy.warehouse,
        "select platform, event_id, session_id, status, tickets_sold_difference "
        "from marts.ticket_reconciliation where status <> 'match' order by platform",
    )
    assert [(r["platform"], r["session_id"], r["status"]) for r in rows] == [
        ("eventbrite", eb["session_id"], "mismatch"),
        ("humanitix", hx["session_id"], "mismatch"),
    ]
    # The store lost the order's valid tickets (the platform still counts them).
    assert rows[0]["tickets_sold_difference"] < 0 and rows[1]["tickets_sold_difference"] < 0

    result = _run_check(duckdb_copy, "reconciliation_within_tolerance")
    assert not result.passed
    assert result.severity is dg.AssetCheckSeverity.ERROR
    assert hx["event_id"] in result.description and eb["event_id"] in result.description
    assert result.metadata["sessions_out_of_tolerance"].value == 2
    events = result.metadata["events_out_of_tolerance"].value
    assert any(hx["event_id"] in event for event in events)
    assert any(eb["event_id"] in event for event in events)

    # A tolerance wide enough for the lost order turns the mismatch back into a match.
    tolerant = run_dbt(
        duckdb_copy.config,
        ["build", "--select", "ticket_reconciliation"],
        duckdb_copy.target_path,
        extra_vars={
            "reconciliation_ticket_tolerance": 1000,
            "reconciliation_amount_tolerance": 1000000,
        },
    )
    assert tolerant.ok, tolerant.output[-3000:]
    assert _run_check(duckdb_copy, "reconciliation_within_tolerance").passed


def test_sessions_unknown_to_the_platform_are_reported(duckdb_copy: BuiltWarehouse) -> None:
    eb = _paid_order(duckdb_copy, "eventbrite")
    execute(
        duckdb_copy.warehouse,
        "delete from raw_eventbrite.events where event_id = :id",
        id=eb["session_id"],
    )
    execute(
        duckdb_copy.warehouse,
        "delete from raw_eventbrite.ticket_classes where event_id = :id",
        id=eb["session_id"],
    )
    run = run_dbt(duckdb_copy.config, ["build"], duckdb_copy.target_path)
    assert run.ok, run.output[-3000:]
    rows = query(
        duckdb_copy.warehouse,
        "select session_id, status from marts.ticket_reconciliation where status <> 'match'",
    )
    assert rows == [{"session_id": eb["session_id"], "status": "missing_on_platform"}]
    assert not _run_check(duckdb_copy, "reconciliation_within_tolerance").passed


def test_rows_landed_by_webhook_are_marked_as_such(duckdb_copy: BuiltWarehouse) -> None:
    eb = _paid_order(duckdb_copy, "eventbrite")
    execute(
        duckdb_copy.warehouse,
        "update raw_eventbrite.orders set ingested_via = 'webhook' where order_id = :id",
        id=eb["order_id"],
    )
    run = run_dbt(duckdb_copy.config, ["run", "--select", "+ticket_sales"], duckdb_copy.target_path)
    assert run.ok, run.output[-3000:]
    rows = query(
        duckdb_copy.warehouse,
        "select ingested_via, count(distinct order_id) as orders from marts.ticket_sales "
        "group by ingested_via order by ingested_via",
    )
    assert rows[-1] == {"ingested_via": "webhook", "orders": 1}
    assert rows[0]["ingested_via"] == "api" and rows[0]["orders"] > 1000
