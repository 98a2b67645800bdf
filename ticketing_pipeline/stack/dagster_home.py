"""A local Dagster home for one machine: default storage plus the warehouse writer pool limit.

DuckDB allows one writer at a time, so every asset that writes the warehouse runs in the pool
``warehouse_writer``; this instance config gives pools a limit of 1. Production uses the
repository's ``deploy/dagster.yaml`` (PostgreSQL storage) instead.
"""

from __future__ import annotations

import os
from pathlib import Path

LOCAL_DAGSTER_YAML = """\
# Local Dagster instance (written by `ticketing dagster-home`): default SQLite storage.
concurrency:
  pools:
    # warehouse_writer serializes dlt loads and dbt runs: DuckDB has a single writer.
    default_limit: 1
  runs:
    max_concurrent_runs: 4
telemetry:
  enabled: false
"""


def ensure_local_dagster_home(home: Path | None = None) -> Path:
    """Create the Dagster home (``$DAGSTER_HOME`` or ./.dagster_home) with its dagster.yaml."""
    home = home or Path(os.environ.get("DAGSTER_HOME", ".dagster_home"))
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(LOCAL_DAGSTER_YAML)
    return home
