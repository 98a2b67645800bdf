"""dbt build on a sandbox data set, on DuckDB and on PostgreSQL: every test passes and the marts
equal the sandbox's truth to the cent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.dbt.conftest import BuiltWarehouse
from tests.integration.dbt.dbt_helpers import (
    copy_project,
    execute,
    marts_by_account,
    query,
    run_dbt,
)
from tests.integration.dbt.test_contracts import SELECT, break_model
from ticketing_pipeline.sandbox.server import SandboxServer

WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("dbt_duckdb"), id="duckdb"),
    pytest.param(
        "postgres",
        marks=[pytest.mark.postgres, pytest.mark.xdist_group("dbt_postgres")],
        id="postgres",
    ),
]


@pytest.fixture(params=WAREHOUSES)
def built(request: pytest.FixtureRequest) -> BuiltWarehouse:
    return request.getfixturevalue(f"{request.param}_built")


def test_dbt_build_and_every_test_pass(built: BuiltWarehouse) -> None:
    assert built.build.ok, built.build.output[-4000:]
    # Models, data tests and unit tests all ran: nothing skipped, nothing errored.
    summary = [line for line in built.build.output.splitlines() if "Done. PASS=" in line]
    assert summary, built.build.output[-2000:]
    assert "ERROR=0" in summary[-1] and "SKIP=0" in summary[-1], summary[-1]
    assert "unit test" in built.build.output


def test_marts_equal_sandbox_truth_to_the_cent(built: BuiltWarehouse) -> None:
    marts = marts_by_account(built.warehouse)
    assert set(marts) == set(built.expected)
    for key, expected in built.expected.items():
        money = marts[key]["money"]
        # One currency per account in the sandbox: amounts are never added across currencies.
        assert set(money) == {expected.currency}, key
        totals = money[expected.currency]
        assert Decimal(totals["gross"]) == expected.gross, (key, "gross")
        assert Decimal(totals["refunded"]) == expected.refunded, (key, "refunded")
        if expected.net is not None:  # Humanitix reports netSales; Eventbrite has no counter
            assert Decimal(totals["net"]) == expected.net, (key, "net")
        assert int(totals["tickets"]) == expected.tickets, (key, "tickets")
        assert int(totals["tickets_refunded"]) == expected.tickets_refunded, (key, "refunded")


def test_order_statuses_match_the_platforms(built: BuiltWarehouse) -> None:
    marts = marts_by_account(built.warehouse)
    seen = set()
    for key, expected in built.expected.items():
        assert marts[key]["statuses"] == expected.orders_by_status, key
        seen |= set(expected.orders_by_status)
    # The data set exercises every status the contract names but pending.
    assert {"completed", "refunded", "partially_refunded", "cancelled"} <= seen


def test_sessions_sold_equal_platform_counts(built: BuiltWarehouse) -> None:
    marts = marts_by_account(built.warehouse)
    for key, expected in built.expected.items():
        assert marts[key]["sold_by_session"] == expected.sold_by_session, key


def test_reconciliation_of_a_clean_load_matches_everywhere(built: BuiltWarehouse) -> None:
    rows = query(
        built.warehouse,
        "select platform, status, count(*) as n from marts.ticket_reconciliation "
        "group by platform, status",
    )
    assert {(r["platform"], r["status"]) for r in rows} == {
        ("humanitix", "match"),
        ("eventbrite", "match"),
    }


def test_money_columns_are_exact_decimals(built: BuiltWarehouse) -> None:
    rows = query(
        built.warehouse,
        "select gross_amount, net_amount, refunded_amount from marts.ticket_sales limit 5",
    )
    assert rows
    for row in rows:
        assert all(isinstance(value, Decimal) for value in row.values()), row


def test_ticket_platforms_lists_accounts_without_secrets(
    built: BuiltWarehouse, sandbox_server: SandboxServer
) -> None:
    rows = query(built.warehouse, "select * from marts.ticket_platforms")
    configured = {(a.platform.value, a.account_id) for a in built.config.accounts}
    assert {(r["platform"], r["account_id"]) for r in rows} == configured
    for row in rows:
        assert row["is_configured"] and row["is_enabled"]
        assert row["last_sync_status"] == "succeeded"
        assert row["last_successful_sync_at"] is not None
        assert row["webhook_status"] is None
    secrets = {account.secret for account in sandbox_server.dataset.accounts}
    assert all(len(secret) >= 8 for secret in secrets)
    cells = {str(value) for row in rows for value in row.values()}
    assert not any(secret in cell for secret in secrets for cell in cells)


def test_daily_sales_add_up_to_ticket_sales(built: BuiltWarehouse) -> None:
    daily = query(
        built.warehouse,
        "select currency, sum(gross_amount) as gross, sum(net_amount) as net, "
        "sum(tickets_sold) as sold from marts.daily_sales group by currency order by currency",
    )
    sales = query(
        built.warehouse,
        "select currency, sum(gross_amount) as gross, sum(net_amount) as net, "
        "sum(quantity - quantity_refunded) as sold from marts.ticket_sales "
        "where order_status <> 'pending' group by currency order by currency",
    )
    assert len(daily) >= 3  # several currencies, each its own rows
    assert daily == sales


@pytest.mark.postgres
@pytest.mark.xdist_group("dbt_postgres")
def test_broken_contract_fails_on_postgres_too(
    postgres_built: BuiltWarehouse, tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project")
    break_model(
        project, "cast(capacity as bigint) as capacity", "cast(capacity as text) as capacity"
    )
    run = run_dbt(postgres_built.config, SELECT, tmp_path / "target", project_dir=project)
    assert not run.ok, run.output[-3000:]
    assert "contract" in run.output.lower() and "capacity" in run.output


def test_contract_constraints_reject_bad_rows(built: BuiltWarehouse) -> None:
    # Not-null and non-negative guarantees are constraints of the tables themselves.
    columns = (
        "sale_id, platform, account_id, event_id, session_id, order_id, ticket_type_id, "
        "order_status, quantity, quantity_refunded, currency, gross_amount, discount_amount, "
        "platform_fee_amount, payment_fee_amount, tax_amount, net_amount, refunded_amount, "
        "loaded_at"
    )
    good = "'x', 'p', 'a', 'e', 's', 'o', 't', 'completed', 1, 0, 'USD', 1, 0, 0, 0, 0, 1, 0"
    bad_rows = [
        good.replace(", 1, 0, 'USD'", ", -1, 0, 'USD'"),  # negative quantity
        good.replace("'USD', 1,", "'USD', -1,"),  # negative gross
        good.replace("'completed'", "null"),  # no status
    ]
    for values in bad_rows:
        with pytest.raises(sa.exc.DBAPIError, match="(?i)constraint"):
            execute(
                built.warehouse,
                f"insert into marts.ticket_sales ({columns}) values ({values}, current_timestamp)",
            )
    sql = "select count(*) as n from marts.ticket_sales where sale_id = 'x'"
    (row,) = query(built.warehouse, sql)
    assert row["n"] == 0
