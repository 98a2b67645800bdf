"""Helpers for ingest tests: run the sandbox, build a config for it, read staging back."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sandbox_harness.config import RunningSandbox, sandbox_config
from ticketing_pipeline.warehouse import Warehouse, resolve_warehouse


def config_for(
    server: RunningSandbox,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    warehouse_url: str | None = None,
    **sync: Any,
) -> ProjectConfig:
    """The harness's config of the sandbox's accounts, their secrets set for the test."""
    config, secrets = sandbox_config(server, data_dir, warehouse_url, **sync)
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    return config


def rows(warehouse: Warehouse, sql: str) -> list[tuple]:
    with warehouse.connect() as connection:
        return [tuple(r) for r in connection.execute(sa.text(sql))]


def staging_facts(config: ProjectConfig) -> dict[tuple[str, str], dict[str, Any]]:
    """The same facts the sandbox's truth() reports, computed from the staging tables."""
    warehouse = resolve_warehouse(config)
    facts: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"orders_by_status": Counter(), "tickets_by_status": Counter(), "money": {}}
    )

    def put(platform: str, sql: str, key: str) -> None:
        for account_id, value in rows(warehouse, sql):
            facts[(platform, account_id)][key] = value

    def by_status(platform: str, sql: str, key: str) -> None:
        for account_id, status, count in rows(warehouse, sql):
            facts[(platform, account_id)][key][status] = count

    def money(platform: str, sql: str, name: str) -> None:
        for account_id, currency, total in rows(warehouse, sql):
            facts[(platform, account_id)]["money"].setdefault(currency, {})[name] = Decimal(total)

    hx, eb = "raw_humanitix", "raw_eventbrite"
    put("humanitix", f"select account_id, count(*) from {hx}.events group by 1", "events")
    put(
        "humanitix",
        f"select account_id, count(*) from {hx}.event_dates where not is_deleted group by 1",
        "sessions",
    )
    put(
        "humanitix",
        f"select account_id, count(*) from {hx}.ticket_types where not is_deleted group by 1",
        "ticket_types",
    )
    put("humanitix", f"select account_id, count(*) from {hx}.orders group by 1", "orders")
    put("humanitix", f"select account_id, count(*) from {hx}.tickets group by 1", "tickets")
    by_status(
        "humanitix",
        f"select account_id, financial_status, count(*) from {hx}.orders group by 1, 2",
        "orders_by_status",
    )
    by_status(
        "humanitix",
        f"select account_id, status, count(*) from {hx}.tickets group by 1, 2",
        "tickets_by_status",
    )
    for column, name in [
        ("totals_gross_sales", "totals.grossSales"),
        ("totals_net_sales", "totals.netSales"),
        ("totals_refunds", "totals.refunds"),
        ("totals_total", "totals.total"),
    ]:
        money(
            "humanitix",
            f"select account_id, currency, sum({column}) from {hx}.orders group by 1, 2",
            name,
        )
    for column, name in [("price", "ticket.price"), ("total", "ticket.total")]:
        money(
            "humanitix",
            f"select account_id, currency, sum({column}) from {hx}.tickets group by 1, 2",
            name,
        )

    put("eventbrite", f"select account_id, count(*) from {eb}.events group by 1", "events")
    put(
        "eventbrite",
        f"select account_id, count(*) from {eb}.events where is_series_parent group by 1",
        "series_parents",
    )
    put(
        "eventbrite",
        f"select account_id, count(*) from {eb}.events where not is_series_parent group by 1",
        "sessions",
    )
    put(
        "eventbrite",
        f"select account_id, count(*) from {eb}.ticket_classes group by 1",
        "ticket_types",
    )
    put("eventbrite", f"select account_id, count(*) from {eb}.orders group by 1", "orders")
    put("eventbrite", f"select account_id, count(*) from {eb}.attendees group by 1", "tickets")
    by_status(
        "eventbrite",
        f"select account_id, status, count(*) from {eb}.orders group by 1, 2",
        "orders_by_status",
    )
    by_status(
        "eventbrite",
        f"select account_id, status, count(*) from {eb}.attendees group by 1, 2",
        "tickets_by_status",
    )
    money(
        "eventbrite",
        f"select account_id, currency, sum(costs_gross) from {eb}.orders group by 1, 2",
        "order.costs.gross.value",
    )
    money(
        "eventbrite",
        f"select account_id, currency, sum(costs_gross) from {eb}.attendees group by 1, 2",
        "attendee.costs.gross.value",
    )
    money(
        "eventbrite",
        f"select account_id, currency, sum(quantity_sold) from {eb}.ticket_classes group by 1, 2",
        "ticket_class.quantity_sold",
    )
    return facts


def expected_facts(server: SandboxServer) -> dict[tuple[str, str], dict[str, Any]]:
    expected = {}
    for key, truth in server.dataset.truth().items():
        expected[key] = {
            "events": truth.events,
            "sessions": truth.sessions,
            "ticket_types": truth.ticket_types,
            "orders": truth.orders,
            "tickets": truth.tickets,
            "orders_by_status": Counter(truth.orders_by_status),
            "tickets_by_status": Counter(truth.tickets_by_status),
            "money": {c: dict(m) for c, m in truth.money.items()},
        }
        if key[0] == "eventbrite":
            expected[key]["series_parents"] = truth.series_parents
    return expected


def assert_staging_equals_truth(config: ProjectConfig, server: SandboxServer) -> None:
    actual = staging_facts(config)
    expected = expected_facts(server)
    assert sorted(actual) == sorted(expected)
    for key, want in expected.items():
        got = {k: actual[key].get(k, 0) for k in want}
        if key[0] == "eventbrite" and not want.get("series_parents"):
            got["series_parents"] = actual[key].get("series_parents", 0)
        assert got == want, f"{key}: staging differs from the sandbox truth:\n{got}\n{want}"


def assert_no_duplicate_keys(config: ProjectConfig) -> None:
    warehouse = resolve_warehouse(config)
    keys = {
        "raw_humanitix": {
            "events": "event_id",
            "event_dates": "event_date_id",
            "ticket_types": "ticket_type_id",
            "orders": "order_id",
            "tickets": "ticket_id",
        },
        "raw_eventbrite": {
            "events": "event_id",
            "ticket_classes": "ticket_class_id",
            "orders": "order_id",
            "attendees": "attendee_id",
            "venues": "venue_id",
        },
    }
    for schema, tables in keys.items():
        for table, key in tables.items():
            [(total, distinct)] = rows(
                warehouse,
                f"select count(*), count(distinct account_id || '/' || {key}) "
                f"from {schema}.{table}",
            )
            assert total == distinct, f"{schema}.{table} has duplicate keys"
