"""Dagster definitions of the dbt project: models as assets, dbt tests as checks, automation.

- Every dbt model is an asset (staging, intermediate, marts) downstream of the raw tables: dbt
  sources ``raw_humanitix``/``raw_eventbrite`` get the keys ``raw_<platform>/<table>``, the very
  keys of the ingest assets, so ingest and dbt are one lineage graph.
- dbt tests are asset checks; extra checks (transform_checks.py) guard what consumers rely on:
  reconciliation within tolerance (naming the events), unique sale ids, no negative quantities,
  ISO currency codes; they run as ONE step (a step costs more to start than they take).
- Marts rebuild after new raw data (``AutomationCondition.eager()`` + an automation sensor), and
  a daily schedule runs a full ``dbt build``. Webhook loads rebuild in their own run what their
  raw tables feed (:func:`stream_build_after_raw_changes`), so the automation finds those models
  already newer than their raw inputs and launches nothing.
- dagster-dbt writes a target folder per invocation: each is removed once its events are
  streamed; one left by a failed or killed run goes after ``TARGET_DIR_RETENTION_SECONDS``.
- dbt runs in the ``warehouse_writer`` pool with the ingest: DuckDB allows a single writer; a
  build that meets the file held by a reader outside Dagster is retried under the warehouse's
  lock policy (bounded wait).
- The manifest is prepared at build/dev time (``prepare_dbt_manifest()``, or ``dagster dev``
  through ``prepare_if_dev``), so loading definitions in production does not run ``dbt parse``;
  only a manifest missing or older than the project's files is re-parsed at load.
"""

import importlib.metadata
import json
import logging
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from packaging import version

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.defs.ingest import (  # RAW_FRESHNESS: re-exported; raw assets set it
    RAW_FRESHNESS,  # noqa: F401
    WAREHOUSE_WRITER_POOL,
)
from ticketing_pipeline.defs.transform_checks import build_mart_check_step
from ticketing_pipeline.transform.dbt import (
    DBT_PROJECT_DIR,
    PRODUCTION_BUILD,
    dbt_env,
    dbt_executable,
    dbt_on_path,
    dbt_profile_environment,
    dbt_selection_for_raw_tables,
    dbt_target,
    manifest_is_stale,
    prune_dbt_target_dirs,
)
from ticketing_pipeline.warehouse import Warehouse, WarehouseKind, is_lock_conflict

log = logging.getLogger(__name__)

# dbt runs in the ingest's WAREHOUSE_WRITER_POOL: one writer of the warehouse at a time.
DBT_RESOURCE_KEY = "dbt"
DBT_ASSETS_NAME = "ticketing_dbt"
FULL_BUILD_JOB = "dbt_full_build"
FULL_BUILD_CRON = "0 4 * * *"  # after the ingest's daily look-back sync (03:30)
AUTOMATION_SENSOR = "dbt_automation_sensor"

# After a webhook batch: the models only. The data tests (~50 nodes, more than half the time)
# run in the automation's and the daily full builds; the mart checks run in the webhook run.
WEBHOOK_BUILD_ARGS = ["run"]

MART_SCHEMA = "marts"
# Marts rebuild after every load and at least daily (the full-build schedule).
MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=2)
)


def mart_key(name: str) -> dg.AssetKey:
    """The asset key of a mart, e.g. ``mart_key("ticket_sales")`` -> ``marts/ticket_sales``."""
    return dg.AssetKey([MART_SCHEMA, name])


class TicketingDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, told dbt's version instead of asking it: the stock resource runs
    ``dbt --version`` (a whole dbt start, 3-8 s on a busy machine) before each run's first
    invocation. The dbt we run is the one installed beside this interpreter, so the installed
    dbt-core's version is the answer; another executable is still asked."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version


class TicketingDbtTranslator(DagsterDbtTranslator):
    """Default keys (sources ``raw_<platform>/<table>``, models ``<schema>/<name>``), plus
    groups per layer, eager automation on models and a freshness policy on the marts."""

    def __init__(self) -> None:
        super().__init__(
            settings=DagsterDbtTranslatorSettings(
                enable_asset_checks=True, enable_duplicate_source_asset_keys=False
            )
        )

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        layer = _layer(dbt_resource_props)
        return MART_SCHEMA if layer == MART_SCHEMA else f"dbt_{layer}"

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        if dbt_resource_props["resource_type"] != "model":
            return None
        # Staging views are cheap and must pass the update on to the tables downstream.
        return dg.AutomationCondition.eager()

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "model" and _layer(props) == MART_SCHEMA:
            spec = spec.replace_attributes(freshness_policy=MART_FRESHNESS)
        return spec


def _layer(dbt_resource_props: Mapping[str, Any]) -> str:
    # fqn = ["ticketing", "staging", "humanitix", "stg_humanitix__orders"]
    fqn = dbt_resource_props.get("fqn") or []
    return fqn[1] if len(fqn) > 2 else "models"


@cache
def dbt_project(warehouse: Warehouse) -> DbtProject:
    """The project handle; ``prepare_if_dev`` re-parses only under ``dagster dev``.

    Parsing happens with the warehouse's profile, the one dbt runs with later, so that runs
    can reuse the parse (dbt re-parses everything when the profile differs).
    """
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=dbt_target(warehouse)
    )
    with dbt_profile_environment(warehouse, extra=dbt_on_path()):
        project.prepare_if_dev()
    return project


def prepare_dbt_manifest(warehouse: Warehouse | None = None) -> Path:
    """Parse the dbt project into ``target/manifest.json`` (build/CI/dev time, not at load).

    The profile is only rendered, never connected to, so no warehouse needs to be running;
    passing the production warehouse lets dbt runs reuse this parse.
    """
    warehouse = warehouse or Warehouse(WarehouseKind.DUCKDB, duckdb_path=Path("warehouse.duckdb"))
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=dbt_target(warehouse)
    )
    with dbt_profile_environment(warehouse, extra=dbt_on_path()):
        project.preparer.prepare(project)
    return project.manifest_path


def _manifest_ready(project: DbtProject, warehouse: Warehouse) -> DbtProject:
    if manifest_is_stale(project.manifest_path):
        # A checkout that skipped (or predates) the build step: parse once rather than load
        # assets that no longer match the models.
        log.warning(
            "dbt manifest %s is missing or older than the project; parsing it now (run "
            "ticketing_pipeline.defs.transform.prepare_dbt_manifest() at build time instead)",
            project.manifest_path,
        )
        with dbt_profile_environment(warehouse, extra=dbt_on_path()):
            project.preparer.prepare(project)
    return project


def build_dbt_assets(
    config: ProjectConfig, warehouse: Warehouse, project: DbtProject
) -> dg.AssetsDefinition:
    environment = dbt_env(config)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name=DBT_ASSETS_NAME,
        dagster_dbt_translator=TicketingDbtTranslator(),
        pool=WAREHOUSE_WRITER_POOL,
    )
    def ticketing_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        # DbtCliResource starts dbt with a copy of os.environ: the profile variables (derived
        # from the warehouse URL, password included) must be set around the invocation.
        prune_dbt_target_dirs(Path(project.project_dir) / "target")
        with dbt_profile_environment(warehouse, extra=environment):
            yield from stream_dbt_under_lock_policy(
                warehouse,
                lambda: dbt.cli(PRODUCTION_BUILD, context=context, raise_on_error=False),
            )

    return ticketing_dbt


def stream_dbt_under_lock_policy(
    warehouse: Warehouse, invoke: Callable[[], DbtCliInvocation]
) -> Iterator[Any]:
    """Stream the events of a dbt invocation (started with ``raise_on_error=False``); one that
    met a DuckDB file held by another process before producing any event is started again
    under the warehouse's bounded wait, then fails with ``WarehouseLockedError``.

    dbt-duckdb opens the file once, before the first node, so a held file fails the whole
    invocation up front; a failure after events were streamed is raised as it is.
    Each attempt's target folder is removed once streamed, except a failed build's (kept for
    an operator to read, pruned later by :func:`prune_dbt_target_dirs`).
    """
    wait = warehouse.lock_wait()
    while True:
        invocation = invoke()
        produced = False
        for event in invocation.stream():
            produced = True
            yield event
        error = invocation.get_error()
        locked = (
            error is not None
            and not produced
            and warehouse.kind is WarehouseKind.DUCKDB
            and is_lock_conflict(error)
        )
        if error is None or locked:
            shutil.rmtree(invocation.target_path, ignore_errors=True)
        if error is None:
            return
        if not locked:
            raise error
        wait.pause_or_give_up(str(error))


def stream_build_after_raw_changes(
    context: dg.OpExecutionContext,
    dbt: DbtCliResource,
    config: ProjectConfig,
    warehouse: Warehouse,
    raw_tables: Iterable[tuple[str, str]],
) -> Iterator[Any]:
    """``dbt run`` of the models (marts included) downstream of ``raw_tables``, from an op:
    yields the models' ``AssetMaterialization`` events.

    One invocation for staging through marts: dbt's start (~10-25 s) is paid once, not per
    layer. Nothing is run when no declared source was touched.
    """
    project = dbt_project(warehouse)
    manifest = json.loads(Path(project.manifest_path).read_text())
    selectors = dbt_selection_for_raw_tables(manifest, raw_tables)
    if not selectors:
        return
    prune_dbt_target_dirs(Path(project.project_dir) / "target")
    with dbt_profile_environment(warehouse, extra=dbt_env(config)):
        yield from stream_dbt_under_lock_policy(
            warehouse,
            lambda: dbt.cli(
                [*WEBHOOK_BUILD_ARGS, "--select", " ".join(selectors)],
                context=context,
                manifest=manifest,
                dagster_dbt_translator=TicketingDbtTranslator(),
                raise_on_error=False,
            ),
        )


def build_transform_defs(config: ProjectConfig, warehouse: Warehouse) -> dg.Definitions:
    """dbt assets and checks, mart checks, the daily full build and the automation sensor."""
    project = _manifest_ready(dbt_project(warehouse), warehouse)
    assets = build_dbt_assets(config, warehouse, project)
    checks = [build_mart_check_step(warehouse, pool=WAREHOUSE_WRITER_POOL)]
    full_build_job = dg.define_asset_job(
        FULL_BUILD_JOB,
        selection=dg.AssetSelection.assets(assets) | dg.AssetSelection.checks(*checks),
        description="dbt build of every model and test, then the mart checks.",
    )
    full_build = dg.ScheduleDefinition(
        name="dbt_daily_full_build",
        cron_schedule=FULL_BUILD_CRON,
        job=full_build_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Daily full dbt build, whatever the automation did during the day.",
    )
    automation = dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.assets(assets),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
        description="Rebuilds dbt models (marts included) after new raw data lands.",
    )
    return dg.Definitions(
        assets=[assets],
        asset_checks=checks,
        jobs=[full_build_job],
        schedules=[full_build],
        sensors=[automation],
        resources={
            DBT_RESOURCE_KEY: TicketingDbtCliResource(
                project_dir=project,
                target=dbt_target(warehouse),
                dbt_executable=dbt_executable(),
            )
        },
    )
