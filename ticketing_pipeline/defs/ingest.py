"""Dagster ingest assets: one asset per raw table, partitioned by account, via dagster-dlt.

Each platform's assets are one ``@dlt_assets`` definition whose partitions are that platform's
configured accounts, so every account's health, freshness and backfill are visible on its own in
the UI, and each partition runs the account's own dlt pipeline (its own state and cursors).
Raw tables are keyed ``raw_<platform>/<table>``, the same keys dagster-dbt gives dbt sources, so
the dbt models downstream join the same lineage graph.
"""


from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ticketing_pipeline.config import Platform, ProjectConfig
from ticketing_pipeline.ingest import (
    build_pipeline,
    build_source,
    loader_file_format,
    record_sync,
)
from ticketing_pipeline.warehouse import RAW_SCHEMAS, Warehouse

# Dagster pool that serializes every writer of the warehouse: DuckDB allows one writer at a time.
WAREHOUSE_WRITER_POOL = "warehouse_writer"

TABLE_DESCRIPTIONS = {
    "events": "Events as the platform reports them (one row per event).",
    "event_dates": "Humanitix event dates: each is a session; its id is orders' eventDateId.",
    "ticket_types": "Ticket types of each event, with price and quantity.",
    "orders": "Orders, incremental on the platform's change cursor, merged on the order id.",
    "tickets": "Humanitix tickets: one row per admission (attendee record).",
    "tags": "Humanitix tags.",
    "organizations": "The Eventbrite organization of the account.",
    "venues": "Eventbrite venues of the account's events.",
    "ticket_classes": "Eventbrite ticket classes with the platform's own quantity_sold counter.",
    "attendees": "Eventbrite attendees (one per admission), from orders expanded with attendees.",
}


class RawTableTranslator(DagsterDltTranslator):
    """Keys ``raw_<platform>/<table>``, grouped per platform."""

    def __init__(self, platform: Platform, warehouse: Warehouse) -> None:
        self.platform = platform
        self.warehouse = warehouse

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        default = super().get_asset_spec(data)
        table = data.resource.table_name
        assert isinstance(table, str)
        return default.replace_attributes(
            key=dg.AssetKey([RAW_SCHEMAS[self.platform.value], table]),
            deps=[],
            group_name=f"raw_{self.platform.value}",
            kinds={"dlt", self.warehouse.kind.value, self.platform.value},
            description=TABLE_DESCRIPTIONS.get(table, f"{self.platform.value} {table}"),
        )


def build_ingest_assets(
    config: ProjectConfig, warehouse: Warehouse
) -> list[dg.AssetsDefinition]:
    assets = []
    for platform in Platform:
        accounts = config.enabled_accounts(platform)
        if accounts:
            assets.append(_platform_assets(config, warehouse, platform))
    return assets


def _platform_assets(
    config: ProjectConfig, warehouse: Warehouse, platform: Platform
) -> dg.AssetsDefinition:
    accounts = config.enabled_accounts(platform)
    # Specs come from any account's source: every account has the same tables.
    template = accounts[0]
    translator = RawTableTranslator(platform, warehouse)

    @dlt_assets(
        dlt_source=build_source(template, config.sync),
        dlt_pipeline=build_pipeline(template, warehouse, config.data_dir),
        name=f"{platform.value}_ingest",
        dagster_dlt_translator=translator,
        partitions_def=dg.StaticPartitionsDefinition([a.account_id for a in accounts]),
        pool=WAREHOUSE_WRITER_POOL,
    )
    def ingest(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        account = config.account(platform, context.partition_key)
        pipeline = build_pipeline(account, warehouse, config.data_dir)
        yield from dlt.run(
            context=context,
            dlt_source=build_source(account, config.sync),
            dlt_pipeline=pipeline,
            dagster_dlt_translator=translator,
            loader_file_format=loader_file_format(warehouse),
        )
        record_sync(warehouse, account, pipeline)

    return ingest
