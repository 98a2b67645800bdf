"""Small HTTP helpers for the sandbox tests: page through each platform the way a client must."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from ticketing_pipeline.sandbox import SandboxAccount, SandboxServer

PAGE_LIMIT = 10_000  # a paging loop that runs this long is a bug, not a big data set


def account(server: SandboxServer, platform: str, index: int = 0) -> SandboxAccount:
    return [a for a in server.dataset.accounts if a.platform == platform][index]


def hx_get(
    client: httpx.Client, server: SandboxServer, path: str, key: str, **params: Any
) -> httpx.Response:
    return client.get(server.humanitix_base_url + path, params=params, headers={"x-api-key": key})


def hx_all(
    client: httpx.Client, server: SandboxServer, path: str, key: str, items: str, **params: Any
) -> list[dict[str, Any]]:
    """Every record of a Humanitix list, stopping when ``page * pageSize >= total``."""
    out: list[dict[str, Any]] = []
    for page in range(1, PAGE_LIMIT):
        response = hx_get(client, server, path, key, page=page, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        out.extend(body[items])
        if body["page"] * body["pageSize"] >= body["total"]:
            assert len(out) == body["total"]
            return out
    raise AssertionError("paging never ended")


def eb_get(
    client: httpx.Client, server: SandboxServer, path: str, token: str, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return client.get(server.eventbrite_base_url + path, params=params, headers=headers)


def eb_all(
    client: httpx.Client, server: SandboxServer, path: str, token: str, items: str, **params: Any
) -> list[dict[str, Any]]:
    """Every record of an Eventbrite list, following ``continuation`` until has_more_items is
    false."""
    out: list[dict[str, Any]] = []
    continuation = None
    for _ in range(PAGE_LIMIT):
        query = dict(params)
        if continuation:
            query["continuation"] = continuation
        response = eb_get(client, server, path, token, **query)
        assert response.status_code == 200, response.text
        body = response.json()
        out.extend(body[items])
        pagination = body["pagination"]
        if not pagination["has_more_items"]:
            return out
        continuation = pagination["continuation"]
    raise AssertionError("paging never ended")


def dec(value: float) -> Decimal:
    return Decimal(str(value))


def sale(ticket: dict[str, Any]) -> dict[str, Decimal]:
    """A ticket's sale figures: its own fields, or (cancelled: those read 0) its totalsV2."""
    v2 = ticket["totalsV2"]
    fee = v2["fees"]["humanitixFee"]["totalFee"]
    net = dec(v2["subTotal"]["afterTax"])
    return {
        "price": net + dec(v2["discount"]),
        "discount": dec(v2["discount"]),
        "netPrice": net,
        "taxes": dec(v2["subTotal"]["tax"]),
        "fee": dec(fee["total"]["afterTax"]),
        "passedOnFee": dec(fee["passOn"]["afterTax"]),
        "absorbedFee": dec(fee["absorb"]["afterTax"]),
        "total": dec(v2["grossSales"]),
    }


MONEY_FIELDS = ("price", "discount", "netPrice", "taxes", "fee", "passedOnFee", "absorbedFee")


def assert_order_matches_tickets(order: dict[str, Any], tickets: list[dict[str, Any]]) -> None:
    live = [t for t in tickets if t["status"] == "complete"]
    gone = [t for t in tickets if t["status"] == "cancelled"]
    totals, purchase = order["totals"], order["purchaseTotals"]
    sales = {t["_id"]: sale(t) for t in tickets}
    for t in tickets:
        money = sales[t["_id"]]
        assert money["netPrice"] == money["price"] - money["discount"]
        assert money["total"] == money["netPrice"] + money["passedOnFee"]
        assert money["fee"] == money["passedOnFee"] + money["absorbedFee"]
        v2 = t["totalsV2"]
        if t["status"] == "complete":
            assert "cancelledAt" not in t
            # A complete ticket's own fields are its sale.
            assert {k: dec(t[k]) for k in (*MONEY_FIELDS, "total")} == money
            assert dec(v2["refunds"]) == 0 and dec(v2["total"]) == money["total"]
        else:
            assert t["cancelledAt"]
            # The platform zeroes every money field of a cancelled ticket (the capture).
            assert all(t[k] == 0 for k in (*MONEY_FIELDS, "total")), t
            assert dec(v2["refunds"]) == money["total"] and dec(v2["total"]) == 0
    assert isinstance(totals["feesIncluded"], bool)
    assert purchase["feesIncluded"] is totals["feesIncluded"]

    def total(field: str, of: list[dict[str, Any]]) -> Decimal:
        return sum((sales[t["_id"]][field] for t in of), Decimal(0))

    assert dec(totals["subtotal"]) == total("price", tickets)
    assert dec(totals["discounts"]) == total("discount", tickets)
    assert dec(totals["grossSales"]) == total("total", tickets)
    assert dec(totals["refunds"]) == total("total", gone)
    assert dec(totals["total"]) == total("total", live)
    assert dec(totals["total"]) == dec(totals["grossSales"]) - dec(totals["refunds"])
    assert dec(totals["humanitixFee"]) == total("fee", live)
    assert dec(totals["netSales"]) == dec(totals["total"]) - dec(totals["humanitixFee"])
    assert dec(totals["taxes"]) == total("taxes", live)
    assert dec(purchase["grossSales"]) == dec(totals["grossSales"])
    assert dec(purchase["refunds"]) == 0
    expected = (
        "free"
        if dec(purchase["grossSales"]) == 0
        else "refunded"
        if not live
        else "partiallyRefunded"
        if gone
        else "paid"
    )
    assert order["financialStatus"] == expected


def assert_costs_match(order: dict[str, Any], attendees: list[dict[str, Any]]) -> None:
    for field in ("base_price", "gross", "eventbrite_fee", "payment_fee", "tax"):
        assert order["costs"][field]["value"] == sum(a["costs"][field]["value"] for a in attendees)
    for a in attendees:
        money = a["costs"]["gross"]
        assert Decimal(money["major_value"]) * 100 == money["value"]
