"""Every Eventbrite delivery is landed: ``X-Eventbrite-Delivery`` is the webhook's id, not the
delivery's (real capture: three deliveries of webhook 1806556 carry the same header)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from webhooks_helpers import EB_ACCOUNT, EB_URL, eventbrite_body, eventbrite_headers

from ticketing_pipeline.webhooks.landing import LandingArea

CAPTURE = (
    Path(__file__).parents[2]
    / "fixtures"
    / "real"
    / "eventbrite_webhook_deliveries_headers_excerpt_rio2c_2019.json"
)
# What Eventbrite itself sent; the rest of the capture (Host, X-Forwarded-For, ...) came from the
# capturing receiver's proxy. The capture has no Content-Type: the receiver must cope with that.
SENT_BY_EVENTBRITE = {"accept", "accept-encoding", "user-agent", "x-eventbrite-delivery"}
SENT_BY_EVENTBRITE |= {"x-eventbrite-event"}


def captured_deliveries() -> list[tuple[dict[str, str], bytes]]:
    deliveries = []
    for entry in json.loads(CAPTURE.read_text()):
        headers = dict(line.split(": ", 1) for line in entry["Header"])
        kept = {
            name: value for name, value in headers.items() if name.lower() in SENT_BY_EVENTBRITE
        }
        deliveries.append((kept, entry["Payload_raw"].encode()))
    return deliveries


def landed_actions(landing: LandingArea, folder: str = "incoming") -> list[str]:
    return sorted(landing.read(file).action for file in landing.list_folder(folder))


def test_capture_shows_one_header_value_for_three_deliveries() -> None:
    deliveries = captured_deliveries()
    assert len(deliveries) == 3
    assert {headers["X-Eventbrite-Delivery"] for headers, _ in deliveries} == {"1806556"}


def test_every_captured_delivery_is_landed_also_after_processing(
    client: TestClient, landing: LandingArea
) -> None:
    deliveries = captured_deliveries()
    for headers, body in deliveries:
        response = client.post(EB_URL, content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "stored"}
    assert landed_actions(landing) == ["attendee.updated", "order.placed", "order.updated"]
    for file in landing.list_incoming():
        landed = landing.read(file)
        assert landed.kind == "eventbrite_reference"
        assert landed.account_id == EB_ACCOUNT
        assert landed.webhook_id == "1806556"
        assert landed.headers["x-eventbrite-delivery"] == "1806556"
        assert landed.headers["x-eventbrite-event"] == landed.action
        assert landed.api_url == json.loads(landed.raw_body())["api_url"]
    # Three different files, each its own delivery.
    assert len({landing.read(f).delivery_id for f in landing.list_incoming()}) == 3

    # The loader took them; the order changes again and Eventbrite says so with the same header.
    landing.mark_processed(landing.list_incoming())
    headers, body = deliveries[0]  # order.updated for order 1034608029, again
    later = client.post(EB_URL, content=body, headers=headers)
    assert later.json() == {"status": "stored"}
    assert landed_actions(landing) == ["order.updated"]
    assert len(landing.list_folder("processed")) == 3
    [fresh] = landing.list_incoming()
    assert fresh.received_ns > max(f.received_ns for f in landing.list_folder("processed"))


def test_identical_retry_may_land_twice(client: TestClient, landing: LandingArea) -> None:
    # No per-delivery id exists, so a retry cannot be told from a new notice: both are landed,
    # and the loader fetching the order twice is harmless (its merge is idempotent).
    for _ in range(2):
        response = client.post(EB_URL, content=eventbrite_body(), headers=eventbrite_headers("7"))
        assert response.json() == {"status": "stored"}
    assert landing.counts()["incoming"] == 2


@pytest.mark.parametrize("delivery_header", ["777", None])
def test_no_eventbrite_delivery_is_ever_answered_duplicate(
    client: TestClient, landing: LandingArea, delivery_header: str | None
) -> None:
    body = eventbrite_body(action="order.updated")
    for round_number in range(3):
        response = client.post(EB_URL, content=body, headers=eventbrite_headers(delivery_header))
        assert response.json() == {"status": "stored"}, round_number
        landing.mark_processed(landing.list_incoming())
    assert landing.counts()["processed"] == 3
