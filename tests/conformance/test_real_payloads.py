"""The real captured payloads through the production path, to hand-checked figures.

The platforms' captures (tests/fixtures/real/, README there) are served as their APIs; the
sources sync them (REST client, paginators, incremental cursors, shaping) into DuckDB with a
real dlt load, and dbt builds staging and marts. Every expected figure below was worked out by
hand from the captures, not read back from the code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from tests.conformance.conftest import HX_ACCOUNT, FixtureAPI, RealLoad
from tests.conformance.fixture_api import EB_ORG_ID
from tests.integration.dbt.dbt_helpers import query
from ticketing_pipeline.warehouse import Warehouse

W6586ALS = "659880a26ec9d043e436d02f"
# tests/fixtures/real/README.md, point 3: (tickets, cancelled, gross, refunded) per ticket type.
W6586ALS_LINES = {
    "Friday": (3, 3, Decimal("526.23"), Decimal("526.23")),
    "Thursday": (2, 2, Decimal("324.92"), Decimal("324.92")),
    "Saturday": (1, 0, Decimal("124.92"), Decimal("0")),
    "Sunday": (1, 0, Decimal("124.93"), Decimal("0")),
    "Cake Donation": (1, 0, Decimal("10.00"), Decimal("0")),
}
THEODI_ORDER = "63599200"
THEODI_EVENT = "5994233182"


def ticket_sales_lines(warehouse: Warehouse, order_id: str) -> dict[str, dict[str, Any]]:
    rows = query(
        warehouse,
        "select * from marts.ticket_sales where order_id = :order_id",
        order_id=order_id,
    )
    return {row["ticket_type_name"]: row for row in rows}


def assert_w6586als(warehouse: Warehouse) -> None:
    lines = ticket_sales_lines(warehouse, W6586ALS)
    got = {
        name: (
            int(row["quantity"]),
            int(row["quantity_refunded"]),
            Decimal(row["gross_amount"]),
            Decimal(row["refunded_amount"]),
        )
        for name, row in lines.items()
    }
    assert got == W6586ALS_LINES
    assert sum(Decimal(r["gross_amount"]) for r in lines.values()) == Decimal("1111.00")
    assert sum(Decimal(r["refunded_amount"]) for r in lines.values()) == Decimal("851.15")
    # What the order still holds: totals.netSales 259.85 (no fees on this manual order).
    assert sum(Decimal(r["net_amount"]) for r in lines.values()) == Decimal("259.85")
    for row in lines.values():
        assert Decimal(row["refunded_amount"]) <= Decimal(row["gross_amount"])
        assert row["order_status"] == "partially_refunded"
        assert row["currency"] == "USD"


def assert_theodi(warehouse: Warehouse) -> None:
    (line,) = ticket_sales_lines(warehouse, THEODI_ORDER).values()
    # README point 7: gross 331.20 = base 269.50 + fee 6.50 + payment 0 + tax 55.20 (GBP).
    assert line["currency"] == "GBP"
    assert Decimal(line["gross_amount"]) == Decimal("331.20")
    assert Decimal(line["platform_fee_amount"]) == Decimal("6.50")
    assert Decimal(line["payment_fee_amount"]) == 0
    assert Decimal(line["tax_amount"]) == Decimal("55.20")
    base = Decimal(line["gross_amount"]) - Decimal("6.50") - Decimal("55.20")
    assert base == Decimal("269.50")
    assert Decimal(line["net_amount"]) == Decimal("324.70")  # gross - eventbrite fee
    assert (line["quantity"], line["quantity_refunded"], line["order_status"]) == (
        1,
        0,
        "completed",
    )


def test_both_accounts_sync_and_dbt_builds_clean(real_duckdb: RealLoad) -> None:
    assert [(s.account.key, s.ok, s.error) for s in real_duckdb.syncs] == [
        (f"humanitix-{HX_ACCOUNT}", True, None),
        (f"eventbrite-{EB_ORG_ID}", True, None),
    ]
    humanitix, eventbrite = (s.rows for s in real_duckdb.syncs)
    assert humanitix == {
        "events": 2,
        "event_dates": 2,
        "ticket_types": 17,
        "orders": 3,
        "tickets": 18,
    }
    # 3 gbe events (the page says has_more_items false beside page_count 4: only
    # has_more_items decides) + the theodi event + the brcc series parent.
    assert eventbrite == {
        "organizations": 1,
        "events": 5,
        "ticket_classes": 3,
        "orders": 1,
        "attendees": 1,
    }
    assert real_duckdb.build.ok, real_duckdb.build.output[-4000:]
    assert "ERROR=0" in real_duckdb.build.output and "WARN=0" in real_duckdb.build.output


def test_no_real_value_is_invalid_and_no_record_is_set_aside(real_duckdb: RealLoad) -> None:
    for schema, tables in {
        "raw_humanitix": ("events", "event_dates", "ticket_types", "orders", "tickets"),
        "raw_eventbrite": ("organizations", "events", "ticket_classes", "orders", "attendees"),
    }.items():
        for table in tables:
            rows = query(
                real_duckdb.warehouse,
                f"select count(*) as n from {schema}.{table} where invalid_fields is not null",
            )
            assert rows[0]["n"] == 0, (schema, table)
    tables = query(
        real_duckdb.warehouse,
        "select table_schema from information_schema.tables where table_name = 'rejected_records'",
    )
    assert tables == []


def test_w6586als_has_the_five_true_lines(real_duckdb: RealLoad) -> None:
    assert_w6586als(real_duckdb.warehouse)


def test_humanitix_raw_orders_keep_flags_and_regions(real_duckdb: RealLoad) -> None:
    rows = query(
        real_duckdb.warehouse,
        """select order_name, payment_type, financial_status, location, totals_fees_included,
                  purchase_totals_fees_included, totals_gross_sales, totals_refunds,
                  purchase_totals_refunds, totals_total
           from raw_humanitix.orders order by order_name""",
    )
    assert [(r["order_name"], r["payment_type"], r["financial_status"]) for r in rows] == [
        ("HSXCXQ3K", "complimentary", "free"),
        ("P4N5NGPH", "noPaymentNecessary", "free"),
        ("W6586ALS", "voucher", "partiallyRefunded"),
    ]
    assert {r["location"] for r in rows} == {"US"}
    w6586als = rows[2]
    assert (w6586als["totals_fees_included"], w6586als["purchase_totals_fees_included"]) == (
        True,
        True,
    )
    # totals is the order now, purchaseTotals the order when bought (README point 2).
    assert Decimal(w6586als["totals_gross_sales"]) == Decimal("1111")
    assert Decimal(w6586als["totals_refunds"]) == Decimal("851.15")
    assert Decimal(w6586als["purchase_totals_refunds"]) == 0
    assert Decimal(w6586als["totals_total"]) == Decimal("259.85")


def test_free_orders_are_completed_sales_of_zero(real_duckdb: RealLoad) -> None:
    rows = query(
        real_duckdb.warehouse,
        """select o.order_name, s.order_status, sum(s.quantity) as tickets,
                  sum(s.quantity_refunded) as cancelled, sum(s.gross_amount) as gross
           from marts.ticket_sales as s
           join raw_humanitix.orders as o on o.order_id = s.order_id
           group by o.order_name, s.order_status order by o.order_name""",
    )
    assert [
        (r["order_name"], r["order_status"], int(r["tickets"]), int(r["cancelled"])) for r in rows
    ] == [
        ("HSXCXQ3K", "completed", 2, 0),
        ("P4N5NGPH", "completed", 8, 0),
        ("W6586ALS", "partially_refunded", 8, 5),
    ]
    assert [Decimal(r["gross"]) for r in rows[:2]] == [0, 0]


def test_package_price_is_kept_per_ticket_and_never_summed(real_duckdb: RealLoad) -> None:
    rows = query(
        real_duckdb.warehouse,
        """select order_name, package_name, package_price, count(*) as tickets,
                  count(distinct package_group_id) as packages
           from raw_humanitix.tickets where package_id is not null
           group by order_name, package_name, package_price order by order_name""",
    )
    # README point 4: packagePrice is the whole package's, repeated on each of its tickets.
    assert [
        (r["order_name"], r["package_name"], Decimal(r["package_price"]), r["tickets"])
        for r in rows
    ] == [("P4N5NGPH", "All 4 days", Decimal("0"), 8), ("W6586ALS", "All 4 days", 500, 4)]
    # The order's gross is 1111 (its totals.grossSales), not 1111 + 4 x 500.
    gross = query(
        real_duckdb.warehouse,
        "select sum(gross_amount) as g from marts.ticket_sales where order_id = :o",
        o=W6586ALS,
    )
    assert Decimal(gross[0]["g"]) == Decimal("1111")
    packaged = query(
        real_duckdb.warehouse,
        "select packaged_tickets from raw_humanitix.events where packaged_tickets is not null",
    )
    names = {p["name"] for row in packaged for p in orjson.loads(row["packaged_tickets"])}
    assert "All 4 days" in names


def test_humanitix_session_reconciles_with_its_orders(real_duckdb: RealLoad) -> None:
    (row,) = query(
        real_duckdb.warehouse,
        """select s.tickets_sold, s.gross_sales, s.net_sales, s.sales_status, r.status
           from marts.session_complete as s
           join marts.ticket_reconciliation as r
             on r.platform = s.platform and r.account_id = s.account_id
             and r.session_id = s.session_id
           where s.session_id = '6568c47844bea90207cb25c9'""",
    )
    # 13 complete tickets (2 + 8 + 3 of W6586ALS); gross 1111; still held 259.85.
    assert (row["tickets_sold"], Decimal(row["gross_sales"]), Decimal(row["net_sales"])) == (
        13,
        Decimal("1111"),
        Decimal("259.85"),
    )
    assert row["status"] == "match"
    assert row["sales_status"] is None  # neither marked sold out nor suspended


def test_humanitix_place_comes_from_address_components(real_duckdb: RealLoad) -> None:
    # Real events name their city and country only in eventLocation.addressComponents.
    rows = query(
        real_duckdb.warehouse,
        """select venue_name, city, country from marts.session_complete
           where platform = 'humanitix' and venue_name = 'Old Town Hall'""",
    )
    assert rows
    assert {(r["city"], r["country"]) for r in rows} == {("Salem", "US")}
    (raw,) = query(
        real_duckdb.warehouse,
        "select address_region, postal_code, extra_fields from raw_humanitix.events "
        "where venue_name = 'Old Town Hall'",
    )
    assert (raw["address_region"], raw["postal_code"]) == ("MA", "01970")
    assert "addressComponents" not in (raw["extra_fields"] or "")


def test_theodi_order_adds_up(real_duckdb: RealLoad) -> None:
    assert_theodi(real_duckdb.warehouse)


def test_include_fee_class_prices_at_face_value(real_duckdb: RealLoad) -> None:
    (session,) = query(
        real_duckdb.warehouse,
        "select min_price, max_price, currency from marts.session_complete where session_id = :e",
        e=THEODI_EVENT,
    )
    # cost 276.00 includes the fee; the face value is actual_cost 269.50.
    assert (Decimal(session["min_price"]), Decimal(session["max_price"])) == (
        Decimal("269.50"),
        Decimal("269.50"),
    )
    (staged,) = query(
        real_duckdb.warehouse,
        "select cost, fee, listed_cost, is_fee_included from staging.stg_eventbrite__ticket_classes"
        " where event_id = :e",
        e=THEODI_EVENT,
    )
    assert (Decimal(staged["cost"]), Decimal(staged["fee"]), Decimal(staged["listed_cost"])) == (
        Decimal("269.50"),
        Decimal("6.50"),
        Decimal("276.00"),
    )
    assert staged["is_fee_included"] is True


def test_eventbrite_series_parent_is_an_event_not_a_session(real_duckdb: RealLoad) -> None:
    events = query(
        real_duckdb.warehouse,
        "select event_id, is_series, is_series_parent, series_id from raw_eventbrite.events "
        "where is_series_parent",
    )
    assert events == [
        {"event_id": "769789610447", "is_series": True, "is_series_parent": True, "series_id": None}
    ]
    sessions = {
        r["session_id"]
        for r in query(
            real_duckdb.warehouse,
            "select session_id from marts.session_complete where platform = 'eventbrite'",
        )
    }
    assert sessions == {"12122222111111", "2222333332323232", "44454545454545454", THEODI_EVENT}


def test_events_are_asked_for_their_sales_status(
    real_duckdb: RealLoad, fixture_api: FixtureAPI
) -> None:
    queries = [q for path, q in fixture_api.app.state.requests if path.endswith("/events/")]
    assert queries and all("expand=venue%2Cevent_sales_status" in q for q in queries), queries
    columns = query(
        real_duckdb.warehouse,
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'session_complete'",
    )
    assert "sales_status" in {c["column_name"] for c in columns}


def test_staging_falls_back_to_legacy_fields_for_rows_without_totals_v2(
    real_duckdb: RealLoad,
) -> None:
    # Rows loaded before the totals_v2_* columns existed read them as null: the legacy ticket
    # fields count then. Checked inside a transaction that is rolled back.
    with real_duckdb.warehouse.connect() as connection:
        transaction = connection.begin()
        connection.execute(
            sa.text(
                "update raw_humanitix.tickets set totals_v2_gross_sales = null, "
                "totals_v2_refunds = null where order_id = :o"
            ),
            {"o": W6586ALS},
        )
        rows = connection.execute(
            sa.text(
                "select ticket_type_name, ticket_status, gross_amount, refunded_amount, "
                "has_totals_v2 from staging.stg_humanitix__tickets where order_id = :o"
            ),
            {"o": W6586ALS},
        ).all()
        transaction.rollback()
    assert {r.has_totals_v2 for r in rows} == {False}
    by_type = {(r.ticket_type_name, r.ticket_status): r for r in rows}
    sunday = by_type[("Sunday", "complete")]
    assert (Decimal(sunday.gross_amount), Decimal(sunday.refunded_amount)) == (
        Decimal("124.93"),
        0,
    )
    # A cancelled ticket's legacy total is 0: without totalsV2 its sale is unknowable.
    friday = by_type[("Friday", "cancelled")]
    assert Decimal(friday.gross_amount) == Decimal(friday.refunded_amount) == 0


@pytest.mark.postgres
def test_the_same_figures_on_postgresql(
    fixture_api: FixtureAPI, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.conformance.conftest import load_real_payloads

    load = load_real_payloads(fixture_api.url, postgres_url, tmp_path_factory.mktemp("real_pg"))
    assert all(s.ok for s in load.syncs), [s.error for s in load.syncs]
    assert load.build.ok, load.build.output[-4000:]
    assert_w6586als(load.warehouse)
    assert_theodi(load.warehouse)
