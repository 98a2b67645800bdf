"""The dbt connection, derived from the same warehouse URL as the ingest (no second config).

``dbt_project/profiles.yml`` is committed and reads everything through ``env_var()``; this module
computes those variables from a :class:`~ticketing_pipeline.warehouse.Warehouse`. The PostgreSQL
password travels only in ``DBT_ENV_SECRET_TICKETING_PG_PASSWORD``: dbt scrubs ``DBT_ENV_SECRET_*``
values from its logs, and nothing here prints or writes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ticketing_pipeline.config import ConfigError
from ticketing_pipeline.warehouse import Warehouse, WarehouseKind

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
DBT_PROFILE_NAME = "ticketing"

TARGET_ENV = "TICKETING_DBT_TARGET"
DUCKDB_PATH_ENV = "TICKETING_DBT_DUCKDB_PATH"
PG_HOST_ENV = "TICKETING_DBT_PG_HOST"
PG_PORT_ENV = "TICKETING_DBT_PG_PORT"
PG_USER_ENV = "TICKETING_DBT_PG_USER"
PG_DBNAME_ENV = "TICKETING_DBT_PG_DBNAME"
PG_SSLMODE_ENV = "TICKETING_DBT_PG_SSLMODE"
PG_PASSWORD_ENV = "DBT_ENV_SECRET_TICKETING_PG_PASSWORD"
THREADS_ENV = "TICKETING_DBT_THREADS"

# Every variable this module may set, so a caller can clear stale values of another warehouse.
PROFILE_ENV_VARS = (
    TARGET_ENV,
    DUCKDB_PATH_ENV,
    PG_HOST_ENV,
    PG_PORT_ENV,
    PG_USER_ENV,
    PG_DBNAME_ENV,
    PG_SSLMODE_ENV,
    PG_PASSWORD_ENV,
)


def dbt_target(warehouse: Warehouse) -> str:
    """The profiles.yml output to use: ``duckdb`` or ``postgres``."""
    return "duckdb" if warehouse.kind is WarehouseKind.DUCKDB else "postgres"


def dbt_profile_env(warehouse: Warehouse, threads: int | None = None) -> dict[str, str]:
    """Environment variables that point the committed profiles.yml at ``warehouse``.

    Holds the password (PostgreSQL) in ``DBT_ENV_SECRET_TICKETING_PG_PASSWORD``: pass the result
    to a subprocess's environment, never print it.
    """
    env = {TARGET_ENV: dbt_target(warehouse)}
    if threads is not None:
        env[THREADS_ENV] = str(threads)
    if warehouse.kind is WarehouseKind.DUCKDB:
        assert warehouse.duckdb_path is not None
        env[DUCKDB_PATH_ENV] = str(warehouse.duckdb_path.resolve())
        return env
    parts = urlsplit(warehouse.postgres_url or "")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise ConfigError(f"warehouse url {warehouse.display}: name the database after the host")
    query = parse_qs(parts.query)
    env.update(
        {
            PG_HOST_ENV: unquote(parts.hostname or "localhost"),
            PG_PORT_ENV: str(parts.port or 5432),
            PG_USER_ENV: unquote(parts.username or os.environ.get("PGUSER", "postgres")),
            PG_DBNAME_ENV: dbname,
            PG_SSLMODE_ENV: query.get("sslmode", ["prefer"])[0],
            # libpq's own PGPASSWORD is honoured when the URL carries no password.
            PG_PASSWORD_ENV: unquote(parts.password or os.environ.get("PGPASSWORD", "")),
        }
    )
    return env


def dbt_subprocess_env(
    warehouse: Warehouse, base: Mapping[str, str] | None = None, threads: int | None = None
) -> dict[str, str]:
    """A full environment for running the ``dbt`` CLI against ``warehouse``."""
    env = {k: v for k, v in (base if base is not None else os.environ).items()}
    for name in PROFILE_ENV_VARS:
        env.pop(name, None)
    env.update(dbt_profile_env(warehouse, threads=threads))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


@contextmanager
def dbt_profile_environment(
    warehouse: Warehouse, extra: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Set the profile variables (and ``extra`` ones) in this process for the block.

    dagster-dbt's ``DbtCliResource`` starts dbt with a copy of ``os.environ``, so the dbt assets
    wrap their invocation in this; previous values are restored afterwards.
    """
    names = (*PROFILE_ENV_VARS, *(extra or {}))
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(dbt_profile_env(warehouse))
        os.environ.update(extra or {})
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
