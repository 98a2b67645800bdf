"""`ticketing build` on a sandbox-synced DuckDB warehouse: per-model progress, named failures."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import tomlkit
from typer.testing import CliRunner

from tests.integration.ingest_helpers import config_for, rows
from ticketing_pipeline.cli import app
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.operations.build import build_marts
from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec
from ticketing_pipeline.warehouse import resolve_warehouse

SPEC = SandboxSpec(seed=33, orders=300, eventbrite_orgs=1, eventbrite_second_token_orgs=0)


def test_build_shows_each_model_and_names_a_failing_test(tmp_path: Path, monkeypatch) -> None:
    with SandboxServer(SPEC) as sandbox:
        config = config_for(sandbox, tmp_path, monkeypatch)
        assert all(r.ok for r in sync_accounts(config))
    document = tomlkit.document()
    document.update(config.model_dump(mode="json", exclude_none=True))
    path = tmp_path / "ticketing.toml"
    path.write_text(tomlkit.dumps(document))

    result = CliRunner().invoke(app, ["build", "-c", str(path)])
    assert result.exit_code == 0, result.output[-3000:]
    # Each mart appears as dbt finished it, then the totals.
    for mart in ("ticket_sales", "session_complete", "ticket_reconciliation"):
        assert f"model {mart}" in result.output
    assert "Built in" in result.output
    warehouse = resolve_warehouse(config)
    [(sales,)] = rows(warehouse, "select count(*) from marts.ticket_sales")
    assert sales > 0

    # A duplicated raw order breaks the staging model's uniqueness test: the build fails and
    # names that test; the marts downstream are skipped, not rebuilt on bad data.
    with warehouse.begin() as connection:
        connection.execute(
            sa.text(
                "insert into raw_humanitix.orders "
                "select * from raw_humanitix.orders order by order_id limit 1"
            )
        )
    seen = []
    outcome = build_marts(config, on_node=seen.append)
    assert not outcome.ok and outcome.returncode != 0
    [failed] = outcome.failed_nodes
    assert failed.resource_type == "test"
    assert "stg_humanitix__orders" in failed.name and "unique" in failed.name
    assert failed.status == "fail" and failed.failures and failed.failures >= 1
    assert "Got 1 result" in failed.message  # dbt's own words for the failure
    # Every node was reported as it finished (the messages come with the end-of-run summary).
    assert [n.unique_id for n in seen] == [n.unique_id for n in outcome.nodes]
    assert len(seen) == seen[0].total
    assert any(n.name == "ticket_sales" and n.status == "skipped" for n in outcome.nodes)

    cli = CliRunner().invoke(app, ["build", "-c", str(path), "-s", "stg_humanitix__orders"])
    assert cli.exit_code == 1
    assert f"✗ test {failed.name}" in cli.output
    assert "Build failed" in cli.output
