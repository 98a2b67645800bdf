"""Dagster ingest assets: one asset per raw table, partitioned by account, via dagster-dlt.

Each platform's assets are one ``@dlt_assets`` definition whose partitions are that platform's
configured accounts, so every account's health, freshness and backfill are visible on its own in
the UI, and each partition runs the account's own dlt pipeline (its own state and cursors).
Raw tables are keyed ``raw_<platform>/<table>``, the same keys dagster-dbt gives dbt sources, so
the dbt models downstream join the same lineage graph.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ticketing_pipeline.config import Platform, ProjectConfig
from ticketing_pipeline.defs.raw_checks import build_raw_quality_checks
from ticketing_pipeline.ingest.sync import (
    build_pipeline,
    build_source,
    loader_file_format,
    lookback_sync,
    record_sync,
)
from ticketing_pipeline.warehouse import RAW_SCHEMAS, Warehouse

# Dagster pool that serializes every writer of the warehouse: DuckDB allows one writer at a time.
WAREHOUSE_WRITER_POOL = "warehouse_writer"

# Raw tables sync every 15 minutes: warn after an hour without a load, fail after six.
RAW_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=6), warn_window=timedelta(hours=1)
)

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
    """Keys ``raw_<platform>/<table>``, grouped per platform, with the raw freshness policy."""

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
            freshness_policy=RAW_FRESHNESS,
        )


class IngestRunConfig(dg.Config):
    """Per-run options of an ingest; the daily look-back schedule sets ``lookback_days``."""

    lookback_days: int | None = None


INCREMENTAL_CRON = "*/15 * * * *"
LOOKBACK_CRON = "30 3 * * *"


def build_ingest_defs(config: ProjectConfig, warehouse: Warehouse) -> dg.Definitions:
    """Ingest assets with their data-quality checks, a job per platform, and its two schedules
    (incremental, daily look-back)."""
    assets, checks, jobs, schedules = [], [], [], []
    for platform in Platform:
        if not config.enabled_accounts(platform):
            continue
        platform_assets = _platform_assets(config, warehouse, platform)
        # Run after each load (the job selects them with the assets): invalid fields and
        # rejected records fail them, naming table, field and counts.
        checks += build_raw_quality_checks(
            warehouse, sorted(platform_assets.keys), pool=WAREHOUSE_WRITER_POOL
        )
        job = dg.define_asset_job(
            f"{platform.value}_ingest_job",
            selection=dg.AssetSelection.assets(platform_assets),
            description=f"Sync {platform.value} accounts into raw_{platform.value}.",
        )
        assets.append(platform_assets)
        jobs.append(job)
        schedules += _schedules(config, platform, job, platform_assets.op.name)
    return dg.Definitions(assets=assets, asset_checks=checks, jobs=jobs, schedules=schedules)


def tick_run_key(context: dg.ScheduleEvaluationContext, account_id: str) -> str:
    """One run per account partition and tick: Dagster refuses a schedule's several run
    requests without run keys, and dedupes on them when a tick is retried after a crash."""
    tick = context.scheduled_execution_time or datetime.now(UTC)
    return f"{account_id}@{tick.astimezone(UTC).isoformat()}"


def _schedules(
    config: ProjectConfig, platform: Platform, job: Any, op_name: str
) -> list[dg.ScheduleDefinition]:
    account_ids = [a.account_id for a in config.enabled_accounts(platform)]
    lookback = {"ops": {op_name: {"config": {"lookback_days": config.sync.daily_lookback_days}}}}

    def per_account(
        name: str, cron: str, description: str, sync: str, run_config: dict | None = None
    ) -> dg.ScheduleDefinition:
        """A schedule asking, per tick, one run per enabled account (its partition)."""

        @dg.schedule(
            name=f"{platform.value}_{name}",
            cron_schedule=cron,
            job=job,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=description,
        )
        def schedule(context: dg.ScheduleEvaluationContext):
            for account_id in account_ids:
                yield dg.RunRequest(
                    run_key=tick_run_key(context, account_id),
                    partition_key=account_id,
                    run_config=run_config,
                    tags={"sync": sync},
                )

        return schedule

    return [
        per_account(
            "incremental_sync",
            INCREMENTAL_CRON,
            "Every 15 minutes: each account's changes since its last cursor.",
            "incremental",
        ),
        per_account(
            "daily_lookback_sync",
            LOOKBACK_CRON,
            "Daily: re-read the last days of changes to catch late refunds and edits.",
            "lookback",
            lookback,
        ),
    ]


def _platform_assets(
    project: ProjectConfig, warehouse: Warehouse, platform: Platform
) -> dg.AssetsDefinition:
    accounts = project.enabled_accounts(platform)
    # Specs come from any account's source: every account has the same tables.
    template = accounts[0]
    translator = RawTableTranslator(platform, warehouse)

    @dlt_assets(
        dlt_source=build_source(template, project.sync),
        dlt_pipeline=build_pipeline(template, warehouse, project.data_dir),
        name=f"{platform.value}_ingest",
        dagster_dlt_translator=translator,
        partitions_def=dg.StaticPartitionsDefinition([a.account_id for a in accounts]),
        pool=WAREHOUSE_WRITER_POOL,
    )
    def ingest(
        context: dg.AssetExecutionContext, dlt: DagsterDltResource, config: IngestRunConfig
    ) -> Iterator[Any]:
        account = project.account(platform, context.partition_key)
        sync = project.sync
        if config.lookback_days:
            sync = lookback_sync(sync, config.lookback_days)
        pipeline = build_pipeline(account, warehouse, project.data_dir)

        def run() -> list[Any]:
            # dagster-dlt drops the pipeline's local state first (cursors come back from the
            # warehouse), so an attempt that met a held DuckDB file starts over cleanly.
            return list(
                dlt.run(
                    context=context,
                    dlt_source=build_source(account, sync),
                    dlt_pipeline=pipeline,
                    dagster_dlt_translator=translator,
                    loader_file_format=loader_file_format(warehouse),
                )
            )

        # The warehouse's lock policy: a reader holding the DuckDB file delays the run (bounded).
        yield from warehouse.retry_while_locked(run)
        record_sync(warehouse, account, pipeline)

    return ingest
