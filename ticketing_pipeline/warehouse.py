"""The warehouse, chosen by one URL: a DuckDB file (default) or a PostgreSQL database.

Everything that talks to the warehouse (dlt loads, dbt, checks, the dashboard) derives its
connection from this one object, so there is no second place to configure it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from ticketing_pipeline.config import ConfigError, ProjectConfig

# Raw tables land in one schema per platform; dbt builds the rest beside them.
RAW_SCHEMAS = {"humanitix": "raw_humanitix", "eventbrite": "raw_eventbrite"}


class WarehouseKind(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"


@dataclass(frozen=True)
class Warehouse:
    kind: WarehouseKind
    # For DuckDB, the database file; for PostgreSQL, the libpq URL (may hold a password).
    duckdb_path: Path | None = None
    postgres_url: str | None = None

    @property
    def display(self) -> str:
        """A description safe to print: never the password."""
        if self.kind is WarehouseKind.DUCKDB:
            return f"duckdb:{self.duckdb_path}"
        parts = urlsplit(self.postgres_url or "")
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        return f"postgresql://{parts.username or ''}@{host}{port}{parts.path}"

    def dlt_destination(self):  # -> dlt Destination; imported lazily to keep CLI start-up fast
        import dlt

        if self.kind is WarehouseKind.DUCKDB:
            assert self.duckdb_path is not None
            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            return dlt.destinations.duckdb(credentials=str(self.duckdb_path))
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        credentials = PostgresCredentials(self.postgres_url)
        if credentials.password is None:
            # dlt insists on a password; libpq servers with trust, peer or .pgpass need none.
            credentials.password = os.environ.get("PGPASSWORD", "")
        return dlt.destinations.postgres(credentials=credentials)

    def sqlalchemy_url(self) -> str:
        if self.kind is WarehouseKind.DUCKDB:
            return f"duckdb:///{self.duckdb_path}"
        assert self.postgres_url is not None
        return "postgresql+psycopg2://" + self.postgres_url.split("://", 1)[1]

    def engine(self, read_only: bool = False) -> sa.Engine:
        """A SQLAlchemy engine. On DuckDB, read_only avoids taking the single-writer lock."""
        if self.kind is WarehouseKind.DUCKDB:
            args = {"read_only": True} if read_only else {}
            return sa.create_engine(
                self.sqlalchemy_url(), connect_args=args, poolclass=sa.pool.NullPool
            )
        return sa.create_engine(self.sqlalchemy_url(), pool_pre_ping=True)


def resolve_warehouse(config: ProjectConfig) -> Warehouse:
    url = config.warehouse.url.strip()
    scheme = url.split(":", 1)[0].lower()
    if scheme == "duckdb":
        rest = url[len("duckdb:") :]
        if not rest.startswith("///"):
            raise ConfigError(
                f"warehouse url '{url}': use duckdb:///relative/file.duckdb "
                "(under the data directory) or duckdb:////absolute/file.duckdb"
            )
        path = Path(rest[3:])
        if not path.is_absolute():
            path = config.data_dir / path
        return Warehouse(kind=WarehouseKind.DUCKDB, duckdb_path=path)
    if scheme in {"postgres", "postgresql"} or scheme.startswith("postgresql+"):
        return Warehouse(
            kind=WarehouseKind.POSTGRES, postgres_url="postgresql://" + url.split("://", 1)[1]
        )
    raise ConfigError(
        f"warehouse url must start with duckdb:/// or postgresql://, got scheme '{scheme}'"
    )
