"""The feed reads only columns the mart's enforced dbt contract guarantees, with their types.

A rename, a drop or a retype of a column the feed reads fails here (in CI), not on the public page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ticketing_pipeline.gigs.contract import (
    CONTRACT_FILE,
    FEED_COLUMNS,
    contract_problems,
    relation_name,
)
from ticketing_pipeline.gigs.models import Gig


def test_the_mart_contract_serves_the_feed() -> None:
    assert contract_problems() == []


def test_every_field_of_a_gig_comes_from_a_contracted_column() -> None:
    # The response model is built from these columns only (gig_from_session): a field of the
    # feed that no contracted column feeds would be invented data.
    derived = {"id", "title", "venue", "price", "starts_at_local", "ends_at_local"}
    assert set(Gig.model_fields) - derived <= set(FEED_COLUMNS)


def _edited_contract(tmp_path: Path, edit) -> Path:
    document = yaml.safe_load(CONTRACT_FILE.read_text())
    model = next(m for m in document["models"] if m["name"] == "session_complete")
    edit(model)
    path = tmp_path / "session_complete.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def _column(model: dict, name: str) -> dict:
    return next(c for c in model["columns"] if c["name"] == name)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m: _column(m, "city").update(name="town"),
            "session_complete.city: the feed reads it",
        ),
        (
            lambda m: _column(m, "min_price").update(data_type="double"),
            "session_complete.min_price: declared double",
        ),
        (
            lambda m: _column(m, "starts_at").update(data_type="varchar"),
            "session_complete.starts_at: declared varchar",
        ),
        (lambda m: m["config"]["contract"].update(enforced=False), "no enforced contract"),
    ],
)
def test_a_breaking_change_to_the_mart_is_caught(tmp_path: Path, edit, message: str) -> None:
    problems = contract_problems(_edited_contract(tmp_path, edit))
    assert any(message in p for p in problems), problems


def test_a_new_version_lets_the_old_one_keep_serving(tmp_path: Path) -> None:
    """The documented path for a breaking change (docs/gigs-feed.md): version 2 renames `city`,
    version 1 keeps the old columns; a feed pinned to v1 is served, one reading v2 is told why."""

    def add_versions(model: dict) -> None:
        model["latest_version"] = 2
        model["versions"] = [
            {
                "v": 2,
                "columns": [
                    {"include": "all", "exclude": ["city"]},
                    {"name": "town", "data_type": "varchar"},
                ],
            },
            {"v": 1},
        ]

    contract = _edited_contract(tmp_path, add_versions)
    assert contract_problems(contract, version=1) == []
    assert contract_problems(contract, version=2) == [
        "session_complete_v2.city: the feed reads it; the mart dropped it"
    ]
    assert contract_problems(contract, version=3) == ["session_complete has no version 3"]
    assert relation_name(1) == "session_complete_v1"
