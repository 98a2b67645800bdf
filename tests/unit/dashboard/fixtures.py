"""A dashboard test world: a sandbox synced and built by dbt once per test process, plus a
users file with an admin and promoters of different grants.

The unit tests (query layer, AppTest) and the browser test share it: ``dashboard_world`` is
built at most once per process (``_build_once``), whichever conftest asks first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.dashboard.auth import hash_password
from ticketing_pipeline.dashboard.scope import Scope
from ticketing_pipeline.sandbox import SandboxSpec
from ticketing_pipeline.sandbox_harness.config import render_toml
from ticketing_pipeline.sandbox_harness.pipeline import build_sandbox_warehouse
from ticketing_pipeline.warehouse import Warehouse, resolve_warehouse

# ~2,000 orders over five accounts in four currencies (two accounts share AUD).
SPEC = SandboxSpec(seed=11, orders=2_000)
PASSWORDS = {
    "admin": "admin-secret-1",
    "sydney": "sydney-secret-2",
    "newyork": "newyork-secret-3",
    "nobody": "nobody-secret-4",
}


@dataclass(frozen=True)
class Accounts:
    """The sandbox accounts the test users are built around."""

    sydney: tuple[str, str]  # humanitix, AUD: promoter "sydney" sees all of it, emails masked
    newyork: tuple[str, str]  # eventbrite, USD: promoter "newyork" sees ONE event, emails shown
    newyork_event: str
    all: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DashboardWorld:
    config: ProjectConfig
    config_path: Path
    users_path: Path
    warehouse: Warehouse
    accounts: Accounts

    def scope(self, username: str) -> Scope:
        from ticketing_pipeline.dashboard.auth import load_users, user_from_config

        users = load_users(self.users_path)
        return user_from_config(username, users.users[username]).scope


def _pick_accounts(warehouse: Warehouse) -> Accounts:
    with warehouse.connect(read_only=True) as connection:
        rows = connection.exec_driver_sql(
            "select platform, account_id, currency, count(distinct event_id) as events "
            "from marts.ticket_sales group by platform, account_id, currency "
            "order by platform, account_id"
        ).fetchall()
        by_currency = {(r.platform, r.currency): (r.platform, r.account_id) for r in rows}
        newyork = by_currency[("eventbrite", "USD")]
        event = connection.exec_driver_sql(
            "select event_id from marts.ticket_sales where platform = ? and account_id = ? "
            "group by event_id order by count(*) desc limit 1",
            newyork,
        ).scalar_one()
    return Accounts(
        sydney=by_currency[("humanitix", "AUD")],
        newyork=newyork,
        newyork_event=event,
        all=tuple((r.platform, r.account_id) for r in rows),
    )


def users_toml(
    accounts: Accounts, session_ttl_minutes: int = 60, stale_after_hours: float = 6
) -> str:
    (hx_platform, hx_account), (eb_platform, eb_account) = accounts.sydney, accounts.newyork
    return f"""
session_ttl_minutes = {session_ttl_minutes}
stale_after_hours = {stale_after_hours}

[users.admin]
role = "admin"
display_name = "Ada Admin"
password_hash = "{hash_password(PASSWORDS["admin"])}"

[users.sydney]
role = "promoter"
display_name = "Sydney Promoter"
password_hash = "{hash_password(PASSWORDS["sydney"])}"
[[users.sydney.grants]]
platform = "{hx_platform}"
account_id = "{hx_account}"

[users.newyork]
role = "promoter"
display_name = "New York Promoter"
password_hash = "{hash_password(PASSWORDS["newyork"])}"
[[users.newyork.grants]]
platform = "{eb_platform}"
account_id = "{eb_account}"
events = ["{accounts.newyork_event}"]
emails = true

[users.nobody]
role = "promoter"
password_hash = "{hash_password(PASSWORDS["nobody"])}"
"""


def users_toml_without(toml_text: str, username: str) -> str:
    """A users file with ``[users.<username>]`` and its grants cut out (the user removed)."""
    kept, skipping = [], False
    for line in toml_text.splitlines():
        if line.startswith("[users.") or line.startswith("[[users."):
            skipping = line.strip("[]").split(".")[1] == username
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


@functools.cache
def _build_once(base: Path) -> DashboardWorld:
    data_dir = base / "dashboard_world"
    config = build_sandbox_warehouse(SPEC, data_dir)
    warehouse = resolve_warehouse(config)
    accounts = _pick_accounts(warehouse)
    config_path = data_dir / "ticketing.toml"
    config_path.write_text(render_toml(config))
    users_path = data_dir / "dashboard_users.toml"
    users_path.write_text(users_toml(accounts))
    return DashboardWorld(config, config_path, users_path, warehouse, accounts)


def dashboard_world(base: Path) -> DashboardWorld:
    return _build_once(base)
