"""Alerts reach a local incoming-webhook receiver and a local SMTP server (aiosmtpd), from the
real Dagster sensors evaluated on an ephemeral instance with Dagster's test helpers.

- a failing reconciliation check (the project's own check, on a real DuckDB file) alerts once,
  naming the account and the event; further failing evaluations do not alert again; passing
  again alerts once;
- a failed run alerts with the job and the account (its partition);
- an account whose syncs stopped succeeding alerts as stale, once;
- no secret (API key, the webhook URL's path) appears in any alert.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from aiosmtpd.controller import Controller

from ticketing_pipeline.alerts import AlertNotifier
from ticketing_pipeline.config import (
    AccountConfig,
    AlertsConfig,
    ProjectConfig,
    WarehouseConfig,
)
from ticketing_pipeline.defs.alerts import (
    build_check_sensor,
    build_run_failure_sensor,
    build_stale_account_sensor,
)
from ticketing_pipeline.defs.transform_checks import build_mart_checks
from ticketing_pipeline.ingest.sync import record_sync
from ticketing_pipeline.warehouse import resolve_warehouse

API_KEY = "hx-live-key-4f9a8b7c6d5e"
SLACK_PATH = "/services/T0001/B0002/verysecretwebhookpath"


class _Hooks(BaseHTTPRequestHandler):
    received: list[dict] = []
    failing = [False]  # answer 500 while True (a channel that is down)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        if type(self).failing[0]:
            self.send_response(500)
            self.end_headers()
            return
        type(self).received.append({"path": self.path, "json": json.loads(body)})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def hooks() -> Iterator[tuple[str, list[dict]]]:
    handler = type("Hooks", (_Hooks,), {"received": [], "failing": [False]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hooks.current_failing = handler.failing
    yield f"http://127.0.0.1:{server.server_port}{SLACK_PATH}", handler.received
    server.shutdown()


@pytest.fixture
def mailbox() -> Iterator[tuple[int, _Mailbox]]:
    box = _Mailbox()
    with socket.socket() as probe:  # aiosmtpd's readiness probe needs the real port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


@pytest.fixture
def config(tmp_path: Path, hooks, mailbox, monkeypatch) -> ProjectConfig:
    url, _ = hooks
    port, _ = mailbox
    monkeypatch.setenv("TEST_ALERTS_SLACK_URL", url)
    monkeypatch.setenv("TEST_HX_KEY", API_KEY)
    return ProjectConfig(
        data_dir=tmp_path,
        warehouse=WarehouseConfig(url="duckdb:///warehouse.duckdb"),
        accounts=[
            AccountConfig(
                platform="humanitix",
                account_id="hx-acc-1",
                display_name="Sydney Live",
                secret_env="TEST_HX_KEY",
            )
        ],
        alerts=AlertsConfig(
            slack_webhook_url_env="TEST_ALERTS_SLACK_URL",
            email_to=("ops@example.com",),
            smtp_host="127.0.0.1",
            smtp_port=port,
            stale_after_hours=1,
        ),
    )


def _write_reconciliation(path: Path, status: str) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            """
            create or replace table marts.ticket_reconciliation as
            select 'humanitix' as platform, 'hx-acc-1' as account_id, 'evt-4242' as event_id,
                   'ses-1' as session_id, 'AUD' as currency, ? as status,
                   10 as platform_tickets_sold, 9 as store_tickets_sold,
                   1 as tickets_sold_difference,
                   100.00::decimal(18,4) as platform_gross_amount,
                   90.00::decimal(18,4) as store_gross_amount,
                   10.00::decimal(18,4) as gross_amount_difference
            """,
            [status],
        )


def _reconciliation_check(warehouse) -> list[dg.AssetChecksDefinition]:
    """The project's reconciliation check alone (the other mart checks read tables this
    test's warehouse does not have)."""
    return [
        check
        for check in build_mart_checks(warehouse)
        if any(key.name == "reconciliation_within_tolerance" for key in check.check_keys)
    ]


def _run_checks(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[],
        raise_on_error=False,
    )
    evaluations = result.get_asset_check_evaluations()
    assert evaluations, "the reconciliation check did not run"


class _SensorTicks:
    """Evaluates a sensor as the daemon does: each tick starts from the cursor the last left."""

    def __init__(self, sensor, instance: dg.DagsterInstance) -> None:
        self.sensor, self.instance, self.cursor = sensor, instance, None

    def __call__(self):
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = self.sensor(context)
        self.cursor = context.cursor
        return result


def _no_secret(texts: list[str]) -> None:
    for text in texts:
        assert API_KEY not in text
        assert "verysecretwebhookpath" not in text


def test_failed_check_alerts_once_per_change_naming_account_and_event(
    config, hooks, mailbox
) -> None:
    _, posted = hooks
    _, box = mailbox
    warehouse = resolve_warehouse(config)
    notifier = AlertNotifier.from_project(config)
    sensor = build_check_sensor(notifier)
    defs = dg.Definitions(asset_checks=_reconciliation_check(warehouse))
    # The check's description repeats the account's API key: the alert must mask it.
    _write_reconciliation(warehouse.duckdb_path, f"tickets_differ {API_KEY}")
    with dg.DagsterInstance.ephemeral() as instance:
        _run_checks(defs, instance)
        tick = _SensorTicks(sensor, instance)
        tick()
        assert len(posted) == 1 and len(box.messages) == 1
        text = posted[0]["json"]["text"]
        assert posted[0]["path"] == SLACK_PATH
        assert "asset check failed" in text and "reconciliation_within_tolerance" in text
        assert "humanitix/hx-acc-1/evt-4242" in text  # the account and the event
        assert "hx-acc-1" in box.messages[0]["Subject"] or "hx-acc-1" in str(
            box.messages[0].get_payload()
        )
        assert "evt-4242" in str(box.messages[0].get_payload())
        # Still failing: evaluated again, not announced again (per state change, not per tick).
        _run_checks(defs, instance)
        tick()
        tick()
        assert len(posted) == 1 and len(box.messages) == 1
        # Fixed: one "passes again" alert.
        _write_reconciliation(warehouse.duckdb_path, "match")
        _run_checks(defs, instance)
        tick()
        assert len(posted) == 2 and "passes again" in posted[1]["json"]["text"]
        _no_secret([p["json"]["text"] for p in posted])
        _no_secret([str(m) for m in box.messages])


def test_failed_run_alerts_with_job_and_account(config, hooks, mailbox) -> None:
    _, posted = hooks

    @dg.op
    def fetch_orders() -> None:
        raise RuntimeError(f"sync failed with key {API_KEY} at /webhooks/eventbrite/1/tok3n")

    @dg.job(partitions_def=dg.StaticPartitionsDefinition(["humanitix-hx-acc-1"]))
    def sync_job() -> None:
        fetch_orders()

    sensor = build_run_failure_sensor(AlertNotifier.from_project(config))
    with dg.DagsterInstance.ephemeral() as instance:
        result = sync_job.execute_in_process(
            instance=instance, raise_on_error=False, partition_key="humanitix-hx-acc-1"
        )
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        sensor(context)
    assert len(posted) == 1
    text = posted[0]["json"]["text"]
    assert "run failed" in text and "sync_job" in text and "humanitix-hx-acc-1" in text
    assert "RuntimeError: sync failed with key ***" in text  # the step's error, masked
    assert "tok3n" not in text  # the Eventbrite webhook URL token is masked
    _no_secret([text])


def test_stale_account_alerts_once(config, hooks, mailbox) -> None:
    _, posted = hooks
    warehouse = resolve_warehouse(config)
    account = config.accounts[0]
    record_sync(warehouse, account, None, rows=5)
    clock_now = [datetime.now(UTC)]
    sensor = build_stale_account_sensor(
        config, warehouse, AlertNotifier.from_project(config), lambda: clock_now[0]
    )
    with dg.DagsterInstance.ephemeral() as instance:
        tick = _SensorTicks(sensor, instance)
        tick()
        assert posted == []  # synced just now
        clock_now[0] += timedelta(hours=2)
        tick()
        tick()
        assert len(posted) == 1
        text = posted[0]["json"]["text"]
        assert "account stale" in text and "humanitix-hx-acc-1" in text
        record_sync(warehouse, account, None, rows=1)
        clock_now[0] = datetime.now(UTC)
        tick()
        assert len(posted) == 2 and "syncing again" in posted[1]["json"]["text"]


def test_raw_quality_check_alert_names_the_account_and_field(config, hooks, mailbox) -> None:
    """The raw-quality check's own result (``quality_check_result``) as Dagster records it:
    the alert names the account and the field from the check's metadata and description."""
    from ticketing_pipeline.defs.raw_checks import RAW_QUALITY_CHECK, quality_check_result

    _, posted = hooks
    key = dg.AssetKey(["raw_humanitix", "orders"])

    @dg.asset_check(asset=key, name=RAW_QUALITY_CHECK)
    def raw_quality() -> dg.AssetCheckResult:
        return quality_check_result(
            "raw_humanitix",
            "orders",
            {
                "invalid": {("hx-acc-1", "total_amount"): 3},
                "rejected": {("hx-acc-1", "orders", "no _id"): 1},
                "recorded": True,
            },
        )

    sensor = build_check_sensor(AlertNotifier.from_project(config))
    with dg.DagsterInstance.ephemeral() as instance:
        _run_checks(dg.Definitions(asset_checks=[raw_quality]), instance)
        context = dg.build_sensor_context(instance=instance)
        sensor(context)
    assert len(posted) == 1
    text = posted[0]["json"]["text"]
    assert "Account: hx-acc-1" in text
    assert "total_amount" in text and RAW_QUALITY_CHECK in text


def test_freshness_failure_alerts_once_and_recovery_once(config, hooks, mailbox) -> None:
    """Freshness state changes as Dagster's freshness evaluation reports them (runless
    FRESHNESS_STATE_CHANGE events): FAIL alerts, a repeated FAIL does not, PASS does."""
    import time as _time

    from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

    _, posted = hooks
    key = dg.AssetKey(["marts", "ticket_sales"])
    sensor = build_check_sensor(AlertNotifier.from_project(config))

    def change(new: FreshnessState, previous: FreshnessState) -> FreshnessStateChange:
        return FreshnessStateChange(
            key=key, new_state=new, previous_state=previous, state_change_timestamp=_time.time()
        )

    with dg.DagsterInstance.ephemeral() as instance:
        tick = _SensorTicks(sensor, instance)
        instance.report_runless_asset_event(change(FreshnessState.FAIL, FreshnessState.PASS))
        tick()
        instance.report_runless_asset_event(change(FreshnessState.FAIL, FreshnessState.WARN))
        tick()
        assert len(posted) == 1
        assert "asset stale" in posted[0]["json"]["text"]
        assert "marts/ticket_sales" in posted[0]["json"]["text"]
        instance.report_runless_asset_event(change(FreshnessState.PASS, FreshnessState.FAIL))
        tick()
        assert len(posted) == 2 and "fresh again" in posted[1]["json"]["text"]


def test_a_channel_down_delays_the_alert_without_repeating_it(config, hooks, tmp_path) -> None:
    """With the only channel answering 500, the state change is kept pending (no alert lost);
    once the channel is back exactly one alert goes out, and later ticks send nothing."""
    _, posted = hooks
    failing = _Hooks.current_failing
    slack_only = config.model_copy(
        update={"alerts": config.alerts.model_copy(update={"email_to": (), "smtp_host": None})}
    )
    warehouse = resolve_warehouse(slack_only)
    sensor = build_check_sensor(AlertNotifier.from_project(slack_only))
    _write_reconciliation(warehouse.duckdb_path, "tickets_differ")
    defs = dg.Definitions(asset_checks=_reconciliation_check(warehouse))
    with dg.DagsterInstance.ephemeral() as instance:
        _run_checks(defs, instance)
        tick = _SensorTicks(sensor, instance)
        failing[0] = True
        assert "500" in str(tick().skip_message)
        assert posted == []
        failing[0] = False
        tick()
        tick()
        assert len(posted) == 1 and "evt-4242" in posted[0]["json"]["text"]
