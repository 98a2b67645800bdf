"""What makes the dashboard a product for promoters: periods with presets and deltas, a
per-event summary, the "Selling fast" view, local session times, display names, freshness,
one currency per chart axis, and the last figures shown while the warehouse is busy."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.unit.dashboard.expected import expected_headline, sales_lines
from tests.unit.dashboard.fixtures import PASSWORDS, DashboardWorld
from ticketing_pipeline.config import CONFIG_ENV
from ticketing_pipeline.dashboard import charts, display
from ticketing_pipeline.dashboard.auth import USERS_ENV
from ticketing_pipeline.dashboard.queries import DashboardQueries, Filters
from ticketing_pipeline.dashboard.run import APP_PATH

pytestmark = pytest.mark.xdist_group("dashboard")


@pytest.fixture
def app(world: DashboardWorld, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv(CONFIG_ENV, str(world.config_path))
    monkeypatch.setenv(USERS_ENV, str(world.users_path))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP_PATH), default_timeout=60)
    at.run()
    return at


def _login(at: AppTest, username: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(PASSWORDS[username])
    at.button[0].click()
    return at.run()


def _metric(at: AppTest, label: str) -> tuple[Decimal, str | None]:
    (metric,) = [m for m in at.metric if m.label == label]
    return Decimal(metric.value.replace(",", "")), metric.delta


def _table(at: AppTest, column: str) -> pd.DataFrame:
    for element in at.dataframe:
        if column in element.value.columns:
            return element.value
    raise AssertionError(f"no table with a {column} column")


def _last_sales_day(lines: list, account: tuple[str, str]) -> date:
    return max(
        ln.local_date
        for ln in lines
        if (ln.platform, ln.account_id) == account and ln.order_status != "pending"
    )


# --- the page --------------------------------------------------------------------------------


def test_default_period_is_30_days_with_deltas_vs_the_previous_30(
    app: AppTest, world: DashboardWorld
) -> None:
    lines = sales_lines(world.warehouse)
    account = world.accounts.sydney
    last = _last_sales_day(lines, account)
    _login(app, "sydney")
    assert not app.exception, app.exception
    assert app.sidebar.radio(key="period_preset").value == "30 days"
    start = last - timedelta(days=29)
    now = expected_headline(lines, accounts={account}, date_from=start, date_to=last)["AUD"]
    before = expected_headline(
        lines,
        accounts={account},
        date_from=start - timedelta(days=30),
        date_to=start - timedelta(days=1),
    ).get("AUD", dict.fromkeys(now, 0))
    tickets, tickets_delta = _metric(app, "Tickets sold")
    assert tickets == now["tickets_sold"]
    assert tickets_delta == f"{now['tickets_sold'] - before['tickets_sold']:+,d}"
    gross, gross_delta = _metric(app, "Gross (AUD)")
    assert gross == now["gross"].quantize(Decimal("0.01"))
    assert gross_delta == f"{now['gross'] - before['gross']:+,.2f}"
    assert any("previous 30 days" in c.value for c in app.caption)

    # "All" drops the comparison and shows every sale.
    app.sidebar.radio(key="period_preset").set_value("All").run()
    everything = expected_headline(lines, accounts={account})["AUD"]
    gross, gross_delta = _metric(app, "Gross (AUD)")
    assert gross == everything["gross"].quantize(Decimal("0.01")) and not gross_delta


def test_freshness_is_shown_from_the_last_sync_and_build(app: AppTest) -> None:
    _login(app, "sydney")
    (caption,) = [c.value for c in app.caption if c.value.startswith("Data as of")]
    # The world was synced and built minutes ago, on today's UTC date.
    assert f"{datetime.now(UTC):%Y-%m-%d}" in caption
    age = r"\((just now|\d+ min ago|\d+ h ago)\)"
    assert re.search(f"UTC {age}: the last successful sync", caption), caption
    assert re.search(f"Figures built .* UTC {age}", caption), caption


def test_events_summary_adds_up_to_the_sessions(app: AppTest, world: DashboardWorld) -> None:
    lines = sales_lines(world.warehouse)
    _login(app, "admin")
    events = _table(app, "refunded_text")
    sessions = _table(app, "starts_local")
    assert events["tickets_sold"].sum() == sessions["tickets_sold"].sum()
    assert set(events["account"]) <= set(_table(app, "display_name")["display_name"])
    assert not events["account"].isin([a for _, a in world.accounts.all]).any()
    # Exact money with its currency; per currency it adds up to every sale's gross.
    gross: dict[str, Decimal] = defaultdict(Decimal)
    for text in events["gross_text"]:
        amount, currency = text.split(" ")
        gross[currency] += Decimal(amount.replace(",", ""))
    expected = expected_headline(lines)
    for currency, total in gross.items():
        assert abs(total - expected[currency]["gross"]) < Decimal("0.01") * len(events)
    with_capacity = events[events["capacity"] > 0]
    assert (with_capacity["sell_through"] >= 0).all() and (with_capacity["sell_through"] <= 1).all()


def test_sessions_show_local_times_with_the_zone(app: AppTest) -> None:
    _login(app, "sydney")
    sessions = _table(app, "starts_local")
    row = sessions.dropna(subset=["starts_at"]).iloc[0]
    local = pd.Timestamp(row["starts_at"]).tz_convert(ZoneInfo(row["timezone"]))
    assert row["starts_local"] == f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    assert row["starts_local"].split()[-1] in {"AEST", "AEDT"}  # the Sydney account


def test_selling_fast_lists_projected_sell_outs_soonest_first(
    app: AppTest, world: DashboardWorld
) -> None:
    _login(app, "admin")
    fast = _table(app, "days_left")
    assert len(fast) > 0, "the sandbox world should have sessions projected to sell out"
    assert (fast["forecast_status"] == "projected").all()
    projected = pd.to_datetime(fast["projected_sell_out_at"], utc=True)
    assert projected.is_monotonic_increasing
    assert (projected <= pd.to_datetime(fast["starts_at"], utc=True)).all()
    assert (fast["tickets_remaining"] > 0).all() and (fast["rate"] > 0).all()


def test_the_last_figures_are_shown_while_the_warehouse_is_busy(
    app: AppTest, world: DashboardWorld
) -> None:
    _login(app, "sydney")
    gross_before = _metric(app, "Gross (AUD)")
    st.cache_data.clear()  # the page must query again, and meet the lock
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('held', flush=True); time.sleep(120)",
            str(world.warehouse.duckdb_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        app.run()
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert not app.exception, app.exception
    assert _metric(app, "Gross (AUD)") == gross_before
    notices = [i.value for i in app.info if "warehouse is busy" in i.value]
    assert notices and "showing figures from" in notices[0]
    assert took < 30, f"one wait per page, not one per query ({took:.0f} s)"


# --- queries ---------------------------------------------------------------------------------


def test_event_summary_is_scoped(world: DashboardWorld) -> None:
    scope = world.scope("newyork")
    frame = DashboardQueries(world.warehouse, scope).event_summary(Filters())
    assert set(frame["event_id"]) == {world.accounts.newyork_event}
    assert set(frame["currency"]) == {"USD"}
    freshness = DashboardQueries(world.warehouse, scope).freshness()
    assert freshness["oldest_sync_at"].notna().all()


# --- charts and display ------------------------------------------------------------------------


def _daily() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sales_date": [date(2025, 6, 1), date(2025, 6, 1), date(2025, 6, 2)],
            "currency": ["AUD", "USD", "AUD"],
            "tickets_sold": [3, 2, 1],
            "gross": [Decimal("30.50"), Decimal("20"), Decimal("10")],
            "net": [Decimal("25"), Decimal("18"), Decimal("9")],
            "tickets_refunded": [1, 1, 0],
            "refunded": [Decimal("10"), Decimal("7"), Decimal("0")],
        }
    )


@pytest.mark.parametrize("chart", [charts.daily_sales_chart, charts.refunds_chart])
def test_two_currencies_never_share_an_axis(chart) -> None:  # noqa: ANN001
    figure = chart(_daily())
    axes = {trace.name: trace.yaxis for trace in figure.data}
    assert set(axes) == {"AUD", "USD"}
    assert len(set(axes.values())) == 2  # one y axis per currency
    titles = {figure.layout[name.replace("y", "yaxis", 1)].title.text for name in axes.values()}
    assert all(t.endswith(("(AUD)", "(USD)")) for t in titles) and len(titles) == 2


def test_money_is_exact_with_its_currency() -> None:
    assert display.money(Decimal("1234.5"), "AUD") == "1,234.50 AUD"
    assert display.money(Decimal("0.1") + Decimal("0.2"), "USD") == "0.30 USD"
    assert display.money(None, "USD") == ""


def test_local_time_names_the_zone() -> None:
    instant = datetime(2025, 7, 1, 9, 30, tzinfo=UTC)
    assert display.local_time(instant, "Australia/Sydney") == "2025-07-01 19:30 AEST"
    assert display.local_time(instant, "America/New_York") == "2025-07-01 05:30 EDT"
    assert display.local_time(instant, None) == "2025-07-01 09:30 UTC"


def test_presets_and_the_previous_period() -> None:
    last = date(2025, 6, 30)
    week = display.period("7 days", last)
    assert (week.date_from, week.date_to, week.days) == (date(2025, 6, 24), last, 7)
    assert week.previous == (date(2025, 6, 17), date(2025, 6, 23))
    assert display.period("All", last) == display.Period(None, None, None)
    custom = display.period("Custom", last, (date(2025, 6, 1), date(2025, 6, 10)))
    assert custom.previous == (date(2025, 5, 22), date(2025, 5, 31))


def test_age_reads_naturally() -> None:
    now = datetime(2025, 6, 30, 12, tzinfo=UTC)
    assert display.age(now - timedelta(seconds=5), now) == "just now"
    assert display.age(now - timedelta(minutes=12), now) == "12 min ago"
    assert display.age(now - timedelta(hours=5), now) == "5 h ago"
    assert display.age(now - timedelta(days=3), now) == "3 days ago"
    assert display.age(None, now) == "never"
