"""The sales dashboard (Streamlit UI only): login, filters, figures, charts and tables.

Start it with ``ticketing_pipeline.dashboard.run.run_dashboard`` (``ticketing dashboard``).
Every figure comes from ``queries.DashboardQueries`` built with the logged-in user's scope;
this file never writes SQL and never decides what a user may see.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ticketing_pipeline.config import ConfigError, load_config
from ticketing_pipeline.dashboard import charts, display
from ticketing_pipeline.dashboard.auth import (
    LOGIN_FAILED,
    DashboardConfigError,
    LoginSession,
    LoginThrottle,
    User,
    UsersConfig,
    load_users,
    login,
)
from ticketing_pipeline.dashboard.export import ExportJanitor, orders_csv
from ticketing_pipeline.dashboard.queries import (
    ORDERS_PAGE_LIMIT,
    DashboardQueries,
    Filters,
    WarehouseBusyError,
    account_key,
    parse_account_keys,
)
from ticketing_pipeline.dashboard.scope import Scope
from ticketing_pipeline.warehouse import Warehouse, resolve_warehouse

SESSION_KEY = "login_session"
SEARCH_KEY = "order_search"
# Results are cached per (scope, filters) for this long: re-renders (a tab, a search) are
# instant, and figures are at most this stale. The scope is in the key, so a cached result is
# never served to a user with another scope.
CACHE_SECONDS = 60


@st.cache_resource
def _throttle() -> LoginThrottle:
    return LoginThrottle()  # one per server process, shared by every browser session


@st.cache_resource
def _export_janitor() -> ExportJanitor:
    return ExportJanitor().start()  # one per server process: deletes generated exports


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False, max_entries=2000)
def _cached(
    warehouse: Warehouse, scope: Scope, name: str, *args: Any, _queries: DashboardQueries
) -> tuple[Any, datetime]:
    # The key is (warehouse, scope, query, arguments); ``_queries`` (not hashed) only carries
    # the page's connection and has the same warehouse and scope. The result comes with the
    # time it was read, which the page shows when it has to fall back on it.
    return getattr(_queries, name)(*args), datetime.now(UTC)


class LastGoodResults:
    """The last successful result of each (warehouse, scope, query, arguments), kept while a
    load or dbt build holds DuckDB, so the page shows its last figures with their age instead
    of a blank warning. The scope is in the key: a user never gets another scope's result.
    Bounded (least recently used out) so filters tried over a long uptime cannot grow it."""

    def __init__(self, max_entries: int = 2000) -> None:
        self._entries: OrderedDict[Hashable, tuple[Any, datetime]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def put(self, key: Hashable, value: Any, fetched_at: datetime) -> None:
        with self._lock:
            self._entries[key] = (value, fetched_at)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def get(self, key: Hashable) -> tuple[Any, datetime] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found


@st.cache_resource
def _last_good() -> LastGoodResults:
    return LastGoodResults()  # one per server process, shared by every browser session


class Data:
    """The page's data access: cached calls into the query layer for one scope, sharing one
    lazily opened connection per page run. While the warehouse is busy, each query answers
    with its last successful result (``busy_since`` is then the oldest such result's time)."""

    def __init__(self, warehouse: Warehouse, scope: Scope) -> None:
        self.warehouse, self.scope = warehouse, scope
        self.queries = DashboardQueries(warehouse, scope)
        self.busy_since: datetime | None = None

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            key = (self.warehouse, self.scope, name, args)
            try:
                value, fetched_at = _cached(
                    self.warehouse, self.scope, name, *args, _queries=self.queries
                )
            except WarehouseBusyError:
                found = _last_good().get(key)
                if found is None:
                    raise
                value, fetched_at = found
                # The other queries of this page fail fast: one wait per page, not per query.
                self.queries.stop_waiting()
                self.busy_since = min(self.busy_since or fetched_at, fetched_at)
                return value.copy() if isinstance(value, pd.DataFrame) else value
            _last_good().put(key, value, fetched_at)
            return value

        return call


def _current_user(users: UsersConfig) -> User | None:
    """The logged-in user, re-read from the users file on every run: a removed user, a
    changed password or a revoked grant takes effect at once; an expired session ends."""
    session: LoginSession | None = st.session_state.get(SESSION_KEY)
    if session is None:
        return None
    user = session.current_user(users)
    if user is None:
        del st.session_state[SESSION_KEY]
        st.session_state["notice"] = "Your session has expired; please log in again."
    return user


def _client_address() -> str | None:
    """The browser's address: the WebSocket peer, or the X-Forwarded-For address when the peer
    is a proxy uvicorn trusts (``FORWARDED_ALLOW_IPS``, loopback by default). None for a
    loopback peer, or when the server gives no address (a string is all that is trusted)."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else None


def _login_form(users: UsersConfig) -> None:
    st.title("Ticket sales")
    if notice := st.session_state.pop("notice", None):
        st.info(notice)
    with st.form("login_form"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        # Failures are counted per username *and* client address, see LoginThrottle.
        session = login(users, _throttle(), username, password, client=_client_address())
        if session is None:
            st.error(LOGIN_FAILED)
        else:
            st.session_state[SESSION_KEY] = session
            st.rerun()


def _height(rows: int, max_rows: int = 20) -> int:
    # Header plus up to ``max_rows`` rows of 35 px: long tables scroll, short ones do not pad.
    return 38 + 35 * max(1, min(rows, max_rows))


def _table(
    data: Any, key: str, rows: int, columns: Mapping[str, Any], order: Sequence[str] | None = None
) -> None:
    """One of the dashboard's grids: ``data`` (a frame or its styler) with ``rows`` rows, sized
    to them. ``columns`` configures the columns by name and, unless ``order`` names the ones to
    show (the config may cover more), they are shown in its order."""
    st.dataframe(
        data,
        hide_index=True,
        key=key,
        lazy=False,
        height=_height(rows),
        column_order=list(columns) if order is None else order,
        column_config=columns,
    )


def _account_names(data: Data) -> dict[tuple[str, str], str]:
    """(platform, account_id) -> the account's display name (the config's display_name)."""
    accounts = data.accounts(timedelta(hours=1))
    return {
        (r.platform, r.account_id): str(r.display_name or r.account_id)
        for r in accounts.itertuples()
    }


def _with_account(frame: pd.DataFrame, names: dict[tuple[str, str], str]) -> pd.DataFrame:
    out = frame.copy()
    out["account"] = [
        names.get((p, a), a) for p, a in zip(out["platform"], out["account_id"], strict=True)
    ]
    return out


@dataclass(frozen=True)
class Choice:
    """The sidebar's filters and the chosen period (with the previous one to compare)."""

    filters: Filters
    period: display.Period
    preset: str


def _sidebar_filters(user: User, data: Data) -> Choice:
    sidebar = st.sidebar
    sidebar.markdown(f"**{user.display_name}** · {user.role.value}")
    if sidebar.button("Log out", key="logout"):
        # Everything goes, filters included: the next user of this tab starts clean.
        st.session_state.clear()
        st.rerun()
    first, last = data.sales_date_range()
    presets = list(display.PRESETS)
    preset = sidebar.radio(
        "Period",
        presets,
        index=presets.index(display.DEFAULT_PRESET),
        horizontal=True,
        key="period_preset",
    )
    custom: tuple[date | None, date | None] = (None, None)
    if preset == "Custom" and first and last:
        picked = sidebar.date_input(
            "Days", value=(first, last), min_value=first, max_value=last, key="period"
        )
        custom = _period(picked)
    chosen = display.period(preset, last, custom)
    if chosen.date_from and chosen.date_to:
        sidebar.caption(
            f"{chosen.date_from:%d %b %Y} – {chosen.date_to:%d %b %Y}, in each event's local "
            "dates" + (" (presets end on the latest day with sales)" if preset != "Custom" else "")
        )
    # The whole range is no date filter: the breakdowns then skip the time-zone join.
    date_from = None if first is None or (chosen.date_from or first) <= first else chosen.date_from
    date_to = None if last is None or (chosen.date_to or last) >= last else chosen.date_to

    accounts = data.accounts(timedelta(hours=1))
    platforms = sidebar.multiselect(
        "Platform", sorted(accounts["platform"].unique()), key="platforms"
    )
    shown = accounts[accounts["platform"].isin(platforms)] if platforms else accounts
    names = {account_key(r.platform, r.account_id): r.display_name for r in shown.itertuples()}
    chosen_accounts = sidebar.multiselect(
        "Account", list(names), format_func=lambda k: names.get(k, k), key="accounts"
    )
    narrowed = Filters(platforms=tuple(platforms), accounts=parse_account_keys(chosen_accounts))
    events = data.events(narrowed)
    event_names = {r.event_id: r.event_name or r.event_id for r in events.itertuples()}
    chosen_events = sidebar.multiselect(
        "Event", list(event_names), format_func=lambda e: event_names.get(e, e), key="events"
    )
    narrowed = Filters(
        platforms=narrowed.platforms, accounts=narrowed.accounts, events=tuple(chosen_events)
    )
    sessions = data.session_choices(narrowed)
    session_names = {r.session_id: r.session_name or r.session_id for r in sessions.itertuples()}
    chosen_sessions = sidebar.multiselect(
        "Session",
        list(session_names),
        format_func=lambda s: session_names.get(s, s),
        key="sessions",
    )
    filters = Filters(
        date_from=date_from,
        date_to=date_to,
        platforms=narrowed.platforms,
        accounts=narrowed.accounts,
        events=narrowed.events,
        sessions=tuple(chosen_sessions),
    )
    return Choice(filters, chosen, preset)


def _period(period: Any) -> tuple[date | None, date | None]:
    # While a range is being picked the widget holds one date: treat it as a one-day period.
    values = list(period) if isinstance(period, list | tuple) else [period] if period else []
    if not values:
        return None, None
    return values[0], values[-1]


def _previous_filters(choice: Choice) -> Filters | None:
    if choice.period.previous is None:
        return None
    start, end = choice.period.previous
    f = choice.filters
    return Filters(
        date_from=start,
        date_to=end,
        platforms=f.platforms,
        accounts=f.accounts,
        events=f.events,
        sessions=f.sessions,
    )


@dataclass(frozen=True)
class PageData:
    """Everything the page shows, fetched in one batch before anything is drawn: the DuckDB
    connection is closed while charts render, so a load or dbt run is locked out only for the
    queries' own time."""

    headline: pd.DataFrame
    previous: pd.DataFrame | None  # the previous period's headline (None: no comparison)
    daily: pd.DataFrame
    pace: pd.DataFrame
    ticket_types: pd.DataFrame
    channels: pd.DataFrame
    promo_codes: pd.DataFrame
    sessions: pd.DataFrame
    events: pd.DataFrame
    orders: pd.DataFrame
    freshness: pd.DataFrame
    account_names: dict[tuple[str, str], str]
    reconciliation: pd.DataFrame | None  # admins only
    accounts: pd.DataFrame | None  # admins only

    @classmethod
    def load(
        cls, data: Data, choice: Choice, search: str, stale_after: timedelta | None
    ) -> PageData:
        filters, previous = choice.filters, _previous_filters(choice)
        admin = stale_after is not None
        return cls(
            headline=data.headline(filters),
            previous=data.headline(previous) if previous is not None else None,
            daily=data.daily(filters),
            pace=data.pace(filters),
            ticket_types=data.ticket_types(filters),
            channels=data.channels(filters),
            promo_codes=data.promo_codes(filters),
            sessions=data.sessions(filters),
            events=data.event_summary(filters),
            orders=data.orders(filters, search),
            freshness=data.freshness(),
            account_names=_account_names(data),
            reconciliation=data.reconciliation(filters) if admin else None,
            accounts=data.accounts(stale_after) if admin else None,
        )


def _freshness(page: PageData, busy_since: datetime | None) -> None:
    row = page.freshness.iloc[0] if len(page.freshness) else None
    synced = None if row is None else row["oldest_sync_at"]
    built = None if row is None else row["built_at"]
    st.caption(
        f"Data as of {display.utc_label(synced)} ({display.age(synced)}): the last successful "
        f"sync of your accounts (the oldest of them). Figures built {display.utc_label(built)} "
        f"({display.age(built)}). Session times are in each event's local time zone; other "
        "times are UTC."
    )
    if busy_since is not None:
        st.info(
            "The warehouse is busy (a load or build is running): showing figures from "
            f"{display.utc_label(busy_since)} ({display.age(busy_since)})."
        )


def _headline(page: PageData, choice: Choice) -> None:
    figures = page.headline
    if figures.empty:
        st.info("No sales in this period for your selection.")
        return
    previous = {}
    if page.previous is not None:
        previous = {row.currency: row for row in page.previous.itertuples()}
        start, end = choice.period.previous or (None, None)
        st.caption(
            f"Changes compared with the previous {choice.period.days} days "
            f"({start:%d %b %Y} – {end:%d %b %Y})."
        )
    else:
        # Always a caption here: the page keeps its shape, so the tabs are not redrawn.
        st.caption("All dates: no previous period to compare with.")

    def change(row: Any, field: str, places: int = 2) -> str | None:
        before = previous.get(row.currency)
        if page.previous is None:
            return None
        return display.delta(getattr(row, field), getattr(before, field, 0), places)

    # One row of figures per currency: amounts of different currencies are never added.
    for row in figures.itertuples():
        st.markdown(f"##### {row.currency}")
        columns = st.columns(6)
        columns[0].metric(
            "Tickets sold", f"{int(row.tickets_sold):,}", change(row, "tickets_sold", 0)
        )
        columns[1].metric(f"Gross ({row.currency})", display.money(row.gross), change(row, "gross"))
        columns[2].metric(f"Net ({row.currency})", display.money(row.net), change(row, "net"))
        columns[3].metric(
            f"Fees ({row.currency})", display.money(row.fees), change(row, "fees"), "off"
        )
        columns[4].metric(
            "Tickets refunded",
            f"{int(row.tickets_refunded):,}",
            change(row, "tickets_refunded", 0),
            "inverse",
        )
        columns[5].metric(
            f"Refunded ({row.currency})",
            display.money(row.refunded),
            change(row, "refunded"),
            "inverse",
        )


def _sales_tab(page: PageData) -> None:
    left, right = st.columns(2)
    left.plotly_chart(charts.daily_sales_chart(page.daily), key="chart_daily")
    right.plotly_chart(charts.tickets_per_day_chart(page.daily), key="chart_tickets")
    left.plotly_chart(charts.pace_chart(page.pace), key="chart_pace")
    right.plotly_chart(charts.refunds_chart(page.daily), key="chart_refunds")
    mix, channels, promos = st.columns(3)
    mix.plotly_chart(
        charts.share_chart(page.ticket_types, "ticket_type_name", "Ticket types"),
        key="chart_mix",
    )
    channels.plotly_chart(
        charts.share_chart(page.channels, "sales_channel", "Sales channels"),
        key="chart_channels",
    )
    promos.plotly_chart(
        charts.share_chart(page.promo_codes, "promo_code", "Promo codes"), key="chart_promos"
    )


_TEXT = st.column_config.TextColumn


def _percent(label: str) -> Any:
    return st.column_config.ProgressColumn(
        label, format="percent", min_value=0.0, max_value=1.0, width="medium"
    )


def _count(label: str) -> Any:
    return st.column_config.NumberColumn(label, format="localized", width="small")


def _utc(label: str) -> Any:
    return st.column_config.DatetimeColumn(f"{label} (UTC)", format="YYYY-MM-DD HH:mm")


def _money_config(label: str) -> Any:
    # No fixed width: the grid sizes the column to its longest amount, which is never cut.
    return _TEXT(label, help="Exact amount in the row's currency")


def _sessions_view(sessions: pd.DataFrame, names: dict[tuple[str, str], str]) -> pd.DataFrame:
    out = _with_account(sessions, names)
    out["starts_local"] = display.local_times(out, "starts_at")
    out["projected_local"] = display.local_times(out, "projected_sell_out_at")
    out["gross_text"] = display.money_column(out, "gross_sales")
    out["net_text"] = display.money_column(out, "net_sales")
    out["last_order_utc"] = display.utc_naive(out["last_order_at"])
    return out


SESSION_COLUMNS = [
    "session_name",
    "account",
    "status",
    "starts_local",
    "venue_name",
    "capacity",
    "tickets_sold",
    "tickets_remaining",
    "sell_through",
    "gross_text",
    "net_text",
    "last_order_utc",
]
SESSION_CONFIG = {
    "event_name": _TEXT("Event", width="medium"),
    "session_name": _TEXT("Session", width="large"),
    "account": _TEXT("Account", width="small"),
    "status": _TEXT("Status", width="small"),
    "starts_local": _TEXT("Starts (event's local time)", width="medium"),
    "timezone": _TEXT("Time zone", width="small"),
    "venue_name": _TEXT("Venue"),
    "city": _TEXT("City", width="small"),
    "capacity": _count("Capacity"),
    "tickets_sold": _count("Sold"),
    "tickets_remaining": _count("Remaining"),
    "sell_through": _percent("Sold / capacity"),
    "is_sold_out": st.column_config.CheckboxColumn("Sold out", width="small"),
    "gross_text": _money_config("Gross"),
    "net_text": _money_config("Net"),
    "last_order_utc": _utc("Last order"),
}


def _sessions_tab(view: pd.DataFrame) -> None:
    st.plotly_chart(charts.sell_through_chart(view), key="chart_sell_through")
    st.caption("All dates (sell-through is not a period figure); sold / capacity where known.")
    _table(view, "sessions_table", len(view), SESSION_CONFIG, SESSION_COLUMNS)


def _events_tab(events: pd.DataFrame, names: dict[tuple[str, str], str]) -> None:
    view = _with_account(events, names)
    for column in ("gross", "net", "refunded"):
        view[f"{column}_text"] = display.money_column(view, column)
    view["last_order_utc"] = display.utc_naive(view["last_order_at"])
    st.caption(
        "One row per event and currency, all dates: sell-through counts sessions with a "
        "capacity; refunds are by order."
    )
    _table(
        view,
        "events_table",
        len(view),
        {
            "event_name": _TEXT("Event", width="medium"),
            "account": _TEXT("Account", width="small"),
            "sessions": _count("Sessions"),
            "tickets_sold": _count("Tickets sold"),
            "sell_through": _percent("Sold / capacity"),
            "currency": _TEXT("Currency", width="small"),
            "gross_text": _money_config("Gross"),
            "net_text": _money_config("Net"),
            "tickets_refunded": _count("Tickets refunded"),
            "refunded_text": _money_config("Refunded"),
            "last_order_utc": _utc("Last order"),
        },
    )


def _selling_fast_tab(view: pd.DataFrame) -> None:
    fast = view[view["forecast_status"] == "projected"].copy()
    fast = fast.sort_values("projected_sell_out_at", kind="stable")
    wont = int((view["forecast_status"] == "not_before_start").sum())
    st.caption(
        "Projected sell-out: the session's tickets remaining divided by its recent rate of "
        "sales (tickets per day over the last 7 days, recent days weighing more), from the "
        "last build. Times are in the event's local time zone. "
        f"{wont} more session(s) are selling but would not sell out before they start."
    )
    if fast.empty:
        st.info("No session is projected to sell out before it starts.")
        return
    fast["rate"] = pd.to_numeric(fast["sales_rate_per_day"], errors="coerce").astype("float64")
    # Days from the forecast (the last build) to the projected sell-out: remaining / rate.
    remaining = pd.to_numeric(fast["tickets_remaining"], errors="coerce").astype("float64")
    fast["days_left"] = (remaining / fast["rate"]).round(1)
    _table(
        fast,
        "selling_fast_table",
        len(fast),
        {
            "projected_local": _TEXT("Projected sell-out (event's local time)", width="medium"),
            "days_left": st.column_config.NumberColumn(
                "Days to sell out", format="%.1f", width="small"
            ),
            "session_name": _TEXT("Session", width="medium"),
            "account": _TEXT("Account", width="small"),
            "starts_local": _TEXT("Starts (event's local time)", width="medium"),
            "tickets_remaining": _count("Remaining"),
            "rate": st.column_config.NumberColumn("Tickets per day", format="%.1f"),
            "sell_through": _percent("Sold / capacity"),
        },
    )


ORDER_MONEY = ("gross_amount", "net_amount", "refunded_amount")


def _orders_tab(
    orders: pd.DataFrame, names: dict[tuple[str, str], str], data: Data, filters: Filters
) -> None:
    st.text_input("Search orders (order id, purchaser name or email)", key=SEARCH_KEY)
    st.caption(f"{len(orders):,} order lines shown (newest first, at most {ORDERS_PAGE_LIMIT}).")
    view = _with_account(orders, names)
    view["ordered_at"] = display.utc_naive(view["ordered_at"])
    for column in ORDER_MONEY:
        view[column] = display.money_column(view, column)
    _table(
        view,
        "orders_table",
        len(view),
        {
            "ordered_at": _utc("Ordered"),
            "account": _TEXT("Account", width="small"),
            "session_name": _TEXT("Session", width="medium"),
            "ticket_type_name": _TEXT("Ticket type", width="small"),
            "quantity": _count("Tickets"),
            "quantity_refunded": _count("Refunded"),
            "gross_amount": _money_config("Gross"),  # ORDER_MONEY, in its order
            "net_amount": _money_config("Net"),
            "refunded_amount": _money_config("Refunded amount"),
            "order_status": _TEXT("Status", width="small"),
            "purchaser_name": _TEXT("Purchaser", width="small"),
            "purchaser_email": _TEXT("Email", width="medium"),
            "promo_code": _TEXT("Promo", width="small"),
            "order_id": _TEXT("Order id", width="small"),
        },
    )
    search = st.session_state.get(SEARCH_KEY, "")
    warehouse, scope = data.warehouse, data.scope
    login_session: LoginSession = st.session_state[SESSION_KEY]
    track_export = _export_tracker()

    def export() -> bytes:
        # Runs on a worker thread when clicked, outside any script run: it re-checks the login
        # against the users file itself (ExportRefused: Streamlit sends no file), and the
        # janitor deletes the generated file soon after (see export.py).
        content = orders_csv(login_session, scope, warehouse, filters, search)
        track_export()
        return content

    st.download_button(
        "Download CSV",
        data=export,
        file_name="orders.csv",
        mime="text/csv",
        key="orders_csv",
        on_click="ignore",
    )


def _export_tracker() -> Callable[[], None]:
    """Tells the janitor about an export generated for this browser session (a no-op when
    the script runs without a Streamlit server)."""
    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return lambda: None
    server, session_id, janitor = runtime.get_instance(), ctx.session_id, _export_janitor()
    manager = server.media_file_mgr
    return lambda: janitor.track(manager, lambda: server.is_active_session(session_id))


def _highlight(row: pd.Series, bad: Callable[[pd.Series], bool]) -> list[str]:
    style = "background-color: #f8d7da; color: #58151c" if bad(row) else ""
    return [style] * len(row)


def _reconciliation_tab(frame: pd.DataFrame, names: dict[tuple[str, str], str]) -> None:
    bad = frame[frame["status"] != "match"]
    if len(bad):
        st.error(f"{len(bad)} event(s) do not reconcile with the platform.")
    else:
        st.success("Every event matches the platform's own figures.")
    view = _with_account(frame, names)
    for column in ("platform_gross", "store_gross", "gross_difference"):
        view[column] = display.money_column(view, column)
    view["checked_at"] = display.utc_naive(view["checked_at"])
    styled = view.style.apply(_highlight, axis=1, bad=lambda r: r["status"] != "match")
    counts = {
        "sessions": "Sessions",
        "match_sessions": "Matching sessions",
        "mismatch_sessions": "Mismatching sessions",
        "missing_in_store_sessions": "Sessions missing here",
        "missing_on_platform_sessions": "Sessions missing on the platform",
        "platform_tickets_sold": "Tickets sold (platform)",
        "store_tickets_sold": "Tickets sold (here)",
        "tickets_sold_difference": "Tickets difference",
    }
    _table(
        styled,
        "reconciliation_table",
        len(view),
        {
            "event_name": _TEXT("Event", width="medium"),
            "account": _TEXT("Account"),
            "status": _TEXT("Status", width="small"),
            **{column: _count(label) for column, label in counts.items()},
            "platform_gross": _money_config("Gross (platform)"),
            "store_gross": _money_config("Gross (here)"),
            "gross_difference": _money_config("Gross difference"),
            "checked_at": _utc("Checked"),
        },
    )


def _accounts_tab(frame: pd.DataFrame, users: UsersConfig) -> None:
    hours = f"{users.stale_after_hours:g} h"
    stale = frame[frame["is_stale"]]
    if len(stale):
        names = ", ".join(stale["display_name"].astype(str))
        st.warning(f"Stale accounts (no successful sync in {hours}): {names}")
    else:
        st.success(f"Every enabled account synced in the last {hours}.")
    first = ["display_name", "platform", "account_id", "is_stale", "hours_since_success"]
    frame = frame[first + [c for c in frame.columns if c not in first]].copy()
    for column in ("last_successful_sync_at", "last_sync_at"):
        frame[column] = display.utc_naive(frame[column])
    styled = frame.style.apply(_highlight, axis=1, bad=lambda r: bool(r["is_stale"]))
    st.dataframe(
        styled,
        hide_index=True,
        key="accounts_table",
        lazy=False,
        height=_height(len(frame)),
        column_config={
            "display_name": _TEXT("Account"),
            "platform": _TEXT("Platform", width="small"),
            "account_id": _TEXT("Account id", width="small"),
            "is_stale": st.column_config.CheckboxColumn("Stale", width="small"),
            "hours_since_success": st.column_config.NumberColumn(
                "Hours since last successful sync", format="%.1f"
            ),
            "is_configured": st.column_config.CheckboxColumn("Configured", width="small"),
            "is_enabled": st.column_config.CheckboxColumn("Enabled", width="small"),
            "last_successful_sync_at": _utc("Last successful sync"),
            "last_sync_at": _utc("Last sync"),
            "last_sync_status": _TEXT("Last sync status", width="small"),
            "last_sync_error": _TEXT("Last sync error", width="large"),
        },
    )


def _dashboard(user: User, users: UsersConfig, warehouse: Warehouse) -> None:
    data = Data(warehouse, user.scope)
    stale_after = timedelta(hours=users.stale_after_hours) if user.is_admin else None
    # One lazily opened connection for all of the page's queries, closed before drawing.
    with data.queries.connection(lazy=True):
        choice = _sidebar_filters(user, data)
        page = PageData.load(data, choice, st.session_state.get(SEARCH_KEY, ""), stale_after)
    st.title("Ticket sales")
    _freshness(page, data.busy_since)
    if user.scope.sees_nothing:
        st.warning("No accounts or events are granted to you yet; ask an admin.")
    if page.accounts is not None and page.accounts["is_stale"].any():
        st.warning(
            f"{int(page.accounts['is_stale'].sum())} account(s) are stale: see the Accounts tab."
        )
    _headline(page, choice)
    sessions = _sessions_view(page.sessions, page.account_names)
    names = ["Sales", "Events", "Sessions", "Selling fast", "Orders"]
    if user.is_admin:
        names += ["Reconciliation", "Accounts"]  # data-engineering views: admins only
    tabs = dict(zip(names, st.tabs(names), strict=True))
    with tabs["Sales"]:
        _sales_tab(page)
    with tabs["Events"]:
        _events_tab(page.events, page.account_names)
    with tabs["Sessions"]:
        _sessions_tab(sessions)
    with tabs["Selling fast"]:
        _selling_fast_tab(sessions)
    with tabs["Orders"]:
        _orders_tab(page.orders, page.account_names, data, choice.filters)
    if page.reconciliation is not None:
        with tabs["Reconciliation"]:
            _reconciliation_tab(page.reconciliation, page.account_names)
    if page.accounts is not None:
        with tabs["Accounts"]:
            _accounts_tab(page.accounts, users)


def main() -> None:
    st.set_page_config(page_title="Ticket sales", layout="wide")
    try:
        users = load_users()
        warehouse = resolve_warehouse(load_config())
    except (DashboardConfigError, ConfigError) as error:
        st.error(str(error))
        return
    user = _current_user(users)
    if user is None:
        _login_form(users)
        return
    try:
        _dashboard(user, users, warehouse)
    except WarehouseBusyError as error:
        st.warning(str(error))
    except sa.exc.DBAPIError as error:
        # Most often: the marts are not built yet (run the pipeline / dbt first).
        st.error(f"The warehouse could not be read: {type(error.orig).__name__}")


main()
