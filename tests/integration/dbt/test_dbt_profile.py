"""The dbt profile comes from the warehouse URL: DuckDB file or PostgreSQL parts, password only
in dbt's secret variable, and dbt connects with it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ticketing_pipeline.config import ConfigError, ProjectConfig, WarehouseConfig
from ticketing_pipeline.transform.dbt import (
    DBT_PROJECT_DIR,
    PG_PASSWORD_ENV,
    dbt_executable,
    dbt_profile_env,
    dbt_profile_environment,
    dbt_subprocess_env,
    dbt_target,
)
from ticketing_pipeline.warehouse import Warehouse, resolve_warehouse


def _warehouse(url: str, data_dir: Path = Path("/srv/data")) -> Warehouse:
    return resolve_warehouse(ProjectConfig(data_dir=data_dir, warehouse=WarehouseConfig(url=url)))


def test_duckdb_profile_points_at_the_warehouse_file(tmp_path: Path) -> None:
    warehouse = _warehouse("duckdb:///wh/main.duckdb", tmp_path)
    env = dbt_profile_env(warehouse)
    assert dbt_target(warehouse) == "duckdb"
    assert env["TICKETING_DBT_TARGET"] == "duckdb"
    assert env["TICKETING_DBT_DUCKDB_PATH"] == str(tmp_path / "wh" / "main.duckdb")
    assert PG_PASSWORD_ENV not in env


def test_postgres_profile_parts_and_password_only_in_the_secret_variable() -> None:
    warehouse = _warehouse("postgresql://analyst:s3cr%40t@db.internal:6543/tickets?sslmode=require")
    env = dbt_profile_env(warehouse)
    assert dbt_target(warehouse) == "postgres"
    assert env["TICKETING_DBT_PG_HOST"] == "db.internal"
    assert env["TICKETING_DBT_PG_PORT"] == "6543"
    assert env["TICKETING_DBT_PG_USER"] == "analyst"
    assert env["TICKETING_DBT_PG_DBNAME"] == "tickets"
    assert env["TICKETING_DBT_PG_SSLMODE"] == "require"
    # Percent-decoded, and nowhere but in the variable dbt scrubs from its logs.
    assert env[PG_PASSWORD_ENV] == "s3cr@t"
    others = {name: value for name, value in env.items() if name != PG_PASSWORD_ENV}
    assert not any("s3cr" in value for value in others.values())
    assert PG_PASSWORD_ENV.startswith("DBT_ENV_SECRET_")
    assert "s3cr" not in warehouse.display


def test_postgres_url_without_database_is_refused() -> None:
    with pytest.raises(ConfigError, match="database"):
        dbt_profile_env(_warehouse("postgresql://postgres@localhost:5432"))


def test_profile_environment_is_restored(tmp_path: Path) -> None:
    before = os.environ.get("TICKETING_DBT_TARGET")
    with dbt_profile_environment(_warehouse("duckdb:///a.duckdb", tmp_path), extra={"X_T": "1"}):
        assert os.environ["TICKETING_DBT_TARGET"] == "duckdb"
        assert os.environ["X_T"] == "1"
    assert os.environ.get("TICKETING_DBT_TARGET") == before
    assert "X_T" not in os.environ


@pytest.mark.postgres
@pytest.mark.xdist_group("dbt_profile")
def test_dbt_debug_connects_with_the_derived_profiles(tmp_path: Path, postgres_url: str) -> None:
    for url in (f"duckdb:///{tmp_path / 'debug.duckdb'}", postgres_url):
        warehouse = _warehouse(url, tmp_path)
        done = subprocess.run(
            [
                dbt_executable(),
                "--no-use-colors",
                "debug",
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--log-path",
                str(tmp_path),
            ],
            cwd=DBT_PROJECT_DIR,
            env=dbt_subprocess_env(warehouse),
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-3000:]
        assert "Connection test: [OK" in output, output[-3000:]
