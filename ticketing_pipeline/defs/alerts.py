"""Dagster sensors that tell a person when something fails (see ``ticketing_pipeline/alerts.py``).

- ``run_failure_alerts`` (``@dg.run_failure_sensor``): a failed run, with its job, the account
  (the run's partition) and the error.
- ``check_failure_alerts``: reads ``ASSET_CHECK_EVALUATION`` events (reconciliation, raw
  quality, silent-loss and dbt test checks) and ``FRESHNESS_STATE_CHANGE`` events (the assets'
  freshness policies) from the instance's event log after its cursor. It alerts when a check
  (per asset, check and partition) goes from passing or unknown to failing, and once when it
  passes again; a check that keeps failing on every evaluation is not re-announced. The cursor
  holds the event-log positions and each check's last state.
- ``stale_account_alerts``: an enabled account whose last successful sync (the sync log in the
  warehouse) is older than ``[alerts] stale_after_hours``, or whose syncs have only failed;
  once when it becomes stale and once when it recovers.

Every sensor runs by default and alerts from the tick that sees the change, whatever channels
are configured; with none, the alert goes only to the tick's log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange
from dagster._core.events import DagsterEventType

from ticketing_pipeline.alerts import Alert, AlertDeliveryError, AlertNotifier
from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.warehouse import Warehouse

RUN_FAILURE_SENSOR = "run_failure_alerts"
CHECK_SENSOR = "check_failure_alerts"
STALE_SENSOR = "stale_account_alerts"
EVENTS_PER_TICK = 500
# Metadata entries of this project's checks that list the accounts or events concerned.
_ACCOUNT_METADATA = (
    "events_out_of_tolerance",  # ["platform/account/event", ...]
    "silent_accounts",
    "failing_accounts",
    "invalid_by_account_and_field",  # {"account field": rows}
)


@dataclass(frozen=True)
class CheckState:
    key: str
    failed: bool
    alert: Alert | None


def build_alert_defs(
    config: ProjectConfig,
    warehouse: Warehouse,
    notifier: AlertNotifier | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dg.Definitions:
    notifier = notifier or AlertNotifier.from_project(config)
    return dg.Definitions(
        sensors=[
            build_run_failure_sensor(notifier),
            build_check_sensor(notifier),
            build_stale_account_sensor(config, warehouse, notifier, clock),
        ]
    )


def _deliver(context: Any, notifier: AlertNotifier, alert: Alert) -> None:
    channels = notifier.send(alert)
    where = ", ".join(channels) if channels else "no channel configured ([alerts] in the config)"
    context.log.info(f"alert ({where}): {notifier.redact(alert.text())}")


def build_run_failure_sensor(notifier: AlertNotifier) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Sends an alert for every failed run: job, account (partition), error.",
    )
    def run_failure_alerts(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        partition = run.tags.get("dagster/partition")
        error = context.failure_event.message or ""
        step_errors = [
            _root_cause(event.event_specific_data.error)
            for event in context.get_step_failure_events()
            if getattr(event.event_specific_data, "error", None) is not None
        ]
        if not step_errors:
            # A run that failed before any step (its code did not load, its process died)
            # carries the cause on an engine event.
            step_errors = [
                _root_cause(record.dagster_event.event_specific_data.error)
                for record in context.instance.all_logs(
                    run.run_id, of_type=DagsterEventType.ENGINE_EVENT
                )
                if record.dagster_event is not None
                and getattr(record.dagster_event.event_specific_data, "error", None) is not None
            ]
        detail = "\n".join([error, *step_errors[:2]])
        _deliver(
            context,
            notifier,
            Alert(
                event="run failed",
                subject=f"job {run.job_name} (run {run.run_id[:8]})",
                accounts=(partition,) if partition else (),
                detail=detail,
            ),
        )

    return run_failure_alerts


def _root_cause(error: Any) -> str:
    """The innermost error's message (what went wrong), without Dagster's wrappers or the
    stack trace: ``RuntimeError: ...``."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip()


def accounts_named(metadata: dict[str, Any], partition: str | None) -> tuple[str, ...]:
    """The accounts (or account/event paths) a check's metadata names, and its partition."""
    named: list[str] = [partition] if partition else []
    for key in _ACCOUNT_METADATA:
        value = metadata.get(key)
        value = getattr(value, "value", value)  # MetadataValue -> its data
        if isinstance(value, dict):
            named.extend(str(k).split(" ", 1)[0] for k in value)
        elif isinstance(value, list | tuple):
            named.extend(str(item) for item in value)
    return tuple(dict.fromkeys(named))


def _check_state(evaluation: dg.AssetCheckEvaluation) -> CheckState:
    asset = evaluation.asset_key.to_user_string()
    partition = getattr(evaluation, "partition", None)
    key = f"{asset}:{evaluation.check_name}" + (f"[{partition}]" if partition else "")
    severity = evaluation.severity.value if evaluation.severity else "ERROR"
    accounts = accounts_named(dict(evaluation.metadata or {}), partition)
    alert = Alert(
        event="asset check failed" if not evaluation.passed else "asset check passes again",
        subject=f"{evaluation.check_name} on {asset} ({severity})",
        accounts=accounts,
        detail=evaluation.description or "",
    )
    return CheckState(key, not evaluation.passed, alert)


def _freshness_state(change: FreshnessStateChange) -> CheckState:
    asset = change.key.to_user_string()
    failed = change.new_state in (FreshnessState.FAIL, FreshnessState.WARN)
    # Raw assets are keyed per table, their data per account: no single account to name.
    alert = Alert(
        event="asset stale" if failed else "asset fresh again",
        subject=f"freshness of {asset}: {change.new_state.value}",
        detail=f"was {change.previous_state.value}",
    )
    return CheckState(f"{asset}:freshness", failed, alert)


def _records(instance: dg.DagsterInstance, event_type: DagsterEventType, after: int | None):
    # The storage's query (the instance's wrapper of it is deprecated in Dagster 1.13).
    return instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=event_type, after_cursor=after),
        limit=EVENTS_PER_TICK,
        ascending=True,
    )


def transitions(
    states: Iterable[CheckState], known: dict[str, bool]
) -> tuple[list[Alert], dict[str, bool]]:
    """The alerts due for these evaluations, in order: a change of state only, where an
    unknown check counts as passing (a first passing evaluation is not news)."""
    known = dict(known)
    alerts = []
    for state in states:
        if known.get(state.key, False) != state.failed and state.alert is not None:
            alerts.append(state.alert)
        known[state.key] = state.failed
    return alerts, known


def build_check_sensor(notifier: AlertNotifier) -> dg.SensorDefinition:
    @dg.sensor(
        name=CHECK_SENSOR,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Alerts when an asset check (reconciliation, raw quality, silent loss, dbt tests) "
            "starts failing or an asset's freshness fails, and when it recovers; once per "
            "change of state."
        ),
    )
    def check_failure_alerts(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        cursor = json.loads(context.cursor) if context.cursor else {}
        known: dict[str, bool] = cursor.get("known", {})
        read = sent = 0
        # Each kind keeps its own position: a state change is an order within one kind.
        for name, event_type, to_state in (
            ("checks_after", DagsterEventType.ASSET_CHECK_EVALUATION, _check_state),
            ("freshness_after", DagsterEventType.FRESHNESS_STATE_CHANGE, _freshness_state),
        ):
            for record in _records(context.instance, event_type, cursor.get(name)):
                data = record.event_log_entry.get_dagster_event().event_specific_data
                alerts, updated = transitions([to_state(data)], known)
                for alert in alerts:
                    try:
                        _deliver(context, notifier, alert)
                    except AlertDeliveryError as error:
                        # Keep what was announced so far; this one is retried next tick.
                        context.log.error(str(error))
                        context.update_cursor(json.dumps({**cursor, "known": known}))
                        return dg.SkipReason(f"{sent} alert(s) sent; then {error}")
                    sent += 1
                known = updated
                read += 1
                cursor = {**cursor, name: record.storage_id}
        context.update_cursor(json.dumps({**cursor, "known": known}, sort_keys=True))
        return dg.SkipReason(f"{read} evaluation(s) read, {sent} alert(s) sent")

    return check_failure_alerts


def stale_accounts(
    config: ProjectConfig, warehouse: Warehouse, now: datetime
) -> dict[str, str | None]:
    """Per enabled account key: why it is stale, or None when it is not."""
    from ticketing_pipeline.operations.accounts_check import human_age, latest_sync_runs

    limit = timedelta(hours=config.alerts.stale_after_hours)
    runs = latest_sync_runs(warehouse)
    verdicts: dict[str, str | None] = {}
    for account in config.enabled_accounts():
        last, last_ok = runs.get(account.key, (None, None))
        if last is None:
            verdicts[account.key] = None  # never synced yet: a new account, not a stale one
        elif last_ok is None:
            verdicts[account.key] = f"no sync has succeeded; the last one failed: {last.error}"
        elif now - last_ok.finished_at > limit:
            verdicts[account.key] = (
                f"last successful sync {human_age(now - last_ok.finished_at)} ago "
                f"(more than {config.alerts.stale_after_hours:g} h)"
                + (f"; the last sync failed: {last.error}" if last.status != "succeeded" else "")
            )
        else:
            verdicts[account.key] = None
    return verdicts


def build_stale_account_sensor(
    config: ProjectConfig,
    warehouse: Warehouse,
    notifier: AlertNotifier,
    clock: Callable[[], datetime],
) -> dg.SensorDefinition:
    @dg.sensor(
        name=STALE_SENSOR,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Alerts when an enabled account has had no successful sync for "
            "[alerts] stale_after_hours, and when it syncs again; once per change."
        ),
    )
    def stale_account_alerts(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        known: dict[str, bool] = json.loads(context.cursor) if context.cursor else {}
        verdicts = stale_accounts(config, warehouse, clock())
        sent = 0
        for key, why in verdicts.items():
            stale = why is not None
            if known.get(key, False) != stale:
                account = config.account_by_key(key)
                alert = Alert(
                    event="account stale" if stale else "account syncing again",
                    subject=f"{key} ({account.display_name})",
                    accounts=(key,),
                    detail=why or "a sync succeeded",
                )
                try:
                    _deliver(context, notifier, alert)
                except AlertDeliveryError as error:
                    # Keep what was announced so far; this one is retried next tick.
                    context.log.error(str(error))
                    return dg.SkipReason(f"{sent} alert(s) sent; then {error}")
                sent += 1
            known[key] = stale
            context.update_cursor(json.dumps(known, sort_keys=True))
        return dg.SkipReason(f"{len(verdicts)} account(s) checked, {sent} alert(s) sent")

    return stale_account_alerts
