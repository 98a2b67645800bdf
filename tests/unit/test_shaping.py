"""Arrow shaping: exact types, schema drift kept (never dropped), bad values set aside loudly
(invalid_fields, rejected_records) without stopping the load."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from ticketing_pipeline.sources.eventbrite import tables as eb
from ticketing_pipeline.sources.http import parse_json_exact
from ticketing_pipeline.sources.humanitix import tables as hx
from ticketing_pipeline.sources.shaping import (
    INVALID_FIELDS,
    REJECTED_RECORDS,
    SchemaDriftError,
    count_invalid,
)

REAL = Path(__file__).parents[1] / "fixtures" / "real"


def real(name: str) -> Any:
    return parse_json_exact((REAL / name).read_bytes())


ORDER = b"""{
  "_id": "5f1e8a3b9c0d1e2f3a4b5c6d", "eventId": "e1", "currency": "AUD",
  "status": "complete", "financialStatus": "paid", "salesChannel": "online",
  "discounts": {"discountCode": {"code": "EARLY", "discountAmount": 5.10}},
  "totals": {"grossSales": 53.98, "netSales": 50.01, "refunds": 0, "subtotal": 59.08},
  "createdAt": "2026-03-01T10:00:00.123Z", "updatedAt": "2026-03-02T11:00:00Z"
}"""


def test_money_is_exact_decimal_and_times_are_utc() -> None:
    table = hx.ORDERS.to_arrow([parse_json_exact(ORDER)], "acc")
    row = table.to_pylist()[0]
    assert table.schema.field("totals_gross_sales").type == pa.decimal128(18, 4)
    assert row["totals_gross_sales"] == Decimal("53.98")
    assert row["totals_net_sales"] == Decimal("50.01")
    assert row["discount_code_amount"] == Decimal("5.10")
    assert row["discount_code"] == "EARLY"
    assert row["account_id"] == "acc"
    assert table.schema.field("updated_at").type == pa.timestamp("us", tz="UTC")
    assert row["created_at"].isoformat() == "2026-03-01T10:00:00.123000+00:00"
    assert row["extra_fields"] is None


def test_unknown_fields_are_kept_not_dropped() -> None:
    record = parse_json_exact(ORDER)
    record["newTopLevel"] = {"x": 1}
    record["totals"]["surprisingFee"] = Decimal("1.25")
    row = hx.ORDERS.to_arrow([record], "acc").to_pylist()[0]
    extra = orjson.loads(row["extra_fields"])
    assert extra == {"newTopLevel": {"x": 1}, "totals.surprisingFee": "1.25"}


def test_float_money_is_not_loaded_but_kept_with_its_reason() -> None:
    # Was: the whole page failed (SchemaDriftError). Now the cell is null, the row loads, and
    # the raw value waits in invalid_fields, so one bad field never stops a load.
    record = parse_json_exact(ORDER)
    record["totals"]["grossSales"] = 53.98  # a float would be inexact
    table = hx.ORDERS.to_arrow([record, parse_json_exact(ORDER)], "acc")
    first, second = table.to_pylist()
    assert first["totals_gross_sales"] is None
    assert first["totals_net_sales"] == Decimal("50.01")  # the rest of the row loads
    invalid = orjson.loads(first[INVALID_FIELDS])
    assert list(invalid) == ["totals.grossSales"]
    assert invalid["totals.grossSales"]["value"] == 53.98
    assert "MONEY" in invalid["totals.grossSales"]["error"]
    assert second["totals_gross_sales"] == Decimal("53.98") and second[INVALID_FIELDS] is None
    assert count_invalid(table) == {"totals.grossSales": 1}


def test_eventbrite_money_objects_become_minor_units() -> None:
    money = {"currency": "GBP", "value": 4250, "major_value": "42.50", "display": "£42.50"}
    order = {
        "id": "1",
        "event_id": "9",
        "status": "placed",
        "changed": "2026-03-02T11:00:00Z",
        "costs": {"gross": money, "base_price": money, "eventbrite_fee": {**money, "value": 301}},
    }
    row = eb.ORDERS.to_arrow([order], "org").to_pylist()[0]
    assert (row["costs_gross"], row["costs_eventbrite_fee"], row["currency"]) == (4250, 301, "GBP")
    assert row["costs_payment_fee"] is None
    assert row["extra_fields"] is None  # money objects' display fields are known, not drift


def test_money_object_of_unexpected_shape_is_kept_as_invalid() -> None:
    order = {"id": "1", "changed": "2026-03-02T11:00:00Z", "costs": {"gross": "42.50"}}
    row = eb.ORDERS.to_arrow([order], "org").to_pylist()[0]
    assert row["costs_gross"] is None
    assert orjson.loads(row[INVALID_FIELDS])["costs.gross"]["value"] == "42.50"


def test_unknown_enum_values_are_kept() -> None:
    record = parse_json_exact(ORDER)
    record["financialStatus"] = "somethingNew"
    row = hx.ORDERS.to_arrow([record], "acc").to_pylist()[0]
    assert row["financial_status"] == "somethingNew"


def test_text_numbers_objects_and_fractional_counts_are_invalid_not_coerced() -> None:
    record = parse_json_exact(ORDER)
    record["email"] = {"primary": "a@b.c"}  # an object where text was: a changed shape
    record["manualOrder"] = "maybe"
    record["completedAt"] = 1700000000
    ticket_type = {"_id": "t1", "eventId": "e1", "price": 10, "quantity": Decimal("1.5")}
    row = hx.ORDERS.to_arrow([record], "acc").to_pylist()[0]
    invalid = orjson.loads(row[INVALID_FIELDS])
    assert set(invalid) == {"email", "manualOrder", "completedAt"}
    assert (row["email"], row["is_manual_order"], row["completed_at"]) == (None, None, None)
    # pyarrow alone would silently truncate 1.5 to 1
    tt = hx.TICKET_TYPES.to_arrow([ticket_type], "acc").to_pylist()[0]
    assert tt["quantity"] is None and "quantity" in orjson.loads(tt[INVALID_FIELDS])


def test_records_without_key_or_cursor_are_set_aside_and_the_rest_loads() -> None:
    good = parse_json_exact(ORDER)
    no_key = {**parse_json_exact(ORDER), "_id": None}
    no_cursor = {**parse_json_exact(ORDER), "_id": "o3"}
    del no_cursor["updatedAt"]
    bad_cursor = {**parse_json_exact(ORDER), "_id": "o4", "updatedAt": "yesterday"}
    page = hx.ORDERS.shape([no_key, good, no_cursor, bad_cursor], "acc")
    assert page.table.column("order_id").to_pylist() == ["5f1e8a3b9c0d1e2f3a4b5c6d"]
    reasons = [r["reason"] for r in page.rejected]
    assert reasons[0].startswith("no _id") and reasons[1].startswith("no updatedAt")
    assert reasons[2].startswith("updatedAt does not fit TIMESTAMP")
    assert orjson.loads(page.rejected[2]["record"])["updatedAt"] == "yesterday"
    assert {r["table_name"] for r in page.rejected} == {"orders"}
    # A caller that cannot set records aside is told, not handed a shorter table.
    with pytest.raises(SchemaDriftError, match="3 record"):
        hx.ORDERS.to_arrow([no_key, good, no_cursor, bad_cursor], "acc")
    # dlt items: the rejected records (their own table) first, then the table.
    rejected, table = hx.ORDERS.to_items([no_key, good], "acc")
    assert rejected.meta.hints["table_name"] == REJECTED_RECORDS
    assert rejected.meta.hints["write_disposition"] == "merge"
    # The same record set aside again (the next sync) has the same id: one row, not two.
    again, _ = hx.ORDERS.to_items([no_key, good], "acc")
    assert [r["rejection_id"] for r in again.data] == [r["rejection_id"] for r in rejected.data]
    other_account = hx.ORDERS.shape([no_key], "other").rejected[0]
    assert other_account["rejection_id"] != again.data[0]["rejection_id"]
    assert table.num_rows == 1
    # Events have no cursor of their own to guard: an event without updatedAt still loads.
    event = {"_id": "e1", "name": "x"}
    assert hx.EVENTS.to_items([event], "acc")[0].num_rows == 1


def test_real_humanitix_orders_load_with_boolean_fees_included() -> None:
    orders = real("humanitix_orders_page_gbe_2024.json")["orders"]
    rows = {r["order_id"]: r for r in hx.ORDERS.to_arrow(orders, "acc").to_pylist()}
    w6586 = rows["659880a26ec9d043e436d02f"]
    assert w6586["totals_fees_included"] is True
    assert w6586["purchase_totals_fees_included"] is True
    assert w6586["location"] == "US"
    assert (w6586["totals_gross_sales"], w6586["totals_refunds"]) == (
        Decimal("1111"),
        Decimal("851.15"),
    )
    assert w6586["purchase_totals_refunds"] == 0
    assert all(r[INVALID_FIELDS] is None for r in rows.values())


def test_totals_v2_is_typed_and_only_its_fee_breakdown_is_not_kept() -> None:
    ticket = real("humanitix_ticket_cancelled_package_gbe_2024.json")
    row = hx.TICKETS.to_arrow([ticket], "acc").to_pylist()[0]
    # A cancelled ticket: every legacy money field is 0; totalsV2 keeps the sale and refund.
    assert row["total"] == 0 and row["price"] == 0
    assert row["totals_v2_gross_sales"] == row["totals_v2_refunds"] == Decimal("125.23")
    assert (row["package_name"], row["package_price"]) == ("All 4 days", Decimal("500"))
    extra = orjson.loads(row["extra_fields"])
    assert not [key for key in extra if key.startswith("totalsV2")]  # every leaf is typed
    # Fee totals are typed columns; their breakdown (fixed/percent, before tax) is not kept.
    fees = ticket["totalsV2"]["fees"]
    fees["rebate"]["totalFee"]["total"]["afterTax"] = Decimal("0.40")
    fees["humanitixFee"]["fixedFee"]["passOn"]["beforeTax"] = Decimal("0.90")
    # Drift outside the fee tree stays visible, as dotted keys.
    ticket["totalsV2"]["newFigure"] = Decimal("2")
    ticket["totalsV2"]["credit"]["codes"] = [0, "GIFT"]
    ticket["totalsV2"]["customSalesTax"]["applies"] = False
    row = hx.TICKETS.to_arrow([ticket], "acc").to_pylist()[0]
    assert row["totals_v2_rebate"] == Decimal("0.40")
    extra = orjson.loads(row["extra_fields"])
    assert {k: v for k, v in extra.items() if k.startswith("totalsV2")} == {
        "totalsV2.newFigure": "2",
        "totalsV2.credit.codes": [0, "GIFT"],
        "totalsV2.customSalesTax.applies": False,
    }


def test_totals_v2_keeps_stored_tickets_small() -> None:
    pages = ("complete", "cancelled")
    tickets = [
        t
        for status in pages
        for t in real(f"humanitix_tickets_page_status_{status}_gbe_2024.json")["tickets"]
    ]
    table = hx.TICKETS.to_arrow(tickets, "acc")
    assert table.num_rows == 18
    # Whole, totalsV2 alone is ~4.8 KB of JSON per ticket; the typed row must stay far below.
    assert table.nbytes / table.num_rows < 1500


def test_eventbrite_include_fee_class_keeps_face_value_and_fee_apart() -> None:
    ticket_class = real("eventbrite_ticket_class_from_order_event_theodi_2015.json")
    row = eb.TICKET_CLASSES.to_arrow([ticket_class], "org").to_pylist()[0]
    assert (row["include_fee"], row["split_fee"]) == (True, False)
    assert (row["cost"], row["fee"]) == (27600, 0)  # the fee is inside cost
    assert (row["actual_cost"], row["actual_fee"]) == (26950, 650)


def test_eventbrite_order_discount_is_read_from_both_places_and_never_fails() -> None:
    money = {"currency": "GBP", "value": 500, "major_value": "5.00", "display": "£5.00"}
    base = {"id": "1", "changed": "2026-03-02T11:00:00Z", "costs": {"gross": money}}
    top = {**base, "discount_amount": money}
    nested = {**base, "id": "2", "costs": {"gross": money, "discount_amount": money}}
    odd = {**base, "id": "3", "discount_amount": "5.00"}
    rows = eb.ORDERS.to_arrow([top, nested, odd], "org").to_pylist()
    assert [(r["discount_amount"], r["costs_discount_amount"]) for r in rows] == [
        (500, None),
        (None, 500),
        (None, None),
    ]
    assert "discount_amount" in orjson.loads(rows[2][INVALID_FIELDS])
