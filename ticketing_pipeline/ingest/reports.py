"""What the raw tables hold, per platform and account: the demo's and the sync's closing summary,
and the data-quality counts (invalid fields, rejected records) the sync and the checks report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from ticketing_pipeline.money import minor_to_decimal
from ticketing_pipeline.warehouse import RAW_SCHEMAS, Warehouse

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
    summaries: dict[tuple[str, str], AccountSummary] = {}

    def summary(platform: str, account_id: str) -> AccountSummary:
        return summaries.setdefault((platform, account_id), AccountSummary(platform, account_id))

    with warehouse.connect(read_only=True) as connection:
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
                for account_id, currency, total in connection.execute(sa.text(_GROSS[platform])):
                    if currency is None or total is None:
                        continue
                    amount = (
                        minor_to_decimal(int(total), currency)
                        if platform == "eventbrite"
                        else Decimal(total)
                    )
                    summary(platform, account_id).gross[currency] = amount
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
    with warehouse.connect(read_only=True) as connection:
        rows = connection.execute(query).all()
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


# --- Data quality: values that did not fit their column, records that could not be merged -----

INVALID_FIELDS_COLUMN = "invalid_fields"
REJECTED_RECORDS_TABLE = "rejected_records"


def _has_column(connection: sa.Connection, schema: str, table: str, column: str) -> bool:
    # information_schema answers on both warehouses (duckdb_engine cannot reflect columns).
    query = sa.text(
        "select count(*) from information_schema.columns "
        "where table_schema = :schema and table_name = :table and column_name = :column"
    )
    found = connection.execute(query, {"schema": schema, "table": table, "column": column})
    return bool(found.scalar())


def invalid_field_counts(
    connection: sa.Connection, schema: str, table: str, account_id: str | None = None
) -> dict[tuple[str, str], int] | None:
    """Rows holding an invalid value, per (account, dotted field), in ``schema.table``.

    ``invalid_fields`` is JSON text ``{"<field>": {"value": ..., "error": ...}}``, null on a
    clean row. None when the table or the column does not exist (nothing recorded yet).
    """
    if not _has_column(connection, schema, table, INVALID_FIELDS_COLUMN):
        return None
    keys = (
        "json_object_keys(invalid_fields::json)"
        if connection.dialect.name == "postgresql"
        else "unnest(json_keys(invalid_fields::json))"
    )
    where = "invalid_fields is not null" + (" and account_id = :account" if account_id else "")
    query = sa.text(
        f"select account_id, field, count(*) from (select account_id, {keys} as field "  # noqa: S608 - fixed names
        f'from "{schema}"."{table}" where {where}) as invalid group by 1, 2 order by 1, 2'
    )
    found = connection.execute(query, {"account": account_id} if account_id else {})
    return {(account, field): int(count) for account, field, count in found}


def rejected_record_counts(
    connection: sa.Connection,
    schema: str,
    table_name: str | None = None,
    account_id: str | None = None,
    since: datetime | None = None,
) -> dict[tuple[str, str, str], int] | None:
    """Records set aside, per (account, table, reason); None when the table does not exist."""
    if not sa.inspect(connection).has_table(REJECTED_RECORDS_TABLE, schema=schema):
        return None
    conditions, parameters = ["true"], {}
    for column, value in (("table_name", table_name), ("account_id", account_id)):
        if value is not None:
            conditions.append(f"{column} = :{column}")
            parameters[column] = value
    if since is not None:
        conditions.append("rejected_at >= :since")
        parameters["since"] = since
    query = sa.text(
        f"select account_id, table_name, reason, count(*) "  # noqa: S608 - fixed names
        f'from "{schema}"."{REJECTED_RECORDS_TABLE}" where {" and ".join(conditions)} '
        "group by 1, 2, 3 order by 1, 2, 3"
    )
    found = connection.execute(query, parameters)
    return {(account, table, reason): int(n) for account, table, reason, n in found}


@dataclass
class SyncQuality:
    """What one account's sync could not load as it was received."""

    # (table, dotted field) -> rows of this sync with that field invalid
    invalid_fields: dict[tuple[str, str], int] = field(default_factory=dict)
    # (table, reason) -> records of this sync set aside in rejected_records
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)
    # False while the warehouse has neither invalid_fields columns nor rejected_records tables
    recorded: bool = False

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid_fields.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def staging_schema(schema: str) -> str:
    # dlt merges through "<dataset>_staging", whose tables it truncates before each load that
    # writes them: after a sync they hold exactly that sync's rows of the tables it loaded.
    return f"{schema}_staging"


def sync_quality(
    warehouse: Warehouse,
    platform: str,
    account_id: str,
    tables_loaded: Iterable[str],
    started: datetime,
) -> SyncQuality:
    """Invalid fields in the rows this sync loaded and records it set aside, read back from the
    warehouse right after the account's sync (``tables_loaded``: tables it wrote rows to)."""
    schema = RAW_SCHEMAS[platform]
    quality = SyncQuality()
    with warehouse.connect(read_only=True) as connection:
        for table in sorted(set(tables_loaded) - {REJECTED_RECORDS_TABLE}):
            counts = invalid_field_counts(connection, staging_schema(schema), table, account_id)
            if counts is None:
                continue
            quality.recorded = True
            for (_, field_name), n in counts.items():
                quality.invalid_fields[(table, field_name)] = n
        rejected = rejected_record_counts(connection, schema, account_id=account_id, since=started)
        if rejected is not None:
            quality.recorded = True
            for (_, table, reason), n in rejected.items():
                quality.rejected[(table, reason)] = n
    return quality
