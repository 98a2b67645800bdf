"""The same ingest into the real PostgreSQL server: full, incremental, re-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.ingest_helpers import (
    assert_no_duplicate_keys,
    assert_staging_equals_truth,
    config_for,
    rows,
)
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.warehouse import WarehouseKind, resolve_warehouse

pytestmark = pytest.mark.postgres


def test_postgres_full_incremental_rerun(tmp_path: Path, monkeypatch, postgres_url: str) -> None:
    with SandboxServer(SandboxSpec(seed=13, orders=1_500)) as server:
        config = config_for(
            server, tmp_path, monkeypatch, warehouse_url=postgres_url, skip_events_ended_days=None
        )
        warehouse = resolve_warehouse(config)
        assert warehouse.kind is WarehouseKind.POSTGRES

        results = sync_accounts(config)
        assert all(r.ok for r in results), [r.error for r in results]
        assert_staging_equals_truth(config, server)

        server.dataset.mutate(fraction=0.05, seed=2)
        assert all(r.ok for r in sync_accounts(config))
        assert_staging_equals_truth(config, server)
        assert_no_duplicate_keys(config)

        assert all(r.ok for r in sync_accounts(config))
        assert_staging_equals_truth(config, server)
        assert_no_duplicate_keys(config)

    # Money columns are exact NUMERIC, never floating point.
    types = dict(
        rows(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_humanitix' and table_name = 'orders' "
            "and column_name in ('totals_gross_sales', 'updated_at')",
        )
    )
    assert types == {"totals_gross_sales": "numeric", "updated_at": "timestamp with time zone"}
