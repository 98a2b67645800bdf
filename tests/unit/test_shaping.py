"""Arrow shaping: exact types, schema drift kept (never dropped), bad values fail loudly."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pyarrow as pa
import pytest

from ticketing_pipeline.sources.eventbrite import tables as eb
from ticketing_pipeline.sources.http import parse_json_exact
from ticketing_pipeline.sources.humanitix import tables as hx
from ticketing_pipeline.sources.shaping import SchemaDriftError

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


def test_float_money_is_refused() -> None:
    record = parse_json_exact(ORDER)
    record["totals"]["grossSales"] = 53.98  # a float would be inexact
    with pytest.raises(SchemaDriftError, match="totals_gross_sales"):
        hx.ORDERS.to_arrow([record], "acc")


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


def test_money_object_of_unexpected_shape_fails_loudly() -> None:
    order = {"id": "1", "costs": {"gross": "42.50"}}
    with pytest.raises(SchemaDriftError, match="costs_gross"):
        eb.ORDERS.to_arrow([order], "org")


def test_unknown_enum_values_are_kept() -> None:
    record = parse_json_exact(ORDER)
    record["financialStatus"] = "somethingNew"
    row = hx.ORDERS.to_arrow([record], "acc").to_pylist()[0]
    assert row["financial_status"] == "somethingNew"
