"""The warehouse, chosen by one URL: a DuckDB file (default) or a PostgreSQL database.

Everything that talks to the warehouse (dlt loads, dbt, checks, the dashboard) derives its
connection from this one object, so there is no second place to configure it.

It also holds the one policy every writer follows when another process holds a DuckDB file (the
dashboard, an analyst's notebook: DuckDB lets no writer in meanwhile): wait and retry, bounded by
``lock_wait_seconds`` (``TICKETING_WAREHOUSE_LOCK_WAIT_SECONDS``, default 30), then fail with a
:class:`WarehouseLockedError` naming the file and the process holding it. The CLI sync, the Dagster
ingest assets, the webhook loader and dbt runs all go through :meth:`Warehouse.retry_while_locked`
(or its writer engines, whose connections wait the same way). PostgreSQL has row locks and many
writers, so nothing waits there.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa

from ticketing_pipeline.config import ConfigError, ProjectConfig

# Raw tables land in one schema per platform; dbt builds the rest beside them.
RAW_SCHEMAS = {"humanitix": "raw_humanitix", "eventbrite": "raw_eventbrite"}


# Pauses between attempts on a held DuckDB file (the last repeats), cut to the time remaining.
LOCK_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
DEFAULT_LOCK_WAIT_SECONDS = 30.0
LOCK_WAIT_ENV = "TICKETING_WAREHOUSE_LOCK_WAIT_SECONDS"
T = TypeVar("T")

# DuckDB: 'Could not set lock on file "<path>": Conflicting lock is held in <exe> (PID <n>)...'
_LOCK_TEXTS = ("Could not set lock on file", "Conflicting lock is held")
_HOLDER = re.compile(
    r"Conflicting lock is held in (?P<exe>.+?) \(PID (?P<pid>\d+)\)(?: by user (?P<user>[^\s.]+))?"
)


class WarehouseLockedError(RuntimeError):
    """The DuckDB file stayed held by another process for longer than the writer may wait."""

    def __init__(self, database: Path | None, holder: str, waited: float, duckdb_error: str):
        self.database = database
        self.holder = holder
        self.waited = waited
        self.duckdb_error = duckdb_error
        super().__init__(
            f"the DuckDB warehouse {database or '(unknown file)'} is held by another process "
            f"({holder}); gave up after waiting {waited:.1f} s. Close that process (a dashboard, "
            f"a notebook, a duckdb shell) or raise {LOCK_WAIT_ENV}, then run again."
        )


def is_lock_conflict(error: BaseException) -> bool:
    """Whether ``error`` (or its text, e.g. a dbt log) is DuckDB refusing a held file.

    An exhausted wait (:class:`WarehouseLockedError`) is not: it must not be waited for again.
    """
    if isinstance(error, WarehouseLockedError):
        return False
    text = str(error)
    return any(marker in text for marker in _LOCK_TEXTS)


def lock_holder(error_text: str) -> str:
    """Who holds the file, as far as DuckDB's message (and /proc, for a local PID) tells."""
    match = _HOLDER.search(error_text)
    if not match:
        return "holder unknown"
    pid = match["pid"]
    described = f"PID {pid}, {match['exe']}"
    if match["user"]:
        described += f", user {match['user']}"
    # Same machine: the process's name (never its command line, which may carry a secret).
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return described
    return f"{described} ({name})" if name else described


class LockWait:
    """One writer's bounded wait on a held DuckDB file: pauses between attempts, then gives up.

    For steps that cannot be retried as a single call (a streamed dbt build); otherwise use
    :meth:`Warehouse.retry_while_locked`.
    """

    def __init__(self, database: Path | None, wait_seconds: float) -> None:
        self.database = database
        self.wait_seconds = wait_seconds
        self.started = time.monotonic()
        self.attempts = 0

    def pause_or_give_up(self, error_text: str) -> None:
        """Sleep before the next attempt, or raise :class:`WarehouseLockedError` when the
        bound is spent. Call it outside the ``except`` block so the error stands on its own."""
        waited = time.monotonic() - self.started
        remaining = self.wait_seconds - waited
        if remaining <= 0:
            raise WarehouseLockedError(self.database, lock_holder(error_text), waited, error_text)
        delay = LOCK_RETRY_DELAYS[min(self.attempts, len(LOCK_RETRY_DELAYS) - 1)]
        self.attempts += 1
        time.sleep(min(delay, remaining))


def retry_while_locked(
    action: Callable[[], T],
    database: Path | None = None,
    wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
) -> T:
    """Run ``action``, retrying while DuckDB reports ``database`` held by another process."""
    wait = LockWait(database, wait_seconds)
    while True:
        try:
            return action()
        except Exception as error:
            if not is_lock_conflict(error):
                raise
            conflict = str(error)
        wait.pause_or_give_up(conflict)


class WarehouseKind(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"


@dataclass(frozen=True)
class Warehouse:
    kind: WarehouseKind
    # For DuckDB, the database file; for PostgreSQL, the libpq URL (may hold a password).
    duckdb_path: Path | None = None
    postgres_url: str | None = None
    # How long a writer waits for a DuckDB file another process holds before it fails.
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS

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
        """A SQLAlchemy engine. On DuckDB, read_only avoids taking the single-writer lock; a
        writer engine's connections wait for a held file under the lock policy."""
        if self.kind is WarehouseKind.DUCKDB:
            args = {"read_only": True} if read_only else {}
            engine = sa.create_engine(
                self.sqlalchemy_url(), connect_args=args, poolclass=sa.pool.NullPool
            )
            if not read_only:
                sa.event.listen(engine, "do_connect", self._connect_when_free)
            return engine
        return sa.create_engine(self.sqlalchemy_url(), pool_pre_ping=True)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[sa.Connection]:
        """One connection on an engine of its own, disposed on the way out (also on error).

        The connection commits only what the block commits (SQLAlchemy's commit-as-you-go); what
        is left uncommitted is rolled back. Disposing the engine closes the DuckDB file at once,
        so a writer is never left waiting on a connection that is no longer used. ``read_only``
        as for :meth:`engine`: on DuckDB it takes no writer lock (and so does not wait for one).
        """
        engine = self.engine(read_only=read_only)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A writer connection in one transaction: committed when the block ends, rolled back if
        it raises; the engine is disposed either way (see :meth:`connect`)."""
        with self.connect() as connection, connection.begin():
            yield connection

    def _connect_when_free(
        self, dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        return self.retry_while_locked(lambda: dialect.connect(*cargs, **cparams))

    def retry_while_locked(self, action: Callable[[], T]) -> T:
        """Run a write ``action``; on DuckDB, retry it while another process holds the file, up
        to ``lock_wait_seconds``, then raise :class:`WarehouseLockedError`."""
        if self.kind is not WarehouseKind.DUCKDB:
            return action()
        return retry_while_locked(action, self.duckdb_path, self.lock_wait_seconds)

    def lock_wait(self) -> LockWait:
        """A bounded wait for a writer that retries by itself (see :class:`LockWait`)."""
        return LockWait(self.duckdb_path, self.lock_wait_seconds)


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
        return Warehouse(
            kind=WarehouseKind.DUCKDB, duckdb_path=path, lock_wait_seconds=_lock_wait_seconds()
        )
    if scheme in {"postgres", "postgresql"} or scheme.startswith("postgresql+"):
        return Warehouse(
            kind=WarehouseKind.POSTGRES, postgres_url="postgresql://" + url.split("://", 1)[1]
        )
    raise ConfigError(
        f"warehouse url must start with duckdb:/// or postgresql://, got scheme '{scheme}'"
    )


def _lock_wait_seconds() -> float:
    text = os.environ.get(LOCK_WAIT_ENV, "").strip()
    if not text:
        return DEFAULT_LOCK_WAIT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ConfigError(f"{LOCK_WAIT_ENV} must be a number of seconds >= 0, got '{text}'")
    return seconds
