"""Every query of the dashboard: SQLAlchemy Core, bound parameters, one scope for all of them.

Security rests on one rule: each statement restricts every mart it reads with ``restrict()``
(scope AND filters). The scope comes from the logged-in user, never from a filter or a URL, and
a filter can only narrow it: a filter value naming another promoter's account selects nothing,
and being a bound parameter it can never change the statement.

Speed: headline figures, daily series and the sales pace read the pre-aggregated ``daily_sales``
mart; only the breakdowns that need order lines (ticket types, channels, promo codes, orders)
read ``ticket_sales``. On DuckDB each batch of queries (a page) opens its own read-only
connection and closes it, so dlt loads and dbt runs are never locked out for long.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

import pandas as pd
import sqlalchemy as sa

from ticketing_pipeline.dashboard.marts import (
    DAILY_SALES,
    PLATFORMS,
    RECONCILIATION,
    SESSIONS,
    TICKET_SALES,
)
from ticketing_pipeline.dashboard.scope import Grant, Scope
from ticketing_pipeline.warehouse import Warehouse, WarehouseKind

# Row caps: the orders table shows a page, the CSV export more, neither the whole warehouse.
ORDERS_PAGE_LIMIT = 500
ORDERS_EXPORT_LIMIT = 100_000
# Events drawn on the sales pace chart.
PACE_MAX_EVENTS = 8
# A filter value longer than this is not an id anyone typed; it is cut, not trusted.
MAX_FILTER_VALUE = 200


class WarehouseBusyError(RuntimeError):
    """DuckDB is locked by a writer (a load or a dbt run) for longer than we wait."""


def _clean(value: object) -> str:
    # NUL cannot be stored in PostgreSQL text; nothing else needs cleaning (values are bound).
    return str(value).replace("\x00", "")[:MAX_FILTER_VALUE]


@dataclass(frozen=True)
class Filters:
    """What the user narrowed the view to; empty means "everything in my scope"."""

    date_from: date | None = None
    date_to: date | None = None
    platforms: tuple[str, ...] = ()
    # (platform, account_id) pairs: an account id is unique only within its platform.
    accounts: tuple[tuple[str, str], ...] = ()
    events: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Frozen: normalise through object.__setattr__. Lists from widgets become tuples so the
        # filters stay hashable (part of the cache key).
        object.__setattr__(self, "platforms", tuple(_clean(v) for v in self.platforms))
        pairs = tuple((_clean(p), _clean(a)) for p, a in self.accounts)
        object.__setattr__(self, "accounts", pairs)
        object.__setattr__(self, "events", tuple(_clean(v) for v in self.events))
        object.__setattr__(self, "sessions", tuple(_clean(v) for v in self.sessions))


# --- the one place where scope and filters become SQL ---------------------------------------


def _grant_condition(table: sa.TableClause, grant: Grant) -> sa.ColumnElement[bool]:
    condition = sa.and_(table.c.platform == grant.platform, table.c.account_id == grant.account_id)
    if grant.event_ids is not None and "event_id" in table.c:
        condition = sa.and_(condition, table.c.event_id.in_(grant.event_ids))
    return condition


def scope_condition(table: sa.TableClause, scope: Scope) -> sa.ColumnElement[bool]:
    """Rows of ``table`` the scope may see. Tables without ``event_id`` (ticket_platforms) are
    restricted to the granted accounts."""
    if scope.is_admin:
        return sa.true()
    if not scope.grants:
        return sa.false()
    return sa.or_(*(_grant_condition(table, grant) for grant in scope.grants))


@dataclass(frozen=True)
class Instants:
    """A timestamp column filtered by the period through per-row bounds: the UTC instants at
    which the period's first day and the day after its last day begin in the row's zone."""

    column: sa.ColumnElement
    start: sa.ColumnElement | None
    end: sa.ColumnElement | None


def filter_condition(
    table: sa.TableClause,
    filters: Filters,
    day: sa.ColumnElement | None = None,
    instants: Instants | None = None,
) -> sa.ColumnElement[bool]:
    """The user's filters on ``table``; the period applies to ``day`` (a date column) or to
    ``instants`` (a timestamp column with bounds)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.platforms:
        conditions.append(table.c.platform.in_(filters.platforms))
    if filters.accounts:
        conditions.append(
            sa.or_(
                *(
                    sa.and_(table.c.platform == platform, table.c.account_id == account)
                    for platform, account in filters.accounts
                )
            )
        )
    if filters.events and "event_id" in table.c:
        conditions.append(table.c.event_id.in_(filters.events))
    if filters.sessions and "session_id" in table.c:
        conditions.append(table.c.session_id.in_(filters.sessions))
    if day is not None and filters.date_from is not None:
        conditions.append(day >= filters.date_from)
    if day is not None and filters.date_to is not None:
        conditions.append(day <= filters.date_to)
    if instants is not None:
        conditions.extend(_instant_conditions(instants, filters))
    return sa.and_(sa.true(), *conditions)


def _instant_conditions(instants: Instants, filters: Filters) -> list[sa.ColumnElement[bool]]:
    # Exact bounds per row, plus constant UTC bounds a day wider than any zone's offset: those
    # let the engine skip data by its min/max statistics before the per-row comparison.
    column, out = instants.column, []
    if filters.date_from is not None:
        utc = datetime.combine(filters.date_from - timedelta(days=1), datetime.min.time(), UTC)
        out += [column >= utc, column >= instants.start]
    if filters.date_to is not None:
        after = filters.date_to + timedelta(days=2)
        out += [column < datetime.combine(after, datetime.min.time(), UTC), column < instants.end]
    return out


def restrict(
    table: sa.TableClause,
    scope: Scope,
    filters: Filters,
    day: sa.ColumnElement | None = None,
    instants: Instants | None = None,
) -> sa.ColumnElement[bool]:
    """Scope AND filters: the WHERE clause of every mart a dashboard query reads."""
    return sa.and_(scope_condition(table, scope), filter_condition(table, filters, day, instants))


def purchaser_email(table: sa.TableClause, scope: Scope) -> sa.ColumnElement:
    """The email column as the scope may see it: masked (``j***@example.com``) unless the
    row's grant says ``emails = true``; admins see every email."""
    email = table.c.purchaser_email
    if scope.is_admin:
        return email
    domain = sa.func.split_part(email, "@", 2)
    masked = sa.case(
        (email.is_(None), sa.null()),
        else_=sa.func.concat(sa.func.substr(email, 1, 1), "***@", domain),
    )
    visible = [_grant_condition(table, g) for g in scope.grants if g.emails]
    if not visible:
        return masked
    return sa.case((sa.or_(*visible), email), else_=masked)


def _email_searchable(table: sa.TableClause, scope: Scope) -> sa.ColumnElement[bool]:
    # Searching a masked email would reveal it one probe at a time: only visible ones match.
    if scope.is_admin:
        return sa.true()
    visible = [_grant_condition(table, g) for g in scope.grants if g.emails]
    return sa.or_(sa.false(), *visible)


# --- helpers ------------------------------------------------------------------------------


def local_date(timestamp: sa.ColumnElement, timezone: sa.ColumnElement) -> sa.ColumnElement:
    """The calendar date of a UTC timestamp in an IANA zone (same SQL on DuckDB and PostgreSQL,
    as dbt's ``local_date`` macro that dates ``daily_sales``)."""
    zone = sa.func.coalesce(timezone, "UTC")
    return sa.cast(timestamp.op("AT TIME ZONE")(zone), sa.Date)


def local_midnight(day: date, timezone: sa.ColumnElement | None) -> sa.ColumnElement:
    """The UTC instant at which ``day`` begins in an IANA zone (UTC when the zone is null)."""
    zone = sa.func.coalesce(timezone, "UTC") if timezone is not None else sa.literal("UTC")
    return sa.cast(sa.literal(day, sa.Date), sa.DateTime).op("AT TIME ZONE")(zone)


def _sum(column: sa.ColumnElement, name: str) -> sa.Label:
    return sa.func.coalesce(sa.func.sum(column), 0).label(name)


@cache
def dashboard_engine(warehouse: Warehouse) -> sa.Engine:
    """One engine per warehouse for the process. DuckDB: read-only, no pool (each connection
    is opened and closed). PostgreSQL: pooled, transactions read-only."""
    engine = warehouse.engine(read_only=True)
    if warehouse.kind is WarehouseKind.POSTGRES:
        return engine.execution_options(postgresql_readonly=True)
    return engine


def _sell_through(sold: pd.Series, capacity: pd.Series) -> pd.Series:
    """Sold / capacity as a float fraction for the grid; empty where the capacity is unknown
    or 0 (no division by zero)."""
    capacity = pd.to_numeric(capacity, errors="coerce")
    return (pd.to_numeric(sold, errors="coerce") / capacity.where(capacity > 0)).astype("float64")


def _is_lock_error(error: BaseException) -> bool:
    text = str(error).lower()
    return "lock" in text and ("could not set" in text or "conflicting" in text)


class DashboardQueries:
    """The dashboard's queries for one user's scope. Use ``with q.connection():`` to run a
    page's queries on one short-lived connection; outside it each query opens its own."""

    def __init__(
        self,
        warehouse: Warehouse,
        scope: Scope,
        engine: sa.Engine | None = None,
        busy_timeout_seconds: float = 5.0,
    ) -> None:
        self.warehouse = warehouse
        self.scope = scope
        self._engine = engine or dashboard_engine(warehouse)
        self._busy_timeout = busy_timeout_seconds
        self._connection: sa.Connection | None = None
        self._batched = False

    def stop_waiting(self) -> None:
        """Fail at once on a held DuckDB file from now on (the page already knows it is busy
        and shows its last figures: no point waiting again for each query)."""
        self._busy_timeout = 0.0

    def _connect(self) -> sa.Connection:
        deadline = time.monotonic() + self._busy_timeout
        delay = 0.05
        while True:
            try:
                return self._engine.connect()
            except sa.exc.DBAPIError as error:
                # A DuckDB writer holds the file: wait a little, it is usually a short load.
                if not _is_lock_error(error) or time.monotonic() > deadline:
                    if _is_lock_error(error):
                        raise WarehouseBusyError(
                            "the warehouse is being updated (a load or dbt run holds it); "
                            "try again in a moment"
                        ) from error
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    @contextmanager
    def connection(self, lazy: bool = False) -> Iterator[DashboardQueries]:
        """Run the block's queries on one connection, closed when the block ends.

        ``lazy``: connect only when a query needs it (a page whose results are all cached
        opens nothing).
        """
        if self._connection is not None or self._batched:
            yield self
            return
        self._batched = True
        try:
            if not lazy:
                self._connection = self._connect()
            yield self
        finally:
            self._batched = False
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()

    def _frame(self, statement: sa.Select) -> pd.DataFrame:
        with self.connection():
            if self._connection is None:  # a lazy batch: its first query connects
                self._connection = self._connect()
            result = self._connection.execute(statement)
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
            self._connection.rollback()  # end the read transaction: nothing is held open
            return frame

    def _where(
        self,
        table: sa.TableClause,
        filters: Filters,
        day: sa.ColumnElement | None = None,
        instants: Instants | None = None,
    ) -> sa.ColumnElement[bool]:
        return restrict(table, self.scope, filters, day, instants)

    def _session_info(self, filters: Filters) -> sa.Subquery:
        """Per session in scope: names, local start date and the period's bounds in its zone
        (computed once per session, not once per order line)."""
        s = SESSIONS
        columns = [
            s.c.platform,
            s.c.account_id,
            s.c.session_id,
            s.c.event_name,
            s.c.session_name,
            local_date(s.c.starts_at, s.c.timezone).label("start_date"),
        ]
        if filters.date_from is not None:
            columns.append(local_midnight(filters.date_from, s.c.timezone).label("period_start"))
        if filters.date_to is not None:
            after = filters.date_to + timedelta(days=1)
            columns.append(local_midnight(after, s.c.timezone).label("period_end"))
        return sa.select(*columns).where(scope_condition(s, self.scope)).subquery("s")

    def _sales_lines(self, filters: Filters) -> tuple[sa.FromClause, Instants | None]:
        """ticket_sales, joined to its session only when a period needs the session's zone."""
        t = TICKET_SALES
        if filters.date_from is None and filters.date_to is None:
            return t, None
        info = self._session_info(filters)
        joined = t.outerjoin(info, _same_session(t, info))
        # A sale whose session is unknown is dated in UTC (as daily_sales does).
        start = end = None
        if filters.date_from is not None:
            start = sa.func.coalesce(info.c.period_start, local_midnight(filters.date_from, None))
        if filters.date_to is not None:
            after = filters.date_to + timedelta(days=1)
            end = sa.func.coalesce(info.c.period_end, local_midnight(after, None))
        return joined, Instants(t.c.ordered_at, start, end)

    # --- headline and series (daily_sales) ---------------------------------------------------

    def headline(self, filters: Filters) -> pd.DataFrame:
        """One row per currency: orders, tickets, gross, discounts, fees, tax, net, refunds."""
        d = DAILY_SALES
        statement = (
            sa.select(
                d.c.currency,
                _sum(d.c.orders_count, "orders"),
                _sum(d.c.tickets_sold, "tickets_sold"),
                _sum(d.c.tickets_refunded, "tickets_refunded"),
                _sum(d.c.gross_amount, "gross"),
                _sum(d.c.discount_amount, "discounts"),
                _sum(d.c.platform_fee_amount, "platform_fees"),
                _sum(d.c.payment_fee_amount, "payment_fees"),
                _sum(d.c.platform_fee_amount + d.c.payment_fee_amount, "fees"),
                _sum(d.c.tax_amount, "tax"),
                _sum(d.c.net_amount, "net"),
                _sum(d.c.refunded_amount, "refunded"),
            )
            .where(self._where(d, filters, d.c.sales_date))
            .group_by(d.c.currency)
            .order_by(d.c.currency)
        )
        return self._frame(statement)

    def daily(self, filters: Filters) -> pd.DataFrame:
        """Per day and currency: tickets sold, gross, net, refunds (on the order's day)."""
        d = DAILY_SALES
        statement = (
            sa.select(
                d.c.sales_date,
                d.c.currency,
                _sum(d.c.tickets_sold, "tickets_sold"),
                _sum(d.c.gross_amount, "gross"),
                _sum(d.c.net_amount, "net"),
                _sum(d.c.tickets_refunded, "tickets_refunded"),
                _sum(d.c.refunded_amount, "refunded"),
            )
            .where(self._where(d, filters, d.c.sales_date))
            .group_by(d.c.sales_date, d.c.currency)
            .order_by(d.c.sales_date, d.c.currency)
        )
        return self._frame(statement)

    def pace(self, filters: Filters, max_events: int = PACE_MAX_EVENTS) -> pd.DataFrame:
        """Tickets sold per day before the session, for the ``max_events`` events that sold
        most in the selection (the sales pace curves; more lines would be unreadable)."""
        d, info = DAILY_SALES, self._session_info(Filters())
        where = self._where(d, filters, d.c.sales_date)
        top = (
            sa.select(d.c.platform, d.c.account_id, d.c.event_id)
            .where(where)
            .group_by(d.c.platform, d.c.account_id, d.c.event_id)
            .order_by(sa.func.sum(d.c.tickets_sold).desc(), d.c.event_id)
            .limit(max_events)
            .subquery("top")
        )
        days_to_event = sa.type_coerce(info.c.start_date - d.c.sales_date, sa.Integer).label(
            "days_to_event"
        )
        is_top = sa.and_(
            d.c.platform == top.c.platform,
            d.c.account_id == top.c.account_id,
            d.c.event_id == top.c.event_id,
        )
        statement = (
            sa.select(
                d.c.platform,
                d.c.account_id,
                d.c.event_id,
                sa.func.max(info.c.event_name).label("event_name"),
                days_to_event,
                _sum(d.c.tickets_sold, "tickets_sold"),
            )
            .select_from(d.join(top, is_top).join(info, _same_session(d, info)))
            .where(where, info.c.start_date.is_not(None))
            .group_by(d.c.platform, d.c.account_id, d.c.event_id, days_to_event)
            .order_by(d.c.platform, d.c.account_id, d.c.event_id, days_to_event.desc())
        )
        return self._frame(statement)

    # --- breakdowns (ticket_sales) -----------------------------------------------------------

    def _breakdown(self, filters: Filters, key: sa.ColumnElement, *extra: sa.Label) -> sa.Select:
        """Tickets sold and gross by ``key`` and currency (``extra``: more aggregates)."""
        t = TICKET_SALES
        source, instants = self._sales_lines(filters)
        return (
            sa.select(
                key,
                t.c.currency,
                _sum(t.c.quantity - t.c.quantity_refunded, "tickets_sold"),
                _sum(t.c.gross_amount, "gross"),
                *extra,
            )
            .select_from(source)
            # Pending orders are not sales yet (as in daily_sales and session_complete).
            .where(self._where(t, filters, instants=instants), t.c.order_status != "pending")
            .group_by(key, t.c.currency)
            .order_by(t.c.currency, sa.text("tickets_sold desc"))
        )

    def ticket_types(self, filters: Filters) -> pd.DataFrame:
        return self._frame(self._breakdown(filters, TICKET_SALES.c.ticket_type_name))

    def channels(self, filters: Filters) -> pd.DataFrame:
        return self._frame(self._breakdown(filters, TICKET_SALES.c.sales_channel))

    def promo_codes(self, filters: Filters) -> pd.DataFrame:
        t = TICKET_SALES
        # Orders are counted here only: count(distinct) over every line of a million orders is
        # the slowest aggregate of the page, and promo lines are few.
        orders = sa.func.count(sa.distinct(t.c.order_id))
        statement = self._breakdown(
            filters,
            t.c.promo_code,
            orders.label("orders"),
            _sum(t.c.discount_amount, "discounts"),
        ).where(t.c.promo_code.is_not(None))
        return self._frame(statement)

    def orders(
        self, filters: Filters, search: str = "", limit: int = ORDERS_PAGE_LIMIT
    ) -> pd.DataFrame:
        """Order lines, newest first; ``search`` matches order id, purchaser name, or the
        purchaser email where the user may see it (case-insensitive substring)."""
        t = TICKET_SALES
        source, instants = self._sales_lines(filters)
        newest = (
            t.c.ordered_at.desc(),
            t.c.platform,
            t.c.account_id,
            t.c.order_id,
            t.c.ticket_type_id,
        )
        page = (
            sa.select(
                t.c.ordered_at,
                t.c.platform,
                t.c.account_id,
                t.c.session_id,
                t.c.order_id,
                t.c.ticket_type_id,
                t.c.order_status,
                t.c.ticket_type_name,
                t.c.quantity,
                t.c.quantity_refunded,
                t.c.currency,
                t.c.gross_amount,
                t.c.discount_amount,
                t.c.net_amount,
                t.c.refunded_amount,
                t.c.purchaser_name,
                purchaser_email(t, self.scope).label("purchaser_email"),
                t.c.sales_channel,
                t.c.promo_code,
            )
            .select_from(source)
            .where(self._where(t, filters, instants=instants))
            .order_by(*newest)
            .limit(max(1, min(int(limit), ORDERS_EXPORT_LIMIT)))
        )
        term = _clean(search.strip()).lower()
        if term:
            # ILIKE with the wildcards escaped: a typed % or _ is a plain character.
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", term) + "%"

            def contains(column: sa.ColumnElement) -> sa.ColumnElement[bool]:
                return column.ilike(pattern, escape="\\")

            page = page.where(
                sa.or_(
                    contains(t.c.order_id),
                    contains(t.c.purchaser_name),
                    sa.and_(_email_searchable(t, self.scope), contains(t.c.purchaser_email)),
                )
            )
        # Names are joined to the page only: top-N first, then a few hundred lookups.
        o, names = page.subquery("o"), self._session_info(Filters())
        statement = (
            sa.select(
                o.c.ordered_at,
                o.c.platform,
                o.c.account_id,
                o.c.order_id,
                o.c.order_status,
                names.c.event_name,
                names.c.session_name,
                *(c for c in o.c if c.key not in _ORDER_KEYS_FIRST),
            )
            .select_from(o.outerjoin(names, _same_session(o, names)))
            .order_by(
                o.c.ordered_at.desc(),
                o.c.platform,
                o.c.account_id,
                o.c.order_id,
                o.c.ticket_type_id,
            )
        )
        return self._frame(statement).drop(columns=["session_id", "ticket_type_id"])

    # --- sessions, reconciliation, accounts ------------------------------------------------

    def sessions(self, filters: Filters) -> pd.DataFrame:
        """session_complete rows (all dates: a session's sell-through is not a period figure)."""
        s = SESSIONS
        statement = (
            sa.select(*s.c)
            .where(self._where(s, filters))
            .order_by(s.c.starts_at.desc(), s.c.session_id)
        )
        frame = self._frame(statement)
        frame["sell_through"] = _sell_through(frame["tickets_sold"], frame["capacity"])
        return frame

    def event_summary(self, filters: Filters) -> pd.DataFrame:
        """Per event and currency (all dates, like sessions): sessions, tickets sold, capacity
        and sold of the sessions that have one (for sell-through), gross, net, refunds and the
        last order."""
        s, d = SESSIONS, DAILY_SALES
        has_capacity = s.c.capacity.is_not(None)
        per_event = (
            sa.select(
                s.c.platform,
                s.c.account_id,
                s.c.event_id,
                s.c.currency,
                sa.func.max(s.c.event_name).label("event_name"),
                sa.func.count().label("sessions"),
                sa.func.min(s.c.starts_at).label("first_starts_at"),
                _sum(s.c.tickets_sold, "tickets_sold"),
                _sum(sa.case((has_capacity, s.c.capacity)), "capacity"),
                _sum(sa.case((has_capacity, s.c.tickets_sold)), "sold_with_capacity"),
                _sum(s.c.gross_sales, "gross"),
                _sum(s.c.net_sales, "net"),
                sa.func.max(s.c.last_order_at).label("last_order_at"),
            )
            .where(self._where(s, filters))
            .group_by(s.c.platform, s.c.account_id, s.c.event_id, s.c.currency)
            .subquery("e")
        )
        refunds = (
            sa.select(
                d.c.platform,
                d.c.account_id,
                d.c.event_id,
                d.c.currency,
                _sum(d.c.tickets_refunded, "tickets_refunded"),
                _sum(d.c.refunded_amount, "refunded"),
            )
            .where(self._where(d, filters))
            .group_by(d.c.platform, d.c.account_id, d.c.event_id, d.c.currency)
            .subquery("r")
        )
        same = sa.and_(
            *(per_event.c[k] == refunds.c[k] for k in ("platform", "account_id", "event_id")),
            per_event.c.currency == refunds.c.currency,
        )
        statement = (
            sa.select(
                *per_event.c,
                sa.func.coalesce(refunds.c.tickets_refunded, 0).label("tickets_refunded"),
                sa.func.coalesce(refunds.c.refunded, 0).label("refunded"),
            )
            .select_from(per_event.outerjoin(refunds, same))
            .order_by(per_event.c.first_starts_at.desc(), per_event.c.event_id)
        )
        frame = self._frame(statement)
        frame["sell_through"] = _sell_through(frame["sold_with_capacity"], frame["capacity"])
        return frame

    def freshness(self) -> pd.DataFrame:
        """One row: the oldest and newest last successful sync of the enabled accounts in
        scope, and when the marts were built (ticket_reconciliation.checked_at is the build's
        current_timestamp)."""
        p, r = PLATFORMS, RECONCILIATION
        built = (
            sa.select(sa.func.max(r.c.checked_at))
            .where(scope_condition(r, self.scope))
            .scalar_subquery()
        )
        statement = sa.select(
            sa.func.min(p.c.last_successful_sync_at).label("oldest_sync_at"),
            sa.func.max(p.c.last_successful_sync_at).label("newest_sync_at"),
            built.label("built_at"),
        ).where(scope_condition(p, self.scope), sa.func.coalesce(p.c.is_enabled, True))
        return self._frame(statement)

    def reconciliation(self, filters: Filters) -> pd.DataFrame:
        """Per event and currency: sessions, platform vs store figures, and a status."""
        r, s = RECONCILIATION, SESSIONS
        names = (
            sa.select(
                s.c.platform, s.c.account_id, s.c.event_id, sa.func.max(s.c.event_name).label("n")
            )
            .where(scope_condition(s, self.scope))
            .group_by(s.c.platform, s.c.account_id, s.c.event_id)
            .subquery("names")
        )

        def count_status(status: str) -> sa.Label:
            return _sum(sa.case((r.c.status == status, 1), else_=0), f"{status}_sessions")

        statement = (
            sa.select(
                r.c.platform,
                r.c.account_id,
                r.c.event_id,
                sa.func.max(names.c.n).label("event_name"),
                r.c.currency,
                sa.func.count().label("sessions"),
                count_status("match"),
                count_status("mismatch"),
                count_status("missing_in_store"),
                count_status("missing_on_platform"),
                _sum(r.c.platform_tickets_sold, "platform_tickets_sold"),
                _sum(r.c.store_tickets_sold, "store_tickets_sold"),
                _sum(r.c.tickets_sold_difference, "tickets_sold_difference"),
                _sum(r.c.platform_gross_amount, "platform_gross"),
                _sum(r.c.store_gross_amount, "store_gross"),
                _sum(r.c.gross_amount_difference, "gross_difference"),
                sa.func.max(r.c.checked_at).label("checked_at"),
            )
            .select_from(
                r.outerjoin(
                    names,
                    sa.and_(
                        r.c.platform == names.c.platform,
                        r.c.account_id == names.c.account_id,
                        r.c.event_id == names.c.event_id,
                    ),
                )
            )
            .where(self._where(r, filters))
            .group_by(r.c.platform, r.c.account_id, r.c.event_id, r.c.currency)
            .order_by(r.c.platform, r.c.account_id, r.c.event_id)
        )
        frame = self._frame(statement)
        frame["status"] = [_event_status(row) for row in frame.itertuples()]
        return frame

    def accounts(self, stale_after: timedelta, now: datetime | None = None) -> pd.DataFrame:
        """Accounts in scope with their last successful sync, its age and whether it is stale
        (enabled, and no successful sync within ``stale_after``)."""
        p = PLATFORMS
        statement = (
            sa.select(*p.c)
            .where(scope_condition(p, self.scope))
            .order_by(p.c.platform, p.c.display_name, p.c.account_id)
        )
        frame = self._frame(statement)
        now = now or datetime.now(UTC)
        last = pd.to_datetime(frame["last_successful_sync_at"], utc=True)
        frame["hours_since_success"] = (now - last).dt.total_seconds() / 3600
        enabled = frame["is_enabled"].fillna(False).astype(bool)
        too_old = last.isna() | (frame["hours_since_success"] > stale_after.total_seconds() / 3600)
        frame["is_stale"] = enabled & too_old
        return frame

    # --- filter choices ----------------------------------------------------------------------

    def events(self, filters: Filters) -> pd.DataFrame:
        """Events in scope (narrowed by platform/account filters) for the event filter."""
        s = SESSIONS
        narrowed = Filters(platforms=filters.platforms, accounts=filters.accounts)
        statement = (
            sa.select(
                s.c.platform,
                s.c.account_id,
                s.c.event_id,
                sa.func.max(s.c.event_name).label("event_name"),
                sa.func.min(s.c.starts_at).label("first_starts_at"),
            )
            .where(self._where(s, narrowed))
            .group_by(s.c.platform, s.c.account_id, s.c.event_id)
            .order_by(sa.text("first_starts_at desc"), s.c.event_id)
        )
        return self._frame(statement)

    def session_choices(self, filters: Filters) -> pd.DataFrame:
        """Sessions in scope (narrowed by platform/account/event filters)."""
        s = SESSIONS
        narrowed = Filters(
            platforms=filters.platforms, accounts=filters.accounts, events=filters.events
        )
        statement = (
            sa.select(s.c.platform, s.c.account_id, s.c.event_id, s.c.session_id, s.c.session_name)
            .where(self._where(s, narrowed))
            .order_by(s.c.starts_at.desc(), s.c.session_id)
        )
        return self._frame(statement)

    def sales_date_range(self) -> tuple[date | None, date | None]:
        d = DAILY_SALES
        statement = sa.select(
            sa.func.min(d.c.sales_date).label("first"), sa.func.max(d.c.sales_date).label("last")
        ).where(scope_condition(d, self.scope))
        row = self._frame(statement).iloc[0]
        return _as_date(row["first"]), _as_date(row["last"])


_ORDER_KEYS_FIRST = {"ordered_at", "platform", "account_id", "order_id", "order_status"}


def _same_session(left: sa.FromClause, right: sa.FromClause) -> sa.ColumnElement[bool]:
    return sa.and_(
        left.c.platform == right.c.platform,
        left.c.account_id == right.c.account_id,
        left.c.session_id == right.c.session_id,
    )


def _as_date(value: object) -> date | None:
    if value is None or pd.isna(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else pd.Timestamp(value).date()


def _event_status(row: object) -> str:
    # The worst status of the event's sessions: a single mismatching session flags the event.
    for status in ("mismatch", "missing_in_store", "missing_on_platform"):
        if getattr(row, f"{status}_sessions"):
            return status
    return "match"


def account_key(platform: str, account_id: str) -> str:
    """``platform:account_id``, the label-independent key of an account in the UI."""
    return f"{platform}:{account_id}"


def parse_account_keys(keys: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(key.split(":", 1)) for key in keys if ":" in key)  # type: ignore[misc]
