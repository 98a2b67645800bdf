"""``ticketing build``: build the marts with dbt from the command line, showing each model.

Runs the same dbt project, profile and environment as ``transform.dbt.run_dbt`` and the Dagster dbt
assets (so these are the marts production builds), but streams dbt's structured log
(``--log-format json``) instead of capturing it: each model, test and seed is reported as dbt
finishes it, and a failure is named (resource type, name, dbt's error) rather than left in a
wall of text. ``PRODUCTION_BUILD`` (models and data tests, no unit tests) is the default.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.transform.dbt import (
    DBT_PROJECT_DIR,
    PRODUCTION_BUILD,
    dbt_command,
    dbt_run_env,
)
from ticketing_pipeline.warehouse import WarehouseLockedError, is_lock_conflict, resolve_warehouse

# dbt's run_result statuses that mean the node did not do its job.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
# Error-level events that only repeat a node's failure in the end-of-run summary.
_SUMMARY_EVENTS = frozenset(
    {"RunResultError", "RunResultFailure", "RunResultErrorNoMessage", "EndOfRunSummary"}
)
_NODE_RESULT = re.compile(r"^Log[A-Za-z]*Result$")


@dataclass(frozen=True)
class NodeOutcome:
    """One model/test/seed/snapshot as dbt finished it."""

    unique_id: str
    name: str
    resource_type: str
    status: str  # success | pass | warn | fail | error | skipped | ...
    seconds: float | None
    message: str | None
    failures: int | None = None
    index: int | None = None  # "index of total", as dbt counts the nodes of the run
    total: int | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass
class BuildResult:
    returncode: int
    nodes: list[NodeOutcome] = field(default_factory=list)
    # Errors that belong to no node (a compilation error, a missing profile, a crash).
    errors: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.failed_nodes

    @property
    def failed_nodes(self) -> list[NodeOutcome]:
        return [n for n in self.nodes if n.failed]


def node_outcome(event: dict[str, Any]) -> NodeOutcome | None:
    """A node's result event of dbt's JSON log as an outcome (None for other events).

    dbt logs one per node at info level as it finishes: ``LogModelResult``, ``LogTestResult``,
    ``LogSeedResult``, ``LogSnapshotResult``, ... and ``SkippingDetails`` for the nodes skipped
    because something upstream failed. (``NodeFinished`` is only logged at debug level.)
    """
    name = event.get("info", {}).get("name", "")
    data = event.get("data", {})
    node = data.get("node_info")
    if not node or not (name == "SkippingDetails" or _NODE_RESULT.match(name)):
        return None
    seconds = data.get("execution_time")
    failures = data.get("num_failures")
    return NodeOutcome(
        unique_id=node.get("unique_id", ""),
        name=node.get("node_name") or node.get("unique_id", "?"),
        resource_type=node.get("resource_type", "?"),
        status=str(node.get("node_status") or data.get("status") or "unknown").lower(),
        seconds=float(seconds) if seconds is not None else None,
        message=None,
        failures=int(failures) if failures not in (None, "") else None,
        index=data.get("index"),
        total=data.get("total") or data.get("num_models"),
    )


def collect(
    lines: Iterable[str], on_node: Callable[[NodeOutcome], None] | None = None
) -> BuildResult:
    """Fold dbt's JSON log lines into a result; ``on_node`` sees each node as it finishes."""
    result = BuildResult(returncode=0)
    position: dict[str, int] = {}
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            # Not a log event (a Python traceback before logging started): keep it as an error.
            result.errors.append(line)
            continue
        info = event.get("info", {})
        data = event.get("data", {})
        if outcome := node_outcome(event):
            position[outcome.unique_id] = len(result.nodes)
            result.nodes.append(outcome)
            if on_node:
                on_node(outcome)
        elif info.get("name") == "RunResultError" and data.get("node_info"):
            # The end-of-run summary carries the error text of each failed node.
            where = position.get(data["node_info"].get("unique_id", ""))
            message = (data.get("msg") or info.get("msg") or "").strip()
            if where is not None and message:
                node = result.nodes[where]
                joined = f"{node.message}\n{message}" if node.message else message
                result.nodes[where] = replace(node, message=joined)
        elif info.get("name") == "StatsLine":
            stats = data.get("stats", {})
            result.stats = {k: int(v) for k, v in stats.items() if str(v).isdigit()}
        elif (
            info.get("level") == "error"
            and not data.get("node_info")
            and info.get("name") not in _SUMMARY_EVENTS
        ):
            # An error no node carries: compilation, connection, a crash.
            result.errors.append(info.get("msg", "").strip())
    return result


def build_marts(
    config: ProjectConfig,
    args: list[str] | None = None,
    target_path: Path | None = None,
    on_node: Callable[[NodeOutcome], None] | None = None,
    threads: int = 4,
) -> BuildResult:
    """Run ``dbt <args>`` (default: the production build) and report each node as it ends."""
    target_path = target_path or config.data_dir / "dbt_target"
    target_path.mkdir(parents=True, exist_ok=True)
    warehouse = resolve_warehouse(config)
    environment = dbt_run_env(config, warehouse, threads=threads)
    # The warehouse's lock policy: a DuckDB file held by another process fails dbt before any
    # node runs; such a build is started again within the bounded wait, then reported as such.
    wait = warehouse.lock_wait()
    while True:
        with subprocess.Popen(
            dbt_command(args or PRODUCTION_BUILD, target_path, json_log=True),
            cwd=DBT_PROJECT_DIR,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as process:
            assert process.stdout is not None
            result = collect(process.stdout, on_node)
        result.returncode = process.returncode
        held = "\n".join(e for e in result.errors if is_lock_conflict(Exception(e)))
        if result.returncode == 0 or result.nodes or not held:
            return result
        try:
            wait.pause_or_give_up(held)
        except WarehouseLockedError as error:
            result.errors = [f"WarehouseLockedError: {error}"]
            return result
