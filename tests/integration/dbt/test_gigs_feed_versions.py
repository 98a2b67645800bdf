"""A breaking change to session_complete ships as a new dbt model version while the old one keeps
serving the Gigs feed: the procedure of docs/gigs-feed.md, run with dbt on a built warehouse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.integration.dbt.conftest import BuiltWarehouse
from tests.integration.dbt.dbt_helpers import copy_project, query, run_dbt
from ticketing_pipeline.gigs.contract import contract_problems
from ticketing_pipeline.gigs.snapshot import read_snapshot
from ticketing_pipeline.transform.dbt import PRODUCTION_BUILD

pytestmark = pytest.mark.xdist_group("dbt_duckdb")

EVER = datetime(2000, 1, 1, tzinfo=UTC)


def version_the_mart(project: Path) -> Path:
    """v2 renames `city` to `town` (a breaking change); v1 stays defined by today's file."""
    marts = project / "models" / "marts"
    sql = (marts / "session_complete.sql").read_text()
    assert "as city," in sql
    (marts / "session_complete_v2.sql").write_text(sql.replace("as city,", "as town,"))
    contract = marts / "session_complete.yml"
    document = yaml.safe_load(contract.read_text())
    model = next(m for m in document["models"] if m["name"] == "session_complete")
    model["latest_version"] = 2
    model["versions"] = [
        {
            "v": 2,
            "columns": [
                {"include": "all", "exclude": ["city"]},
                {"name": "town", "data_type": "varchar"},
            ],
        },
        {"v": 1, "defined_in": "session_complete"},
    ]
    contract.write_text(yaml.safe_dump(document, sort_keys=False))
    return contract


def test_old_version_keeps_serving_after_a_breaking_change(
    duckdb_copy: BuiltWarehouse, tmp_path: Path
) -> None:
    # The sandbox's data set is anchored in the past: copy every published session.
    before = read_snapshot(duckdb_copy.warehouse, ended_since=EVER)
    assert before.sessions, "the sandbox warehouse should have published sessions"

    project = copy_project(tmp_path / "project")
    contract = version_the_mart(project)
    run = run_dbt(
        duckdb_copy.config,
        [*PRODUCTION_BUILD, "--select", "session_complete"],
        tmp_path / "target",
        project_dir=project,
    )
    assert run.ok, run.output[-3000:]

    # Both versions exist as relations; v2 has the new column, not the old one.
    columns = {
        row["table_name"]: row["columns"]
        for row in query(
            duckdb_copy.warehouse,
            "select table_name, list(column_name order by column_name) as columns "
            "from information_schema.columns where table_schema = 'marts' "
            "and table_name in ('session_complete_v1', 'session_complete_v2') group by table_name",
        )
    }
    assert "city" in columns["session_complete_v1"] and "town" not in columns["session_complete_v1"]
    assert "town" in columns["session_complete_v2"] and "city" not in columns["session_complete_v2"]

    # The feed pinned to v1 serves exactly what it served before; v2 is refused with the reason.
    assert contract_problems(contract, version=1) == []
    assert contract_problems(contract, version=2) == [
        "session_complete_v2.city: the feed reads it; the mart dropped it"
    ]
    pinned = read_snapshot(duckdb_copy.warehouse, version=1, ended_since=EVER)
    assert [s.session_key for s in pinned.sessions] == [s.session_key for s in before.sessions]
    assert pinned.version == before.version
