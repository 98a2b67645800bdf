"""Backtest of the sell-out forecast (dbt model ``int_session_forecast``) on sandbox sessions.

For each session that sold out, the sales history is cut at several points before its sell-out
(``--cuts-hours``), the forecast is made from the history up to the cut, and its projection is
compared with the actual sell-out time. Prints the median and p90 absolute error in hours and
the share of cuts forecast within 24 h (a cut without a forecast counts as a miss).

The forecast is the model's own SQL: dbt compiles ``int_session_forecast`` once with a
placeholder ``forecast_as_of``, and each cut runs that SQL with the cut's time in its place
(only sales up to the cut count, and tickets remaining are counted at the cut). The projection
scored is ``unbounded_sell_out_at`` (the model withholds a projection that falls after the
session starts; here the session did sell out, so the raw projection is what is judged).

Sold out: the session's sold tickets reached its capacity; the sell-out time is the order that
reached it. The sandbox sells out about 15% of its sessions with 20+ orders (capacity = tickets
sold, reached by their last order), and only those are scored by default. ``--proxy`` adds a
stand-in for data without sell-outs: sessions that ended with at least ``--min-tickets`` sold
are scored as if their capacity were what they sold (the sell-out time is then their last sale,
and the forecast predicts when the curve reaches that count); they are counted separately.

    .venv/bin/python benchmarks/forecast_backtest.py --orders 100000 --seed 7
    .venv/bin/python benchmarks/forecast_backtest.py --warehouse data/bt/warehouse.duckdb
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec  # noqa: E402
from ticketing_pipeline.sandbox_harness.pipeline import build_sandbox_warehouse  # noqa: E402
from ticketing_pipeline.transform.dbt import run_dbt  # noqa: E402

PLACEHOLDER = "1999-01-01T00:00:00+00:00"
MODEL = "int_session_forecast"


@dataclass(frozen=True)
class SoldOut:
    platform: str
    account_id: str
    session_id: str
    capacity: int
    first_sale_at: datetime
    sold_out_at: datetime
    starts_at: datetime | None
    truly: bool  # reached its real capacity (not the proxy)


def build(orders: int, seed: int, data_dir: Path) -> tuple[Path, str]:
    """Sync a sandbox into DuckDB, dbt run, and compile the model with the placeholder."""
    started = time.perf_counter()
    with SandboxServer(SandboxSpec(seed=seed, orders=orders)) as server:
        config = build_sandbox_warehouse(server, data_dir)
        sql = compile_model(config, data_dir)
    print(f"built {orders:,} orders (seed {seed}) in {time.perf_counter() - started:.0f} s")
    return data_dir / "warehouse.duckdb", sql


def compile_model(config, data_dir: Path) -> str:  # noqa: ANN001 (a ProjectConfig)
    target = data_dir / "dbt_compile"
    variables = json.dumps({"forecast_as_of": PLACEHOLDER})
    run_dbt(config, ["compile", "--select", MODEL, "--vars", variables], target)
    (path,) = target.rglob(f"{MODEL}.sql")
    return path.read_text()


def sold_out_sessions(
    connection: duckdb.DuckDBPyConnection, proxy: bool, min_tickets: int, now: datetime
) -> list[SoldOut]:
    """Sessions that reached capacity (and, with ``proxy``, ended sessions scored as if their
    capacity were what they sold), with the time of the order that sold the last ticket."""
    rows = connection.execute(
        """
        with lines as (
            select platform, account_id, session_id, ordered_at,
                   sum(quantity - quantity_refunded) as tickets
            from marts.ticket_sales where order_status <> 'pending'
            group by all
        ),
        curve as (
            select *, sum(tickets) over (
                partition by platform, account_id, session_id order by ordered_at
            ) as cumulative,
            min(ordered_at) over (partition by platform, account_id, session_id) as first_at
            from lines
        ),
        sessions as (
            select platform, account_id, session_id, capacity, tickets_sold, starts_at,
                   capacity is not null and tickets_sold >= capacity and capacity > 0 as truly
            from marts.session_complete
            where status <> 'cancelled'
        ),
        targets as (
            select *, case when truly then capacity else tickets_sold end as target
            from sessions
            where truly or (? and starts_at <= ? and tickets_sold >= ?)
        )
        select t.platform, t.account_id, t.session_id, t.target, min(c.first_at),
               min(c.ordered_at), t.starts_at, t.truly
        from targets t
        join curve c using (platform, account_id, session_id)
        where c.cumulative >= t.target
        group by all
        order by t.platform, t.account_id, t.session_id
        """,
        [proxy, now, min_tickets],
    ).fetchall()
    return [SoldOut(*row) for row in rows]


def forecast_sql(compiled: str, sessions_relation: str) -> str:
    """The model's SQL reading ``sessions_relation`` for int_sessions, one session selected."""
    relation = next(
        line.split("from", 1)[1].strip()
        for line in compiled.splitlines()
        if "int_sessions" in line and "from" in line
    )
    swapped = compiled.replace(relation, sessions_relation)
    as_of = f"'{PLACEHOLDER}'"
    assert as_of in swapped, "the placeholder is not in the compiled SQL"
    return (
        f"select * from ({swapped.replace(as_of, '$as_of')}) as forecast "
        "where platform = $platform and account_id = $account_id and session_id = $session_id"
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cuts-hours", type=float, nargs="+", default=[12, 24, 72, 168, 336])
    parser.add_argument("--min-tickets", type=int, default=40)
    parser.add_argument(
        "--proxy",
        action="store_true",
        help="also score ended sessions with --min-tickets sold as if they had sold out",
    )
    parser.add_argument("--data-dir", type=Path, help="where to build (default: a temp dir)")
    parser.add_argument("--warehouse", type=Path, help="a built warehouse (with --compiled)")
    parser.add_argument("--compiled", type=Path, help="compiled SQL of the model to reuse")
    parser.add_argument("--now", help="the data's clock (default: the sandbox anchor)")
    args = parser.parse_args()

    if args.warehouse:
        path, compiled = args.warehouse, args.compiled.read_text()
    else:
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="forecast-backtest-"))
        path, compiled = build(args.orders, args.seed, data_dir)
        (data_dir / "compiled_forecast.sql").write_text(compiled)
    now = datetime.fromisoformat(args.now) if args.now else SandboxSpec().anchor
    connection = duckdb.connect(str(path), read_only=True)
    connection.execute("set TimeZone = 'UTC'")
    sessions = sold_out_sessions(connection, args.proxy, args.min_tickets, now)
    truly = sum(s.truly for s in sessions)
    print(f"{path}: {truly} sessions truly sold out (reached their capacity)")
    if args.proxy:
        print(f"{len(sessions) - truly} more scored by proxy (ended, >= {args.min_tickets} sold)")
    if not sessions:
        print("no session to score")
        return 1
    # The sessions with the scored capacity, as the model's int_sessions input.
    connection.execute(
        "create temp table backtest_sessions as select s.* replace ("
        "  t.capacity as capacity, false as is_marked_sold_out, 'live' as status)"
        " from intermediate.int_sessions s join (select unnest($1) as platform,"
        "  unnest($2) as account_id, unnest($3) as session_id, unnest($4) as capacity) t"
        " using (platform, account_id, session_id)",
        [
            [s.platform for s in sessions],
            [s.account_id for s in sessions],
            [s.session_id for s in sessions],
            [s.capacity for s in sessions],
        ],
    )
    statement = forecast_sql(compiled, "temp.main.backtest_sessions")

    errors: dict[float, list[float | None]] = {h: [] for h in args.cuts_hours}
    statuses: dict[str, int] = {}
    for session in sessions:
        for hours in args.cuts_hours:
            cut = session.sold_out_at - timedelta(hours=hours)
            if cut <= session.first_sale_at:
                continue  # nothing sold yet at the cut: nothing to forecast from
            row = connection.execute(
                statement,
                {
                    "as_of": cut.isoformat(),
                    "platform": session.platform,
                    "account_id": session.account_id,
                    "session_id": session.session_id,
                },
            ).fetchone()
            columns = [d[0] for d in connection.description]
            forecast = dict(zip(columns, row, strict=True))
            statuses[forecast["forecast_status"]] = statuses.get(forecast["forecast_status"], 0) + 1
            projected = forecast["unbounded_sell_out_at"]
            if projected is None:
                errors[hours].append(None)
            else:
                actual = session.sold_out_at.astimezone(UTC)
                errors[hours].append(abs((projected - actual).total_seconds()) / 3600)

    print(f"forecast statuses at the cuts: {json.dumps(statuses, sort_keys=True)}")
    print(
        f"{'cut before sell-out':>20} {'cuts':>6} {'forecast':>9} {'median h':>9} "
        f"{'p90 h':>8} {'<= 24 h':>8}"
    )
    every: list[float | None] = []
    for hours, values in errors.items():
        every += values
        _report(f"{hours:g} h", values)
    _report("all cuts", every)
    return 0


def _report(label: str, values: list[float | None]) -> None:
    made = [v for v in values if v is not None]
    if not values:
        print(f"{label:>20} {0:>6}")
        return
    within = sum(v <= 24 for v in made) / len(values)
    median = statistics.median(made) if made else float("nan")
    p90 = percentile(made, 0.9) if made else float("nan")
    print(
        f"{label:>20} {len(values):>6} {len(made) / len(values):>8.0%} {median:>9.1f} "
        f"{p90:>8.1f} {within:>8.0%}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
