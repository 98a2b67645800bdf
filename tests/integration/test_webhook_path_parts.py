"""The parts of the fast webhook path: batches merge behind a waiting run, the dbt selection
follows the touched raw tables, dbt's per-invocation target folders are pruned."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg

from tests.integration.test_webhook_load import land
from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.definitions import build_definitions
from ticketing_pipeline.defs.webhooks import WEBHOOK_JOB
from ticketing_pipeline.transform.dbt import (
    DBT_PROJECT_DIR,
    TARGET_DIR_RETENTION_SECONDS,
    dbt_selection_for_raw_tables,
    prune_dbt_target_dirs,
)
from ticketing_pipeline.webhooks.landing import LandingArea


def _files(request: dg.RunRequest) -> list[str]:
    return request.run_config["ops"]["load_webhook_batch"]["config"]["files"]


def test_deliveries_wait_behind_a_queued_run_then_go_in_one_run(tmp_path: Path) -> None:
    config = ProjectConfig(data_dir=tmp_path)
    defs = build_definitions(config)
    sensor = defs.get_sensor_def("landed_webhooks_sensor")
    job = defs.resolve_job_def(WEBHOOK_JOB)
    area = LandingArea.for_data_dir(tmp_path)

    def tick(instance: dg.DagsterInstance, cursor: str | None):
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
        result = sensor.evaluate_tick(context)
        return result, context.cursor

    with dg.instance_for_test() as instance:
        land(area, "humanitix", "a", "first", "relay", {"type": "x", "data": {}})
        result, cursor = tick(instance, None)
        [first] = result.run_requests
        assert _files(first) == [next(iter(area.list_incoming())).name]
        # The run has not started yet (queued, or its process starting); more deliveries land.
        queued = instance.create_run_for_job(
            job_def=job, run_config=first.run_config, status=dg.DagsterRunStatus.NOT_STARTED
        )
        for n in range(3):
            land(area, "eventbrite", "b", f"later-{n}", "webhook", {"x": n})
        for _ in range(2):  # ticks while it waits launch nothing and request nothing
            result, cursor = tick(instance, cursor)
            assert result.run_requests == [] and result.skip_message
        assert set(json.loads(cursor)) == {_files(first)[0]}
        # Once it is no longer waiting, every new delivery goes in ONE run.
        instance.report_run_canceled(queued)
        result, cursor = tick(instance, cursor)
        [merged] = result.run_requests
        later = {f.name for f in area.list_incoming()} - set(_files(first))
        assert set(_files(merged)) == later and len(later) == 3
        assert job.tags["dagster/priority"] == "10"  # ahead of syncs and automation builds


def test_dbt_selection_covers_declared_sources_only() -> None:
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    selection = dbt_selection_for_raw_tables(
        manifest,
        [
            ("raw_humanitix", "orders"),
            ("raw_eventbrite", "attendees"),
            ("raw_humanitix", "orders"),
            ("raw_humanitix", "_dlt_loads"),  # dlt bookkeeping: feeds no model
        ],
    )
    assert selection == ["@source:raw_eventbrite.attendees", "@source:raw_humanitix.orders"]
    assert dbt_selection_for_raw_tables(manifest, [("raw_humanitix", "_dlt_loads")]) == []


def test_old_invocation_folders_are_pruned_and_the_shared_artifacts_kept(tmp_path: Path) -> None:
    target = tmp_path / "target"
    old = target / "ticketing_dbt-1a2b3c4-5d6e7f8"
    recent = target / "load_webhook_batch-0a1b2c3-4d5e6f7"
    for folder in (old, recent):
        folder.mkdir(parents=True)
        (folder / "run_results.json").write_text("{}")
    (target / "manifest.json").write_text("{}")
    (target / "compiled").mkdir()
    long_ago = time.time() - TARGET_DIR_RETENTION_SECONDS - 60
    for path in (old, target / "compiled", target / "manifest.json"):
        os.utime(path, (long_ago, long_ago))

    assert prune_dbt_target_dirs(target) == 1
    assert not old.exists()
    assert (
        recent.exists() and (target / "manifest.json").exists() and (target / "compiled").exists()
    )
    assert prune_dbt_target_dirs(tmp_path / "absent") == 0
