"""The sales dashboard (Streamlit UI only): login, filters, figures, charts and tables.

Start it with ``ticketing_pipeline.dashboard.run.run_dashboard`` (``ticketing dashboard``).
Every figure comes from ``queries.DashboardQueries`` built with the logged-in user's scope;
this file never writes SQL and never decides what a user may see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ticketing_pipeline.config import ConfigError, load_config
from ticketing_pipeline.dashboard import charts
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
) -> Any:
    # The key is (warehouse, scope, query, arguments); ``_queries`` (not hashed) only carries
    # the page's connection and has the same warehouse and scope.
    return getattr(_queries, name)(*args)


class Data:
    """The page's data access: cached calls into the query layer for one scope, sharing one
    lazily opened connection per page run."""

    def __init__(self, warehouse: Warehouse, scope: Scope) -> None:
        self.warehouse, self.scope = warehouse, scope
        self.queries = DashboardQueries(warehouse, scope)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return lambda *args: _cached(self.warehouse, self.scope, name, *args, _queries=self.queries)


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


def _money(value: Any) -> str:
    return f"{Decimal(value):,.2f}"  # exact: no float rounding of the warehouse's decimals


def _sidebar_filters(user: User, data: Data) -> Filters:
    sidebar = st.sidebar
    sidebar.markdown(f"**{user.display_name}** · {user.role.value}")
    if sidebar.button("Log out", key="logout"):
        # Everything goes, filters included: the next user of this tab starts clean.
        st.session_state.clear()
        st.rerun()
    first, last = data.sales_date_range()
    period: Any = ()
    if first and last:
        period = sidebar.date_input(
            "Period", value=(first, last), min_value=first, max_value=last, key="period"
        )
    date_from, date_to = _period(period)
    # The whole range is no date filter: the breakdowns then skip the time-zone join.
    date_from = None if date_from == first else date_from
    date_to = None if date_to == last else date_to

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
    return Filters(
        date_from=date_from,
        date_to=date_to,
        platforms=narrowed.platforms,
        accounts=narrowed.accounts,
        events=narrowed.events,
        sessions=tuple(chosen_sessions),
    )


def _period(period: Any) -> tuple[date | None, date | None]:
    # While a range is being picked the widget holds one date: treat it as a one-day period.
    values = list(period) if isinstance(period, list | tuple) else [period] if period else []
    if not values:
        return None, None
    return values[0], values[-1]


@dataclass(frozen=True)
class PageData:
    """Everything the page shows, fetched in one batch before anything is drawn: the DuckDB
    connection is closed while charts render, so a load or dbt run is locked out only for the
    queries' own time."""

    headline: pd.DataFrame
    daily: pd.DataFrame
    pace: pd.DataFrame
    ticket_types: pd.DataFrame
    channels: pd.DataFrame
    promo_codes: pd.DataFrame
    sessions: pd.DataFrame
    orders: pd.DataFrame
    reconciliation: pd.DataFrame
    accounts: pd.DataFrame | None  # admins only

    @classmethod
    def load(
        cls, data: Data, filters: Filters, search: str, stale_after: timedelta | None
    ) -> PageData:
        return cls(
            headline=data.headline(filters),
            daily=data.daily(filters),
            pace=data.pace(filters),
            ticket_types=data.ticket_types(filters),
            channels=data.channels(filters),
            promo_codes=data.promo_codes(filters),
            sessions=data.sessions(filters),
            orders=data.orders(filters, search),
            reconciliation=data.reconciliation(filters),
            accounts=data.accounts(stale_after) if stale_after is not None else None,
        )


def _headline(figures: pd.DataFrame) -> None:
    if figures.empty:
        st.info("No sales in this period for your selection.")
        return
    # One row of figures per currency: amounts of different currencies are never added.
    for row in figures.itertuples():
        st.markdown(f"##### {row.currency}")
        columns = st.columns(6)
        columns[0].metric("Tickets sold", f"{int(row.tickets_sold):,}")
        columns[1].metric(f"Gross ({row.currency})", _money(row.gross))
        columns[2].metric(f"Net ({row.currency})", _money(row.net))
        columns[3].metric(f"Fees ({row.currency})", _money(row.fees))
        columns[4].metric("Tickets refunded", f"{int(row.tickets_refunded):,}")
        columns[5].metric(f"Refunded ({row.currency})", _money(row.refunded))


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


SESSION_COLUMNS = [
    "event_name",
    "session_name",
    "status",
    "starts_at",
    "venue_name",
    "city",
    "capacity",
    "tickets_sold",
    "tickets_remaining",
    "sell_through",
    "is_sold_out",
    "currency",
    "gross_sales",
    "net_sales",
]


def _sessions_tab(sessions: pd.DataFrame) -> None:
    st.plotly_chart(charts.sell_through_chart(sessions), key="chart_sell_through")
    st.dataframe(
        sessions[SESSION_COLUMNS],
        hide_index=True,
        key="sessions_table",
        lazy=False,
        column_config={
            "sell_through": st.column_config.ProgressColumn(
                "Sold / capacity", format="percent", min_value=0.0, max_value=1.0
            ),
            "is_sold_out": st.column_config.CheckboxColumn("Sold out"),
        },
    )


def _orders_tab(orders: pd.DataFrame, data: Data, filters: Filters) -> None:
    st.text_input("Search orders (order id, purchaser name or email)", key=SEARCH_KEY)
    st.caption(f"{len(orders):,} order lines shown (newest first, at most {ORDERS_PAGE_LIMIT}).")
    st.dataframe(orders, hide_index=True, key="orders_table", lazy=False)
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


def _reconciliation_tab(frame: pd.DataFrame) -> None:
    bad = frame[frame["status"] != "match"]
    if len(bad):
        st.error(f"{len(bad)} event(s) do not reconcile with the platform.")
    else:
        st.success("Every event matches the platform's own figures.")
    styled = frame.style.apply(_highlight, axis=1, bad=lambda r: r["status"] != "match")
    st.dataframe(styled, hide_index=True, key="reconciliation_table", lazy=False)


def _accounts_tab(frame: pd.DataFrame, users: UsersConfig) -> None:
    hours = f"{users.stale_after_hours:g} h"
    stale = frame[frame["is_stale"]]
    if len(stale):
        names = ", ".join(stale["display_name"].astype(str))
        st.warning(f"Stale accounts (no successful sync in {hours}): {names}")
    else:
        st.success(f"Every enabled account synced in the last {hours}.")
    first = ["display_name", "platform", "account_id", "is_stale", "hours_since_success"]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    styled = frame.style.apply(_highlight, axis=1, bad=lambda r: bool(r["is_stale"]))
    st.dataframe(
        styled,
        hide_index=True,
        key="accounts_table",
        lazy=False,
        column_config={
            "is_stale": st.column_config.CheckboxColumn("Stale"),
            "hours_since_success": st.column_config.NumberColumn(
                "Hours since last successful sync", format="%.1f"
            ),
        },
    )


def _dashboard(user: User, users: UsersConfig, warehouse: Warehouse) -> None:
    data = Data(warehouse, user.scope)
    stale_after = timedelta(hours=users.stale_after_hours) if user.is_admin else None
    # One lazily opened connection for all of the page's queries, closed before drawing.
    with data.queries.connection(lazy=True):
        filters = _sidebar_filters(user, data)
        page = PageData.load(data, filters, st.session_state.get(SEARCH_KEY, ""), stale_after)
    st.title("Ticket sales")
    if user.scope.sees_nothing:
        st.warning("No accounts or events are granted to you yet; ask an admin.")
    if page.accounts is not None and page.accounts["is_stale"].any():
        st.warning(
            f"{int(page.accounts['is_stale'].sum())} account(s) are stale: see the Accounts tab."
        )
    _headline(page.headline)
    names = ["Sales", "Sessions", "Orders", "Reconciliation"]
    if page.accounts is not None:
        names.append("Accounts")
    tabs = st.tabs(names)
    with tabs[0]:
        _sales_tab(page)
    with tabs[1]:
        _sessions_tab(page.sessions)
    with tabs[2]:
        _orders_tab(page.orders, data, filters)
    with tabs[3]:
        _reconciliation_tab(page.reconciliation)
    if page.accounts is not None:
        with tabs[4]:
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
