"""Shared by the fault tests and ``run_matrix.py``: run a sync or the landed loader in a child
process that is SIGKILLed at a chosen point, land relay deliveries, checksum the raw tables."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.warehouse import RAW_SCHEMAS, resolve_warehouse
from ticketing_pipeline.webhooks.landing import LandingArea, delivery_file_name, encode_delivery

ROOT = Path(__file__).absolute().parents[2]


@dataclass
class ChildRun:
    returncode: int
    output: str
    seconds: float

    @property
    def killed(self) -> bool:
        return self.returncode == -9


def run_child(
    config: ProjectConfig,
    environment: dict[str, str],
    mode: str,
    kill_point: str,
    files: list[Path] | None = None,
    timeout: float = 120.0,
) -> ChildRun:
    """Run ``tests.faults.crash_child`` (sync or load) in its own process; wait for its end."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config_file = config.data_dir / "child_config.json"
    config_file.write_text(config.model_dump_json())
    env = {**os.environ, **environment, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "tests.faults.crash_child", str(config_file), mode, kill_point]
    started = time.perf_counter()
    done = subprocess.run(
        args + [str(f) for f in files or []],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return ChildRun(done.returncode, done.stdout + done.stderr, time.perf_counter() - started)


def humanitix_orders(server: SandboxServer, account_id: str) -> list[bytes]:
    """The sandbox's Humanitix orders of one account, as the JSON the platform serves."""
    return [
        bytes(raw)
        for event in server.dataset.hx_events.values()
        if event.account_id == account_id
        for raw in event.orders.values()
    ]


def land_relay(
    area: LandingArea,
    platform: str,
    account_id: str,
    delivery_id: str,
    record: bytes,
    event_type: str = "order.updated",
) -> Path:
    """Land one relay delivery the way the receiver does (a complete file in incoming/).

    The record is kept as the platform's JSON text: money stays exact decimals."""
    area.ensure()
    path = area.incoming / delivery_file_name(platform, account_id, delivery_id)
    body = b'{"type":' + orjson.dumps(event_type) + b',"data":' + record + b"}"
    path.write_bytes(
        encode_delivery(
            delivery_id=delivery_id,
            platform=platform,
            account_id=account_id,
            kind="relay",
            action=event_type,
            received_ns=time.time_ns(),
            headers={},
            body=body,
        )
    )
    return path


def raw_checksums(config: ProjectConfig) -> dict[str, tuple[int, str]]:
    """Per raw table: (row count, SHA-256 of its sorted rows), dlt's bookkeeping columns left out.

    Every column the product wrote is hashed (keys, cursors, money, everything): two runs are
    equal only if they wrote exactly the same rows.
    """
    return table_checksums(config, list(RAW_SCHEMAS.values()))


# Its rows are the sync history (times, failures), which a fault changes by design.
MART_TABLES_NOT_COMPARED = ("ticket_platforms",)
# When a row was loaded (ticket_sales, from dlt's load id) or checked (ticket_reconciliation):
# times of the run, not data.
MART_COLUMNS_NOT_COMPARED = ("loaded_at", "checked_at")


def mart_checksums(config: ProjectConfig) -> dict[str, tuple[int, str]]:
    """The same per table of the dbt marts (built by the caller)."""
    return table_checksums(config, ["marts"], MART_TABLES_NOT_COMPARED, MART_COLUMNS_NOT_COMPARED)


def table_checksums(
    config: ProjectConfig,
    schemas: list[str],
    skip: tuple[str, ...] = (),
    skip_columns: tuple[str, ...] = (),
) -> dict[str, tuple[int, str]]:
    """Per table of ``schemas``: (row count, SHA-256 of its sorted rows, ``_dlt`` columns out)."""
    warehouse = resolve_warehouse(config)
    if warehouse.kind.value == "duckdb" and not (warehouse.duckdb_path or Path()).exists():
        return {}
    sums: dict[str, tuple[int, str]] = {}
    with warehouse.connect(read_only=warehouse.kind.value == "duckdb") as connection:
        # information_schema rather than SQLAlchemy's inspector: duckdb_engine's inspector
        # sends PostgreSQL catalog queries DuckDB cannot answer.
        columns: dict[str, list[str]] = {}
        for schema, table, column in connection.execute(
            sa.text(
                "select table_schema, table_name, column_name from information_schema.columns"
                " where table_schema in :schemas"
            ).bindparams(sa.bindparam("schemas", expanding=True)),
            {"schemas": schemas},
        ):
            if table.startswith("_dlt") or table in skip or column.startswith("_dlt"):
                continue
            if column in skip_columns:
                continue
            columns.setdefault(f"{schema}.{table}", []).append(column)
        for table in sorted(columns):
            select = ", ".join(f'"{c}"' for c in sorted(columns[table]))
            found = connection.execute(sa.text(f"select {select} from {table}"))  # noqa: S608
            rows = sorted(repr(tuple(_canonical(v) for v in r)) for r in found)
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
            sums[table] = (len(rows), digest)
    return sums


def _canonical(value: Any) -> Any:
    """JSON texts with their keys sorted: ``extra_fields`` keeps unknown fields as JSON whose key
    order follows Python's per-process set order, which says nothing about the data."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(value, parse_float=Decimal), sort_keys=True, default=str)
        except ValueError:
            return value
    return value


def differences(
    got: dict[str, tuple[int, str]], want: dict[str, tuple[int, str]]
) -> dict[str, tuple[Any, Any]]:
    """Tables whose checksum differs: {table: (got, want)}."""
    tables = sorted(set(got) | set(want))
    return {t: (got.get(t), want.get(t)) for t in tables if got.get(t) != want.get(t)}
