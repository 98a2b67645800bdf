"""Helpers for the dbt tests: load a sandbox into a warehouse, run dbt, read the marts back."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.money import minor_to_decimal
from ticketing_pipeline.sandbox.dataset import EB_ORDER_DELETED, SandboxDataset
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sandbox_harness.pipeline import sandbox_pipeline
from ticketing_pipeline.transform.dbt import DBT_PROJECT_DIR, dbt_command, dbt_run_env
from ticketing_pipeline.warehouse import Warehouse, resolve_warehouse

# Small but with every case: refunds, partial refunds, cancellations, free tickets, discounts,
# series, several currencies (AUD, NZD, USD, GBP).
SANDBOX_SPEC = SandboxSpec(seed=11, orders=2_000)


def load_sandbox(server: SandboxServer, data_dir: Path, warehouse_url: str) -> ProjectConfig:
    """Sync every sandbox account into the warehouse; raises if any account fails."""
    with sandbox_pipeline(server, data_dir, warehouse_url) as run:
        run.sync()
    return run.config


@dataclass
class DbtRun:
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_dbt(
    config: ProjectConfig,
    args: list[str],
    target_path: Path,
    project_dir: Path = DBT_PROJECT_DIR,
    extra_vars: dict[str, Any] | None = None,
) -> DbtRun:
    """Run the dbt CLI against the config's warehouse, as Dagster does (same profile, env).

    Each test module passes its own target path: parallel test workers never share dbt's
    artifacts, and consecutive runs of one module still parse partially.
    """
    warehouse = resolve_warehouse(config)
    extra = ["--vars", orjson.dumps(extra_vars).decode()] if extra_vars else []
    command = dbt_command([*args, *extra], target_path, project_dir=project_dir)
    completed = subprocess.run(
        command,
        cwd=project_dir,
        env=dbt_run_env(config, warehouse),
        capture_output=True,
        text=True,
        timeout=900,
    )
    return DbtRun(completed.returncode, completed.stdout + completed.stderr)


def copy_project(destination: Path) -> Path:
    """A private copy of the dbt project (to break a model without touching the real one)."""
    return Path(
        shutil.copytree(
            DBT_PROJECT_DIR,
            destination,
            ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
        )
    )


def query(warehouse: Warehouse, sql: str, **params: Any) -> list[dict[str, Any]]:
    with warehouse.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(sql), params)]


def execute(warehouse: Warehouse, sql: str, **params: Any) -> None:
    with warehouse.begin() as connection:
        connection.execute(sa.text(sql), params)


@dataclass
class ExpectedAccount:
    """What the marts must say about one account, from the records the sandbox serves."""

    currency: str
    gross: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    net: Decimal | None = None
    tickets: int = 0
    tickets_refunded: int = 0
    orders_by_status: Counter[str] = field(default_factory=Counter)
    sold_by_session: dict[str, int] = field(default_factory=dict)


def expected_from_sandbox(dataset: SandboxDataset) -> dict[tuple[str, str], ExpectedAccount]:
    """Expected mart figures: the sandbox's truth() plus what it does not sum up itself.

    truth() gives gross (Humanitix totals.grossSales; Eventbrite order costs.gross), Humanitix
    refunds/netSales, ticket counts by status and tickets sold per session. Eventbrite refunds
    (gross of attendees no longer attending: "money still collected" is the attendees
    attending) and the order statuses in the contract's vocabulary are derived here from the
    served records, following the sandbox README's money semantics.
    """
    truth = dataset.truth()
    expected: dict[tuple[str, str], ExpectedAccount] = {}
    for (platform, account_id), account in truth.items():
        (currency,) = account.money
        money = account.money[currency]
        item = ExpectedAccount(currency=currency)
        if platform == "humanitix":
            item.gross = money["totals.grossSales"]
            item.refunded = money["totals.refunds"]
            item.net = money["totals.netSales"]
            item.tickets = account.tickets
            item.tickets_refunded = account.tickets_by_status.get("cancelled", 0)
        else:
            item.gross = minor_to_decimal(int(money["order.costs.gross.value"]), currency)
            item.tickets = account.tickets
            item.tickets_refunded = account.tickets_by_status.get("Not Attending", 0)
        expected[(platform, account_id)] = item

    loads = orjson.loads
    for hx_account in dataset.hx_accounts.values():
        item = expected[("humanitix", hx_account.account_id)]
        for event in hx_account.events.values():
            for order_id, raw in event.orders.items():
                order = loads(raw)
                tickets = [loads(event.tickets[t]) for t in event.order_tickets[order_id]]
                cancelled = sum(t["status"] == "cancelled" for t in tickets)
                status = {
                    "refunded": "refunded",
                    "partiallyRefunded": "partially_refunded",
                }.get(order["financialStatus"], "completed")
                if status == "completed" and cancelled == len(tickets):
                    status = "cancelled"  # a free order whose tickets were all cancelled
                item.orders_by_status[status] += 1
                for ticket in tickets:
                    if ticket["status"] == "complete":
                        session = ticket["eventDateId"]
                        item.sold_by_session[session] = item.sold_by_session.get(session, 0) + 1
    for org in dataset.eb_orgs.values():
        item = expected[("eventbrite", org.id)]
        for _, order_id, status_flag in org.order_index:
            if status_flag == EB_ORDER_DELETED:
                continue
            order = loads(dataset.eb_orders[order_id])
            event = dataset.eb_order_event[order_id]
            attendees = [loads(event.attendees[a]) for a in event.order_attendees[order_id]]
            # Money no longer collected: attendees not attending (refunded or cancelled).
            void = [a for a in attendees if a["status"] == "Not Attending"]
            for attendee in void:
                value = attendee["costs"]["gross"]["value"]
                item.refunded += minor_to_decimal(value, item.currency)
            status = order["status"]
            if status == "placed":
                paid_back = any(a["costs"]["gross"]["value"] for a in void)
                status = "partially_refunded" if paid_back else "completed"
            item.orders_by_status[status] += 1
        truth_account = truth[("eventbrite", org.id)]
        item.sold_by_session = {k: v for k, v in truth_account.sold_by_event.items() if v}
    return expected


def marts_by_account(warehouse: Warehouse) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (platform, account): currency totals, ticket counts and order statuses of the marts."""
    out: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for row in query(
        warehouse,
        """
        select platform, account_id, currency,
               sum(gross_amount) as gross, sum(refunded_amount) as refunded,
               sum(net_amount) as net, sum(quantity) as tickets,
               sum(quantity_refunded) as tickets_refunded
        from marts.ticket_sales group by platform, account_id, currency
        """,
    ):
        out[(row["platform"], row["account_id"])].setdefault("money", {})[row["currency"]] = row
    for row in query(
        warehouse,
        """
        select platform, account_id, order_status, count(distinct order_id) as orders
        from marts.ticket_sales group by platform, account_id, order_status
        """,
    ):
        statuses = out[(row["platform"], row["account_id"])].setdefault("statuses", Counter())
        statuses[row["order_status"]] = int(row["orders"])
    for row in query(
        warehouse,
        "select platform, account_id, session_id, tickets_sold from marts.session_complete",
    ):
        sold = out[(row["platform"], row["account_id"])].setdefault("sold_by_session", {})
        if row["tickets_sold"]:
            sold[row["session_id"]] = int(row["tickets_sold"])
    return out
