"""Drift test: every record the sandbox serves has the key tree and JSON types of the real captures.

For each kind of record in ``tests/fixtures/real/`` (README there: "What these files prove"), the
sandbox's records of that kind, fetched through its HTTP API, are compared with the captured
ones field by field, at every depth:

* a key the capture always has must be in every sandbox record, unless ``OMITTED`` says why not;
* a key the sandbox sends must appear in some capture of the kind, unless ``GUESSES`` lists it
  with a reason (``ticketing_pipeline/sandbox/GUESSES.md`` is the human-readable list);
* each value's JSON type (object, array, string, bool, null, int, float) must be one the capture
  shows at that path, unless ``TYPE_GUESSES`` says why. Humanitix numbers are JavaScript numbers
  (``500`` and ``124.93`` alike), so int and float are one type there; Eventbrite's are not.

Lists of guesses are checked for use: an entry no sandbox record needs any more fails too, so the
lists shrink when the sandbox gets closer to the platforms.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_helpers import account, eb_all, eb_get, hx_all, hx_get

from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec, WebhookSender, generate

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real"

# (kind, path pattern, reason): keys the sandbox sends that no capture of the kind shows.
# Paths are dotted from the record; ``[]`` is an array element; patterns use fnmatch.
GUESSES: list[tuple[str, str, str]] = [
    ("hx_event", "tagIds[]", "tag ids are strings (GET /tags); the captured events have no tags"),
    ("hx_event", "dates[].scheduleId", "recurring dates share a schedule id (spec); none captured"),
    ("hx_event", "eventLocation.onlineUrl", "online events' stream URL; no online event captured"),
    (
        "hx_order",
        "discounts*",
        "promo code / auto discount of an order: no captured order has a discount (spec shape)",
    ),
    ("hx_order", "organisation", "the buyer's organisation (spec); no captured buyer has one"),
    ("hx_ticket*", "checkIn*", "check-in state of a checked-in ticket (spec); none captured"),
    ("hx_ticket*", "organisation", "attendee organisation (spec); none captured"),
    ("eb_event", "series_id", "occurrences carry their parent's id (fixture README item 9)"),
    (
        "eb_event",
        "event_sales_status*",
        "expand=event_sales_status, shape per Eventbrite's docs; no capture",
    ),
    ("eb_series_parent", "event_sales_status*", "as for events (expand=event_sales_status)"),
    ("eb_order", "promo_code", "orders with a promo code: no captured order has one"),
    ("eb_order", "discount_amount*", "Σ discounts of a promo-code order: no capture"),
    (
        "eb_order",
        "costs.*.major_value",
        "2021 captures show major_value on every money object (the 2015 order predates it)",
    ),
    (
        "eb_ticket_class",
        "actual_cost.major_value",
        "as costs.*.major_value: the only captured actual_cost (2015) predates major_value",
    ),
    (
        "eb_webhook_headers",
        "content-length",
        "added by the HTTP client; the captured excerpt lists only some request headers",
    ),
    ("eb_webhook_headers", "connection", "added by the HTTP client, as content-length"),
]

# (kind, path pattern, reason): keys every capture of the kind has that the sandbox may omit.
OMITTED: list[tuple[str, str, str]] = [
    (
        "hx_event",
        "publishedAt",
        "absent on drafts, never published (the captured unpublished event had been published)",
    ),
    (
        "eb_webhook_headers",
        "x-forwarded-for",
        "added by the capturing receiver's proxy (ngrok), not by Eventbrite",
    ),
    ("eb_webhook_headers", "x-original-host", "added by the capturing receiver's proxy (ngrok)"),
    (
        "eb_webhook_headers",
        "applicationinsights-requesttrackingtelemetrymodule-rootrequest-id",
        "added by the capturing receiver's Azure Application Insights",
    ),
]

# (kind, path pattern, JSON type, reason): a type the sandbox sends where the captures show another.
TYPE_GUESSES: list[tuple[str, str, str, str]] = [
    ("eb_event", "venue_id", "null", "online events have no venue; no online event captured"),
    (
        "eb_series_parent",
        "subcategory_id",
        "null",
        "the captured parent has one; the captured events show null (no subcategory set)",
    ),
    # The seed's online event is a series since sessions sell out (their orders drew the
    # random stream differently, and the series roll after it changed).
    ("eb_series_parent", "venue_id", "null", "an online series has no venue; none captured"),
]


@dataclass
class Shape:
    """The key sets of every object at each path, and the JSON types at each path."""

    keys: dict[str, list[frozenset[str]]] = field(default_factory=lambda: defaultdict(list))
    types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def required(self, path: str) -> frozenset[str]:
        sets = self.keys.get(path) or [frozenset()]
        return frozenset.intersection(*sets)

    def allowed(self, path: str) -> frozenset[str]:
        return frozenset().union(*self.keys.get(path, []))


def json_type(value: Any, js_numbers: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number" if js_numbers else type(value).__name__
    return {dict: "object", list: "array", str: "string"}[type(value)]


def shape_of(records: Iterable[Any], js_numbers: bool) -> Shape:
    shape = Shape()

    def walk(value: Any, path: str) -> None:
        shape.types[path].add(json_type(value, js_numbers))
        if isinstance(value, dict):
            shape.keys[path].append(frozenset(value))
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]")

    for record in records:
        walk(record, "")
    return shape


used: set[tuple[str, ...]] = set()
# Tests of this module that ran: the lists are checked for use only after a whole-module run.
ran: set[str] = set()


def _listed(entries: list[tuple[str, ...]], kind: str, path: str, *extra: str) -> bool:
    for entry in entries:
        matches = fnmatchcase(kind, entry[0]) and fnmatchcase(path, entry[1])
        if matches and all(e == x for e, x in zip(entry[2:], extra, strict=False)):
            used.add(entry)
            return True
    return False


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def differences(kind: str, captured: list[Any], served: list[Any], js_numbers: bool) -> list[str]:
    """Where ``served`` records leave the captures' key tree or JSON types (empty: none)."""
    assert captured, f"{kind}: no capture"
    assert served, f"{kind}: the sandbox served no record of this kind"
    want = shape_of(captured, js_numbers)
    got = shape_of(served, js_numbers)
    problems: list[str] = []
    for path, key_sets in got.keys.items():
        if path not in want.keys:
            continue  # an object under a guessed key (listed there), or in an array empty there
        allowed, required = want.allowed(path), want.required(path)
        for key in sorted(frozenset().union(*key_sets) - allowed):
            if not _listed(GUESSES, kind, _join(path, key)):
                problems.append(f"{kind}: sandbox sends {_join(path, key)!r}, no capture has it")
        for key in sorted(required):
            if any(key not in keys for keys in key_sets) and not _listed(
                OMITTED, kind, _join(path, key)
            ):
                problems.append(
                    f"{kind}: sandbox lacks {_join(path, key)!r} (every capture has it)"
                )
    for path, types in got.types.items():
        if path not in want.types:
            if path.endswith("[]") and path[:-2] in want.types and not _listed(GUESSES, kind, path):
                problems.append(f"{kind}: sandbox fills {path!r}, the captures' arrays are empty")
            continue
        for kind_of_value in sorted(types - want.types[path]):
            if not _listed(TYPE_GUESSES, kind, path, kind_of_value):
                problems.append(
                    f"{kind}: {path or '(record)'} is {kind_of_value}, the captures show "
                    f"{sorted(want.types[path])}"
                )
    return problems


def real(name: str) -> Any:
    return json.loads((REAL / name).read_text())


# --- fetching what the sandbox serves ------------------------------------------------------------


def hx_records(server: SandboxServer, client: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for index in range(2):
        key = account(server, "humanitix", index).secret
        events = hx_all(client, server, "/events", key, "events")
        out["hx_event"] += events
        with_orders = sorted(events, key=lambda e: -len(server.dataset.hx_events[e["_id"]].orders))
        for event in with_orders[:3]:
            path = f"/events/{event['_id']}"
            out["hx_order"] += hx_all(client, server, path + "/orders", key, "orders")
            for ticket in hx_all(client, server, path + "/tickets", key, "tickets"):
                if "packageId" in ticket:
                    out["hx_ticket_package"].append(ticket)
                elif ticket["status"] == "cancelled":
                    out["hx_ticket_cancelled"].append(ticket)
                else:
                    out["hx_ticket_complete"].append(ticket)
            out["hx_page"].append(hx_get(client, server, path + "/tickets", key, page=1).json())
    return out


def eb_records(server: SandboxServer, client: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for index in range(3):
        org = account(server, "eventbrite", index)
        token, org_id = org.secret, org.account_id
        path = f"/organizations/{org_id}/events/"
        events = eb_all(client, server, path, token, "events", expand="event_sales_status")
        out["eb_event"] += events
        out["eb_series_parent"] += [
            e
            for e in eb_all(
                client,
                server,
                path,
                token,
                "events",
                show_series_parent="true",
                expand="event_sales_status",
            )  # fmt: skip
            if e["is_series_parent"]
        ]
        orders = eb_all(
            client, server, f"/organizations/{org_id}/orders/", token, "orders",
            status="all_not_deleted", expand="attendees,event",
        )  # fmt: skip
        for order in orders[:400]:
            out["eb_attendee"] += order.pop("attendees")
            out["eb_event"].append(order.pop("event"))
            out["eb_order"].append(order)
        for event in events[:6]:
            out["eb_attendee"] += eb_all(
                client, server, f"/events/{event['id']}/attendees/", token, "attendees"
            )
            page = eb_get(client, server, f"/events/{event['id']}/ticket_classes/", token).json()
            out["eb_ticket_class"] += page["ticket_classes"]
        orgs = eb_get(client, server, "/users/me/organizations/", token).json()
        out["eb_organization"] += orgs["organizations"]
    return out


@pytest.fixture(scope="module")
def served(server: SandboxServer) -> dict[str, list[dict[str, Any]]]:
    with httpx.Client(timeout=30) as client:
        return {**hx_records(server, client), **eb_records(server, client)}


def hx_tickets(name: str) -> list[dict[str, Any]]:
    return real(name)["tickets"]


def captures() -> dict[str, list[Any]]:
    complete = hx_tickets("humanitix_tickets_page_status_complete_gbe_2024.json")
    cancelled = hx_tickets("humanitix_tickets_page_status_cancelled_gbe_2024.json")
    order = real("eventbrite_order_expand_attendees_event_theodi_2015.json")
    order_event = order["event"]
    order_attendees = order["attendees"]
    order_only = {k: v for k, v in order.items() if k not in ("attendees", "event")}
    events_page = real("eventbrite_events_page_gbe_2021.json")
    return {
        "hx_event": real("humanitix_events_page_gbe_2024.json")["events"],
        "hx_order": real("humanitix_orders_page_gbe_2024.json")["orders"],
        "hx_ticket_complete": [t for t in complete if "packageId" not in t],
        "hx_ticket_cancelled": [t for t in cancelled if "packageId" not in t],
        "hx_ticket_package": [t for t in complete + cancelled if "packageId" in t],
        "eb_event": events_page["events"] + [{**order_event, "ticket_classes": None}],
        "eb_series_parent": [real("eventbrite_event_series_parent_brcc_2024.json")],
        "eb_order": [order_only],
        "eb_attendee": real("eventbrite_attendees_page_gbe_2021.json")["attendees"]
        + order_attendees,
        "eb_ticket_class": real("eventbrite_ticket_classes_page_gbe_2021.json")["ticket_classes"]
        + order_event["ticket_classes"],
        "eb_organization": real("eventbrite_organizations_page_gbe_2021.json")["organizations"],
    }


RECORD_KINDS = [
    "hx_event",
    "hx_order",
    "hx_ticket_complete",
    "hx_ticket_cancelled",
    "hx_ticket_package",
    "eb_event",
    "eb_series_parent",
    "eb_order",
    "eb_attendee",
    "eb_ticket_class",
    "eb_organization",
]


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_records_have_the_captured_keys_and_types(
    kind: str, served: dict[str, list[dict[str, Any]]]
) -> None:
    captured = captures()[kind]
    if kind == "eb_event":
        # The 2015 order's embedded event had ticket_classes expanded; events here do not.
        captured = [{k: v for k, v in e.items() if k != "ticket_classes"} for e in captured]
    problems = differences(kind, captured, served[kind], js_numbers=kind.startswith("hx_"))
    ran.add(kind)
    assert problems == [], "\n".join(problems)


def test_list_envelopes_and_pagination(server: SandboxServer, served: dict[str, Any]) -> None:
    """Humanitix page bodies and Eventbrite ``pagination`` objects, including the last-page
    ``continuation`` variants the captures show (present with has_more_items false, null,
    absent): only ``has_more_items`` decides."""
    hx_pages = [
        real(name)
        for name in (
            "humanitix_events_page_gbe_2024.json",
            "humanitix_orders_page_gbe_2024.json",
            "humanitix_tickets_page_status_complete_gbe_2024.json",
        )
    ]
    envelope = [{k: v for k, v in page.items() if not isinstance(v, list)} for page in hx_pages]
    served_pages = [{k: v for k, v in p.items() if k != "tickets"} for p in served["hx_page"]]
    assert differences("hx_page", envelope, served_pages, js_numbers=True) == []

    eb_pages = [
        real(f"eventbrite_{name}_page_gbe_2021.json")
        for name in ("attendees", "events", "organizations", "ticket_classes")
    ]
    paginations = [page["pagination"] for page in eb_pages]
    org = account(server, "eventbrite", 0)
    # Late enough that one page of 200 holds every order changed since.
    last_changed = server.dataset.eb_orgs[org.account_id].order_index[-1][0] - 86_400
    since = datetime.fromtimestamp(last_changed, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    got: dict[str, dict[str, Any]] = {}
    with httpx.Client(timeout=30) as client:
        for name, path, params in (
            ("organizations", "/users/me/organizations/", {}),
            ("ticket_classes", f"/events/{served['eb_ticket_class'][0]['event_id']}"
             "/ticket_classes/", {}),
            ("events", f"/organizations/{org.account_id}/events/", {"page_size": 200}),
            ("orders_first", f"/organizations/{org.account_id}/orders/", {}),
            ("orders_last", f"/organizations/{org.account_id}/orders/", {"page_size": 200,
             "status": "all_not_deleted", "changed_since": since}),
        ):  # fmt: skip
            got[name] = eb_get(client, server, path, org.secret, **params).json()["pagination"]
        # Following a last page's continuation anyway gives an empty last page, not an error.
        last = got["orders_last"]
        assert last["has_more_items"] is False and isinstance(last["continuation"], str)
        again = eb_get(
            client, server, f"/organizations/{org.account_id}/orders/", org.secret,
            page_size=200, status="all_not_deleted", changed_since=since,
            continuation=last["continuation"],
        ).json()  # fmt: skip
        assert again["orders"] == [] and again["pagination"]["has_more_items"] is False
    assert differences("eb_pagination", paginations, list(got.values()), js_numbers=False) == []
    assert got["orders_first"]["has_more_items"] is True
    assert isinstance(got["orders_first"]["continuation"], str)
    # The three last-page forms, as captured: present (organizations), null (ticket classes),
    # absent (events, attendees).
    assert isinstance(got["organizations"]["continuation"], str)
    assert got["organizations"]["has_more_items"] is False
    assert got["ticket_classes"]["continuation"] is None
    assert "continuation" not in got["events"] and got["events"]["has_more_items"] is False
    ran.add("pages")


def test_money_semantics_match_the_captures(served: dict[str, list[dict[str, Any]]]) -> None:
    """Values, not just keys: the facts of the fixture README that the sandbox must reproduce."""
    # 1. feesIncluded is a boolean in both totals.
    for order in served["hx_order"]:
        assert isinstance(order["totals"]["feesIncluded"], bool)
        assert isinstance(order["purchaseTotals"]["feesIncluded"], bool)
    # 2. totals.total is what is still paid; grossSales stays the original.
    for order in served["hx_order"]:
        totals, purchase = order["totals"], order["purchaseTotals"]
        assert round(totals["grossSales"] - totals["refunds"] - totals["total"], 2) == 0
        assert totals["grossSales"] == purchase["grossSales"] and purchase["refunds"] == 0
    assert any(o["totals"]["refunds"] > 0 < o["totals"]["total"] for o in served["hx_order"])
    # 3. cancelled tickets: zero in every money field, the sale in totalsV2.
    money = ("price", "discount", "netPrice", "taxes", "fee", "passedOnFee", "absorbedFee")
    for ticket in served["hx_ticket_cancelled"]:
        assert all(ticket[k] == 0 for k in (*money, "total"))
        assert ticket["totalsV2"]["refunds"] == ticket["totalsV2"]["grossSales"]
    assert any(t["totalsV2"]["grossSales"] > 0 for t in served["hx_ticket_cancelled"])
    # 4. package tickets repeat the whole package's price.
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ticket in served["hx_ticket_package"]:
        by_group[ticket["packageGroupId"]].append(ticket)
    assert any(len(group) > 1 for group in by_group.values())
    for group in by_group.values():
        assert len({t["packagePrice"] for t in group}) == 1
    # 7. include_fee classes: cost holds the fee, fee is 0, the split is actual_cost/actual_fee.
    included = [c for c in served["eb_ticket_class"] if c["include_fee"] and c["cost"]]
    assert included and any(not c["include_fee"] and c["cost"] for c in served["eb_ticket_class"])
    captured_class = real("eventbrite_ticket_class_from_order_event_theodi_2015.json")
    assert captured_class["include_fee"] is True
    money_keys = ("cost", "fee", "tax", "actual_cost", "actual_fee")
    for tc in included:
        # The captured include_fee class's money: five money objects, the same split.
        for key in money_keys:
            assert set(captured_class[key]) <= set(tc[key]) <= {*captured_class[key], "major_value"}
            assert tc[key]["currency"] == tc["cost"]["currency"]
        assert tc["fee"]["value"] == 0
        assert tc["cost"]["value"] == tc["actual_cost"]["value"] + tc["actual_fee"]["value"]
    costs = ("base_price", "eventbrite_fee", "payment_fee", "tax")
    for attendee in served["eb_attendee"]:
        c = attendee["costs"]
        assert c["gross"]["value"] == sum(c[k]["value"] for k in costs)
    # 9. series: parents without series_id and with a /series/ resource_uri; occurrences with it.
    for parent in served["eb_series_parent"]:
        assert parent["is_series"] and "series_id" not in parent
        assert "/v3/series/" in parent["resource_uri"]
    occurrences = [e for e in served["eb_event"] if e["is_series"]]
    assert occurrences and all(e["series_id"] for e in occurrences)
    # 10. location on every Humanitix record.
    for kind in ("hx_event", "hx_order", "hx_ticket_complete", "hx_ticket_cancelled"):
        assert all(isinstance(r["location"], str) and len(r["location"]) == 2 for r in served[kind])


def test_webhook_deliveries_have_the_captured_headers_and_body() -> None:
    excerpt = real("eventbrite_webhook_deliveries_headers_excerpt_rio2c_2019.json")
    captured_headers = [
        {line.split(": ", 1)[0].lower(): line.split(": ", 1)[1] for line in item["Header"]}
        for item in excerpt
    ]
    captured_bodies = [json.loads(item["Payload_raw"]) for item in excerpt] + [
        real(f"eventbrite_webhook_{name}.json")
        for name in (
            "attendee_updated_rio2c_2019",
            "order_placed_missionbit",
            "order_placed_rio2c_2019",
            "order_updated_rio2c_2019",
        )
    ]
    requests: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"status": "stored"})

    # Its own data set: the module's server is shared read-only.
    dataset = generate(SandboxSpec(orders=600, seed=5))
    tokens = {
        a.account_id: f"url-token-{a.account_id}"
        for a in dataset.accounts
        if a.platform == "eventbrite"
    }
    sender = WebhookSender(
        dataset,
        "http://receiver.test",
        tokens,
        eventbrite_api_base="http://127.0.0.1:9/eventbrite/v3",
        client=httpx.Client(transport=httpx.MockTransport(receive)),
    )
    dataset.mutate(0.05)
    try:
        sender.send_pending()
    finally:
        sender.close()
    eventbrite = [r for r in requests if "/webhooks/eventbrite/" in r.url.path]
    assert eventbrite
    headers = [dict(r.headers) for r in eventbrite]
    assert differences("eb_webhook_headers", captured_headers, headers, js_numbers=False) == []
    bodies = [json.loads(r.content) for r in eventbrite]
    assert differences("eb_webhook_body", captured_bodies, bodies, js_numbers=False) == []
    for request, body in zip(eventbrite, bodies, strict=True):
        assert request.headers["user-agent"] == captured_headers[0]["user-agent"]
        assert request.headers["x-eventbrite-event"] == body["config"]["action"]
        # The webhook's id, not a delivery id: equal to config.webhook_id, one per org.
        assert request.headers["x-eventbrite-delivery"] == body["config"]["webhook_id"]
    per_org = {(b["config"]["endpoint_url"], b["config"]["webhook_id"]) for b in bodies}
    assert len(per_org) == len({b["config"]["endpoint_url"] for b in bodies})
    assert any(body["config"]["action"] == "attendee.updated" for body in bodies)
    ran.add("webhooks")


def test_guess_lists_are_all_used_and_printed(served: dict[str, Any], capsys: Any) -> None:
    """Runs last in this module (pytest keeps file order): every listed guess was needed."""
    entries = [*GUESSES, *OMITTED, *TYPE_GUESSES]
    if ran != {*RECORD_KINDS, "pages", "webhooks"}:
        pytest.skip("the lists are checked for use after a run of the whole module")
    with capsys.disabled():
        print("\nsandbox guesses (keys no capture shows), omissions and type guesses:")
        for entry in entries:
            print("  ", " | ".join(entry))
    unused = [e for e in entries if e not in used]
    assert unused == [], f"entries no sandbox record needs any more: {unused}"
