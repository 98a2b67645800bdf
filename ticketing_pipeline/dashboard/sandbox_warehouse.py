"""A warehouse with real marts from the sandbox: sync every account, then build the dbt models.

Used by the dashboard's tests and benchmark (and handy for trying the dashboard without
accounts). dbt runs as a subprocess with the same profile and vars Dagster uses, so the marts
are the ones production builds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sandbox_harness import sandbox_accounts, sandbox_project_config
from ticketing_pipeline.transform import dbt as dbt_cli


class BuildError(RuntimeError):
    """The sync or the dbt run failed; the message carries the tail of the output."""


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def sandbox_config(server: SandboxServer, data_dir: Path, warehouse_url: str) -> ProjectConfig:
    accounts, _ = sandbox_accounts(
        server.dataset.accounts, server.humanitix_base_url, server.eventbrite_base_url
    )
    config = sandbox_project_config(accounts, data_dir, warehouse_url)
    # A local server: no point waiting on long back-offs.
    fast = {"request_backoff_factor": 0.05, "request_max_retry_delay_seconds": 2.0}
    return config.model_copy(update={"sync": config.sync.model_copy(update=fast)})


def build_sandbox_warehouse(
    server: SandboxServer, data_dir: Path, warehouse_url: str | None = None
) -> ProjectConfig:
    """Sync the running sandbox into ``warehouse_url`` (DuckDB under ``data_dir`` by default)
    and ``dbt run`` the models; returns the project config pointing at that warehouse."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = warehouse_url or f"duckdb:///{data_dir / 'warehouse.duckdb'}"
    config = sandbox_config(server, data_dir, url)
    _, secrets = sandbox_accounts(
        server.dataset.accounts, server.humanitix_base_url, server.eventbrite_base_url
    )
    with _environment(secrets):
        results = sync_accounts(config)
    failures = [f"{r.account.key}: {r.error}" for r in results if not r.ok]
    if failures:
        raise BuildError(f"sandbox sync failed: {failures}")
    run_dbt(config, ["run", "--vars", forecast_vars(server)], data_dir / "dbt_target")
    return config


def sandbox_now(server: SandboxServer) -> datetime:
    """The sandbox clock (its data's "now": the anchor, or the latest mutation)."""
    return datetime.fromtimestamp(server.dataset.now_ms / 1000, UTC)


def forecast_vars(server: SandboxServer) -> str:
    """dbt ``--vars`` making the sell-out forecast as of the sandbox clock: its data has no
    sales after it, so a forecast as of the wall clock would find every session ended."""
    return json.dumps({"forecast_as_of": sandbox_now(server).isoformat()})


def run_dbt(config: ProjectConfig, args: list[str], target_path: Path) -> str:
    """``dbt <args>`` on the config's warehouse (see ``ticketing_pipeline.transform.dbt``)."""
    try:
        return dbt_cli.run_dbt(config, args, target_path)
    except dbt_cli.DbtCommandError as error:
        raise BuildError(str(error)) from error
