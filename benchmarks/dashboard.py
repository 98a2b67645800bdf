"""Dashboard benchmark: p95 time of each dashboard query and of a full page render.

Builds a DuckDB warehouse from the sandbox (sync + dbt run), then times, for an admin and for a
promoter of one account, every query the page runs (each on its own short-lived read-only
connection, as a lone query would), all of a page's queries on one connection (what the app
does), and the whole page through Streamlit's AppTest with a cold cache (queries + charts +
Streamlit). Target: each query's p95 <= 300 ms.

    .venv/bin/python benchmarks/dashboard.py                      # 1M orders
    .venv/bin/python benchmarks/dashboard.py --orders 100000
    .venv/bin/python benchmarks/dashboard.py --warehouse data/bench/warehouse.duckdb  # reuse
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ticketing_pipeline.dashboard.auth import hash_password  # noqa: E402
from ticketing_pipeline.dashboard.queries import DashboardQueries, Filters  # noqa: E402
from ticketing_pipeline.dashboard.scope import Grant, Scope  # noqa: E402
from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec  # noqa: E402
from ticketing_pipeline.sandbox_harness.pipeline import build_sandbox_warehouse  # noqa: E402
from ticketing_pipeline.warehouse import Warehouse, WarehouseKind  # noqa: E402

TARGET_MS = 300.0


def build(orders: int, data_dir: Path, cache_dir: Path | None) -> Path:
    started = time.perf_counter()
    with SandboxServer(SandboxSpec(seed=7, orders=orders), cache_dir=cache_dir) as server:
        generated = time.perf_counter()
        build_sandbox_warehouse(server, data_dir)
    done = time.perf_counter()
    print(
        f"built {orders:,} orders: sandbox {generated - started:.0f} s, "
        f"sync + dbt run {done - generated:.0f} s"
    )
    return data_dir / "warehouse.duckdb"


def p95(samples: list[float]) -> float:
    return (
        statistics.quantiles(samples, n=20, method="inclusive")[18]
        if len(samples) > 1
        else samples[0]
    )


def time_it(function: Callable[[], object], repeat: int) -> list[float]:
    function()  # warm the OS page cache and the imports
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def page_queries(queries: DashboardQueries, filters: Filters) -> dict[str, Callable[[], object]]:
    return {
        "sales_date_range": queries.sales_date_range,
        "accounts": lambda: queries.accounts(timedelta(hours=6)),
        "events": lambda: queries.events(filters),
        "session_choices": lambda: queries.session_choices(filters),
        "headline": lambda: queries.headline(filters),
        "daily": lambda: queries.daily(filters),
        "pace": lambda: queries.pace(filters),
        "ticket_types": lambda: queries.ticket_types(filters),
        "channels": lambda: queries.channels(filters),
        "promo_codes": lambda: queries.promo_codes(filters),
        "sessions": lambda: queries.sessions(filters),
        "orders": lambda: queries.orders(filters),
        "orders_search": lambda: queries.orders(filters, "smith"),
        "reconciliation": lambda: queries.reconciliation(filters),
        "event_summary": lambda: queries.event_summary(filters),
        "freshness": queries.freshness,
    }


def render_page(path: Path, scope_name: str, repeat: int, users: Path, config: Path) -> list[float]:
    """Full page renders with a cold cache: login once, then re-run the script."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from ticketing_pipeline.dashboard.run import APP_PATH

    os.environ["TICKETING_CONFIG"] = str(config)
    os.environ["TICKETING_DASHBOARD_USERS"] = str(users)
    at = AppTest.from_file(str(APP_PATH), default_timeout=120)
    at.run()
    at.text_input(key="login_username").input(scope_name)
    at.text_input(key="login_password").input("bench")
    at.button[0].click()
    at.run()
    assert at.metric, f"login as {scope_name} failed: {at.error}"

    def rerun() -> None:
        st.cache_data.clear()
        at.run()

    return time_it(rerun, repeat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--render-repeat", type=int, default=5)
    parser.add_argument("--warehouse", type=Path, help="a built warehouse to reuse")
    parser.add_argument("--data-dir", type=Path, help="where to build (default: a temp dir)")
    parser.add_argument("--cache-dir", type=Path, help="sandbox data set cache")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    path = args.warehouse or build(args.orders, data_dir, args.cache_dir)
    warehouse = Warehouse(WarehouseKind.DUCKDB, duckdb_path=path.resolve())
    with duckdb.connect(str(path), read_only=True) as connection:
        orders, lines = connection.execute(
            "select count(distinct order_id), count(*) from marts.ticket_sales"
        ).fetchone()
        platform, account = connection.execute(
            "select platform, account_id from marts.ticket_sales group by 1, 2 "
            "order by count(*) desc limit 1"
        ).fetchone()
    print(f"warehouse {path}: {orders:,} orders, {lines:,} order lines")

    scopes = {"admin": Scope.admin(), "promoter": Scope.promoter([Grant(platform, account)])}
    failures = 0
    for name, scope in scopes.items():
        queries = DashboardQueries(warehouse, scope)
        first, last = queries.sales_date_range()
        assert first is not None and last is not None
        # The page on login (the whole period: no date filter) and a month picked by the user.
        periods = {
            "whole period": Filters(),
            "last 30 days": Filters(date_from=last - timedelta(days=29), date_to=last),
        }
        who = "every account" if scope.is_admin else f"{platform} {account}"
        for period, filters in periods.items():
            print(f"\n{name} ({who}), {period}")
            print(f"  {'query':<18} {'p50 ms':>8} {'p95 ms':>8}")
            for label, function in page_queries(queries, filters).items():
                samples = time_it(function, args.repeat)
                worst = p95(samples)
                flag = "" if worst <= TARGET_MS else f"  > {TARGET_MS:.0f} ms target"
                failures += worst > TARGET_MS
                print(f"  {label:<18} {statistics.median(samples):8.1f} {worst:8.1f}{flag}")

            def all_queries(q: DashboardQueries = queries, f: Filters = filters) -> None:
                with q.connection():
                    for function in page_queries(q, f).values():
                        function()

            samples = time_it(all_queries, max(3, args.repeat // 4))
            median = statistics.median(samples)
            print(f"  {'page (all queries)':<18} {median:8.1f} {p95(samples):8.1f}")

    users = data_dir / "bench_users.toml"
    hashed = hash_password("bench")
    users.write_text(
        f'[users.admin]\nrole = "admin"\npassword_hash = "{hashed}"\n'
        f'[users.promoter]\npassword_hash = "{hashed}"\n'
        f'[[users.promoter.grants]]\nplatform = "{platform}"\naccount_id = "{account}"\n'
    )
    config = data_dir / "bench_ticketing.toml"
    config.write_text(f'[warehouse]\nurl = "duckdb:///{path.resolve()}"\n')
    print("\nfull page render (AppTest, cold cache: queries + charts + Streamlit)")
    for name in scopes:
        samples = render_page(path, name, args.render_repeat, users, config)
        print(f"  {name:<18} p50 {statistics.median(samples):8.1f} ms  p95 {p95(samples):8.1f} ms")
    print(f"\nqueries over the {TARGET_MS:.0f} ms p95 target: {failures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
