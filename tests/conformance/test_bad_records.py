"""A bad field never stops a load: the real orders page with broken copies added, synced by the
production Humanitix source into DuckDB. Good records load, bad values wait in invalid_fields,
records that cannot be merged land in rejected_records in the same load."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from tests.conformance.conftest import load_real_payloads
from tests.conformance.fixture_api import build_app
from tests.integration.asgi_thread import serve_in_thread
from tests.integration.dbt.dbt_helpers import query


def with_broken_copies(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    w6586als = orders[2]

    def broken(order_id: str | None, **changes: Any) -> dict[str, Any]:
        order = copy.deepcopy(w6586als)
        order.update(changes)
        if order_id is None:
            del order["_id"]
        else:
            order["_id"] = order_id
        return order

    text_money = broken("text-money")
    text_money["totals"]["grossSales"] = "1,111.00"
    return [
        broken(None, orderName="NO-ID"),
        *orders,
        broken("bad-cursor", updatedAt="last tuesday"),
        text_money,
        broken("list-totals", totals=[1111]),
    ]


def test_bad_fields_and_unmergeable_records_do_not_stop_the_load(tmp_path: Path) -> None:
    warehouse_url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    with serve_in_thread(build_app(tamper_hx_orders=with_broken_copies)) as url:
        load = load_real_payloads(url, warehouse_url, tmp_path, False)
        # One sync, one dlt load package: the rejected rows were loaded with the good ones.
        loads = query(load.warehouse, "select count(*) as n from raw_humanitix._dlt_loads")
        assert loads[0]["n"] == 1
        # A second sync reads the same broken records again: nothing changes.
        again = load_real_payloads(url, warehouse_url, tmp_path, False)
    assert [s.ok for s in load.syncs + again.syncs] == [True] * 4, load.syncs + again.syncs
    orders = {
        r["order_id"]: r
        for r in query(
            load.warehouse,
            "select order_id, totals_gross_sales, totals_refunds, invalid_fields "
            "from raw_humanitix.orders",
        )
    }
    assert set(orders) == {
        "65a5f3e1f9bf8c50104241c2",
        "6598882da3e40f5e8ad034f2",
        "659880a26ec9d043e436d02f",
        "text-money",
        "list-totals",
    }
    text_money = orders["text-money"]
    assert text_money["totals_gross_sales"] is None
    assert Decimal(text_money["totals_refunds"]) == Decimal("851.15")  # the rest loads, exact
    invalid = orjson.loads(text_money["invalid_fields"])
    assert invalid["totals.grossSales"]["value"] == "1,111.00"
    assert orjson.loads(orders["list-totals"]["invalid_fields"])["totals"]["value"] == [1111]
    assert orders["659880a26ec9d043e436d02f"]["invalid_fields"] is None

    rejected = query(
        load.warehouse,
        "select account_id, table_name, reason, record from raw_humanitix.rejected_records "
        "order by reason",
    )
    assert [(r["account_id"], r["table_name"]) for r in rejected] == [("gbe", "orders")] * 2
    assert rejected[0]["reason"].startswith("no _id")
    assert orjson.loads(rejected[0]["record"])["orderName"] == "NO-ID"
    assert rejected[1]["reason"].startswith("updatedAt does not fit TIMESTAMP")
    assert orjson.loads(rejected[1]["record"])["_id"] == "bad-cursor"
