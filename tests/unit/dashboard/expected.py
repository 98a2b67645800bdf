"""Figures computed independently of the query layer: order lines read straight from
``marts.ticket_sales`` and added up in Python, with the local order date from zoneinfo."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from ticketing_pipeline.dashboard.scope import Grant
from ticketing_pipeline.warehouse import Warehouse

FIGURES = ("tickets_sold", "tickets_refunded", "gross", "net", "fees", "refunded", "discounts")


@dataclass(frozen=True)
class Line:
    platform: str
    account_id: str
    event_id: str
    session_id: str
    order_id: str
    order_status: str
    currency: str
    local_date: date
    values: dict[str, Any]


def sales_lines(warehouse: Warehouse) -> list[Line]:
    sql = """
        select t.*, s.timezone
        from marts.ticket_sales t
        left join marts.session_complete s
          on t.platform = s.platform and t.account_id = s.account_id
         and t.session_id = s.session_id
    """
    with warehouse.connect(read_only=True) as connection:
        rows = [dict(r._mapping) for r in connection.execute(sa.text(sql))]
    lines = []
    for row in rows:
        zone = ZoneInfo(row["timezone"] or "UTC")
        values = {
            "tickets_sold": row["quantity"] - row["quantity_refunded"],
            "tickets_refunded": row["quantity_refunded"],
            "gross": Decimal(row["gross_amount"]),
            "net": Decimal(row["net_amount"]),
            "fees": Decimal(row["platform_fee_amount"]) + Decimal(row["payment_fee_amount"]),
            "refunded": Decimal(row["refunded_amount"]),
            "discounts": Decimal(row["discount_amount"]),
            "email": row["purchaser_email"],
        }
        lines.append(
            Line(
                row["platform"],
                row["account_id"],
                row["event_id"],
                row["session_id"],
                row["order_id"],
                row["order_status"],
                row["currency"],
                row["ordered_at"].astimezone(zone).date(),
                values,
            )
        )
    return lines


def expected_headline(
    lines: Iterable[Line],
    accounts: set[tuple[str, str]] | None = None,
    events: set[str] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, dict[str, Any]]:
    """Per currency: the headline figures of the selected lines (pending orders excluded)."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for line in lines:
        if line.order_status == "pending":
            continue
        if accounts is not None and (line.platform, line.account_id) not in accounts:
            continue
        if events is not None and line.event_id not in events:
            continue
        if date_from is not None and line.local_date < date_from:
            continue
        if date_to is not None and line.local_date > date_to:
            continue
        figures = out[line.currency]
        for name in FIGURES:
            figures[name] += line.values[name]
    return {currency: dict(figures) for currency, figures in out.items()}


def assert_within(frames: list[pd.DataFrame], grants: tuple[Grant, ...]) -> None:
    """Every row that names an account/event belongs to one of the grants."""
    for frame in frames:
        if "account_id" not in frame.columns or frame.empty:
            continue
        for _, row in frame.iterrows():
            allowed = any(
                row["platform"] == g.platform
                and row["account_id"] == g.account_id
                and (
                    g.event_ids is None
                    or "event_id" not in frame.columns
                    or row["event_id"] in g.event_ids
                )
                for g in grants
            )
            assert allowed, (list(frame.columns), dict(row))
