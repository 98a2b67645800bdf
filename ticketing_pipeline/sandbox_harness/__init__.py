"""The sandbox harness: the pipeline run against the local sandbox, in one place.

Start the sandbox, derive the project config of its accounts (secrets in the environment),
sync, build the marts: ``ticketing demo``, the tests, the benchmarks and the dashboard's fixtures
all do it through here, so only this package knows the sequence. It sits beside the pipeline:
it uses the sandbox, the config, the sync runner and the dbt runner, and nothing of the
dashboard, the Gigs feed or the Dagster definitions.

- ``config``: the accounts, the project config and its TOML, for a running sandbox
  (:func:`sandbox_config`) or a URL to come (``ticketing sandbox serve --write-config``,
  ``ticketing up``).
- ``pipeline``: :func:`sandbox_pipeline`, a block with the sandbox running and its secrets
  set (``run.sync()``, ``run.build()``), and :func:`build_sandbox_warehouse` on top of it.

    with sandbox_pipeline(SandboxSpec(orders=2_000), data_dir) as run:
        run.sync()
        run.build()  # dbt build, as production runs it
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ticketing_pipeline.sandbox_harness.config import (
    SANDBOX_SYNC,
    RunningSandbox,
    SandboxAccountLike,
    SandboxConfig,
    render_toml,
    sandbox_accounts,
    sandbox_base_urls,
    sandbox_config,
    sandbox_project_config,
    secret_env_name,
    webhook_env_name,
)

if TYPE_CHECKING:
    from ticketing_pipeline.sandbox_harness.pipeline import (
        SandboxRun,
        SandboxSyncError,
        build_sandbox_warehouse,
        environment_set,
        forecast_vars,
        sandbox_now,
        sandbox_pipeline,
    )

# Imported on first use: they bring dlt and the dbt runner, which the config writers
# (`ticketing up`, `ticketing sandbox serve --write-config`) should not wait for.
_PIPELINE_NAMES = {
    "SandboxRun",
    "SandboxSyncError",
    "build_sandbox_warehouse",
    "environment_set",
    "forecast_vars",
    "sandbox_now",
    "sandbox_pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _PIPELINE_NAMES:
        module = importlib.import_module("ticketing_pipeline.sandbox_harness.pipeline")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SANDBOX_SYNC",
    "RunningSandbox",
    "SandboxAccountLike",
    "SandboxConfig",
    "SandboxRun",
    "SandboxSyncError",
    "build_sandbox_warehouse",
    "environment_set",
    "forecast_vars",
    "render_toml",
    "sandbox_accounts",
    "sandbox_base_urls",
    "sandbox_config",
    "sandbox_now",
    "sandbox_pipeline",
    "sandbox_project_config",
    "secret_env_name",
    "webhook_env_name",
]
