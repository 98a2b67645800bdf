"""The fake Eventbrite API over real HTTP: shapes, continuation paging, filters, expansions and
token scoping."""

from __future__ import annotations

import re
from collections import Counter

import httpx
from sandbox_helpers import account, eb_all, eb_get

from ticketing_pipeline.sandbox import SandboxServer
from ticketing_pipeline.sandbox.dataset import EB_ORDER_DELETED

EB_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MONEY_KEYS = {"currency", "value", "major_value", "display"}
COST_KEYS = {"base_price", "gross", "eventbrite_fee", "payment_fee", "tax"}
ORDER_FIELDS = {
    "id", "created", "changed", "name", "first_name", "last_name", "email", "event_id", "status",
    "costs",
}  # fmt: skip
ATTENDEE_FIELDS = {
    "id", "created", "changed", "event_id", "order_id", "ticket_class_id", "ticket_class_name",
    "quantity", "costs", "status", "cancelled", "refunded", "checked_in", "profile", "barcodes",
    "affiliate",
}  # fmt: skip
# ``series_id`` only on occurrences and ``published`` only once published (test below and
# tests/unit/sandbox/test_sandbox_conformance.py hold every key to the captures).
EVENT_FIELDS = {
    "id", "name", "summary", "url", "start", "end", "created", "changed", "status",
    "currency", "capacity", "listed", "online_event", "is_free", "is_series",
    "is_series_parent", "organization_id", "venue_id",
}  # fmt: skip
TICKET_CLASS_FIELDS = {
    "id", "name", "cost", "fee", "tax", "free", "donation", "capacity", "quantity_total",
    "quantity_sold", "sales_start", "sales_end", "on_sale_status", "hidden",
}  # fmt: skip


def busiest_org(server: SandboxServer) -> tuple[str, str]:
    org = account(server, "eventbrite", 0)
    return org.account_id, org.secret


def test_organizations_of_a_token(server: SandboxServer, client: httpx.Client) -> None:
    first, second, third = (account(server, "eventbrite", i) for i in range(3))
    body = eb_get(client, server, "/users/me/organizations/", first.secret).json()
    assert [o["id"] for o in body["organizations"]] == [first.account_id, second.account_id]
    assert body["pagination"]["has_more_items"] is False
    body = eb_get(client, server, "/users/me/organizations/", third.secret).json()
    assert [o["id"] for o in body["organizations"]] == [third.account_id]


def test_records_have_the_documented_shapes(server: SandboxServer, client: httpx.Client) -> None:
    org_id, token = busiest_org(server)
    events = eb_all(client, server, f"/organizations/{org_id}/events/", token, "events")
    assert events
    for event in events:
        assert set(event) >= EVENT_FIELDS
        assert set(event["name"]) >= {"text", "html"}
        assert set(event["start"]) == {"timezone", "local", "utc"}
        assert EB_TIME.match(event["start"]["utc"]) and EB_TIME.match(event["changed"])
        assert event["organization_id"] == org_id
        assert ("series_id" in event) == (event["is_series"] and not event["is_series_parent"])
        assert ("published" in event) == (event["status"] != "draft")
    orders = eb_all(
        client, server, f"/organizations/{org_id}/orders/", token, "orders",
        status="all_not_deleted", expand="attendees",
    )  # fmt: skip
    assert orders
    for order in orders[:300]:
        assert set(order) >= ORDER_FIELDS
        assert set(order["costs"]) >= COST_KEYS
        assert all(set(order["costs"][k]) == MONEY_KEYS for k in COST_KEYS)
        assert order["attendees"]
        for attendee in order["attendees"]:
            assert set(attendee) >= ATTENDEE_FIELDS
            assert set(attendee["profile"]) >= {"name", "email", "first_name", "last_name"}
            assert attendee["order_id"] == order["id"]
        # costs of the order = the sum of its attendees' costs, for every money field
        for key in COST_KEYS:
            assert order["costs"][key]["value"] == sum(
                a["costs"][key]["value"] for a in order["attendees"]
            )
    classes = eb_get(client, server, f"/events/{events[0]['id']}/ticket_classes/", token).json()
    for ticket_class in classes["ticket_classes"]:
        assert set(ticket_class) >= TICKET_CLASS_FIELDS


def test_continuation_paging_serves_every_order_once(
    server: SandboxServer, client: httpx.Client
) -> None:
    org_id, token = busiest_org(server)
    index = server.dataset.eb_orgs[org_id].order_index
    expected = {order_id for _, order_id, status in index if status != 3}
    assert len(expected) > 200, "several pages are needed"
    first = eb_get(
        client, server, f"/organizations/{org_id}/orders/", token, status="all_not_deleted"
    ).json()["pagination"]
    assert first["page_size"] == 50 and first["has_more_items"] is True
    assert first["object_count"] == len(expected)
    assert first["page_count"] == -(-len(expected) // 50)
    orders = eb_all(
        client, server, f"/organizations/{org_id}/orders/", token, "orders",
        status="all_not_deleted",
    )  # fmt: skip
    ids = [o["id"] for o in orders]
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == expected
    keys = [(o["changed"], o["id"]) for o in orders]
    assert keys == sorted(keys), "sorted ascending by (changed, id)"
    bad = eb_get(client, server, f"/organizations/{org_id}/orders/", token, continuation="garbage!")
    assert bad.status_code == 400 and bad.json()["error"] == "ARGUMENTS_ERROR"


def test_order_status_filters(server: SandboxServer, client: httpx.Client) -> None:
    # Deleted orders are rare (1 in 200): take the organization of the first token with the
    # most (since sessions sell out, the first one has none at this seed and size).
    _, token = busiest_org(server)
    org_id = max(
        server.dataset.eb_tokens[token],
        key=lambda o: sum(s == EB_ORDER_DELETED for *_, s in server.dataset.eb_orgs[o].order_index),
    )
    path = f"/organizations/{org_id}/orders/"

    def statuses(**params: str) -> Counter[str]:
        return Counter(o["status"] for o in eb_all(client, server, path, token, "orders", **params))

    by_status = {
        status: statuses(status=status)
        for status in ("active", "inactive", "both", "all_not_deleted")
    }
    assert set(by_status["active"]) == {"placed"}
    assert set(by_status["inactive"]) == {"refunded", "cancelled"}
    assert set(by_status["all_not_deleted"]) == {"placed", "refunded", "cancelled"}
    assert by_status["both"]["deleted"] > 0
    assert by_status["all_not_deleted"] == by_status["active"] + by_status["inactive"]
    default = statuses()
    assert default == by_status["active"], "without status only active orders: refunds are lost"
    assert eb_get(client, server, path, token, status="open").status_code == 400


def test_changed_since_and_last_item_seen(server: SandboxServer, client: httpx.Client) -> None:
    org_id, token = busiest_org(server)
    path = f"/organizations/{org_id}/orders/"
    orders = eb_all(client, server, path, token, "orders", status="all_not_deleted")
    pivot = orders[len(orders) // 2]
    since = pivot["changed"]
    newer = eb_all(
        client, server, path, token, "orders", status="all_not_deleted", changed_since=since
    )
    assert {o["id"] for o in newer} == {o["id"] for o in orders if o["changed"] >= since}
    after = eb_all(
        client, server, path, token, "orders",
        status="all_not_deleted", changed_since=since, last_item_seen=pivot["id"],
    )  # fmt: skip
    assert {o["id"] for o in after} == {
        o["id"]
        for o in orders
        if o["changed"] > since or (o["changed"] == since and o["id"] > pivot["id"])
    }
    assert pivot["id"] not in {o["id"] for o in after}
    for wrong in ("2025-01-01", "2025-01-01T00:00:00", "yesterday"):
        response = eb_get(client, server, path, token, changed_since=wrong)
        assert response.status_code == 400
        assert response.json()["error"] == "ARGUMENTS_ERROR"


def test_events_filters_and_series(server: SandboxServer, client: httpx.Client) -> None:
    org_id, token = busiest_org(server)
    path = f"/organizations/{org_id}/events/"
    children = eb_all(client, server, path, token, "events")
    parents_view = eb_all(client, server, path, token, "events", show_series_parent="true")
    assert not any(e["is_series_parent"] for e in children)
    assert any(e["is_series_parent"] for e in parents_view)
    assert not any(e["is_series"] and not e["is_series_parent"] for e in parents_view)
    series = [e for e in children if e["is_series"]]
    assert series and all(e["series_id"] for e in series)
    assert {e["series_id"] for e in series} == {
        e["id"] for e in parents_view if e["is_series_parent"]
    }
    statuses = {e["status"] for e in children}
    assert {"live", "completed", "canceled", "draft"} <= statuses
    live = eb_all(client, server, path, token, "events", status="live")
    assert live and all(e["status"] == "live" for e in live)
    future = eb_all(client, server, path, token, "events", time_filter="current_future")
    past = eb_all(client, server, path, token, "events", time_filter="past")
    assert len(future) + len(past) == len(children)
    starts = [e["start"]["utc"] for e in children]
    assert starts == sorted(starts)
    with_venue = eb_all(client, server, path, token, "events", expand="venue", page_size=3)
    assert len(with_venue) == len(children)
    venue_events = [e for e in with_venue if e["venue_id"]]
    assert all(e["venue"]["id"] == e["venue_id"] for e in venue_events)
    venue = eb_get(client, server, f"/venues/{venue_events[0]['venue_id']}/", token).json()
    assert venue == venue_events[0]["venue"]
    assert any(e["venue"] is None and e["online_event"] for e in with_venue)


def test_attendees_and_ticket_class_counters(server: SandboxServer, client: httpx.Client) -> None:
    org_id, token = busiest_org(server)
    ds = server.dataset
    event = max(
        (ds.eb_events[e] for e in ds.eb_orgs[org_id].event_ids),
        key=lambda e: len(e.attendees),
    )
    path = f"/events/{event.id}/attendees/"
    attendees = eb_all(client, server, path, token, "attendees")
    assert len(attendees) > 50
    assert {a["status"] for a in attendees} <= {"Attending", "Checked In", "Not Attending"}
    attending = eb_all(client, server, path, token, "attendees", status="attending")
    assert {a["status"] for a in attending} <= {"Attending", "Checked In"}
    not_attending = eb_all(client, server, path, token, "attendees", status="not_attending")
    assert all(a["refunded"] or a["cancelled"] for a in not_attending)
    assert len(attending) + len(not_attending) == len(attendees)
    sold = Counter(a["ticket_class_id"] for a in attending)
    classes = eb_get(client, server, f"/events/{event.id}/ticket_classes/", token).json()
    assert classes["ticket_classes"]
    for ticket_class in classes["ticket_classes"]:
        assert ticket_class["quantity_sold"] == sold[ticket_class["id"]]
        assert ticket_class["quantity_sold"] <= ticket_class["quantity_total"]
    one = eb_get(client, server, f"{path}{attendees[0]['id']}/", token).json()
    assert one == attendees[0]
    since = sorted(a["changed"] for a in attendees)[len(attendees) // 2]
    recent = eb_all(client, server, path, token, "attendees", changed_since=since)
    assert {a["id"] for a in recent} == {a["id"] for a in attendees if a["changed"] >= since}


def test_single_order_with_expansions(server: SandboxServer, client: httpx.Client) -> None:
    org_id, token = busiest_org(server)
    order = eb_all(client, server, f"/organizations/{org_id}/orders/", token, "orders")[0]
    plain = eb_get(client, server, f"/orders/{order['id']}/", token).json()
    assert plain == order and "attendees" not in plain
    full = eb_get(client, server, f"/orders/{order['id']}", token, expand="attendees,event").json()
    assert full["event"]["id"] == order["event_id"]
    assert [a["order_id"] for a in full["attendees"]] == [order["id"]] * len(full["attendees"])
    by_event = eb_all(
        client, server, f"/events/{order['event_id']}/orders/", token, "orders",
        status="all_not_deleted",
    )  # fmt: skip
    assert order["id"] in {o["id"] for o in by_event}
    assert {o["event_id"] for o in by_event} == {order["event_id"]}


def test_auth_errors_and_token_scope(server: SandboxServer, client: httpx.Client) -> None:
    org_id, token = busiest_org(server)
    foreign = account(server, "eventbrite", 2)
    path = f"/organizations/{org_id}/orders/"
    missing = client.get(server.eventbrite_base_url + path)
    assert missing.status_code == 401
    assert missing.json()["error"] == "NO_AUTH"
    wrong = eb_get(client, server, path, "NOTATOKEN")
    assert wrong.status_code == 401
    assert wrong.json() == {
        "status_code": 401,
        "error": "INVALID_AUTH",
        "error_description": "The OAuth token you provided was invalid.",
    }
    denied = eb_get(client, server, path, foreign.secret)
    assert denied.status_code == 403 and denied.json()["error"] == "NOT_AUTHORIZED"
    order = eb_all(client, server, path, token, "orders")[0]
    assert eb_get(client, server, f"/orders/{order['id']}/", foreign.secret).status_code == 403
    assert (
        eb_get(client, server, f"/events/{order['event_id']}/", foreign.secret).status_code == 403
    )
    assert eb_get(client, server, "/orders/9999999999/", token).status_code == 404
    # Also accepted: the token as a query parameter.
    assert client.get(server.eventbrite_base_url + path, params={"token": token}).status_code == 200
