"""Run the dbt CLI outside Dagster (the demo, sandbox warehouses for tests and benchmarks).

Same project, profile and environment as the Dagster dbt assets, so the marts built here are the
ones production builds.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.dbt_profile import DBT_PROJECT_DIR, dbt_subprocess_env
from ticketing_pipeline.defs.transform import dbt_env, dbt_executable
from ticketing_pipeline.warehouse import resolve_warehouse

# What a production build runs: models and data tests (unit tests belong to CI).
PRODUCTION_BUILD = ["build", "--exclude-resource-type", "unit_test"]


class DbtCommandError(RuntimeError):
    """dbt exited with an error; the message carries the tail of its output."""


def run_dbt(config: ProjectConfig, args: list[str], target_path: Path) -> str:
    """Run ``dbt <args>`` on the config's warehouse; returns its output, raises on failure.

    Each caller passes its own target path so that parallel runs never share artifacts.
    """
    command = [
        dbt_executable(),
        "--no-use-colors",
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path),
    ]
    environment = {**dbt_subprocess_env(resolve_warehouse(config), threads=4), **dbt_env(config)}
    done = subprocess.run(
        command,
        cwd=DBT_PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise DbtCommandError(f"dbt {' '.join(args)} failed:\n{output[-4000:]}")
    return output
