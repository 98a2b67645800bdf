"""The marts' contracts are enforced: breaking a contracted column of session_complete (the
table the public Gigs calendar reads) fails the build instead of shipping."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.dbt.conftest import BuiltWarehouse
from tests.integration.dbt.dbt_helpers import copy_project, query, run_dbt

pytestmark = pytest.mark.xdist_group("dbt_duckdb")

SELECT = ["build", "--select", "session_complete"]


def break_model(project: Path, old: str, new: str) -> None:
    model = project / "models" / "marts" / "session_complete.sql"
    text = model.read_text()
    assert old in text, f"session_complete.sql no longer contains {old!r}"
    model.write_text(text.replace(old, new))


def test_unchanged_model_builds(duckdb_copy: BuiltWarehouse, tmp_path: Path) -> None:
    # The control: the same command on an untouched copy of the project succeeds.
    project = copy_project(tmp_path / "project")
    run = run_dbt(duckdb_copy.config, SELECT, tmp_path / "target", project_dir=project)
    assert run.ok, run.output[-3000:]


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        pytest.param(
            "cast(capacity as bigint) as capacity",
            "cast(capacity as varchar) as capacity",
            "capacity",
            id="type-changed",
        ),
        pytest.param(
            "cast(image_url as {{ text_type() }}) as image_url,",
            "",
            "image_url",
            id="column-dropped",
        ),
        pytest.param(
            "cast(venue_name as {{ text_type() }}) as venue_name,",
            "cast(venue_name as {{ text_type() }}) as venue,",
            "venue",
            id="column-renamed",
        ),
    ],
)
def test_broken_contracted_column_fails_the_build(
    duckdb_copy: BuiltWarehouse, tmp_path: Path, old: str, new: str, complaint: str
) -> None:
    before = query(duckdb_copy.warehouse, "select count(*) as n from marts.session_complete")
    project = copy_project(tmp_path / "project")
    break_model(project, old, new)
    run = run_dbt(duckdb_copy.config, SELECT, tmp_path / "target", project_dir=project)
    assert not run.ok, run.output[-3000:]
    assert "contract" in run.output.lower(), run.output[-3000:]
    assert complaint in run.output, run.output[-3000:]
    # The table the calendar reads is left as it was.
    after = query(duckdb_copy.warehouse, "select count(*) as n from marts.session_complete")
    assert after == before
