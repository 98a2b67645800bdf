"""Run the pipeline on the sandbox: start it, derive the config, sync, build the marts.

One sequence for everything that needs a warehouse loaded from the sandbox (``ticketing demo``,
the tests, the benchmarks, the dashboard's fixtures): it goes through the same sync runner and
the same dbt command line as production, with the sandbox's secrets in the environment only
while the block runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ticketing_pipeline.config import AccountConfig, ProjectConfig, environment_set
from ticketing_pipeline.ingest.sync import AccountSyncResult, sync_accounts
from ticketing_pipeline.sandbox import SandboxDataset, SandboxServer, SandboxSpec
from ticketing_pipeline.sandbox_harness.config import sandbox_config
from ticketing_pipeline.transform.dbt import PRODUCTION_BUILD, run_dbt


class SandboxSyncError(RuntimeError):
    """An account of the sandbox failed to sync; the message names each with its error."""


@dataclass(frozen=True)
class SandboxRun:
    """The running sandbox and the config of its accounts, inside :func:`sandbox_pipeline`."""

    server: SandboxServer
    config: ProjectConfig
    secrets: dict[str, str]

    def sync(
        self, accounts: Iterable[AccountConfig] | None = None, check: bool = True
    ) -> list[AccountSyncResult]:
        """Sync every enabled account (or ``accounts``); with ``check``, raise
        :class:`SandboxSyncError` if any failed (the sandbox has no reason to fail)."""
        results = sync_accounts(self.config, accounts)
        failures = [f"{r.account.key}: {r.error}" for r in results if not r.ok]
        if check and failures:
            raise SandboxSyncError(f"sandbox sync failed: {failures}")
        return results

    def build(self, args: Sequence[str] = PRODUCTION_BUILD, target_path: Path | None = None) -> str:
        """``dbt <args>`` (the production build by default) on the config's warehouse; its
        artifacts in ``data_dir/dbt_target`` unless told. Raises ``DbtCommandError``."""
        target = target_path or self.config.data_dir / "dbt_target"
        return run_dbt(self.config, list(args), target)


@contextmanager
def sandbox_pipeline(
    sandbox: SandboxServer | SandboxSpec | SandboxDataset,
    data_dir: Path,
    warehouse_url: str | None = None,
    **sync_overrides: Any,
) -> Iterator[SandboxRun]:
    """The pipeline pointed at a sandbox for the block: ``run.config``, ``run.sync()``,
    ``run.build()``.

    ``sandbox`` is a running server (left running), or the spec or data set of one started
    for the block (start a ``SandboxServer`` yourself for its other options: cache, latency).
    The accounts' secrets are set in this process's environment for the block, then restored.
    ``warehouse_url`` and ``sync_overrides``: see
    :func:`~ticketing_pipeline.sandbox_harness.config.sandbox_config`.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if isinstance(sandbox, SandboxServer):
            server = sandbox
        else:
            server = stack.enter_context(SandboxServer(sandbox))
        config, secrets = sandbox_config(server, data_dir, warehouse_url, **sync_overrides)
        stack.enter_context(environment_set(secrets))
        yield SandboxRun(server, config, secrets)


def build_sandbox_warehouse(
    sandbox: SandboxServer | SandboxSpec | SandboxDataset,
    data_dir: Path,
    warehouse_url: str | None = None,
) -> ProjectConfig:
    """A warehouse with real marts from the sandbox: sync every account into ``warehouse_url``
    (the DuckDB file ``data_dir/warehouse.duckdb`` by default) and ``dbt run`` the models with
    the forecast as of the sandbox clock; returns the project config pointing at it.

    The URL is absolute, so a config file written from the result (``render_toml``) finds the
    warehouse from any directory. Raises :class:`SandboxSyncError` or ``DbtCommandError``.
    """
    url = warehouse_url or f"duckdb:///{data_dir.resolve() / 'warehouse.duckdb'}"
    with sandbox_pipeline(sandbox, data_dir, url) as run:
        run.sync()
        run.build(["run", "--vars", forecast_vars(run.server)])
    return run.config


def sandbox_now(server: SandboxServer) -> datetime:
    """The sandbox clock (its data's "now": the anchor, or the latest mutation)."""
    return datetime.fromtimestamp(server.dataset.now_ms / 1000, UTC)


def forecast_vars(server: SandboxServer) -> str:
    """dbt ``--vars`` making the sell-out forecast as of the sandbox clock: its data has no
    sales after it, so a forecast as of the wall clock would find every session ended."""
    return json.dumps({"forecast_as_of": sandbox_now(server).isoformat()})
