"""Run the dbt CLI outside Dagster (the demo, sandbox warehouses for tests and benchmarks).

Same project, profile and environment as the Dagster dbt assets, so the marts built here are the
ones production builds; and the same lock policy: a dbt run that meets a DuckDB file held by a
reader is started again, within the warehouse's bounded wait.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.dbt_profile import DBT_PROJECT_DIR, dbt_subprocess_env
from ticketing_pipeline.defs.transform import dbt_env, dbt_executable
from ticketing_pipeline.warehouse import WarehouseLockedError, is_lock_conflict, resolve_warehouse

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
    warehouse = resolve_warehouse(config)
    environment = {**dbt_subprocess_env(warehouse, threads=4), **dbt_env(config)}

    def attempt() -> str:
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
            raise DbtCommandError(f"dbt {' '.join(args)} failed:\n{_failure_excerpt(output)}")
        return output

    try:
        return warehouse.retry_while_locked(attempt)
    except WarehouseLockedError as error:
        raise DbtCommandError(f"dbt {' '.join(args)} failed: {error}") from error


def _failure_excerpt(output: str) -> str:
    """The tail of dbt's output, led by DuckDB's lock message if the tail lacks it (the lock
    policy recognises a held file by that message)."""
    tail = output[-4000:]
    if is_lock_conflict(Exception(output)) and not is_lock_conflict(Exception(tail)):
        lines = output.splitlines()
        lock_line = next((line for line in lines if is_lock_conflict(Exception(line))), "")
        return f"{lock_line}\n...\n{tail}"
    return tail
