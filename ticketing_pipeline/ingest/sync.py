"""Run the platform sources into the warehouse: one dlt pipeline (state, cursors) per account.

Used by the CLI and the benchmarks directly, and by the Dagster assets through dagster-dlt. One
account failing never stops or zeroes the others: each runs in its own pipeline and its error
is reported with the account's name.

Crash safety. A run killed at any step (extract, normalize, load, or after the load) leaves its
package in dlt's working folder. dlt's own ``run`` would then load only that package and silently
skip the new data it was given, so every run here first finishes what an earlier run left
(:func:`finish_pending_packages`, also repairing a normalize killed mid-commit), then extracts,
normalizes and loads its own package, and checks that package is committed in the warehouse's
``_dlt_loads`` before reporting success (:func:`load_new_package`). The incremental cursors
travel inside the package, so finishing it before a new extract is what keeps the raw tables
equal to those of a run that never crashed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import sqlalchemy as sa
from dlt.common.pipeline import LoadInfo
from dlt.extract.source import DltSource
from dlt.pipeline.pipeline import Pipeline

from ticketing_pipeline.config import AccountConfig, Platform, ProjectConfig, SyncConfig
from ticketing_pipeline.sources.eventbrite.source import eventbrite_source
from ticketing_pipeline.sources.humanitix.source import humanitix_source
from ticketing_pipeline.warehouse import (  # the lock policy lives with the warehouse now
    LOCK_RETRY_DELAYS,  # noqa: F401
    RAW_SCHEMAS,
    Warehouse,
    WarehouseKind,
    WarehouseLockedError,
    is_lock_conflict,  # noqa: F401
    resolve_warehouse,
    retry_while_locked,  # noqa: F401
)


def pipeline_name(account: AccountConfig, path: str | None = None) -> str:
    """``ticketing_<account>`` for the API sync; ``ticketing_<path>_<account>`` for another path
    into the same raw tables (webhook loads), which keeps its own state so the sync's cursors
    stay untouched."""
    prefix = f"ticketing_{path}_" if path else "ticketing_"
    return prefix + re.sub(r"[^a-z0-9_]", "_", account.key.lower())


def build_source(account: AccountConfig, sync: SyncConfig) -> DltSource:
    if account.platform is Platform.HUMANITIX:
        return humanitix_source(account, sync)
    return eventbrite_source(account, sync)


def lookback_sync(sync: SyncConfig, days: int) -> SyncConfig:
    """Settings of the daily look-back: re-read ``days`` of changes on every event, old or not."""
    lookback = max(sync.lookback_seconds, days * 86_400)
    return sync.model_copy(update={"lookback_seconds": lookback, "skip_events_ended_days": None})


def build_pipeline(
    account: AccountConfig, warehouse: Warehouse, data_dir: Path, path: str | None = None
) -> Pipeline:
    """The account's own pipeline (per ``path``, see :func:`pipeline_name`); its state is also
    kept in the warehouse (restored from it)."""
    return dlt.pipeline(
        pipeline_name=pipeline_name(account, path),
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
    try:
        source = build_source(account, config.sync)
        pipeline = build_pipeline(account, warehouse, config.data_dir)
        outcome = run_pipeline(pipeline, source, warehouse)
    except Exception as error:  # noqa: BLE001 - reported per account, see the module docstring
        message = describe_failure(error)
        if not isinstance(error, WarehouseLockedError):  # the log sits in the same held file
            _record_sync_quietly(warehouse, account, rows=0, error=message)
        return AccountSyncResult(
            account=account, ok=False, seconds=time.perf_counter() - started, error=message
        )
    # The data is committed; a sync log that cannot be written (the warehouse held too long) is
    # reported, and the next sync writes its own.
    log_error = _record_sync_quietly(warehouse, account, rows=sum(outcome.rows.values()))
    return AccountSyncResult(
        account=account,
        ok=log_error is None,
        seconds=time.perf_counter() - started,
        rows=outcome.rows,
        error=f"loaded, but the sync log was not written: {log_error}" if log_error else None,
    )


def _record_sync_quietly(
    warehouse: Warehouse, account: AccountConfig, rows: int, error: str | None = None
) -> str | None:
    """``record_sync``, its own failure returned rather than raised: it must not stop the
    accounts after this one."""
    try:
        record_sync(warehouse, account, None, error=error, rows=rows)
    except Exception as failure:  # noqa: BLE001 - see the docstring
        return describe_failure(failure)
    return None


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
    rows: int | None = None,
) -> None:
    """Append the outcome of a sync to ``ticketing_ops.sync_runs`` (feeds ticket_platforms).

    ``rows`` is the number of data rows the sync loaded; without it they are read from the
    pipeline's last trace, which has no normalize step when a run only finished an earlier
    run's package (then 0 is recorded rather than failing)."""
    if rows is None:
        rows = 0
        trace = pipeline.last_trace if pipeline is not None and error is None else None
        normalize_info = trace.last_normalize_info if trace is not None else None
        if normalize_info is not None:
            rows = sum(data_row_counts(normalize_info.row_counts).values())
    warehouse.retry_while_locked(lambda: _append_sync_log(warehouse, account, rows, error))


def _append_sync_log(
    warehouse: Warehouse, account: AccountConfig, rows: int, error: str | None
) -> None:
    with warehouse.begin() as connection:
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


@dataclass
class PipelineOutcome:
    """What one run committed: its own package(s), verified in the warehouse."""

    info: LoadInfo | None
    load_ids: list[str]
    # Data rows per table in this run's package(s) (dlt's bookkeeping tables left out).
    rows: dict[str, int]
    # The package an earlier, crashed run left and this run finished first (None: there was none).
    recovered: LoadInfo | None = None


class PackageNotCommitted(RuntimeError):
    """A package this run extracted is not recorded as loaded in the warehouse."""


def data_row_counts(counts: dict[str, int]) -> dict[str, int]:
    return {table: n for table, n in counts.items() if not table.startswith("_dlt")}


def _repair_interrupted_normalize(pipeline: Pipeline) -> list[str]:
    """Remove the extracted copy of packages whose normalize committed before the process died.

    Normalize renames the normalized package into the load folder, then deletes the extracted
    one. Killed between the two, the package is in both places, and every later normalize fails
    renaming onto it (``OSError: Directory not empty``). The normalized copy is complete (the
    rename is atomic), so the extracted one is only a leftover."""
    committed = set(pipeline.list_normalized_load_packages())
    committed |= set(pipeline.list_completed_load_packages())
    leftovers = [i for i in pipeline.list_extracted_load_packages() if i in committed]
    if leftovers:
        # No public API deletes one extracted package; this is the storage dlt's normalize uses.
        extracted = pipeline._get_normalize_storage().extracted_packages  # noqa: SLF001
        for load_id in leftovers:
            extracted.delete_package(load_id)
    return leftovers


def finish_pending_packages(pipeline: Pipeline, warehouse: Warehouse) -> LoadInfo | None:
    """Normalize and load whatever an earlier run of this pipeline left unfinished.

    Also brings the pipeline's state from the warehouse first (dlt's ``run`` without data), so
    the extract that follows starts from the committed cursors."""
    _repair_interrupted_normalize(pipeline)
    file_format = loader_file_format(warehouse)
    info = warehouse.retry_while_locked(lambda: pipeline.run(loader_file_format=file_format))
    if info is not None:
        info.raise_on_failed_jobs()
    if pipeline.has_pending_data:
        raise PackageNotCommitted(
            f"pipeline {pipeline.pipeline_name}: packages of an earlier run are still pending "
            f"after finishing them: {list(pipeline.list_normalized_load_packages())}"
        )
    return info


def discard_pending_packages(pipeline: Pipeline) -> bool:
    """Throw away whatever an earlier run left in this pipeline's working folder.

    For pipelines whose input is kept elsewhere until committed (landed webhook files stay in
    ``incoming/``), re-reading the input is safer than loading an old package: it was checked
    against rows that may have changed since. The pipeline keeps no cursors of its own (its
    state and schema come back from the warehouse), so its whole working folder is dropped; that
    also clears a normalize killed mid-commit."""
    _repair_interrupted_normalize(pipeline)
    if not pipeline.has_pending_data:
        return False
    pipeline.drop()
    return True


def committed_load_ids(warehouse: Warehouse, dataset: str, load_ids: list[str]) -> set[str]:
    """The packages among ``load_ids`` that dlt recorded as fully loaded (``_dlt_loads``,
    written after every table of the package was committed)."""
    if not load_ids:
        return set()
    with warehouse.connect() as connection:
        query = sa.text(
            f"select load_id from {dataset}._dlt_loads "  # noqa: S608 - our schema name
            "where status = 0 and load_id in :ids"
        ).bindparams(sa.bindparam("ids", expanding=True))
        return {str(r[0]) for r in connection.execute(query, {"ids": load_ids})}


def load_new_package(pipeline: Pipeline, data: Any, warehouse: Warehouse) -> PipelineOutcome:
    """Extract ``data`` into a package of its own, normalize and load it, and verify that this
    package (not just any) is committed in the warehouse. Call after the pending packages were
    finished or discarded: dlt then has nothing else to load."""
    if pipeline.has_pending_data:
        raise PackageNotCommitted(f"pipeline {pipeline.pipeline_name} has pending packages")
    extracted = pipeline.extract(data, loader_file_format=loader_file_format(warehouse))
    load_ids = list(extracted.loads_ids)
    normalized = pipeline.normalize()
    # A package with nothing in it (no rows, no state change) is dropped by normalize.
    to_load = [i for i in load_ids if i in set(pipeline.list_normalized_load_packages())]
    info = warehouse.retry_while_locked(pipeline.load) if to_load else None
    if info is not None:
        info.raise_on_failed_jobs()
    missing = set(to_load) - committed_load_ids(warehouse, pipeline.dataset_name, to_load)
    if missing:
        raise PackageNotCommitted(
            f"pipeline {pipeline.pipeline_name}: package(s) {sorted(missing)} are not recorded "
            "as loaded in the warehouse"
        )
    rows = data_row_counts(dict(normalized.row_counts)) if normalized is not None else {}
    return PipelineOutcome(info=info, load_ids=to_load, rows=rows)


def run_pipeline(pipeline: Pipeline, source: DltSource, warehouse: Warehouse) -> PipelineOutcome:
    """Finish what an earlier (crashed) run left, then extract, normalize and load ``source``.

    A DuckDB file held by a reader delays each warehouse step under the warehouse's lock policy
    (bounded, then ``WarehouseLockedError``) and never loses the run: a load that met the lock
    is retried with its package in place."""
    recovered = finish_pending_packages(pipeline, warehouse)
    outcome = load_new_package(pipeline, source, warehouse)
    outcome.recovered = recovered
    return outcome


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
