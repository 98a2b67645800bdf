"""The columns of ``session_complete`` the Gigs feed reads, held against the mart's dbt contract.

The original browse service kept a hand-written select list and broke at run time whenever the
view changed. Here the feed's needs are declared once, and ``contract_problems`` compares them with
the enforced contract in the model's YAML: CI fails on a rename or a retype before any deploy.

A breaking change to the mart ships as a new dbt model version (see ``docs/gigs-feed.md``): the
feed names the version it reads (``MART_VERSION``) and keeps serving it until it is migrated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ticketing_pipeline.transform.dbt import DBT_PROJECT_DIR

MART = "session_complete"
MARTS_SCHEMA = "marts"
# The model version the feed reads; None while the mart has no versions (its only relation).
MART_VERSION: int | None = None
CONTRACT_FILE = DBT_PROJECT_DIR / "models" / "marts" / f"{MART}.yml"

# What the feed reads -> the dbt data types it accepts for it (DuckDB and PostgreSQL spellings).
_TEXT = frozenset({"varchar", "text", "string", "character varying"})
_TIMESTAMP_TZ = frozenset({"timestamp with time zone", "timestamptz"})
_BIGINT = frozenset({"bigint", "integer", "int", "int8", "int4"})
_BOOLEAN = frozenset({"boolean", "bool"})
_MONEY = frozenset({"numeric(18,4)", "numeric(18,2)", "decimal(18,4)", "decimal(18,2)"})

FEED_COLUMNS: dict[str, frozenset[str]] = {
    "session_key": _TEXT,
    "platform": _TEXT,
    "account_id": _TEXT,
    "event_id": _TEXT,
    "session_id": _TEXT,
    "event_name": _TEXT,
    "session_name": _TEXT,
    "status": _TEXT,
    "is_published": _BOOLEAN,
    "starts_at": _TIMESTAMP_TZ,
    "ends_at": _TIMESTAMP_TZ,
    "timezone": _TEXT,
    "venue_name": _TEXT,
    "venue_address": _TEXT,
    "city": _TEXT,
    "country": _TEXT,
    "is_online": _BOOLEAN,
    "capacity": _BIGINT,
    "tickets_remaining": _BIGINT,
    "is_sold_out": _BOOLEAN,
    "currency": _TEXT,
    "min_price": _MONEY,
    "max_price": _MONEY,
    "ticket_url": _TEXT,
    "image_url": _TEXT,
    "updated_at": _TIMESTAMP_TZ,
}


def relation_name(version: int | None = MART_VERSION) -> str:
    """The relation the feed reads: dbt names a versioned model's relations ``<model>_v<N>``."""
    return MART if version is None else f"{MART}_v{version}"


def _normalize(data_type: str) -> str:
    return " ".join(data_type.lower().replace(" ,", ",").replace(", ", ",").split())


def declared_columns(model: dict[str, Any], version: int | None) -> dict[str, str] | None:
    """Column -> declared data type of the model (or of one of its versions); None if absent."""
    columns = {c["name"]: _normalize(c.get("data_type", "")) for c in model.get("columns", [])}
    if version is None:
        return columns
    for entry in model.get("versions") or []:
        if entry.get("v") != version:
            continue
        # A version lists only what differs: `include`/`exclude` of the model's columns, and its
        # own columns (dbt's rules for versioned models).
        versioned = dict(columns)
        for column in entry.get("columns") or []:
            if "include" in column or "exclude" in column:
                include = column.get("include", "all")
                if include != "all":
                    versioned = {k: v for k, v in versioned.items() if k in include}
                excluded = set(column.get("exclude", []))
                versioned = {k: v for k, v in versioned.items() if k not in excluded}
            else:
                versioned[column["name"]] = _normalize(column.get("data_type", ""))
        return versioned
    return None


def contract_problems(
    contract_file: Path = CONTRACT_FILE, version: int | None = MART_VERSION
) -> list[str]:
    """Why the mart's contract cannot serve the feed; empty when it can."""
    document = yaml.safe_load(contract_file.read_text())
    model = next((m for m in document.get("models", []) if m.get("name") == MART), None)
    if model is None:
        return [f"{contract_file.name} does not define the model {MART}"]
    if not (model.get("config") or {}).get("contract", {}).get("enforced"):
        return [f"{MART} has no enforced contract: its columns could change silently"]
    columns = declared_columns(model, version)
    if columns is None:
        return [f"{MART} has no version {version}"]
    problems = []
    for name, accepted in FEED_COLUMNS.items():
        if name not in columns:
            problems.append(
                f"{relation_name(version)}.{name}: the feed reads it; the mart dropped it"
            )
        elif columns[name] not in accepted:
            problems.append(
                f"{relation_name(version)}.{name}: declared {columns[name] or 'without a type'}, "
                f"the feed reads {sorted(accepted)[0]}"
            )
    return problems
