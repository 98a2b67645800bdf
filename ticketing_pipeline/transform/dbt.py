"""dbt, outside Dagster: the profile, the command line, the runner and the manifest.

One module that every caller of dbt shares (the Dagster dbt assets, ``ticketing demo`` /
``ticketing build``, the sandbox harness, tests and benchmarks), so they run the same project with
the same profile and environment, and so the marts built anywhere are the ones production builds.
It imports no Dagster: running dbt from the CLI does not pay Dagster's import.

- **Profile**: ``dbt_project/profiles.yml`` is committed and reads everything through
  ``env_var()``; this module computes those variables from a
  :class:`~ticketing_pipeline.warehouse.Warehouse` (the same URL the ingest writes to). The
  PostgreSQL password travels only in ``DBT_ENV_SECRET_TICKETING_PG_PASSWORD``: dbt scrubs
  ``DBT_ENV_SECRET_*`` values from its logs, and nothing here prints or writes it.
- **Command line**: :func:`dbt_command` (the dbt beside this interpreter, project and profiles
  dirs, a target path per caller so parallel runs never share artifacts).
- **Runner**: :func:`run_dbt`, under the warehouse's lock policy: a run that meets a DuckDB file
  held by a reader is started again, within the warehouse's bounded wait.
- **Manifest**: where the parsed project lives and :func:`manifest_is_stale`, which tells a
  checkout changed since the parse (the Dagster definitions prepare it with dagster-dbt's
  preparer at build time, ``make manifest``); the selectors of what raw tables feed, and the
  pruning of per-invocation target folders.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ticketing_pipeline.config import ConfigError, ProjectConfig, environment_set
from ticketing_pipeline.warehouse import (
    Warehouse,
    WarehouseKind,
    WarehouseLockedError,
    is_lock_conflict,
    resolve_warehouse,
)

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
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
    cleared: dict[str, str | None] = dict.fromkeys(PROFILE_ENV_VARS)
    with environment_set({**cleared, **dbt_profile_env(warehouse), **(extra or {})}):
        yield


# --- the environment besides the profile -------------------------------------------------------

ACCOUNTS_ENV = "TICKETING_DBT_ACCOUNTS"


def dbt_accounts(config: ProjectConfig) -> list[dict[str, Any]]:
    """The configured accounts as ticket_platforms lists them: never their secrets."""
    return [
        {
            "platform": account.platform.value,
            "account_id": account.account_id,
            "display_name": account.display_name,
            "enabled": account.enabled,
        }
        for account in config.accounts
    ]


def dbt_env(config: ProjectConfig) -> dict[str, str]:
    """Environment (besides the profile's) for every dbt invocation.

    The accounts travel as an environment variable, not ``--vars``: dbt re-parses the whole
    project whenever ``--vars`` change, but only the model reading an env var when it changes.
    """
    return {ACCOUNTS_ENV: json.dumps(dbt_accounts(config), sort_keys=True)}


def dbt_run_env(config: ProjectConfig, warehouse: Warehouse, threads: int = 4) -> dict[str, str]:
    """The whole environment of a dbt subprocess: this process's, the profile's, the accounts."""
    return {**dbt_subprocess_env(warehouse, threads=threads), **dbt_env(config)}


# --- the command line ---------------------------------------------------------------------------

# What a production build runs: models and data tests. Unit tests check the models' logic on
# fixed inputs: they belong to CI (tests/integration/dbt runs them), as dbt recommends.
PRODUCTION_BUILD = ["build", "--exclude-resource-type", "unit_test"]


def dbt_executable() -> str:
    """The ``dbt`` beside this interpreter (a virtualenv not on PATH), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


def dbt_on_path() -> dict[str, str]:
    """PATH with dbt's directory first, for tools that run plain ``dbt`` (dagster-dbt's
    manifest preparer)."""
    directory = str(Path(dbt_executable()).parent)
    return {"PATH": os.pathsep.join([directory, os.environ.get("PATH", "")])}


def dbt_command(
    args: list[str],
    target_path: Path,
    json_log: bool = False,
    project_dir: Path = DBT_PROJECT_DIR,
) -> list[str]:
    """``dbt [--log-format json] <args>`` on this project (tests pass a changed copy), its
    artifacts and logs in ``target_path`` (one per caller: parallel runs never share them)."""
    return [
        dbt_executable(),
        "--no-use-colors",
        *(["--log-format", "json"] if json_log else []),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path),
    ]


# --- the runner ---------------------------------------------------------------------------------


class DbtCommandError(RuntimeError):
    """dbt exited with an error; the message carries the tail of its output."""


def run_dbt(config: ProjectConfig, args: list[str], target_path: Path) -> str:
    """Run ``dbt <args>`` on the config's warehouse; returns its output, raises on failure."""
    command = dbt_command(args, target_path)
    warehouse = resolve_warehouse(config)
    environment = dbt_run_env(config, warehouse)

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


# --- the manifest -------------------------------------------------------------------------------

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# What a parse reads: a manifest older than any of these no longer matches the project.
PROJECT_SOURCES = ("dbt_project.yml", "models", "macros", "tests")


def manifest_is_stale(manifest_path: Path = MANIFEST_PATH) -> bool:
    """Missing, or older than a file of the project (a checkout changed after the build)."""
    if not manifest_path.exists():
        return True
    built = manifest_path.stat().st_mtime
    for name in PROJECT_SOURCES:
        path = DBT_PROJECT_DIR / name
        files = [path] if path.is_file() else path.rglob("*") if path.exists() else []
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


# --- dbt's folders and selections ---------------------------------------------------------------

# A folder dagster-dbt made for one invocation: "<op name>-<run id[:7]>-<uuid[:7]>".
_INVOCATION_DIR = re.compile(r"^\w+-[0-9a-f]{7}-[0-9a-f]{7}$")
# Failed builds' folders stay this long for an operator to read dbt's log and run results.
TARGET_DIR_RETENTION_SECONDS = 3 * 86_400


def prune_dbt_target_dirs(
    target_dir: Path, older_than_seconds: float = TARGET_DIR_RETENTION_SECONDS
) -> int:
    """Remove per-invocation folders under dbt's ``target/`` not modified for
    ``older_than_seconds``; the shared manifest and partial parse stay. Returns how many."""
    if not target_dir.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for child in target_dir.iterdir():
        if not (child.is_dir() and _INVOCATION_DIR.match(child.name)):
            continue
        try:
            stale = child.stat().st_mtime < cutoff
        except FileNotFoundError:  # another run removed it meanwhile
            continue
        if stale:
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    return removed


def dbt_selection_for_raw_tables(
    manifest: Mapping[str, Any], raw_tables: Iterable[tuple[str, str]]
) -> list[str]:
    """dbt selectors for everything downstream of the given ``(schema, table)`` raw tables
    that dbt declares as sources (a dlt bookkeeping table feeds no model), with the ancestors
    of those models (dbt's ``@``): a warehouse whose models were never built (raw data only)
    gets the views of untouched sources too, which cost little to recreate."""
    declared = {(source["source_name"], source["name"]) for source in manifest["sources"].values()}
    return [
        f"@source:{schema}.{table}"
        for schema, table in sorted(set(raw_tables))
        if (schema, table) in declared
    ]
