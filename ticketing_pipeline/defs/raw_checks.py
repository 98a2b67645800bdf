"""Asset checks on the raw tables: values the platform sent that no column could hold.

The sources never drop a bad value or a bad record silently (``sources/shaping.py``): a value
that does not fit its column leaves the cell null and is kept in the row's ``invalid_fields``
(JSON ``{"<dotted field>": {"value": ..., "error": ...}}``), and a record that cannot be merged
(no key, no cursor) is kept whole in the schema's ``rejected_records`` table. One check per raw
table asset fails while any of its rows has an invalid field or any of its records was rejected,
and says which table, field and how many rows, per account, so the data team sees it where it
looks (the asset's checks tab) instead of finding nulls in the marts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import dagster as dg

from ticketing_pipeline.defs.transform_checks import MAX_LISTED
from ticketing_pipeline.ingest.reports import invalid_field_counts, rejected_record_counts
from ticketing_pipeline.warehouse import Warehouse

RAW_QUALITY_CHECK = "no_invalid_fields_or_rejected_records"


def raw_table_quality(warehouse: Warehouse, schema: str, table: str) -> dict[str, Any]:
    """Invalid fields and rejected records of one raw table, read (read-only) from the
    warehouse. ``recorded`` is False while the warehouse has neither (loaded before they existed,
    or not loaded yet)."""

    def read() -> tuple[dict | None, dict | None]:
        with warehouse.connect(read_only=True) as connection:
            return (
                invalid_field_counts(connection, schema, table),
                rejected_record_counts(connection, schema, table_name=table),
            )

    # A writer outside Dagster (the CLI sync) may hold the DuckDB file for a while.
    invalid, rejected = warehouse.retry_while_locked(read)
    return {
        "recorded": invalid is not None or rejected is not None,
        "invalid": invalid or {},  # (account, field) -> rows
        "rejected": rejected or {},  # (account, table, reason) -> records
    }


def quality_check_result(schema: str, table: str, quality: dict[str, Any]) -> dg.AssetCheckResult:
    invalid: dict[tuple[str, str], int] = quality["invalid"]
    rejected: dict[tuple[str, str, str], int] = quality["rejected"]
    by_field: dict[str, int] = defaultdict(int)
    for (_, field), rows in invalid.items():
        by_field[field] += rows
    by_reason: dict[str, int] = defaultdict(int)
    for (_, _, reason), records in rejected.items():
        by_reason[reason] += records
    lines = [
        f"{schema}.{table} field {field}: invalid on {rows:,} row(s) of account {account}"
        for (account, field), rows in sorted(invalid.items())
    ] + [
        f"{schema}.{table}: {records:,} record(s) of account {account} rejected: {reason}"
        for (account, _, reason), records in sorted(rejected.items())
    ]
    failed = bool(invalid or rejected)
    if failed:
        shown = "\n".join(f"- {line}" for line in lines[:MAX_LISTED])
        more = len(lines) - MAX_LISTED
        description = (
            f"{schema}.{table}: {sum(invalid.values()):,} invalid field value(s), "
            f"{sum(rejected.values()):,} rejected record(s):\n{shown}"
            + (f"\n- ... and {more} more" if more > 0 else "")
        )
    elif quality["recorded"]:
        description = f"{schema}.{table}: no invalid fields, no rejected records."
    else:
        description = (
            f"{schema}.{table}: nothing recorded yet (no invalid_fields column, no "
            "rejected_records table): loaded before they existed, or not loaded."
        )
    return dg.AssetCheckResult(
        passed=not failed,
        description=description,
        metadata={
            "table": f"{schema}.{table}",
            "invalid_values": sum(invalid.values()),
            "invalid_fields": dg.MetadataValue.json(dict(sorted(by_field.items()))),
            "invalid_by_account_and_field": dg.MetadataValue.json(
                {f"{account} {field}": rows for (account, field), rows in sorted(invalid.items())}
            ),
            "rejected_records": sum(rejected.values()),
            "rejected_reasons": dg.MetadataValue.json(dict(sorted(by_reason.items()))),
            "recorded": quality["recorded"],
        },
    )


def build_raw_quality_checks(
    warehouse: Warehouse, keys: Iterable[dg.AssetKey], pool: str | None = None
) -> list[dg.AssetChecksDefinition]:
    """One check per raw table asset (keys ``raw_<platform>/<table>``)."""
    return [_raw_quality_check(warehouse, key, pool) for key in keys]


def _raw_quality_check(
    warehouse: Warehouse, key: dg.AssetKey, pool: str | None
) -> dg.AssetChecksDefinition:
    schema, table = key.path

    @dg.asset_check(
        asset=key,
        name=RAW_QUALITY_CHECK,
        description=(
            f"No row of {schema}.{table} holds a value its column could not take "
            "(invalid_fields) and none of its records was set aside (rejected_records); "
            "names the fields and counts per account when some did."
        ),
        pool=pool,
    )
    def check() -> dg.AssetCheckResult:
        return quality_check_result(schema, table, raw_table_quality(warehouse, schema, table))

    return check
