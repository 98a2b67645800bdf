"""Mutations over time: later timestamps, incremental pickup, consistent money and counters."""

from __future__ import annotations

from decimal import Decimal

import httpx
import orjson
from sandbox_helpers import (
    account,
    assert_costs_match,
    assert_order_matches_tickets,
    eb_all,
    eb_get,
    hx_all,
    hx_get,
)

from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec, generate
from ticketing_pipeline.sandbox.formats import iso_ms, iso_s


def latest_stamps(server: SandboxServer, client: httpx.Client) -> tuple[str, str]:
    """The latest Humanitix ``updatedAt`` and Eventbrite ``changed`` served over the API."""
    hx_latest = ""
    for hx in (a for a in server.dataset.accounts if a.platform == "humanitix"):
        for event in hx_all(client, server, "/events", hx.secret, "events"):
            for items in ("orders", "tickets"):
                records = hx_all(
                    client, server, f"/events/{event['_id']}/{items}", hx.secret, items
                )
                hx_latest = max([hx_latest, *(r["updatedAt"] for r in records)])
    eb_latest = ""
    for org in (a for a in server.dataset.accounts if a.platform == "eventbrite"):
        orders = eb_all(
            client, server, f"/organizations/{org.account_id}/orders/", org.secret, "orders",
            status="both", expand="attendees",
        )  # fmt: skip
        for order in orders:
            eb_latest = max(
                [eb_latest, order["changed"], *(a["changed"] for a in order["attendees"])]
            )
    return hx_latest, eb_latest


def test_mutation_is_later_than_everything_and_found_incrementally(
    fresh_server: SandboxServer, client: httpx.Client
) -> None:
    ds = fresh_server.dataset
    hx_before, eb_before = latest_stamps(fresh_server, client)
    truth_before = ds.truth()
    response = client.post(fresh_server.url + "/_sandbox/mutate", json={"fraction": 0.05})
    assert response.status_code == 200
    summary = response.json()
    assert sum(summary["counts"].values()) == round(0.05 * 1_500)
    assert summary["first_change_at"] > hx_before
    assert summary["first_change_at"][:19] + "Z" > eb_before

    # Humanitix: `since` the previous high-water mark finds exactly the touched orders.
    for hx in (a for a in ds.accounts if a.platform == "humanitix"):
        touched = {
            oid
            for ids in summary["touched"].get("humanitix", {}).get(hx.account_id, {}).values()
            for oid in ids
        }
        found: set[str] = set()
        for event in hx_all(client, fresh_server, "/events", hx.secret, "events"):
            path = f"/events/{event['_id']}/orders"
            orders = hx_all(client, fresh_server, path, hx.secret, "orders", since=hx_before)
            # `since` is inclusive; the old high-water mark itself may come back once more.
            found |= {o["_id"] for o in orders if o["updatedAt"] > hx_before}
            for order in orders:
                tickets = [
                    t
                    for t in hx_all(
                        client,
                        fresh_server,
                        f"/events/{event['_id']}/tickets",
                        hx.secret,
                        "tickets",
                    )
                    if t["orderId"] == order["_id"]
                ]
                assert_order_matches_tickets(order, tickets)
        assert found == touched

    # Eventbrite: changed_since the previous mark finds exactly the touched orders.
    for org in (a for a in ds.accounts if a.platform == "eventbrite"):
        touched = {
            oid
            for ids in summary["touched"].get("eventbrite", {}).get(org.account_id, {}).values()
            for oid in ids
        }
        orders = eb_all(
            client, fresh_server, f"/organizations/{org.account_id}/orders/", org.secret, "orders",
            status="all_not_deleted", changed_since=eb_before, expand="attendees",
        )  # fmt: skip
        assert {o["id"] for o in orders if o["changed"] > eb_before} == touched
        for order in orders:
            assert_costs_match(order, order["attendees"])

    truth_after = ds.truth()
    new_orders = summary["counts"].get("new", 0)
    assert new_orders > 0
    assert (
        sum(t.orders for t in truth_after.values()) - sum(t.orders for t in truth_before.values())
        == new_orders
    )
    refunded_before = sum(t.orders_by_status.get("refunded", 0) for t in truth_before.values())
    refunded_after = sum(t.orders_by_status.get("refunded", 0) for t in truth_after.values())
    assert refunded_after > refunded_before


def test_truth_matches_what_the_api_serves_after_mutation(
    fresh_server: SandboxServer, client: httpx.Client
) -> None:
    ds = fresh_server.dataset
    ds.mutate(0.05)
    truth = ds.truth()
    hx = account(fresh_server, "humanitix")
    expected = truth[("humanitix", hx.account_id)]
    orders, tickets = [], []
    events = hx_all(client, fresh_server, "/events", hx.secret, "events")
    for event in events:
        orders += hx_all(
            client, fresh_server, f"/events/{event['_id']}/orders", hx.secret, "orders"
        )
        tickets += hx_all(
            client, fresh_server, f"/events/{event['_id']}/tickets", hx.secret, "tickets"
        )
    assert len(events) == expected.events and len(orders) == expected.orders
    assert len(tickets) == expected.tickets
    money = expected.money[expected.currency]
    assert (
        sum(Decimal(str(o["totals"]["grossSales"])) for o in orders) == money["totals.grossSales"]
    )
    assert sum(Decimal(str(o["totals"]["refunds"])) for o in orders) == money["totals.refunds"]
    assert sum(Decimal(str(t["total"])) for t in tickets) == money["ticket.total"]

    org = account(fresh_server, "eventbrite")
    expected = truth[("eventbrite", org.account_id)]
    orders = eb_all(
        client, fresh_server, f"/organizations/{org.account_id}/orders/", org.secret, "orders",
        status="all_not_deleted",
    )  # fmt: skip
    assert len(orders) == expected.orders
    money = expected.money[expected.currency]
    assert sum(o["costs"]["gross"]["value"] for o in orders) == money["order.costs.gross.value"]
    sold = 0
    for event_id, count in expected.sold_by_event.items():
        attending = eb_all(
            client, fresh_server, f"/events/{event_id}/attendees/", org.secret, "attendees",
            status="attending",
        )  # fmt: skip
        classes = eb_get(client, fresh_server, f"/events/{event_id}/ticket_classes/", org.secret)
        quantity = sum(c["quantity_sold"] for c in classes.json()["ticket_classes"])
        assert quantity == len(attending) == count
        sold += quantity
    assert sold == money["ticket_class.quantity_sold"]


def test_mutation_notices_point_at_fetchable_objects(
    fresh_server: SandboxServer, client: httpx.Client
) -> None:
    ds = fresh_server.dataset
    summary = ds.mutate(0.02)
    notices = client.get(fresh_server.url + "/_sandbox/changes", params={"after": 0}).json()
    assert len(notices) == summary.notices == len(ds.changes) > 0
    assert [n["seq"] for n in notices] == list(range(1, len(notices) + 1))
    assert {n["kind"] for n in notices} <= {
        "order.placed", "order.updated", "order.refunded", "attendee.updated",
    }  # fmt: skip
    secrets = {(a.platform, a.account_id): a.secret for a in ds.accounts}
    for notice in notices[:40]:
        secret = secrets[(notice["platform"], notice["account_id"])]
        if notice["platform"] == "eventbrite":
            record = eb_get(client, fresh_server, notice["api_path"], secret).json()
            assert record["id"] == notice["object_id"]
            assert record["changed"] == notice["at"]
        else:
            record = hx_get(client, fresh_server, notice["api_path"], secret).json()
            assert record["_id"] == notice["object_id"]
    later = client.get(fresh_server.url + "/_sandbox/changes", params={"after": len(notices)})
    assert later.json() == []


def test_every_mutation_moves_the_clock_forward() -> None:
    ds = generate(SandboxSpec(orders=800, seed=3))
    stamps = []
    for _ in range(3):
        before = ds.clock_ms
        summary = ds.mutate(0.02)
        assert summary.first_change_at > iso_ms(before)
        assert summary.first_change_at[:19] + "Z" > iso_s(before)
        assert ds.clock_ms >= before
        stamps.append(summary.first_change_at)
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_mutations_are_deterministic() -> None:
    first, second = generate(SandboxSpec(orders=800)), generate(SandboxSpec(orders=800))
    assert first.mutate(0.05).to_dict() == second.mutate(0.05).to_dict()
    event = next(iter(first.hx_events))
    assert first.hx_events[event].orders == second.hx_events[event].orders
    assert first.eb_orders == second.eb_orders


def test_indexes_stay_sorted_and_unique_after_mutations() -> None:
    ds = generate(SandboxSpec(orders=800))
    for _ in range(4):
        ds.mutate(0.1)
    for event in ds.hx_events.values():
        for index, records in (
            (event.order_index, event.orders),
            (event.ticket_index, event.tickets),
        ):
            assert index == sorted(index)
            assert len({e[1] for e in index}) == len(index) == len(records)
            # The cursor in the index is the record's own updatedAt.
            for entry in index[-5:]:
                assert orjson.loads(records[entry[1]])["updatedAt"] == iso_ms(entry[0])
    for org in ds.eb_orgs.values():
        assert org.order_index == sorted(org.order_index)
        assert len({e[1] for e in org.order_index}) == len(org.order_index)
        for changed, order_id, _ in org.order_index[-5:]:
            assert orjson.loads(ds.eb_orders[order_id])["changed"] == iso_s(changed * 1000)
