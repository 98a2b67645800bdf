"""Property: for any grants and any filters (real ids of other accounts, SQL fragments, noise),
the query layer returns exactly the figures of (grants AND filters), computed here in Python."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.dashboard.expected import FIGURES, Line, assert_within, sales_lines
from tests.unit.dashboard.fixtures import DashboardWorld
from ticketing_pipeline.dashboard.queries import DashboardQueries, Filters
from ticketing_pipeline.dashboard.scope import Grant, Scope

pytestmark = pytest.mark.xdist_group("dashboard")

NOISE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["' OR 1=1 --", "%", "x' OR account_id <> '", ") OR (1=1", "NULL"]),
)


@pytest.fixture(scope="module")
def lines(world: DashboardWorld) -> list[Line]:
    return sales_lines(world.warehouse)


def _visible(line: Line, scope: Scope, filters: Filters) -> bool:
    if not any(
        (line.platform, line.account_id) == (g.platform, g.account_id)
        and (g.event_ids is None or line.event_id in g.event_ids)
        for g in scope.grants
    ):
        return False
    if filters.platforms and line.platform not in filters.platforms:
        return False
    if filters.accounts and (line.platform, line.account_id) not in filters.accounts:
        return False
    if filters.events and line.event_id not in filters.events:
        return False
    if filters.sessions and line.session_id not in filters.sessions:
        return False
    if filters.date_from and line.local_date < filters.date_from:
        return False
    return not (filters.date_to and line.local_date > filters.date_to)


def _model(lines: list[Line], scope: Scope, filters: Filters) -> dict[str, dict[str, Decimal]]:
    out: dict[str, dict[str, Decimal]] = {}
    for line in lines:
        if line.order_status != "pending" and _visible(line, scope, filters):
            figures = out.setdefault(line.currency, dict.fromkeys(FIGURES, Decimal(0)))
            for name in FIGURES:
                figures[name] += Decimal(line.values[name])
    return out


@st.composite
def scopes_and_filters(draw: st.DrawFn, lines: list[Line]) -> tuple[Scope, Filters]:
    accounts = sorted({(ln.platform, ln.account_id) for ln in lines})
    events = sorted({ln.event_id for ln in lines})
    sessions = sorted({ln.session_id for ln in lines})
    days = sorted({ln.local_date for ln in lines})

    grants = []
    for platform, account in draw(st.lists(st.sampled_from(accounts), max_size=2, unique=True)):
        own_events = sorted({ln.event_id for ln in lines if ln.account_id == account})
        chosen = draw(st.none() | st.lists(st.sampled_from(own_events), min_size=1, max_size=3))
        grants.append(Grant(platform, account, tuple(chosen) if chosen else None))
    scope = Scope.promoter(grants)

    def some(values: list, noise: st.SearchStrategy = NOISE) -> st.SearchStrategy:
        return st.lists(st.sampled_from(values) | noise, max_size=3).map(tuple)

    pairs = st.sampled_from(accounts) | st.tuples(
        st.sampled_from(["humanitix", "eventbrite"]) | NOISE, NOISE
    )
    day = st.none() | st.sampled_from(days) | st.dates(date(2000, 1, 1), date(2030, 1, 1))
    filters = Filters(
        date_from=draw(day),
        date_to=draw(day),
        platforms=draw(some(["humanitix", "eventbrite"])),
        accounts=draw(st.lists(pairs, max_size=3).map(tuple)),
        events=draw(some(events)),
        sessions=draw(some(sessions)),
    )
    return scope, filters


def test_promoter_figures_are_exactly_grants_and_filters(
    world: DashboardWorld, lines: list[Line]
) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(case=scopes_and_filters(lines), search=NOISE)
    def check(case: tuple[Scope, Filters], search: str) -> None:
        scope, filters = case
        queries = DashboardQueries(world.warehouse, scope)
        with queries.connection():
            headline = queries.headline(filters)
            frames = [
                queries.orders(filters, search),
                queries.sessions(filters),
                queries.ticket_types(filters),
                queries.reconciliation(filters),
                queries.events(filters),
            ]
        actual = {
            row["currency"]: {name: Decimal(row[name]) for name in FIGURES}
            for _, row in headline.iterrows()
        }
        assert actual == _model(lines, scope, filters)
        assert_within([f for f in frames if "account_id" in f.columns], scope.grants)

    check()


def test_model_sanity(lines: list[Line]) -> None:
    # The model itself is not vacuous: a whole-account grant sees some sales, no grant none.
    line = lines[0]
    scope = Scope.promoter([Grant(line.platform, line.account_id)])
    assert _model(lines, scope, Filters())
    assert _model(lines, Scope.promoter([]), Filters()) == {}
    assert _model(lines, scope, Filters(date_from=line.local_date + timedelta(days=3650))) == {}
