"""The README's first command: `ticketing demo` ingests the sandbox and builds the marts."""

from __future__ import annotations

from pathlib import Path

import duckdb
from typer.testing import CliRunner

from ticketing_pipeline.cli import app
from ticketing_pipeline.sandbox.generator import SandboxSpec, generate


def test_demo_loads_both_platforms_and_builds_the_marts(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["demo", "--orders", "600", "--seed", "4", "--data-dir", str(tmp_path)],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    assert "Loaded into the warehouse (raw tables)" in result.output
    assert "marts.ticket_sales" in result.output
    truth = generate(SandboxSpec(seed=4, orders=600)).truth()
    for _, account_id in truth:
        assert account_id in result.output
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        per_account = dict(
            connection.execute(
                "select account_id, count(distinct order_id) from marts.ticket_sales group by 1"
            ).fetchall()
        )
    finally:
        connection.close()
    # Every order the platforms serve reached the mart, for every account.
    assert per_account == {account_id: t.orders for (_, account_id), t in truth.items()}
    assert (tmp_path / "ticketing.toml").exists()
