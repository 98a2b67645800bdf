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


def assert_order_matches_tickets(order: dict[str, Any], tickets: list[dict[str, Any]]) -> None:
    live = [t for t in tickets if t["status"] == "complete"]
    gone = [t for t in tickets if t["status"] == "cancelled"]
    totals, purchase = order["totals"], order["purchaseTotals"]
    for t in tickets:
        assert dec(t["netPrice"]) == dec(t["price"]) - dec(t["discount"])
        assert dec(t["total"]) == dec(t["netPrice"]) + dec(t["passedOnFee"])
        assert dec(t["fee"]) == dec(t["passedOnFee"]) + dec(t["absorbedFee"])
        assert (t["cancelledAt"] is None) == (t["status"] == "complete")
    assert dec(totals["subtotal"]) == sum(dec(t["price"]) for t in tickets)
    assert dec(totals["discounts"]) == sum(dec(t["discount"]) for t in tickets)
    assert dec(totals["grossSales"]) == sum(dec(t["total"]) for t in tickets)
    assert dec(totals["refunds"]) == sum((dec(t["total"]) for t in gone), Decimal(0))
    assert dec(totals["total"]) == sum((dec(t["total"]) for t in live), Decimal(0))
    assert dec(totals["humanitixFee"]) == sum((dec(t["fee"]) for t in live), Decimal(0))
    assert dec(totals["netSales"]) == dec(totals["total"]) - dec(totals["humanitixFee"])
    assert dec(totals["taxes"]) == sum((dec(t["taxes"]) for t in live), Decimal(0))
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
