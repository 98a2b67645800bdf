"""Fixtures of the dbt tests: one sandbox load + dbt build per warehouse, shared by the tests.

DuckDB is built once per session (tests that change data work on a copy); PostgreSQL once per
module, in the fresh database the root conftest creates for that module.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.dbt.dbt_helpers import (
    SANDBOX_SPEC,
    DbtRun,
    ExpectedAccount,
    expected_from_sandbox,
    load_sandbox,
    run_dbt,
)
from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.warehouse import Warehouse, resolve_warehouse


@dataclass
class BuiltWarehouse:
    """A warehouse loaded from the sandbox and built by dbt, with what it should contain."""

    name: str
    config: ProjectConfig
    warehouse: Warehouse
    build: DbtRun
    expected: dict[tuple[str, str], ExpectedAccount]
    target_path: Path


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(SANDBOX_SPEC) as server:
        yield server


@pytest.fixture(scope="session")
def sandbox_expected(sandbox_server: SandboxServer) -> dict[tuple[str, str], ExpectedAccount]:
    return expected_from_sandbox(sandbox_server.dataset)


def _build(
    name: str,
    url: str,
    data_dir: Path,
    server: SandboxServer,
    expected: dict[tuple[str, str], ExpectedAccount],
) -> BuiltWarehouse:
    config = load_sandbox(server, data_dir, url)
    target = data_dir / "dbt_target"
    build = run_dbt(config, ["build"], target)
    return BuiltWarehouse(name, config, resolve_warehouse(config), build, expected, target)


@pytest.fixture(scope="session")
def duckdb_built(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_server: SandboxServer,
    sandbox_expected: dict[tuple[str, str], ExpectedAccount],
) -> BuiltWarehouse:
    data_dir = tmp_path_factory.mktemp("duckdb")
    url = f"duckdb:///{data_dir / 'warehouse.duckdb'}"
    return _build("duckdb", url, data_dir, sandbox_server, sandbox_expected)


@pytest.fixture(scope="module")
def postgres_built(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_server: SandboxServer,
    sandbox_expected: dict[tuple[str, str], ExpectedAccount],
    postgres_url: str,
) -> BuiltWarehouse:
    data_dir = tmp_path_factory.mktemp("postgres")
    return _build("postgres", postgres_url, data_dir, sandbox_server, sandbox_expected)


@pytest.fixture
def duckdb_copy(duckdb_built: BuiltWarehouse, tmp_path: Path) -> BuiltWarehouse:
    """A private copy of the built DuckDB warehouse, for tests that change data or models."""
    assert duckdb_built.warehouse.duckdb_path is not None
    path = tmp_path / "copy.duckdb"
    shutil.copy(duckdb_built.warehouse.duckdb_path, path)
    config = duckdb_built.config.model_copy(
        update={
            "warehouse": duckdb_built.config.warehouse.model_copy(
                update={"url": f"duckdb:///{path}"}
            ),
            "data_dir": tmp_path,
        }
    )
    return BuiltWarehouse(
        "duckdb-copy",
        config,
        resolve_warehouse(config),
        duckdb_built.build,
        duckdb_built.expected,
        tmp_path / "dbt_target",
    )
