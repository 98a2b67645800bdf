"""Run the platform sources into the warehouse: one dlt pipeline (state, cursors) per account.

Used by the CLI and the benchmarks directly, and by the Dagster assets through dagster-dlt. One
account failing never stops or zeroes the others: each runs in its own pipeline and its error
is reported with the account's name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import dlt
import sqlalchemy as sa
from dlt.common.pipeline import LoadInfo
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.pipeline.pipeline import Pipeline

from ticketing_pipeline.config import AccountConfig, Platform, ProjectConfig, SyncConfig
from ticketing_pipeline.sources.eventbrite.source import eventbrite_source
from ticketing_pipeline.sources.humanitix.source import humanitix_source
from ticketing_pipeline.warehouse import RAW_SCHEMAS, Warehouse, WarehouseKind, resolve_warehouse


def pipeline_name(account: AccountConfig) -> str:
    return "ticketing_" + re.sub(r"[^a-z0-9_]", "_", account.key.lower())


def build_source(account: AccountConfig, sync: SyncConfig) -> DltSource:
    if account.platform is Platform.HUMANITIX:
        return humanitix_source(account, sync)
    return eventbrite_source(account, sync)


def lookback_sync(sync: SyncConfig, days: int) -> SyncConfig:
    """Settings of the daily look-back: re-read ``days`` of changes on every event, old or not."""
    lookback = max(sync.lookback_seconds, days * 86_400)
    return sync.model_copy(update={"lookback_seconds": lookback, "skip_events_ended_days": None})


def build_pipeline(account: AccountConfig, warehouse: Warehouse, data_dir: Path) -> Pipeline:
    """The account's own pipeline; its state is also kept in the warehouse (restored from it)."""
    return dlt.pipeline(
        pipeline_name=pipeline_name(account),
        destination=warehouse.dlt_destination(),
        dataset_name=RAW_SCHEMAS[account.platform.value],
        pipelines_dir=str(data_dir / "dlt"),
    )


def loader_file_format(warehouse: Warehouse) -> str:
    # Arrow tables load as parquet into DuckDB; PostgreSQL takes them fastest through COPY (csv).
    return "parquet" if warehouse.kind is WarehouseKind.DUCKDB else "csv"


@dataclass
class AccountSyncResult:
    account: AccountConfig
    ok: bool
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def sync_account(
    config: ProjectConfig, account: AccountConfig, warehouse: Warehouse | None = None
) -> AccountSyncResult:
    """Sync one account; never raises for the account's own failures, it reports them."""
    warehouse = warehouse or resolve_warehouse(config)
    started = time.perf_counter()
    source = build_source(account, config.sync)
    try:
        pipeline = build_pipeline(account, warehouse, config.data_dir)
        run_pipeline(pipeline, source, warehouse)
    except Exception as error:  # noqa: BLE001 - reported per account, see the module docstring
        message = describe_failure(error)
        record_sync(warehouse, account, None, error=message)
        return AccountSyncResult(
            account=account, ok=False, seconds=time.perf_counter() - started, error=message
        )
    record_sync(warehouse, account, pipeline)
    rows = dict(pipeline.last_trace.last_normalize_info.row_counts)
    return AccountSyncResult(
        account=account,
        ok=True,
        seconds=time.perf_counter() - started,
        rows={t: n for t, n in rows.items() if not t.startswith("_dlt")},
    )


SYNC_LOG_SCHEMA = "ticketing_ops"
SYNC_LOG_TABLE = "sync_runs"


def _sync_log(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        SYNC_LOG_TABLE,
        metadata,
        sa.Column("platform", sa.String, nullable=False),
        sa.Column("account_id", sa.String, nullable=False),
        sa.Column("pipeline_name", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_loaded", sa.BigInteger, nullable=False),
        sa.Column("error", sa.Text),
        schema=SYNC_LOG_SCHEMA,
    )


def record_sync(
    warehouse: Warehouse,
    account: AccountConfig,
    pipeline: Pipeline | None,
    error: str | None = None,
) -> None:
    """Append the outcome of a sync to ``ticketing_ops.sync_runs`` (feeds ticket_platforms)."""
    rows = 0
    if pipeline is not None and error is None and pipeline.last_trace:
        counts = pipeline.last_trace.last_normalize_info.row_counts
        rows = sum(n for table, n in counts.items() if not table.startswith("_dlt"))
    engine = warehouse.engine()
    try:
        retry_while_locked(lambda: _append_sync_log(engine, account, rows, error))
    finally:
        engine.dispose()


def _append_sync_log(
    engine: sa.Engine, account: AccountConfig, rows: int, error: str | None
) -> None:
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(SYNC_LOG_SCHEMA, if_not_exists=True))
        table = _sync_log(sa.MetaData())
        table.create(connection, checkfirst=True)
        connection.execute(
            table.insert().values(
                platform=account.platform.value,
                account_id=account.account_id,
                pipeline_name=pipeline_name(account),
                status="failed" if error else "succeeded",
                finished_at=datetime.now(UTC),
                rows_loaded=rows,
                error=error,
            )
        )


# DuckDB lets no writer in while another process (the dashboard, a query) holds the file.
LOCK_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)
T = TypeVar("T")


def is_lock_conflict(error: BaseException) -> bool:
    text = str(error)
    return "Could not set lock on file" in text or "Conflicting lock is held" in text


def retry_while_locked(action: Callable[[], T]) -> T:
    """Run ``action``, retrying while DuckDB reports the file locked by another process."""
    for delay in (*LOCK_RETRY_DELAYS, None):
        try:
            return action()
        except Exception as error:
            if delay is None or not is_lock_conflict(error):
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")


def run_pipeline(pipeline: Pipeline, source: DltSource, warehouse: Warehouse) -> LoadInfo:
    """Extract, normalize and load; a warehouse locked by a reader delays the run, never loses
    it: before extraction the whole run is retried, after it the extracted package is loaded."""
    try:
        info = retry_while_locked(
            lambda: pipeline.run(source, loader_file_format=loader_file_format(warehouse))
        )
    except PipelineStepFailed as error:
        if error.step != "load" or not is_lock_conflict(error):
            raise
        info = retry_while_locked(pipeline.load)
    info.raise_on_failed_jobs()
    return info


def sync_accounts(
    config: ProjectConfig,
    accounts: Iterable[AccountConfig] | None = None,
    on_result: Callable[[AccountSyncResult], None] | None = None,
) -> list[AccountSyncResult]:
    """Sync each account in turn (DuckDB has one writer); failures are isolated and reported."""
    warehouse = resolve_warehouse(config)
    results = []
    for account in accounts if accounts is not None else config.enabled_accounts():
        result = sync_account(config, account, warehouse)
        results.append(result)
        if on_result:
            on_result(result)
    return results


def describe_failure(error: BaseException) -> str:
    """The meaningful message inside dlt's wrapped exceptions (they nest several deep)."""
    from ticketing_pipeline.config import ConfigError
    from ticketing_pipeline.sources.http import MalformedResponseError, PlatformAPIError
    from ticketing_pipeline.sources.shaping import SchemaDriftError

    ours = (ConfigError, PlatformAPIError, MalformedResponseError, SchemaDriftError)
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for candidate in chain:
        if isinstance(candidate, ours):
            return f"{type(candidate).__name__}: {candidate}"
    innermost = chain[-1]
    return f"{type(innermost).__name__}: {innermost}"
