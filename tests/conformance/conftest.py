"""The real payloads loaded once per warehouse: served as the platforms' APIs, synced by the
production sources into raw tables with a real dlt load, then built by dbt (staging + marts)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.applications import Starlette

from tests.conformance.fixture_api import EB_ORG_ID, EB_TOKEN, HX_API_KEY, build_app
from tests.integration.asgi_thread import serve_in_thread
from tests.integration.dbt.dbt_helpers import DbtRun, run_dbt
from ticketing_pipeline.config import (
    AccountConfig,
    ProjectConfig,
    SyncConfig,
    WarehouseConfig,
)
from ticketing_pipeline.ingest.sync import AccountSyncResult, sync_accounts
from ticketing_pipeline.warehouse import Warehouse, resolve_warehouse

HX_ACCOUNT = "gbe"
HX_SECRET_ENV = "CONFORMANCE_HUMANITIX_KEY"
EB_SECRET_ENV = "CONFORMANCE_EVENTBRITE_TOKEN"


@dataclass
class RealLoad:
    """A warehouse loaded from the real payloads and built by dbt."""

    warehouse: Warehouse
    syncs: list[AccountSyncResult]
    build: DbtRun


@dataclass
class FixtureAPI:
    url: str
    app: Starlette


@pytest.fixture(scope="session")
def fixture_api() -> Iterator[FixtureAPI]:
    app = build_app()
    with serve_in_thread(app) as url:
        yield FixtureAPI(url, app)


def load_real_payloads(
    api_url: str, warehouse_url: str, data_dir: Path, build: bool = True
) -> RealLoad:
    """Sync both accounts from ``api_url`` into the warehouse; then ``dbt build`` if asked."""
    accounts = [
        AccountConfig(
            platform="humanitix",
            account_id=HX_ACCOUNT,
            display_name="Real Humanitix captures (gbe 2024)",
            secret_env=HX_SECRET_ENV,
            base_url=f"{api_url}/hx/v1",
        ),
        AccountConfig(
            platform="eventbrite",
            account_id=EB_ORG_ID,
            display_name="Real Eventbrite captures",
            secret_env=EB_SECRET_ENV,
            base_url=f"{api_url}/eb/v3",
        ),
    ]
    config = ProjectConfig(
        accounts=accounts,
        data_dir=data_dir,
        warehouse=WarehouseConfig(url=warehouse_url),
        sync=SyncConfig(request_backoff_factor=0.05, request_max_retry_delay_seconds=2.0),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HX_SECRET_ENV, HX_API_KEY)
        patch.setenv(EB_SECRET_ENV, EB_TOKEN)
        syncs = sync_accounts(config)
    run = run_dbt(config, ["build"], data_dir / "dbt_target") if build else DbtRun(0, "")
    return RealLoad(resolve_warehouse(config), syncs, run)


@pytest.fixture(scope="session")
def real_duckdb(fixture_api: FixtureAPI, tmp_path_factory: pytest.TempPathFactory) -> RealLoad:
    data_dir = tmp_path_factory.mktemp("real_duckdb")
    url = f"duckdb:///{data_dir / 'warehouse.duckdb'}"
    return load_real_payloads(fixture_api.url, url, data_dir)
