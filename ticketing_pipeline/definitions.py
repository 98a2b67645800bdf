"""The Dagster entry point: gathers the definitions in ``defs/`` and binds their resources.

Configuration is read once here (``ticketing.toml`` or ``TICKETING_CONFIG``); with no file the
definitions still load (no accounts, no ingest assets), so a fresh checkout opens in the UI.
"""

from __future__ import annotations

import dagster as dg
from dagster_dlt import DagsterDltResource

from ticketing_pipeline.config import ProjectConfig, load_config
from ticketing_pipeline.defs.alerts import build_alert_defs
from ticketing_pipeline.defs.ingest import WAREHOUSE_WRITER_POOL, build_ingest_defs
from ticketing_pipeline.defs.loss_checks import build_loss_defs
from ticketing_pipeline.defs.transform import build_transform_defs
from ticketing_pipeline.defs.webhooks import build_webhook_defs
from ticketing_pipeline.warehouse import resolve_warehouse


def build_definitions(config: ProjectConfig) -> dg.Definitions:
    warehouse = resolve_warehouse(config)
    return dg.Definitions.merge(
        build_ingest_defs(config, warehouse),
        build_webhook_defs(config, warehouse),
        build_transform_defs(config, warehouse),
        # Silent-loss checks (orders stop, webhooks stop covering), on their own schedule.
        build_loss_defs(config, warehouse, pool=WAREHOUSE_WRITER_POOL),
        # Failed runs, failing checks and stale accounts reach a person ([alerts]).
        build_alert_defs(config, warehouse),
        # Steps run inside their run's process: a process per step imports these definitions
        # again (~15-25 s on a busy 2-core machine) for steps that the single-writer pool
        # serializes anyway.
        dg.Definitions(resources={"dlt": DagsterDltResource()}, executor=dg.in_process_executor),
    )


defs = build_definitions(load_config())
