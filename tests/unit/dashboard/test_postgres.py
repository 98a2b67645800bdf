"""The dashboard on PostgreSQL: same figures and scoping as on DuckDB, read-only transactions,
and the README's read-only role works (also after dbt rebuilds the marts)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.unit.dashboard.expected import FIGURES, expected_headline, sales_lines
from tests.unit.dashboard.fixtures import SPEC
from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.dashboard import queries as queries_module
from ticketing_pipeline.dashboard.queries import DashboardQueries, Filters, dashboard_engine
from ticketing_pipeline.dashboard.scope import Grant, Scope
from ticketing_pipeline.sandbox_harness.pipeline import build_sandbox_warehouse
from ticketing_pipeline.transform.dbt import run_dbt
from ticketing_pipeline.warehouse import Warehouse, resolve_warehouse

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("dashboard_postgres")]

README = Path(queries_module.__file__).with_name("README.md")


@pytest.fixture(scope="module")
def pg_config(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> ProjectConfig:
    return build_sandbox_warehouse(SPEC, tmp_path_factory.mktemp("pg"), postgres_url)


@pytest.fixture(scope="module")
def pg(pg_config: ProjectConfig) -> Warehouse:
    return resolve_warehouse(pg_config)


def _headline(queries: DashboardQueries, filters: Filters) -> dict:
    return {
        row["currency"]: {name: Decimal(row[name]) for name in FIGURES}
        for _, row in queries.headline(filters).iterrows()
    }


def test_headline_equals_ticket_sales_per_currency(pg: Warehouse) -> None:
    lines = sales_lines(pg)
    expected = expected_headline(lines)
    assert len(expected) >= 3
    assert _headline(DashboardQueries(pg, Scope.admin()), Filters()) == {
        currency: {name: Decimal(value) for name, value in figures.items()}
        for currency, figures in expected.items()
    }
    days = sorted({ln.local_date for ln in lines})
    start, end = days[len(days) // 4], days[len(days) // 2]
    period = expected_headline(lines, date_from=start, date_to=end)
    actual = _headline(DashboardQueries(pg, Scope.admin()), Filters(date_from=start, date_to=end))
    assert actual == {c: {n: Decimal(v) for n, v in f.items()} for c, f in period.items()}


def test_promoter_scope_and_hostile_filters(pg: Warehouse) -> None:
    lines = sales_lines(pg)
    mine = (lines[0].platform, lines[0].account_id)
    others = sorted({(ln.platform, ln.account_id) for ln in lines} - {mine})
    queries = DashboardQueries(pg, Scope.promoter([Grant(*mine)]))
    own = expected_headline(lines, accounts={mine})
    assert set(_headline(queries, Filters())) == set(own)
    hostile = Filters(
        platforms=("' OR 1=1 --", mine[0]),
        accounts=(*others, ("x'); drop table marts.ticket_sales; --", "a\x00b")),
        events=("%",),
    )
    assert queries.headline(hostile).empty
    for frame in (queries.orders(hostile, "' or ''='"), queries.orders(Filters(), "%")):
        assert frame.empty
    orders = queries.orders(Filters())
    assert set(zip(orders["platform"], orders["account_id"], strict=True)) == {mine}
    masked = orders["purchaser_email"].str.match(r"^.\*\*\*@[^@]+$")
    assert masked.all()


def test_dashboard_transactions_are_read_only(pg: Warehouse) -> None:
    engine = dashboard_engine(pg)
    with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="read-only"):
        connection.execute(sa.text("create table marts.dashboard_was_here (x int)"))


@pytest.fixture
def readonly_role(pg: Warehouse, pg_config: ProjectConfig) -> Iterator[str]:
    """The README's read-only role, created with the README's SQL (names substituted)."""
    block = re.search(r"```sql\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    role = f"dash_ro_{uuid.uuid4().hex[:8]}"
    url = sa.engine.make_url(pg.sqlalchemy_url())
    owner = url.username or "postgres"
    sql = (
        block.group(1)
        .replace("ticketing_dashboard", role)
        .replace("ticketing_dbt", owner)
        .replace("DATABASE ticketing ", f'DATABASE "{url.database}" ')
    )
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    statements = [s.strip() for s in re.sub(r"--[^\n]*", "", sql).split(";") if s.strip()]
    with admin.connect() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    try:
        yield (
            url.set(username=role, password="change-me")
            .render_as_string(hide_password=False)
            .replace("postgresql+psycopg2://", "postgresql://")
        )
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"drop owned by {role}"))
            connection.execute(sa.text(f"drop role {role}"))
        admin.dispose()


def test_readme_read_only_role(
    readonly_role: str, pg: Warehouse, pg_config: ProjectConfig, tmp_path: Path
) -> None:
    as_role = Warehouse(pg.kind, postgres_url=readonly_role)
    expected = _headline(DashboardQueries(pg, Scope.admin()), Filters())
    assert _headline(DashboardQueries(as_role, Scope.admin()), Filters()) == expected
    # Even outside the dashboard's engine the role cannot write, nor read raw tables.
    with as_role.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="read-only"):
        connection.execute(sa.text("delete from marts.ticket_sales"))
    with as_role.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="permission"):
        connection.execute(sa.text("select count(*) from raw_humanitix.orders"))
    # dbt recreates the mart tables; the default privileges keep them readable by the role.
    run_dbt(pg_config, ["run", "--select", "daily_sales"], tmp_path / "dbt_target")
    fresh = DashboardQueries(as_role, Scope.admin(), engine=as_role.engine(read_only=True))
    assert _headline(fresh, Filters()) == expected
