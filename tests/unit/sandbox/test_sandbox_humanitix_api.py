"""The fake Humanitix API over real HTTP: shapes, paging, filters, auth and validation."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import httpx
from sandbox_helpers import account, hx_all, hx_get

from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec
from ticketing_pipeline.sandbox.dataset import HX_TICKET_CANCELLED
from ticketing_pipeline.sandbox.formats import money_text

# The keys every captured record has (tests/fixtures/real/humanitix_*.json);
# test_sandbox_conformance.py checks every key and JSON type against the captures.
EVENT_FIELDS = {
    "_id", "location", "userId", "organiserId", "currency", "name", "description", "slug",
    "public", "published", "timezone", "totalCapacity", "startDate", "endDate",
    "suspendSales", "markedAsSoldOut", "createdAt", "updatedAt", "pricing", "eventLocation",
    "classification", "tagIds", "dates", "ticketTypes", "packagedTickets",
}  # fmt: skip
DATE_FIELDS = {"_id", "startDate", "endDate", "disabled", "deleted"}
TICKET_TYPE_FIELDS = {"_id", "name", "price", "quantity", "disabled", "deleted", "isDonation"}
LOCATION_FIELDS = {"type", "latLng", "addressComponents"}
ORDER_FIELDS = {
    "_id", "eventId", "eventDateId", "currency", "status", "financialStatus", "businessPurpose",
    "manualOrder", "tipFees", "salesChannel", "firstName", "lastName", "email", "mobile",
    "orderName", "paymentType", "paymentGateway", "completedAt", "incompleteAt", "createdAt",
    "updatedAt", "location", "totals", "purchaseTotals", "clientDonation",
    "organiserMailListOptIn", "additionalFields",
}  # fmt: skip
TOTALS_REQUIRED = {
    "subtotal", "clientDonation", "netClientDonation", "donation", "feesIncluded",
    "bookingTaxes", "taxes", "totalTaxes", "discounts", "refunds", "netSales", "grossSales",
    "total",
}  # fmt: skip
TOTALS_MONEY = TOTALS_REQUIRED - {"feesIncluded"}
TICKET_FIELDS = {
    "_id", "location", "eventId", "orderId", "orderName", "eventDateId", "ticketTypeId",
    "ticketTypeName", "number", "firstName", "lastName", "currency", "price", "discount",
    "netPrice", "taxes", "fee", "passedOnFee", "absorbedFee", "dgrDonation", "total", "status",
    "salesChannel", "isDonation", "additionalFields", "checkInHistory", "qrCodeData",
    "totalsV2", "createdAt", "updatedAt",
}  # fmt: skip
HX_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
HEX24 = re.compile(r"^[0-9a-f]{24}$")


def first_event_with_orders(server: SandboxServer, key: str, client: httpx.Client) -> dict:
    events = hx_all(client, server, "/events", key, "events")
    return max(events, key=lambda e: len(server.dataset.hx_events[e["_id"]].orders))


def test_records_have_the_documented_shapes(server: SandboxServer, client: httpx.Client) -> None:
    key = account(server, "humanitix").secret
    events = hx_all(client, server, "/events", key, "events")
    assert events
    for event in events:
        assert set(event) >= EVENT_FIELDS
        assert HEX24.match(event["_id"])
        assert HX_TIME.match(event["createdAt"]) and HX_TIME.match(event["updatedAt"])
        assert set(event["eventLocation"]) >= LOCATION_FIELDS
        assert event["eventLocation"]["type"] in ("address", "online", "custom", "toBeAnnounced")
        assert {"minimumPrice", "maximumPrice"} <= set(event["pricing"])
        for date in event["dates"]:
            assert set(date) >= DATE_FIELDS and HEX24.match(date["_id"])
        for ticket_type in event["ticketTypes"]:
            assert set(ticket_type) >= TICKET_TYPE_FIELDS
    event = first_event_with_orders(server, key, client)
    orders = hx_all(client, server, f"/events/{event['_id']}/orders", key, "orders")
    for order in orders:
        assert set(order) >= ORDER_FIELDS
        assert (
            set(order["totals"]) >= TOTALS_REQUIRED
            and set(order["purchaseTotals"]) >= TOTALS_REQUIRED
        )
        assert order["status"] == "complete"
        assert order["eventId"] == event["_id"]
        assert isinstance(order["totals"]["feesIncluded"], bool)
        assert order["location"] == event["location"]
        if "discounts" in order:  # only on orders with a discount (a guess: no capture)
            assert {"autoDiscount", "discountCode"} <= set(order["discounts"])
    tickets = hx_all(client, server, f"/events/{event['_id']}/tickets", key, "tickets")
    for ticket in tickets:
        assert set(ticket) >= TICKET_FIELDS
        assert "email" not in ticket
        assert ticket["location"] == event["location"]
        assert ("cancelledAt" in ticket) == (ticket["status"] == "cancelled")
        if "checkIn" in ticket:  # only once checked in (a guess: no capture)
            assert ticket["checkIn"]["checkedIn"] is True and ticket["checkIn"]["date"]
    one = hx_get(client, server, f"/events/{event['_id']}/orders/{orders[0]['_id']}", key)
    assert one.json() == orders[0]
    one = hx_get(client, server, f"/events/{event['_id']}/tickets/{tickets[0]['_id']}", key)
    assert one.json() == tickets[0]
    assert hx_get(client, server, f"/events/{event['_id']}", key).json() == event


def test_paging_serves_every_record_exactly_once(
    server: SandboxServer, client: httpx.Client
) -> None:
    key = account(server, "humanitix").secret
    event = first_event_with_orders(server, key, client)
    stored = server.dataset.hx_events[event["_id"]]
    assert len(stored.orders) > 150, "the test needs several pages"
    for size in (100, 37):
        orders = hx_all(
            client, server, f"/events/{event['_id']}/orders", key, "orders", pageSize=size
        )
        ids = [o["_id"] for o in orders]
        assert len(ids) == len(set(ids)) == len(stored.orders)
        assert set(ids) == set(stored.orders)
    body = hx_get(client, server, f"/events/{event['_id']}/orders", key, page=1, pageSize=37).json()
    assert (body["page"], body["pageSize"], body["total"]) == (1, 37, len(stored.orders))
    assert len(body["orders"]) == 37
    beyond = hx_get(client, server, f"/events/{event['_id']}/orders", key, page=10_000).json()
    assert beyond["orders"] == [] and beyond["total"] == len(stored.orders)


def test_since_keeps_records_updated_at_or_after_it(
    server: SandboxServer, client: httpx.Client
) -> None:
    key = account(server, "humanitix").secret
    event = first_event_with_orders(server, key, client)
    path = f"/events/{event['_id']}/tickets"
    tickets = hx_all(client, server, path, key, "tickets")
    stamps = sorted(t["updatedAt"] for t in tickets)
    cut = stamps[len(stamps) // 2]
    recent = hx_all(client, server, path, key, "tickets", since=cut)
    assert recent and all(t["updatedAt"] >= cut for t in recent)
    assert len(recent) == sum(1 for s in stamps if s >= cut)
    # Sorted by (updatedAt, _id), so a client can also stop early.
    assert [(t["updatedAt"], t["_id"]) for t in recent] == sorted(
        (t["updatedAt"], t["_id"]) for t in recent
    )
    assert hx_get(client, server, path, key, page=1, since="not a date").status_code == 400


def test_event_date_and_status_filters(server: SandboxServer, client: httpx.Client) -> None:
    key = account(server, "humanitix").secret
    events = hx_all(client, server, "/events", key, "events")
    multi = [
        e
        for e in events
        if len({d for d in server.dataset.hx_events[e["_id"]].order_index for d in [d[2]]}) > 1
    ]
    assert multi, "the data set has events with orders in several sessions"
    event = multi[0]
    path = f"/events/{event['_id']}"
    all_orders = hx_all(client, server, path + "/orders", key, "orders")
    for date in event["dates"]:
        some = hx_all(client, server, path + "/orders", key, "orders", eventDateId=date["_id"])
        assert all(o["eventDateId"] == date["_id"] for o in some)
        assert len(some) == sum(1 for o in all_orders if o["eventDateId"] == date["_id"])
    unknown = hx_get(client, server, path + "/orders", key, page=1, eventDateId="0" * 24).json()
    assert unknown["total"] == 0
    tickets = hx_all(client, server, path + "/tickets", key, "tickets")
    for status in ("complete", "cancelled"):
        some = hx_all(client, server, path + "/tickets", key, "tickets", status=status)
        assert all(t["status"] == status for t in some)
        assert len(some) == sum(1 for t in tickets if t["status"] == status)
    assert hx_get(client, server, path + "/tickets", key, status="void").status_code == 400


def test_in_future_only_uses_the_sandbox_clock(server: SandboxServer, client: httpx.Client) -> None:
    key = account(server, "humanitix").secret
    every = hx_all(client, server, "/events", key, "events")
    future = hx_all(client, server, "/events", key, "events", inFutureOnly="true")
    now = server.dataset.now_ms
    expected = {e["_id"] for e in every if server.dataset.hx_events[e["_id"]].end_ms >= now}
    assert {e["_id"] for e in future} == expected
    assert 0 < len(future) < len(every)


def test_auth_errors_and_account_isolation(server: SandboxServer, client: httpx.Client) -> None:
    own = account(server, "humanitix", 0)
    other = account(server, "humanitix", 1)
    for headers in ({"x-api-key": "wrong"}, {}):
        response = client.get(server.humanitix_base_url + "/events?page=1", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "statusCode": 401,
            "error": "Unauthorized",
            "message": "Invalid API Key.",
        }
    mine = {e["_id"] for e in hx_all(client, server, "/events", own.secret, "events")}
    theirs = {e["_id"] for e in hx_all(client, server, "/events", other.secret, "events")}
    assert mine and theirs and not mine & theirs
    foreign = next(iter(theirs))
    for path, params in (
        (f"/events/{foreign}", {}),
        (f"/events/{foreign}/orders", {"page": 1}),
        (f"/events/{foreign}/tickets", {"page": 1}),
    ):
        assert hx_get(client, server, path, other.secret, **params).status_code == 200
        response = hx_get(client, server, path, own.secret, **params)
        assert response.status_code == 404
        assert response.json()["statusCode"] == 404


def test_query_validation_matches_humanitix(server: SandboxServer, client: httpx.Client) -> None:
    key = account(server, "humanitix").secret
    cases = {
        (("page", "1"), ("colour", "red")): '"colour" is not allowed',
        (): '"page" is required',
        (("page", "0"),): '"page" must be greater than or equal to 1',
        (("page", "1"), ("pageSize", "101")): '"pageSize" must be less than or equal to 100',
        (("page", "x"),): '"page" must be a number',
        (("page", "1"), ("inFutureOnly", "maybe")): '"inFutureOnly" must be a boolean',
    }
    for params, message in cases.items():
        response = client.get(
            server.humanitix_base_url + "/events", params=dict(params), headers={"x-api-key": key}
        )
        assert response.status_code == 400, params
        assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": message}
    assert (
        client.get(server.humanitix_base_url + "/nope", headers={"x-api-key": key}).json()[
            "statusCode"
        ]
        == 404
    )


def test_tags_and_override_location(server: SandboxServer, client: httpx.Client) -> None:
    key = account(server, "humanitix").secret
    body = hx_get(client, server, "/tags", key, page=1).json()
    assert body["total"] == len(body["tags"]) > 0
    assert all(HEX24.match(t["_id"]) and t["name"] for t in body["tags"])
    tag_ids = {t["_id"] for t in body["tags"]}
    events = hx_all(client, server, "/events", key, "events")
    assert all(set(e["tagIds"]) <= tag_ids for e in events)
    # Data lives in the account's region: another region is empty.
    elsewhere = hx_get(client, server, "/events", key, page=1, overrideLocation="US").json()
    home = hx_get(client, server, "/events", key, page=1, overrideLocation="AU").json()
    assert elsewhere["total"] == 0 and home["total"] == len(events)


def test_money_is_exact_json_number_text(server: SandboxServer, client: httpx.Client) -> None:
    key = account(server, "humanitix").secret
    event = first_event_with_orders(server, key, client)
    for path, items in (("orders", "orders"), ("tickets", "tickets")):
        raw = hx_get(client, server, f"/events/{event['_id']}/{path}", key, page=1).content
        assert not re.search(rb'":-?\d+\.\d{3,}[,}\]]', raw)
        # Decimal parsing keeps the exact text: it must be what JavaScript would print for the
        # amount (no float artifacts, no trailing zeros).
        for record in json.loads(raw, parse_float=Decimal)[items]:
            money = record["totals"] if items == "orders" else record
            keys = TOTALS_MONEY if items == "orders" else ("price", "netPrice", "total", "fee")
            for name in keys:
                value = money[name]
                assert isinstance(value, int | Decimal)
                assert str(value) == money_text(int(value * 100)), (name, value)


def test_cancelled_tickets_read_zero_and_keep_their_sale_in_totals_v2(
    server: SandboxServer, client: httpx.Client
) -> None:
    key = account(server, "humanitix").secret
    # The busiest event may be one that sold out, which keeps every ticket: take the event with
    # the most cancelled tickets instead.
    events = hx_all(client, server, "/events", key, "events")
    event = max(
        events,
        key=lambda e: sum(
            s == HX_TICKET_CANCELLED for *_, s in server.dataset.hx_events[e["_id"]].ticket_index
        ),
    )
    path = f"/events/{event['_id']}/tickets"
    cancelled = hx_all(client, server, path, key, "tickets", status="cancelled")
    assert cancelled, "the data set has refunds"
    for ticket in cancelled:
        assert all(ticket[k] == 0 for k in ("price", "netPrice", "fee", "total", "discount"))
        v2 = ticket["totalsV2"]
        assert Decimal(str(v2["grossSales"])) == Decimal(str(v2["refunds"])) > 0 or (
            v2["grossSales"] == v2["refunds"] == 0
        )
        assert v2["total"] == v2["netSales"] == 0
    # Every order's refunds are the sum of its cancelled tickets' totalsV2 refunds.
    orders = {o["_id"]: o for o in hx_all(client, server, path[:-8] + "/orders", key, "orders")}
    refunds: dict[str, Decimal] = {}
    for ticket in cancelled:
        refunds[ticket["orderId"]] = refunds.get(ticket["orderId"], Decimal(0)) + Decimal(
            str(ticket["totalsV2"]["refunds"])
        )
    for order_id, refunded in refunds.items():
        assert Decimal(str(orders[order_id]["totals"]["refunds"])) == refunded


def test_package_tickets_repeat_the_whole_package_price(server: SandboxServer) -> None:
    from collections import defaultdict

    import orjson

    groups: dict[str, list[dict]] = defaultdict(list)
    packages: dict[str, dict] = {}
    for event in server.dataset.hx_events.values():
        for item in orjson.loads(event.record)["packagedTickets"]:
            packages[item["_id"]] = item
        for raw in event.tickets.values():
            ticket = orjson.loads(raw)
            if "packageId" in ticket:
                groups[ticket["packageGroupId"]].append(ticket)
    assert groups, "some orders buy packages"
    for tickets in groups.values():
        package = packages[tickets[0]["packageId"]]
        assert {t["packagePrice"] for t in tickets} == {package["price"]}
        assert len(tickets) == sum(item["quantity"] for item in package["tickets"])
        # The package price is split over its tickets: their sales add up to it, once.
        sold = sum(Decimal(str(t["totalsV2"]["subTotal"]["afterTax"])) for t in tickets)
        sold += sum(Decimal(str(t["totalsV2"]["discount"])) for t in tickets)
        assert sold == Decimal(str(package["price"]))


def test_events_of_another_region_need_override_location(client: httpx.Client) -> None:
    spec = SandboxSpec(orders=800, seed=3, humanitix_second_region=True)
    with SandboxServer(spec) as server:
        hx = account(server, "humanitix")
        home, other = hx.regions[0], hx.regions[1]
        truth = server.dataset.truth()[("humanitix", hx.account_id)]
        assert set(truth.events_by_region) == {home, other}
        default = hx_all(client, server, "/events", hx.secret, "events")
        elsewhere = hx_all(client, server, "/events", hx.secret, "events", overrideLocation=other)
        assert {e["location"] for e in default} == {home}
        assert {e["location"] for e in elsewhere} == {other}
        assert len(default) + len(elsewhere) == truth.events
        foreign = next(e for e in elsewhere if server.dataset.hx_events[e["_id"]].orders)
        path = f"/events/{foreign['_id']}/orders"
        assert hx_get(client, server, path, hx.secret).status_code == 404
        orders = hx_all(client, server, path, hx.secret, "orders", overrideLocation=other)
        assert orders and {o["location"] for o in orders} == {other}
        assert {o["currency"] for o in orders} == {foreign["currency"]}
