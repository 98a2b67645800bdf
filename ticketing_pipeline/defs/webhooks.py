"""Dagster side of webhooks: a sensor over the landing area and the job that loads batches.

The sensor's cursor remembers which files it already asked a run to load, so a file is
requested once; the run moves each file to ``processed/`` or ``failed/``. A file still in
``incoming/`` long after it was requested (its run failed: platform or warehouse down) is
requested again, under a new run key. Run keys are derived from the batch's file names and that
attempt number, so a sensor restart that re-evaluates a tick never launches a batch twice.
"""

import hashlib
import json
import time

import dagster as dg

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.defs.ingest import WAREHOUSE_WRITER_POOL
from ticketing_pipeline.sources.landed import load_landed
from ticketing_pipeline.warehouse import RAW_SCHEMAS, Warehouse
from ticketing_pipeline.webhooks.landing import LandingArea

BATCH_SIZE = 500
# processed/ keeps loaded deliveries so a redelivery is recognised; after this long they go.
PROCESSED_RETENTION_DAYS = 14
RETRY_AFTER_SECONDS = 600
SENSOR_INTERVAL_SECONDS = 15


class WebhookBatchConfig(dg.Config):
    """The landed files (names in ``incoming/``) this run loads."""

    files: list[str]


def build_webhook_defs(project: ProjectConfig, warehouse: Warehouse) -> dg.Definitions:
    area = LandingArea.for_data_dir(project.data_dir)

    @dg.op(
        pool=WAREHOUSE_WRITER_POOL,
        description="Load a batch of landed webhook deliveries into the raw tables.",
    )
    def load_webhook_batch(context: dg.OpExecutionContext, config: WebhookBatchConfig):
        paths = [area.incoming / name for name in config.files]
        result = load_landed(project, warehouse, area, paths)
        for (platform, account_id, table), rows in sorted(result.rows.items()):
            yield dg.AssetMaterialization(
                asset_key=dg.AssetKey([RAW_SCHEMAS[platform], table]),
                partition=account_id,
                metadata={"rows_loaded": rows, "ingested_via": "webhook"},
            )
        context.log.info(
            f"loaded {len(result.loaded)} deliveries, {len(result.failed)} failed, "
            f"{len(result.retry)} to retry, {result.skipped_stale} stale records skipped"
        )
        for path, reason in result.failed.items():
            context.log.warning(f"{path.name}: moved to failed/: {reason}")
        if result.retry:
            # The distinct reasons (a platform down, the warehouse file held by a reader...) in
            # the message itself, where an operator reads first; per file in the metadata.
            reasons = sorted(set(result.retry.values()))
            raise dg.Failure(
                description=f"{len(result.retry)} deliveries could not be loaded now and stay in "
                "incoming/ to be retried: " + "; ".join(reasons[:5]),
                metadata={path.name: reason for path, reason in result.retry.items()},
            )
        yield dg.Output(len(result.loaded))

    @dg.job(description="Load landed webhook deliveries (launched by the sensor).")
    def webhook_load_job():
        load_webhook_batch()

    @dg.sensor(
        job=webhook_load_job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts a load for each batch of new files in the webhook landing area.",
    )
    def landed_webhooks_sensor(context: dg.SensorEvaluationContext):
        requested = json.loads(context.cursor) if context.cursor else {}
        run_requests, requested = plan_batches(area, requested, time.time())
        context.update_cursor(json.dumps(requested, sort_keys=True))
        if not run_requests:
            return dg.SkipReason("no new webhook deliveries")
        return run_requests

    @dg.op(description="Delete processed deliveries older than the retention period.")
    def prune_processed_deliveries(context: dg.OpExecutionContext) -> int:
        removed = area.prune_processed(PROCESSED_RETENTION_DAYS * 86_400)
        context.log.info(f"removed {removed} processed deliveries")
        return removed

    @dg.job(description="Housekeeping of the webhook landing area.")
    def prune_landing_job():
        prune_processed_deliveries()

    prune_schedule = dg.ScheduleDefinition(
        name="prune_landing_daily",
        job=prune_landing_job,
        cron_schedule="15 4 * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(
        jobs=[webhook_load_job, prune_landing_job],
        sensors=[landed_webhooks_sensor],
        schedules=[prune_schedule],
    )


def plan_batches(
    area: LandingArea, requested: dict[str, list], now: float
) -> tuple[list[dg.RunRequest], dict[str, list]]:
    """Run requests for files not yet requested (or requested too long ago), and the new cursor.

    ``requested`` maps a file name to ``[requested_at, attempt]``.
    """
    incoming = {file.name: file for file in area.list_incoming()}
    # Files that left incoming/ were processed or failed: forget them.
    requested = {name: state for name, state in requested.items() if name in incoming}
    due = [
        name
        for name in incoming
        if name not in requested or now - requested[name][0] > RETRY_AFTER_SECONDS
    ]
    due.sort(key=lambda name: (incoming[name].received_ns, name))
    run_requests = []
    for start in range(0, len(due), BATCH_SIZE):
        batch = due[start : start + BATCH_SIZE]
        attempt = max(requested.get(name, [0, 0])[1] for name in batch) + 1
        digest = hashlib.sha256("\n".join(sorted(batch)).encode()).hexdigest()[:24]
        run_requests.append(
            dg.RunRequest(
                run_key=f"webhooks-{digest}-{attempt}",
                run_config={"ops": {"load_webhook_batch": {"config": {"files": batch}}}},
                tags={"webhook_batch": digest, "attempt": str(attempt)},
            )
        )
        for name in batch:
            requested[name] = [now, attempt]
    return run_requests, requested
