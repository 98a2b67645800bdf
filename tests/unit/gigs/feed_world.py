"""A real DuckDB file holding ``marts.session_complete`` with sessions chosen to exercise the feed.

The table is created from the mart's enforced contract (the model's YAML), so these tests run on
the same column names and types dbt builds, without a dbt run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import yaml

from ticketing_pipeline.gigs.contract import CONTRACT_FILE
from ticketing_pipeline.warehouse import Warehouse, WarehouseKind

NOW = datetime.now(UTC).replace(microsecond=0)


def contract_columns() -> list[tuple[str, str]]:
    document = yaml.safe_load(CONTRACT_FILE.read_text())
    model = next(m for m in document["models"] if m["name"] == "session_complete")
    return [(c["name"], c["data_type"]) for c in model["columns"]]


def session(key: str, **values: Any) -> dict[str, Any]:
    """A live, published, upcoming session in Sydney unless ``values`` say otherwise."""
    # A start of its own per key (1 to 30 days ahead), the same on every run.
    days_ahead = int(hashlib.md5(key.encode()).hexdigest(), 16) % 30 + 1
    starts = values.pop("starts_at", NOW + timedelta(days=days_ahead))
    row = {
        "session_key": key,
        "platform": "humanitix",
        "account_id": "syd",
        "event_id": f"event-{key}",
        "session_id": f"session-{key}",
        "event_name": f"Gig {key}",
        "session_name": f"Gig {key} (session)",
        "status": "live",
        "is_published": True,
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=3),
        "timezone": "Australia/Sydney",
        "venue_name": "The Basement",
        "venue_address": "7 Macquarie Pl",
        "city": "Sydney",
        "country": "AU",
        "is_online": False,
        "capacity": 200,
        "tickets_sold": 50,
        "tickets_remaining": 150,
        "is_sold_out": False,
        "currency": "AUD",
        "min_price": Decimal("35.5000"),
        "max_price": Decimal("120.0000"),
        "gross_sales": Decimal("0"),
        "net_sales": Decimal("0"),
        "ticket_url": f"https://events.humanitix.com/{key}",
        "image_url": None,
        "last_order_at": None,
        "updated_at": NOW - timedelta(hours=1),
    }
    row.update(values)
    return row


@dataclass
class FeedWorld:
    path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(WarehouseKind.DUCKDB, duckdb_path=self.path)

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Replace the mart's rows (as a dbt rebuild would)."""
        self.rows = rows
        columns = contract_columns()
        with duckdb.connect(str(self.path)) as connection:
            connection.execute("create schema if not exists marts")
            connection.execute("drop table if exists marts.session_complete")
            ddl = ", ".join(f'"{name}" {data_type}' for name, data_type in columns)
            connection.execute(f"create table marts.session_complete ({ddl})")
            names = [name for name, _ in columns]
            placeholders = ", ".join("?" for _ in names)
            connection.executemany(
                f"insert into marts.session_complete values ({placeholders})",
                [[row.get(name) for name in names] for row in rows],
            )


def standard_rows() -> list[dict[str, Any]]:
    soon = NOW + timedelta(days=2)
    return [
        session("a-soon", starts_at=soon),
        session(
            "b-later",
            starts_at=soon + timedelta(days=5),
            city="Melbourne",
            venue_name="Corner Hotel",
            timezone="Australia/Melbourne",
        ),
        session(
            "c-eb",
            starts_at=soon + timedelta(days=1),
            platform="eventbrite",
            account_id="1234",
            city="London",
            country="GB",
            timezone="Europe/London",
            currency="GBP",
            min_price=Decimal("269.5000"),
            max_price=Decimal("269.5000"),
            event_name="Open Data Summit",
        ),
        session(
            "d-soldout", starts_at=soon + timedelta(days=3), is_sold_out=True, tickets_remaining=0
        ),
        session("e-started", status="started", starts_at=NOW - timedelta(hours=1)),
        # Not shown: over, a draft, cancelled, unpublished.
        session("x-ended", starts_at=NOW - timedelta(days=1)),
        session("x-draft", status="draft"),
        session("x-cancelled", status="cancelled"),
        session("x-unpublished", is_published=False),
        # Same start as a-soon: the id breaks the tie, so pages never skip or repeat it.
        session("a-tie", starts_at=soon),
        session(
            "f-free",
            starts_at=soon + timedelta(days=8),
            min_price=Decimal("0"),
            max_price=Decimal("0"),
            event_name="Free Jazz in the Park",
        ),
    ]


VISIBLE = ["e-started", "a-soon", "a-tie", "c-eb", "d-soldout", "b-later", "f-free"]
