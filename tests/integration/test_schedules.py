"""Every schedule and sensor of the Dagster definitions evaluates the way the daemon does it, and
the runs they request succeed against the sandbox and load rows.

(The daemon refused every tick of the ingest schedules while their several run requests had no
run keys; ``evaluate_tick`` applies the same rule.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import orjson
import pytest

from tests.integration.ingest_helpers import config_for, rows
from tests.integration.test_webhook_load import land
from ticketing_pipeline.definitions import build_definitions
from ticketing_pipeline.defs.loss_checks import LOSS_CHECKS_JOB
from ticketing_pipeline.defs.transform import AUTOMATION_SENSOR, FULL_BUILD_JOB, mart_key
from ticketing_pipeline.defs.webhooks import PROCESSED_RETENTION_DAYS
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sources.http import parse_json_exact
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import LandingArea

pytestmark = pytest.mark.xdist_group("dbt_dagster")

SCHEDULES = {
    "humanitix_incremental_sync",
    "humanitix_daily_lookback_sync",
    "eventbrite_incremental_sync",
    "eventbrite_daily_lookback_sync",
    "dbt_daily_full_build",
    "prune_landing_daily",
    "silent_loss_checks_schedule",
}
SENSORS = {"landed_webhooks_sensor", AUTOMATION_SENSOR}
TICK = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)
RAW_ORDERS = {"humanitix": "raw_humanitix.orders", "eventbrite": "raw_eventbrite.orders"}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    spec = SandboxSpec(
        seed=5, orders=300, humanitix_accounts=2, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as running:
        yield running


def evaluate(
    schedule: dg.ScheduleDefinition, instance: dg.DagsterInstance, repository, tick: datetime
) -> list[dg.RunRequest]:
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick, repository_def=repository
    )
    data = schedule.evaluate_tick(context)
    assert data.skip_message is None, (schedule.name, data.skip_message)
    assert data.run_requests, schedule.name
    return list(data.run_requests)


def run(job: dg.JobDefinition, request: dg.RunRequest, instance) -> dg.ExecuteInProcessResult:
    dg.validate_run_config(job, request.run_config)
    return job.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        partition_key=request.partition_key,
        tags=request.tags,
    )


def only_dbt_data_tests_failed(result: dg.ExecuteInProcessResult) -> bool:
    """The build ran, and what failed is a dbt data test on the data (the marts' own tests
    cover those; dbt then skips the models downstream), not the run itself."""
    failures = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    return bool(failures) and all("Failure in test" in error.message for error in failures)


def test_every_schedule_and_sensor_ticks_and_its_runs_load(
    server, tmp_path: Path, monkeypatch
) -> None:
    config = config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None)
    warehouse = resolve_warehouse(config)
    repository = build_definitions(config).get_repository_def()
    schedules = {s.name: s for s in repository.schedule_defs}
    sensors = {s.name: s for s in repository.sensor_defs}
    assert set(schedules) >= SCHEDULES
    assert set(sensors) >= SENSORS
    truth = server.dataset.truth()

    with dg.instance_for_test() as instance:
        requested = {
            name: evaluate(schedule, instance, repository, TICK)
            for name, schedule in schedules.items()
        }

        # The automation sensor's first tick, before any data: the baseline it compares with.
        automation_selection = sensors[AUTOMATION_SENSOR].asset_selection
        assets = list(repository.assets_defs_by_key.values())
        baseline = dg.evaluate_automation_conditions(
            defs=assets, instance=instance, asset_selection=automation_selection
        )

        # Ingest: one run per account partition and tick, each with its own run key.
        for platform in ("humanitix", "eventbrite"):
            accounts = sorted(
                a.account_id for a in config.enabled_accounts() if a.platform.value == platform
            )
            for kind in ("incremental_sync", "daily_lookback_sync"):
                name = f"{platform}_{kind}"
                requests = requested[name]
                assert sorted(r.partition_key for r in requests) == accounts, name
                keys = {r.run_key for r in requests}
                assert None not in keys and len(keys) == len(requests), name
                later = evaluate(
                    schedules[name], instance, repository, TICK + timedelta(minutes=15)
                )
                assert keys.isdisjoint(r.run_key for r in later), "a new tick, new runs"

            # Every incremental run (so every account is loaded), then one look-back run.
            job = repository.get_job(schedules[f"{platform}_incremental_sync"].job_name)
            for request in requested[f"{platform}_incremental_sync"]:
                result = run(job, request, instance)
                assert result.success
                loaded = {
                    tuple(m.asset_key.path): m.metadata
                    for m in result.asset_materializations_for_node(f"{platform}_ingest")
                }
                expected = truth[(platform, request.partition_key)].orders
                orders_key = tuple(RAW_ORDERS[platform].split("."))
                assert loaded[orders_key]["rows_loaded"].value == expected
            lookback = requested[f"{platform}_daily_lookback_sync"][0]
            assert lookback.run_config["ops"]  # the look-back days travel in the run config
            assert run(job, lookback, instance).success
            counts = dict(
                rows(
                    warehouse, f"select account_id, count(*) from {RAW_ORDERS[platform]} group by 1"
                )
            )
            assert counts == {a: truth[(platform, a)].orders for a in accounts}

        # The automation sensor asks for the staging models of the freshly loaded raw tables.
        automation = dg.evaluate_automation_conditions(
            defs=assets,
            instance=instance,
            asset_selection=automation_selection,
            cursor=baseline.cursor,
        )
        requested_models = {
            r.key.path[-1] for r in automation.results if automation.get_num_requested(r.key)
        }
        assert {"stg_humanitix__orders", "stg_eventbrite__orders"} <= requested_models

        # The daily full build: every mart built from the loaded rows.
        [build] = requested["dbt_daily_full_build"]
        result = repository.get_job(FULL_BUILD_JOB).execute_in_process(
            run_config=build.run_config, instance=instance, raise_on_error=False
        )
        assert result.success or only_dbt_data_tests_failed(result)
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        assert mart_key("ticket_sales") in materialized
        [(orders,)] = rows(warehouse, "select count(distinct order_id) from marts.ticket_sales")
        assert orders > 0

        # The silent-loss checks run in their own job on the built staging models (the
        # sandbox's events ended long before the wall clock: nothing on sale, so they pass).
        [loss] = requested["silent_loss_checks_schedule"]
        result = repository.get_job(LOSS_CHECKS_JOB).execute_in_process(
            run_config=loss.run_config, instance=instance
        )
        evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert evaluations == {
            "orders_keep_arriving_humanitix": True,
            "orders_keep_arriving_eventbrite": True,
        }

        # From then on, a new load makes the automation sensor rebuild the marts themselves.
        settled = dg.evaluate_automation_conditions(
            defs=assets,
            instance=instance,
            asset_selection=automation_selection,
            cursor=automation.cursor,
        )
        [request, *_] = evaluate(
            schedules["humanitix_incremental_sync"], instance, repository, TICK + timedelta(hours=1)
        )
        job = repository.get_job(schedules["humanitix_incremental_sync"].job_name)
        assert run(job, request, instance).success
        automation = dg.evaluate_automation_conditions(
            defs=assets,
            instance=instance,
            asset_selection=automation_selection,
            cursor=settled.cursor,
        )
        assert automation.get_num_requested(mart_key("ticket_sales")) == 1

        # The webhook sensor: a landed delivery becomes one keyed run that loads it; the next
        # tick finds nothing new.
        area = LandingArea.for_data_dir(config.data_dir)
        hx_account = next(a for a in config.accounts if a.platform.value == "humanitix")
        event = next(
            e
            for e in server.dataset.hx_events.values()
            if e.account_id == hx_account.account_id and e.orders
        )
        order = parse_json_exact(next(iter(event.orders.values())))
        record = {**order, "updatedAt": "2031-01-02T00:00:00.000Z", "firstName": "FromSensor"}
        body = orjson.loads(orjson.dumps({"type": "order.updated", "data": record}, default=str))
        land(area, "humanitix", hx_account.account_id, "sensor-1", "relay", body)
        sensor = sensors["landed_webhooks_sensor"]
        context = dg.build_sensor_context(instance=instance, repository_def=repository)
        [request] = sensor.evaluate_tick(context).run_requests
        assert request.run_key
        result = run(repository.get_job(sensor.job_name), request, instance)
        assert result.success
        assert rows(
            warehouse,
            "select first_name, ingested_via from raw_humanitix.orders "
            f"where order_id = '{order['_id']}'",
        ) == [("FromSensor", "webhook")]
        context = dg.build_sensor_context(
            instance=instance, repository_def=repository, cursor=context.cursor
        )
        assert not sensor.evaluate_tick(context).run_requests

        # Landing housekeeping: a processed delivery past the retention period is removed.
        [processed] = area.list_folder("processed")
        old = time.time() - (PROCESSED_RETENTION_DAYS + 1) * 86_400
        os.utime(processed.path, (old, old))
        [prune] = requested["prune_landing_daily"]
        result = run(repository.get_job(schedules["prune_landing_daily"].job_name), prune, instance)
        assert result.success
        assert result.output_for_node("prune_processed_deliveries") == 1
        assert not area.list_folder("processed")

        # Any other schedule defined (added by other features): its tick evaluated above; one
        # of its runs must succeed too.
        for name in sorted(set(schedules) - SCHEDULES):
            job = repository.get_job(schedules[name].job_name)
            assert run(job, requested[name][0], instance).success, name
        for name in sorted(set(sensors) - SENSORS):
            context = dg.build_sensor_context(instance=instance, repository_def=repository)
            requests = sensors[name].evaluate_tick(context).run_requests
            if requests and sensors[name].has_jobs:
                job = repository.get_job(sensors[name].job_name)
                assert run(job, requests[0], instance).success, name
