"""Fixtures of the dashboard tests: the sandbox-built warehouse and its users (fixtures.py)."""

from __future__ import annotations

import pytest

from tests.unit.dashboard.fixtures import DashboardWorld, dashboard_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> DashboardWorld:
    return dashboard_world(tmp_path_factory.getbasetemp())
