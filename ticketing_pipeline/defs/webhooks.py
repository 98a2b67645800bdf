"""Dagster side of webhooks: a sensor over the landing area and the job that loads batches.

The job is the whole way from a landed delivery to the marts, in ONE run and one process (the
in-process executor: a step process would import the definitions again, ~15-25 s): it loads the
batch into the raw tables, then ``dbt build``s only what those raw tables feed, marts included,
then evaluates the mart checks on the marts it built. Then it takes the deliveries that landed
meanwhile, and so on, for up to ``DRAIN_SECONDS``: under steady traffic a delivery waits for at
most one load-and-build cycle, not for a new run's start (~20 s of imports) plus the queue. The
sensor ticks every 5 s and launches a run only while no webhook run is in flight, with every
delivery waiting; it takes over when a run stops (at its time bound, or with nothing left).

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
from dagster_dbt import DbtCliResource

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.defs.ingest import WAREHOUSE_WRITER_POOL
from ticketing_pipeline.defs.transform import MART_SCHEMA, stream_build_after_raw_changes
from ticketing_pipeline.defs.transform_checks import evaluate_mart_checks
from ticketing_pipeline.warehouse import RAW_SCHEMAS, Warehouse
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.loader import load_landed

BATCH_SIZE = 500
# processed/ keeps loaded deliveries so a redelivery is recognised; after this long they go.
PROCESSED_RETENTION_DAYS = 14
RETRY_AFTER_SECONDS = 600
# A delivery waits at most this long for the sensor; a tick only lists a directory.
SENSOR_INTERVAL_SECONDS = 5
WEBHOOK_JOB = "webhook_load_job"
# Webhook runs leave the queue before scheduled syncs and automation builds (higher first).
WEBHOOK_RUN_PRIORITY = "10"
# Runs not yet executing: while one of these exists, new deliveries wait to join the next run.
_WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]
# The running one takes new deliveries itself: a second run would only compete with it.
MAX_ACTIVE_WEBHOOK_RUNS = 1
# A webhook run keeps taking new deliveries this long, then ends so that scheduled syncs and
# builds waiting for the writer pool get their turn (the sensor starts the next run).
DRAIN_SECONDS = 180.0


class WebhookBatchConfig(dg.Config):
    """The landed files (names in ``incoming/``) this run loads."""

    files: list[str]
    # Build the dbt models the loaded raw tables feed (marts included) in the same run.
    transform: bool = True
    # Then take deliveries that landed meanwhile, for up to this many seconds (0: just these).
    drain_seconds: float = DRAIN_SECONDS


def build_webhook_defs(project: ProjectConfig, warehouse: Warehouse) -> dg.Definitions:
    area = LandingArea.for_data_dir(project.data_dir)

    @dg.op(
        pool=WAREHOUSE_WRITER_POOL,
        description=(
            "Load a batch of landed webhook deliveries into the raw tables, then dbt build "
            "what they feed (marts included) and run the mart checks on the rebuilt marts."
        ),
    )
    def load_webhook_batch(
        context: dg.OpExecutionContext, config: WebhookBatchConfig, dbt: DbtCliResource
    ):
        deadline = time.monotonic() + config.drain_seconds
        taken = set(config.files)
        paths = [area.incoming / name for name in config.files]
        loaded, to_retry = 0, {}
        while paths:
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
            raw_tables = {(RAW_SCHEMAS[platform], table) for platform, _, table in result.rows}
            if config.transform and raw_tables:
                yield from _build_and_check(context, dbt, raw_tables)
            loaded += len(result.loaded)
            to_retry.update(result.retry)
            if time.monotonic() >= deadline:
                break
            # What landed meanwhile; a file that must be retried is not taken again here.
            fresh = [f for f in area.list_incoming() if f.name not in taken][:BATCH_SIZE]
            taken.update(f.name for f in fresh)
            paths = [f.path for f in fresh]
        if to_retry:
            # The distinct reasons (a platform down, the warehouse file held by a reader...) in
            # the message itself, where an operator reads first; per file in the metadata.
            reasons = sorted(set(to_retry.values()))
            raise dg.Failure(
                description=f"{len(to_retry)} deliveries could not be loaded now and stay in "
                "incoming/ to be retried: " + "; ".join(reasons[:5]),
                metadata={path.name: reason for path, reason in to_retry.items()},
            )
        yield dg.Output(loaded)

    def _build_and_check(
        context: dg.OpExecutionContext, dbt: DbtCliResource, raw_tables: set[tuple[str, str]]
    ):
        built_marts = set()
        for event in stream_build_after_raw_changes(context, dbt, project, warehouse, raw_tables):
            if isinstance(event, dg.AssetMaterialization) and event.asset_key.path[0] == (
                MART_SCHEMA
            ):
                built_marts.add(event.asset_key)
            yield event
        # The mart checks read the marts just built: here, they cost 0.4 s, not a run.
        for check in evaluate_mart_checks(warehouse, built_marts):
            context.log_event(
                dg.AssetCheckEvaluation(
                    asset_key=check.asset_key,
                    check_name=check.check_name,
                    passed=check.passed,
                    metadata=check.metadata,
                    severity=check.severity,
                    description=check.description,
                )
            )

    @dg.job(
        name=WEBHOOK_JOB,
        description="Load landed webhook deliveries and rebuild what they feed (by the sensor).",
        executor_def=dg.in_process_executor,
        tags={"dagster/priority": WEBHOOK_RUN_PRIORITY},
    )
    def webhook_load_job():
        load_webhook_batch()

    @dg.sensor(
        job=webhook_load_job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts a load for each batch of new files in the webhook landing area.",
    )
    def landed_webhooks_sensor(context: dg.SensorEvaluationContext):
        active = context.instance.get_runs(
            dg.RunsFilter(job_name=WEBHOOK_JOB, statuses=[*_WAITING, dg.DagsterRunStatus.STARTED])
        )
        waiting = [run for run in active if run.status in _WAITING]
        if waiting or len(active) >= MAX_ACTIVE_WEBHOOK_RUNS:
            # New files stay unrequested and all go in one run once these move on.
            return dg.SkipReason(
                f"{len(active)} webhook load(s) in flight, {len(waiting)} not started yet"
            )
        requested = json.loads(context.cursor) if context.cursor else {}
        run_requests, requested = plan_batches(area, requested, time.time(), max_batches=1)
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
    area: LandingArea, requested: dict[str, list], now: float, max_batches: int | None = None
) -> tuple[list[dg.RunRequest], dict[str, list]]:
    """Run requests for files not yet requested (or requested too long ago), and the new cursor.

    ``requested`` maps a file name to ``[requested_at, attempt]``. With ``max_batches``, the
    oldest files go first and the rest stay unrequested for a later tick.
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
    starts = range(0, len(due), BATCH_SIZE)
    for start in starts if max_batches is None else starts[:max_batches]:
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
