"""What the raw tables hold, per platform and account: the demo's closing summary."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from ticketing_pipeline.money import minor_to_decimal
from ticketing_pipeline.warehouse import Warehouse

# Per platform: (metric, table, row filter) counted per account.
_COUNTS = {
    "humanitix": [
        ("events", "events", "true"),
        ("sessions", "event_dates", "not coalesce(is_deleted, false)"),
        ("orders", "orders", "true"),
        ("tickets", "tickets", "true"),
    ],
    "eventbrite": [
        ("events", "events", "true"),
        ("sessions", "events", "not coalesce(is_series_parent, false)"),
        ("orders", "orders", "true"),
        ("tickets", "attendees", "true"),
    ],
}

# Gross as each platform reports it on orders (documented with the sources).
_GROSS = {
    "humanitix": "select account_id, currency, sum(totals_gross_sales) "
    "from raw_humanitix.orders group by 1, 2",
    "eventbrite": "select account_id, currency, sum(costs_gross) "
    "from raw_eventbrite.orders group by 1, 2",
}


@dataclass
class AccountSummary:
    platform: str
    account_id: str
    counts: dict[str, int] = field(default_factory=dict)
    gross: dict[str, Decimal] = field(default_factory=dict)


def summarize_raw(warehouse: Warehouse) -> list[AccountSummary]:
    engine = warehouse.engine(read_only=True)
    summaries: dict[tuple[str, str], AccountSummary] = {}

    def summary(platform: str, account_id: str) -> AccountSummary:
        return summaries.setdefault((platform, account_id), AccountSummary(platform, account_id))

    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            for platform, metrics in _COUNTS.items():
                schema = f"raw_{platform}"
                counts: dict[tuple[str, str], int] = defaultdict(int)
                for metric, table, where in metrics:
                    if not inspector.has_table(table, schema=schema):
                        continue
                    query = sa.text(
                        f"select account_id, count(*) from {schema}.{table} "  # noqa: S608 - fixed names
                        f"where {where} group by 1"
                    )
                    for account_id, count in connection.execute(query):
                        counts[(account_id, metric)] = int(count)
                        summary(platform, account_id)
                for (account_id, metric), count in counts.items():
                    summary(platform, account_id).counts[metric] = count
                if inspector.has_table("orders", schema=schema):
                    for account_id, currency, total in connection.execute(
                        sa.text(_GROSS[platform])
                    ):
                        if currency is None or total is None:
                            continue
                        amount = (
                            minor_to_decimal(int(total), currency)
                            if platform == "eventbrite"
                            else Decimal(total)
                        )
                        summary(platform, account_id).gross[currency] = amount
    finally:
        engine.dispose()
    return sorted(summaries.values(), key=lambda s: (s.platform, s.account_id))


@dataclass
class SalesSummary:
    platform: str
    account_id: str
    currency: str
    orders: int
    tickets_sold: int
    gross: Decimal
    refunded: Decimal
    net: Decimal


def summarize_sales(warehouse: Warehouse) -> list[SalesSummary]:
    """Per account and currency, from the ``marts.ticket_sales`` mart dbt built."""
    query = sa.text(
        "select platform, account_id, currency, count(distinct order_id), "
        "sum(quantity - quantity_refunded), sum(gross_amount), sum(refunded_amount), "
        "sum(net_amount) from marts.ticket_sales group by 1, 2, 3 order by 1, 2, 3"
    )
    engine = warehouse.engine(read_only=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    finally:
        engine.dispose()
    return [
        SalesSummary(
            platform,
            account,
            currency,
            int(orders),
            int(sold or 0),
            Decimal(gross or 0),
            Decimal(refunded or 0),
            Decimal(net or 0),
        )
        for platform, account, currency, orders, sold, gross, refunded, net in rows
    ]
