"""The production Dagster instance config (deploy/dagster.yaml) on a real PostgreSQL server."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres

DEPLOY_CONFIG = Path(__file__).parents[2] / "deploy" / "dagster.yaml"


@dg.op
def count_to_three() -> int:
    return 3


@dg.job
def smoke_job():
    count_to_three()


def test_deploy_config_stores_runs_in_postgres(tmp_path: Path, monkeypatch, postgres_url: str):
    parts = urlsplit(postgres_url)
    monkeypatch.setenv("DAGSTER_PG_HOST", parts.hostname or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(parts.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_USER", parts.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", parts.password or "")
    monkeypatch.setenv("DAGSTER_PG_DB", parts.path.lstrip("/"))
    shutil.copy(DEPLOY_CONFIG, tmp_path / "dagster.yaml")

    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        result = smoke_job.execute_in_process(instance=instance)
        assert result.success and result.output_for_node("count_to_three") == 3
        run_id = result.run_id
    finally:
        instance.dispose()

    # The run is recorded in PostgreSQL itself, readable by any other Dagster process.
    engine = sa.create_engine("postgresql+psycopg2://" + postgres_url.split("://", 1)[1])
    try:
        with engine.connect() as connection:
            status = connection.execute(
                sa.text("select status from runs where run_id = :run_id"), {"run_id": run_id}
            ).scalar_one()
    finally:
        engine.dispose()
    assert status == "SUCCESS"
