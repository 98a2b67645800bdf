"""Real Eventbrite deliveries through the production webhook path: the receiver lands each of the
captured burst (one X-Eventbrite-Delivery value for all), the landed-file loader fetches the
objects they name from the account's API (here the captures served as that API), and the raw
tables hold the captured order, attendee and ticket class with their exact money."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conformance.conftest import EB_SECRET_ENV, FixtureAPI, RealLoad, load_real_payloads
from tests.conformance.fixture_api import EB_ORG_ID, EB_TOKEN, real
from tests.integration.dbt.dbt_helpers import query
from ticketing_pipeline.config import ProjectConfig
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.loader import load_landed
from ticketing_pipeline.webhooks.receiver.app import create_app

WEBHOOK_TOKEN_ENV = "CONFORMANCE_EB_WEBHOOK_TOKEN"
WEBHOOK_TOKEN = "conformance-webhook-token-0123456789abcdef"
THEODI_ORDER = "63599200"
THEODI_EVENT = "5994233182"
THEODI_ATTENDEE = "585498700"


@pytest.fixture
def synced(fixture_api: FixtureAPI, tmp_path: Path) -> RealLoad:
    # The account's own sync first: the theodi event (2015) has no organization_id, and the
    # loader accepts it because the organization's event listing returned it.
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return load_real_payloads(fixture_api.url, url, tmp_path, build=False)


@pytest.fixture
def config(synced: RealLoad, fixture_api: FixtureAPI, tmp_path: Path) -> Iterator[ProjectConfig]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EB_SECRET_ENV, EB_TOKEN)
        patch.setenv(WEBHOOK_TOKEN_ENV, WEBHOOK_TOKEN)
        account = {
            "platform": "eventbrite",
            "account_id": EB_ORG_ID,
            "display_name": "Real Eventbrite captures",
            "secret_env": EB_SECRET_ENV,
            "webhook_secret_env": WEBHOOK_TOKEN_ENV,
            "base_url": f"{fixture_api.url}/eb/v3",
        }
        yield ProjectConfig.model_validate(
            {
                "accounts": [account],
                "data_dir": str(tmp_path),
                "warehouse": {"url": f"duckdb:///{tmp_path / 'warehouse.duckdb'}"},
            }
        )


def _captured_deliveries(api_base: str) -> list[tuple[dict[str, str], bytes]]:
    """The captured burst, its api_urls pointing at the captured theodi objects on our base."""
    objects = {
        "order": f"{api_base}/orders/{THEODI_ORDER}/",
        "attendee": f"{api_base}/events/{THEODI_EVENT}/attendees/{THEODI_ATTENDEE}/",
    }
    deliveries = []
    for capture in real("eventbrite_webhook_deliveries_headers_excerpt_rio2c_2019.json"):
        headers = dict(line.split(": ", 1) for line in capture["Header"])
        body = json.loads(capture["Payload_raw"])
        body["api_url"] = objects[body["config"]["action"].split(".")[0]]
        kept = ("User-Agent", "X-Eventbrite-Delivery", "X-Eventbrite-Event", "Accept")
        deliveries.append(({k: headers[k] for k in kept}, json.dumps(body).encode()))
    return deliveries


def test_captured_burst_lands_and_loads_the_captured_order(
    config: ProjectConfig, fixture_api: FixtureAPI
) -> None:
    area = LandingArea.for_data_dir(config.data_dir)
    deliveries = _captured_deliveries(f"{fixture_api.url}/eb/v3")
    assert len({h["X-Eventbrite-Delivery"] for h, _ in deliveries}) == 1  # the webhook's id
    with TestClient(create_app(config, area)) as client:
        for headers, body in deliveries:
            response = client.post(
                f"/webhooks/eventbrite/{EB_ORG_ID}/{WEBHOOK_TOKEN}", content=body, headers=headers
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] != "duplicate"
    landed = area.list_incoming()
    assert len(landed) == 3

    warehouse = resolve_warehouse(config)
    result = load_landed(config, warehouse, area, landed)
    assert not result.failed and not result.retry, (result.failed, result.retry)
    assert len(result.loaded) == 3
    assert area.list_incoming() == []

    (order,) = query(
        warehouse,
        "select status, currency, costs_gross, costs_base_price, costs_eventbrite_fee, "
        "costs_payment_fee, costs_tax, ingested_via from raw_eventbrite.orders "
        "where order_id = :o",
        o=THEODI_ORDER,
    )
    # 331.20 = 269.50 + 6.50 + 0 + 55.20 GBP, in minor units.
    assert order == {
        "status": "placed",
        "currency": "GBP",
        "costs_gross": 33120,
        "costs_base_price": 26950,
        "costs_eventbrite_fee": 650,
        "costs_payment_fee": 0,
        "costs_tax": 5520,
        "ingested_via": "webhook",
    }
    attendees = query(
        warehouse,
        "select attendee_id, ticket_class_id from raw_eventbrite.attendees where order_id = :o",
        o=THEODI_ORDER,
    )
    assert {(a["attendee_id"], a["ticket_class_id"]) for a in attendees} == {
        (THEODI_ATTENDEE, "34093208")
    }
    # The sale refreshed its event's ticket classes (reconciliation reads quantity_sold).
    (ticket_class,) = query(
        warehouse,
        "select quantity_sold, actual_cost, actual_fee, include_fee, ingested_via "
        "from raw_eventbrite.ticket_classes where ticket_class_id = '34093208'",
    )
    assert (ticket_class["actual_cost"], ticket_class["actual_fee"]) == (26950, 650)
    assert ticket_class["ingested_via"] == "webhook"
