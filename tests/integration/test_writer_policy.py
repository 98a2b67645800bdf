"""One writer policy: every writer of a DuckDB warehouse (the Dagster ingest, the webhook loader,
dbt through Dagster and through the CLI runner) waits for a file another process holds, within
the warehouse's bound, then fails with an error naming the file and the process holding it.

The holder is a real process with the file open read-only (what the dashboard does).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import orjson
import pytest

from tests.integration.ingest_helpers import config_for, rows
from tests.integration.test_webhook_load import land
from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.definitions import build_definitions
from ticketing_pipeline.defs.transform import FULL_BUILD_JOB
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.operations.build import build_marts
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sources.http import parse_json_exact
from ticketing_pipeline.transform.dbt import PRODUCTION_BUILD, DbtCommandError, run_dbt
from ticketing_pipeline.warehouse import (
    LOCK_WAIT_ENV,
    Warehouse,
    WarehouseKind,
    WarehouseLockedError,
    resolve_warehouse,
)
from ticketing_pipeline.webhooks.landing import LandingArea

pytestmark = pytest.mark.xdist_group("dbt_dagster")

HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""
# A reader that lets go well within the bound, and a bound far shorter than a long hold.
SHORT_HOLD, GENEROUS_WAIT = 3.0, 60.0
LONG_HOLD, SMALL_WAIT = 1800.0, 1.5  # the holder is stopped at the end of each test


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    spec = SandboxSpec(
        seed=4, orders=300, humanitix_accounts=1, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as running:
        yield running


@contextmanager
def reader_holding(path: Path, seconds: float) -> Iterator[subprocess.Popen]:
    """A separate process holding ``path`` open for ``seconds`` (stopped early on exit)."""
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "holding"
        yield reader
    finally:
        if reader.poll() is None:
            reader.terminate()
        reader.wait(timeout=30)


def synced_config(
    server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wait: float
) -> ProjectConfig:
    """A config whose warehouse exists (a first CLI sync) and waits at most ``wait`` seconds."""
    monkeypatch.setenv(LOCK_WAIT_ENV, str(wait))
    config = config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None)
    assert all(r.ok for r in sync_accounts(config))
    return config


def warehouse_at(path: Path, wait: float) -> Warehouse:
    return Warehouse(WarehouseKind.DUCKDB, duckdb_path=path, lock_wait_seconds=wait)


def step_errors(result: dg.ExecuteInProcessResult) -> list[tuple[str, str]]:
    """(class name, message) of each failed step's error and its causes, outermost first."""
    found = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None:
                found.append((error.cls_name, error.message))
                error = error.cause
    return found


def locked_error_message(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success
    errors = step_errors(result)
    # Raised as it is (ingest, dbt), or reported per delivery in a Failure (webhook loader).
    raised = [message for name, message in errors if name == "WarehouseLockedError"]
    reported = [message for name, message in errors if "WarehouseLockedError:" in message]
    return (raised or reported)[0]


def assert_names_holder(error: BaseException | str, path: Path, reader: subprocess.Popen) -> None:
    text = str(error)
    assert str(path) in text
    assert f"PID {reader.pid}" in text
    assert "gave up after waiting" in text


def test_warehouse_policy_bounds_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    warehouse = warehouse_at(path, wait=SMALL_WAIT)
    attempts = []

    def write() -> int:
        attempts.append(time.monotonic())
        with duckdb.connect(str(path)) as connection:
            return connection.execute("select 42").fetchone()[0]

    with reader_holding(path, LONG_HOLD) as reader:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError) as raised:
            warehouse.retry_while_locked(write)
        waited = time.monotonic() - started
        assert_names_holder(raised.value, path, reader)
    assert SMALL_WAIT <= waited < SMALL_WAIT + 5
    assert len(attempts) >= 2
    assert raised.value.__context__ is None  # the message stands on its own
    # The writer engine waits the same way at connect time, and succeeds once the file is free.
    with reader_holding(path, SHORT_HOLD):
        engine = warehouse_at(path, wait=GENEROUS_WAIT).engine()
        started = time.monotonic()
        with engine.connect() as connection:
            assert connection.exec_driver_sql("select 1").scalar() == 1
        engine.dispose()
    assert time.monotonic() - started > 1


def test_dagster_api_sync_waits_for_the_reader_then_fails_past_the_bound(
    server, tmp_path: Path, monkeypatch
) -> None:
    config = synced_config(server, tmp_path, monkeypatch, GENEROUS_WAIT)
    warehouse = resolve_warehouse(config)
    account_id = next(a.account_id for a in config.accounts if a.platform.value == "eventbrite")
    server.dataset.mutate(fraction=0.3, seed=5)
    truth = server.dataset.truth()[("eventbrite", account_id)]
    job = build_definitions(config).resolve_job_def("eventbrite_ingest_job")
    with dg.instance_for_test() as instance:
        with reader_holding(warehouse.duckdb_path, SHORT_HOLD):
            started = time.monotonic()
            result = job.execute_in_process(instance=instance, partition_key=account_id)
            waited = time.monotonic() - started
        assert result.success
        assert waited > 1  # it met the held file and waited for it
        assert rows(warehouse, "select count(*) from raw_eventbrite.orders") == [(truth.orders,)]

        monkeypatch.setenv(LOCK_WAIT_ENV, str(SMALL_WAIT))
        job = build_definitions(config).resolve_job_def("eventbrite_ingest_job")
        with reader_holding(warehouse.duckdb_path, LONG_HOLD) as reader:
            result = job.execute_in_process(
                instance=instance, partition_key=account_id, raise_on_error=False
            )
            assert_names_holder(locked_error_message(result), warehouse.duckdb_path, reader)


def test_webhook_load_waits_for_the_reader_then_fails_past_the_bound(
    server, tmp_path: Path, monkeypatch
) -> None:
    config = synced_config(server, tmp_path, monkeypatch, GENEROUS_WAIT)
    warehouse = resolve_warehouse(config)
    area = LandingArea.for_data_dir(config.data_dir)
    hx_account = next(a for a in config.accounts if a.platform.value == "humanitix")
    event = next(e for e in server.dataset.hx_events.values() if e.orders)
    order = parse_json_exact(next(iter(event.orders.values())))

    def relay(delivery_id: str, name: str, updated_at: str) -> str:
        record = {**order, "updatedAt": updated_at, "firstName": name}
        envelope = orjson.loads(
            orjson.dumps({"type": "order.updated", "data": record}, default=str)
        )
        path = land(area, "humanitix", hx_account.account_id, delivery_id, "relay", envelope)
        return path.name

    def first_name() -> str:
        [(value,)] = rows(
            warehouse,
            f"select first_name from raw_humanitix.orders where order_id = '{order['_id']}'",
        )
        return value

    def load(files: list[str]) -> dg.ExecuteInProcessResult:
        job = build_definitions(config).resolve_job_def("webhook_load_job")
        return job.execute_in_process(
            run_config={"ops": {"load_webhook_batch": {"config": {"files": files}}}},
            instance=instance,
            raise_on_error=False,
        )

    with dg.instance_for_test() as instance:
        batch = [relay("late", "AfterReader", "2031-01-02T00:00:00.000Z")]
        with reader_holding(warehouse.duckdb_path, SHORT_HOLD):
            started = time.monotonic()
            result = load(batch)
            waited = time.monotonic() - started
        assert result.success
        assert waited > 1
        assert first_name() == "AfterReader"
        assert area.counts()["incoming"] == 0

        monkeypatch.setenv(LOCK_WAIT_ENV, str(SMALL_WAIT))
        batch = [relay("later", "NeverLost", "2031-01-03T00:00:00.000Z")]
        with reader_holding(warehouse.duckdb_path, LONG_HOLD) as reader:
            result = load(batch)
            assert not result.success
            [failure] = [e for e in result.all_events if e.is_step_failure]
            assert_names_holder(
                failure.step_failure_data.error.message, warehouse.duckdb_path, reader
            )
        # Nothing lost: the delivery stays in incoming/ and loads on the next attempt.
        assert area.counts()["incoming"] == 1
        monkeypatch.setenv(LOCK_WAIT_ENV, str(GENEROUS_WAIT))
        assert load(batch).success
        assert first_name() == "NeverLost"
        assert area.counts()["incoming"] == 0


def test_dbt_build_waits_for_the_reader_then_fails_past_the_bound(
    server, tmp_path: Path, monkeypatch
) -> None:
    config = synced_config(server, tmp_path, monkeypatch, GENEROUS_WAIT)
    warehouse = resolve_warehouse(config)
    job = build_definitions(config).resolve_job_def(FULL_BUILD_JOB)
    with dg.instance_for_test() as instance:
        with reader_holding(warehouse.duckdb_path, SHORT_HOLD):
            started = time.monotonic()
            result = job.execute_in_process(instance=instance, raise_on_error=False)
            waited = time.monotonic() - started
        assert waited > 1
    # The build ran once the reader let go: no lock error, the models built. (Whether the
    # data tests pass is the marts' tests' business, not the lock policy's: a failing one
    # makes dbt skip the models downstream of it.)
    errors = step_errors(result)
    assert all("Failure in test" in message for _, message in errors), errors
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert {"stg_humanitix__orders", "int_order_lines", "ticket_sales"} <= materialized
    [(sales,)] = rows(warehouse, "select count(distinct order_id) from marts.ticket_sales")
    assert sales > 0

    monkeypatch.setenv(LOCK_WAIT_ENV, str(SMALL_WAIT))
    job = build_definitions(config).resolve_job_def(FULL_BUILD_JOB)
    with (
        dg.instance_for_test() as instance,
        reader_holding(warehouse.duckdb_path, LONG_HOLD) as reader,
    ):
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        assert_names_holder(locked_error_message(result), warehouse.duckdb_path, reader)
        # The CLI runner (the demo) follows the same policy.
        with pytest.raises(DbtCommandError) as raised:
            run_dbt(config, PRODUCTION_BUILD, tmp_path / "dbt_cli_target")
        assert_names_holder(raised.value, warehouse.duckdb_path, reader)
        # And so does `ticketing build`'s streaming runner.
        built = build_marts(config, target_path=tmp_path / "build_target")
        assert built.returncode != 0 and not built.nodes
        [error] = built.errors
        assert error.startswith("WarehouseLockedError: ")
        assert_names_holder(error, warehouse.duckdb_path, reader)
