"""The query layer on a sandbox-built warehouse: figures equal ticket_sales per currency, and
a promoter's queries never return rows outside their grants, whatever the filters say."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.unit.dashboard.expected import (
    FIGURES,
    Line,
    assert_within,
    expected_headline,
    sales_lines,
)
from tests.unit.dashboard.fixtures import DashboardWorld
from ticketing_pipeline.dashboard.queries import DashboardQueries, Filters
from ticketing_pipeline.dashboard.scope import Scope

pytestmark = pytest.mark.xdist_group("dashboard")


@pytest.fixture(scope="module")
def lines(world: DashboardWorld) -> list[Line]:
    return sales_lines(world.warehouse)


def _headline(queries: DashboardQueries, filters: Filters) -> dict[str, dict[str, object]]:
    frame = queries.headline(filters)
    return {row["currency"]: {name: row[name] for name in FIGURES} for _, row in frame.iterrows()}


def _assert_equal(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for currency, figures in expected.items():
        for name, value in figures.items():
            assert Decimal(actual[currency][name]) == Decimal(value), (currency, name)


def test_admin_headline_equals_ticket_sales_per_currency(
    world: DashboardWorld, lines: list[Line]
) -> None:
    queries = DashboardQueries(world.warehouse, Scope.admin())
    expected = expected_headline(lines)
    # Four currencies, and one of them (AUD) is shared by two accounts: the per-currency sum
    # must add those accounts, and never add two currencies together.
    assert len(expected) >= 3
    aud_accounts = {(ln.platform, ln.account_id) for ln in lines if ln.currency == "AUD"}
    assert len(aud_accounts) >= 2
    _assert_equal(_headline(queries, Filters()), expected)


def test_headline_for_a_period_uses_the_events_local_date(
    world: DashboardWorld, lines: list[Line]
) -> None:
    queries = DashboardQueries(world.warehouse, Scope.admin())
    days = sorted({ln.local_date for ln in lines})
    start, end = days[len(days) // 3], days[2 * len(days) // 3]
    expected = expected_headline(lines, date_from=start, date_to=end)
    actual = _headline(queries, Filters(date_from=start, date_to=end))
    _assert_equal(actual, expected)
    assert actual != _headline(queries, Filters())  # the period really narrowed the figures


def test_promoter_headline_is_their_account_only(world: DashboardWorld, lines) -> None:
    queries = DashboardQueries(world.warehouse, world.scope("sydney"))
    expected = expected_headline(lines, accounts={world.accounts.sydney})
    assert set(expected) == {"AUD"}
    _assert_equal(_headline(queries, Filters()), expected)


def test_event_grant_limits_figures_to_that_event(world: DashboardWorld, lines) -> None:
    queries = DashboardQueries(world.warehouse, world.scope("newyork"))
    account_total = expected_headline(lines, accounts={world.accounts.newyork})
    expected = expected_headline(
        lines, accounts={world.accounts.newyork}, events={world.accounts.newyork_event}
    )
    assert expected["USD"]["gross"] < account_total["USD"]["gross"]
    _assert_equal(_headline(queries, Filters()), expected)


@pytest.mark.parametrize("period", [False, True], ids=["all-time", "period"])
def test_series_and_breakdowns_add_up_to_the_headline(
    world: DashboardWorld, lines: list[Line], period: bool
) -> None:
    queries = DashboardQueries(world.warehouse, Scope.admin())
    days = sorted({ln.local_date for ln in lines})
    # With a period the breakdowns date order lines in the event's zone (a join); without one
    # they read ticket_sales alone. Both must agree with daily_sales.
    filters = Filters(date_from=days[len(days) // 2], date_to=days[-10]) if period else Filters()
    with queries.connection():
        head = queries.headline(filters).set_index("currency")
        daily = queries.daily(filters).groupby("currency")[["tickets_sold", "gross"]].sum()
        types = queries.ticket_types(filters).groupby("currency")[["tickets_sold", "gross"]].sum()
        channels = queries.channels(filters).groupby("currency")["tickets_sold"].sum()
        pace = queries.pace(filters, max_events=10_000)
        top = queries.pace(filters)
    assert len(head) >= 3
    for currency in head.index:
        assert daily.loc[currency, "gross"] == head.loc[currency, "gross"]
        assert types.loc[currency, "gross"] == head.loc[currency, "gross"]
        assert types.loc[currency, "tickets_sold"] == head.loc[currency, "tickets_sold"]
        assert channels.loc[currency] == head.loc[currency, "tickets_sold"]
    # Every sale belongs to a dated session in the sandbox, so the pace curve counts them all.
    assert pace["tickets_sold"].sum() == head["tickets_sold"].sum()
    assert pace["days_to_event"].min() >= 0  # sold before the session, never after
    # By default the curves of the 8 best-selling events, whole.
    per_event = pace.groupby("event_id")["tickets_sold"].sum().sort_values(ascending=False)
    assert top["event_id"].nunique() == min(8, len(per_event))
    shown = top.groupby("event_id")["tickets_sold"].sum()
    assert shown.min() >= per_event.iloc[len(shown) - 1]
    assert all(shown[e] == per_event[e] for e in shown.index)


def test_promo_codes_and_channels(world: DashboardWorld, lines: list[Line]) -> None:
    queries = DashboardQueries(world.warehouse, Scope.admin())
    promos = queries.promo_codes(Filters())
    assert promos["promo_code"].notna().all() and len(promos) > 0
    assert set(promos["promo_code"]) <= {"EARLYBIRD", "FRIENDS20", "MEMBERS15", "CREW50"}
    assert (promos["discounts"] > 0).all()
    assert {"online", "box_office"} <= set(queries.channels(Filters())["sales_channel"])


def test_sessions_sell_through(world: DashboardWorld) -> None:
    sessions = DashboardQueries(world.warehouse, Scope.admin()).sessions(Filters())
    with_capacity = sessions[sessions["capacity"] > 0]
    assert len(with_capacity) > 0
    ratio = with_capacity["tickets_sold"] / with_capacity["capacity"]
    assert (with_capacity["sell_through"] - ratio.astype(float)).abs().max() < 1e-9
    assert (
        with_capacity["tickets_remaining"]
        == (with_capacity["capacity"] - with_capacity["tickets_sold"]).clip(lower=0)
    ).all()


def test_orders_mask_emails_unless_granted(world: DashboardWorld) -> None:
    masked = re.compile(r"^[^@]\*\*\*@[^@]+$")
    sydney = DashboardQueries(world.warehouse, world.scope("sydney")).orders(Filters())
    assert len(sydney) > 0 and sydney["purchaser_email"].map(masked.match).all()
    newyork = DashboardQueries(world.warehouse, world.scope("newyork")).orders(Filters())
    assert len(newyork) > 0 and not newyork["purchaser_email"].map(masked.match).any()
    admin = DashboardQueries(world.warehouse, Scope.admin()).orders(Filters())
    assert not admin["purchaser_email"].str.contains(r"\*\*\*").any()


def test_order_search(world: DashboardWorld, lines: list[Line]) -> None:
    sydney_lines = [ln for ln in lines if (ln.platform, ln.account_id) == world.accounts.sydney]
    target = sydney_lines[0]
    sydney = DashboardQueries(world.warehouse, world.scope("sydney"))
    found = sydney.orders(Filters(), search=target.order_id.upper())
    assert set(found["order_id"]) == {target.order_id}
    # A masked email cannot be probed by searching for it.
    assert sydney.orders(Filters(), search=target.values["email"]).empty
    admin = DashboardQueries(world.warehouse, Scope.admin())
    assert target.order_id in set(
        admin.orders(Filters(), search=target.values["email"])["order_id"]
    )
    # LIKE wildcards are plain characters here.
    assert sydney.orders(Filters(), search="%").empty


def test_orders_export_limit_and_page(world: DashboardWorld) -> None:
    queries = DashboardQueries(world.warehouse, Scope.admin())
    assert len(queries.orders(Filters())) == 500
    assert len(queries.orders(Filters(), limit=100_000)) > 2000


def test_reconciliation_flags_an_event_with_a_mismatching_session(
    world: DashboardWorld, tmp_path
) -> None:
    import shutil

    import duckdb

    from ticketing_pipeline.warehouse import Warehouse, WarehouseKind

    clean = DashboardQueries(world.warehouse, Scope.admin()).reconciliation(Filters())
    assert len(clean) > 0 and set(clean["status"]) == {"match"}
    assert world.warehouse.duckdb_path is not None
    copy = tmp_path / "copy.duckdb"
    shutil.copy(world.warehouse.duckdb_path, copy)
    with duckdb.connect(str(copy)) as connection:
        connection.execute(
            "update marts.ticket_reconciliation set status = 'mismatch', "
            "tickets_sold_difference = 2 where session_id = ("
            "select min(session_id) from marts.ticket_reconciliation where event_id = ?)",
            [world.accounts.newyork_event],
        )
    warehouse = Warehouse(WarehouseKind.DUCKDB, duckdb_path=copy)
    frame = DashboardQueries(warehouse, Scope.admin()).reconciliation(Filters())
    flagged = frame[frame["status"] != "match"]
    assert list(flagged["event_id"]) == [world.accounts.newyork_event]
    assert flagged["tickets_sold_difference"].iloc[0] == 2


def test_accounts_staleness(world: DashboardWorld) -> None:
    queries = DashboardQueries(world.warehouse, Scope.admin())
    fresh = queries.accounts(timedelta(hours=6))
    assert set(zip(fresh["platform"], fresh["account_id"], strict=True)) == set(world.accounts.all)
    assert not fresh["is_stale"].any()
    later = datetime.now(UTC) + timedelta(hours=7)
    assert queries.accounts(timedelta(hours=6), now=later)["is_stale"].all()
    sydney = DashboardQueries(world.warehouse, world.scope("sydney")).accounts(timedelta(hours=6))
    assert list(zip(sydney["platform"], sydney["account_id"], strict=True)) == [
        world.accounts.sydney
    ]


def test_filter_choices_are_scoped(world: DashboardWorld) -> None:
    newyork = DashboardQueries(world.warehouse, world.scope("newyork"))
    assert list(newyork.events(Filters())["event_id"]) == [world.accounts.newyork_event]
    sessions = newyork.session_choices(Filters())
    assert set(sessions["event_id"]) == {world.accounts.newyork_event}
    first, last = newyork.sales_date_range()
    assert first is not None and last is not None and first <= last
    nobody = DashboardQueries(world.warehouse, world.scope("nobody"))
    assert nobody.sales_date_range() == (None, None)


def test_a_user_with_no_grant_sees_nothing(world: DashboardWorld) -> None:
    queries = DashboardQueries(world.warehouse, world.scope("nobody"))
    for frame in _all_frames(queries, Filters()):
        assert frame.empty


def _all_frames(queries: DashboardQueries, filters: Filters, search: str = "") -> list:
    with queries.connection():
        return [
            queries.headline(filters),
            queries.daily(filters),
            queries.pace(filters),
            queries.ticket_types(filters),
            queries.channels(filters),
            queries.promo_codes(filters),
            queries.orders(filters, search),
            queries.sessions(filters),
            queries.reconciliation(filters),
            queries.events(filters),
            queries.session_choices(filters),
            queries.accounts(timedelta(hours=6)),
        ]


def test_other_accounts_ids_in_filters_reach_nothing(world: DashboardWorld) -> None:
    scope = world.scope("sydney")
    queries = DashboardQueries(world.warehouse, scope)
    others = [a for a in world.accounts.all if a != world.accounts.sydney]
    filters = Filters(
        platforms=("humanitix", "eventbrite"),
        accounts=tuple(others),
        events=(world.accounts.newyork_event,),
    )
    frames = _all_frames(queries, filters)
    assert_within(frames, scope.grants)
    assert queries.headline(filters).empty and queries.orders(filters).empty
    # Their own account through the same filters still works: the filters are real filters.
    own = Filters(accounts=(world.accounts.sydney,))
    assert not queries.headline(own).empty


HOSTILE = [
    "' OR '1'='1",
    "hx-acc-1' --",
    "x'); DROP TABLE marts.ticket_sales; --",
    '" OR 1=1 --',
    "%",
    "_",
    "*",
    "\\",
    "humanitix:hx-acc-2",
    "1 UNION SELECT * FROM marts.ticket_sales",
    "😀",
    "a\x00b",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filter_values_are_only_values(world: DashboardWorld, value: str) -> None:
    sydney = DashboardQueries(world.warehouse, world.scope("sydney"))
    filters = Filters(
        platforms=(value,) if value else (),
        accounts=((value, value), ("humanitix", value)),
        events=(value,),
        sessions=(value,),
    )
    frames = _all_frames(sydney, filters, search=value)
    assert_within(frames, sydney.scope.grants)
    # Bound, not spliced: a value that is no id matches no row (an injected OR would match all).
    assert sydney.headline(filters).empty
    assert DashboardQueries(world.warehouse, Scope.admin()).headline(filters).empty
    # And the warehouse is intact.
    assert not DashboardQueries(world.warehouse, Scope.admin()).headline(Filters()).empty


def test_queries_hold_no_lock_between_calls(world: DashboardWorld) -> None:
    import duckdb

    queries = DashboardQueries(world.warehouse, Scope.admin())
    queries.headline(Filters())
    # A writer (dlt load, dbt run) can open the file as soon as a query returns.
    writer = duckdb.connect(str(world.warehouse.duckdb_path))
    writer.close()


def test_busy_warehouse_is_reported_not_hung(world: DashboardWorld, tmp_path) -> None:
    import shutil
    import subprocess
    import sys

    from ticketing_pipeline.dashboard.queries import WarehouseBusyError
    from ticketing_pipeline.warehouse import Warehouse, WarehouseKind

    assert world.warehouse.duckdb_path is not None
    copy = tmp_path / "busy.duckdb"
    shutil.copy(world.warehouse.duckdb_path, copy)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', "
            "flush=True); time.sleep(60)",
            str(copy),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        warehouse = Warehouse(WarehouseKind.DUCKDB, duckdb_path=copy)
        queries = DashboardQueries(warehouse, Scope.admin(), busy_timeout_seconds=0.3)
        with pytest.raises(WarehouseBusyError):
            queries.headline(Filters())
    finally:
        holder.kill()
        holder.wait()
    assert not DashboardQueries(warehouse, Scope.admin()).headline(Filters()).empty


def test_date_only_filters(world: DashboardWorld, lines: list[Line]) -> None:
    queries = DashboardQueries(world.warehouse, world.scope("sydney"))
    day = max(
        ln.local_date for ln in lines if (ln.platform, ln.account_id) == world.accounts.sydney
    )
    expected = expected_headline(lines, accounts={world.accounts.sydney}, date_from=day)
    _assert_equal(_headline(queries, Filters(date_from=day)), expected)
    assert _headline(queries, Filters(date_from=day + timedelta(days=1))) == {}
    assert _headline(queries, Filters(date_to=date(2000, 1, 1))) == {}
