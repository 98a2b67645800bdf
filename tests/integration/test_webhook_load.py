"""Loading landed webhook deliveries: fetch by reference, never off-base, newest wins."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.integration.ingest_helpers import config_for, rows
from ticketing_pipeline.defs.webhooks import RETRY_AFTER_SECONDS, plan_batches
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sources.http import parse_json_exact
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import LandingArea, delivery_file_name, encode_delivery
from ticketing_pipeline.webhooks.loader import load_landed


@pytest.fixture(scope="module")
def server():
    spec = SandboxSpec(
        seed=9, orders=400, humanitix_accounts=1, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as running:
        yield running


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        RecordingHandler.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def foreign_host():
    RecordingHandler.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def land(
    area: LandingArea,
    platform: str,
    account_id: str,
    delivery_id: str,
    kind: str,
    body: dict,
    api_url: str | None = None,
    action: str = "order.updated",
) -> Path:
    area.ensure()
    path = area.incoming / delivery_file_name(platform, account_id, delivery_id)
    path.write_bytes(
        encode_delivery(
            delivery_id=delivery_id,
            platform=platform,
            account_id=account_id,
            kind=kind,
            action=action,
            received_ns=time.time_ns(),
            headers={},
            body=orjson.dumps(body),
            api_url=api_url,
        )
    )
    return path


def accounts(server):
    eb = next(a for a in server.dataset.accounts if a.platform == "eventbrite")
    hx = next(a for a in server.dataset.accounts if a.platform == "humanitix")
    return eb, hx


def test_eventbrite_reference_is_fetched_and_merged(server, tmp_path: Path, monkeypatch) -> None:
    config = config_for(server, tmp_path, monkeypatch)
    area = LandingArea.for_data_dir(config.data_dir)
    eb, _ = accounts(server)
    order_id = server.dataset.eb_orgs[eb.account_id].order_index[0][1]
    api_url = f"{server.eventbrite_base_url}/orders/{order_id}/"
    body = {"config": {"action": "order.updated"}, "api_url": api_url}
    path = land(area, "eventbrite", eb.account_id, "d-1", "eventbrite_reference", body, api_url)

    result = load_landed(config, resolve_warehouse(config), area, [path])
    assert result.failed == {} and result.retry == {}
    assert [p.name for p in result.loaded] == [path.name]
    assert (area.processed / path.name).exists() and not path.exists()
    warehouse = resolve_warehouse(config)
    [(status, via)] = rows(
        warehouse,
        f"select status, ingested_via from raw_eventbrite.orders where order_id = '{order_id}'",
    )
    expected = parse_json_exact(server.dataset.eb_orders[order_id])
    assert (status, via) == (expected["status"], "webhook")
    [(attendees,)] = rows(
        warehouse,
        f"select count(*) from raw_eventbrite.attendees where order_id = '{order_id}'",
    )
    assert attendees >= 1


def test_api_url_off_the_base_is_rejected_without_any_request(
    server, tmp_path: Path, monkeypatch, foreign_host: str
) -> None:
    config = config_for(server, tmp_path, monkeypatch)
    area = LandingArea.for_data_dir(config.data_dir)
    eb, _ = accounts(server)
    base = server.eventbrite_base_url
    forged = [
        f"{foreign_host}/eventbrite/v3/orders/1/",  # another host
        base.replace("127.0.0.1", "localhost") + "/orders/1/",  # another name for a host
        base.replace("/eventbrite/v3", "/humanitix/v1") + "/orders/1/",  # another path
        f"{base}/../../humanitix/v1/events",  # climbing out of the base
        base.replace("http://", "http://user:pw@") + "/orders/1/",  # credentials in the URL
    ]
    paths = [
        land(
            area,
            "eventbrite",
            eb.account_id,
            f"forged-{n}",
            "eventbrite_reference",
            {"config": {"action": "order.placed"}, "api_url": url},
            url,
        )
        for n, url in enumerate(forged)
    ]
    server.stats.reset()
    result = load_landed(config, resolve_warehouse(config), area, paths)
    assert set(result.failed) == set(paths)
    assert all("not on the configured Eventbrite API base" in r for r in result.failed.values())
    assert RecordingHandler.hits == []
    assert server.stats.count(platform="eventbrite") == 0
    assert area.counts()["failed"] == len(forged)
    assert "API base" in area.failure_reason(area.failed / paths[0].name)


def test_relay_records_out_of_order_keep_the_newest(server, tmp_path: Path, monkeypatch) -> None:
    config = config_for(server, tmp_path, monkeypatch)
    area = LandingArea.for_data_dir(config.data_dir)
    _, hx = accounts(server)
    event = next(e for e in server.dataset.hx_events.values() if e.orders)
    order = parse_json_exact(next(iter(event.orders.values())))
    newer = {**order, "updatedAt": "2031-01-02T00:00:00.000Z", "firstName": "Newer"}
    older = {**order, "updatedAt": "2031-01-01T00:00:00.000Z", "firstName": "Older"}

    def relay(delivery_id: str, record: dict) -> Path:
        envelope = {"type": "order.updated", "data": record}
        return land(
            area,
            "humanitix",
            hx.account_id,
            delivery_id,
            "relay",
            orjson.loads(orjson.dumps(envelope, default=str)),
        )

    warehouse = resolve_warehouse(config)
    load_landed(config, warehouse, area, [relay("new", newer)])
    result = load_landed(config, warehouse, area, [relay("old", older)])
    assert result.skipped_stale == 1
    [(name, via)] = rows(
        warehouse,
        "select first_name, ingested_via from raw_humanitix.orders "
        f"where order_id = '{order['_id']}'",
    )
    assert (name, via) == ("Newer", "webhook")
    # Both deliveries are done: neither waits in incoming/.
    assert area.counts()["incoming"] == 0 and area.counts()["processed"] == 2


def test_malformed_relay_and_unknown_account_go_to_failed(
    server, tmp_path: Path, monkeypatch
) -> None:
    config = config_for(server, tmp_path, monkeypatch)
    area = LandingArea.for_data_dir(config.data_dir)
    _, hx = accounts(server)
    bad = land(area, "humanitix", hx.account_id, "bad", "relay", {"type": "order.updated"})
    nobody = land(
        area,
        "humanitix",
        "not-configured",
        "x",
        "relay",
        {"type": "order.updated", "data": {"_id": "1"}},
    )
    result = load_landed(config, resolve_warehouse(config), area, [bad, nobody])
    assert set(result.failed) == {bad, nobody}
    assert "no 'data' object" in result.failed[bad]
    assert "not configured" in result.failed[nobody]


def test_sensor_batches_each_file_once_and_retries_stuck_ones(tmp_path: Path) -> None:
    area = LandingArea(tmp_path / "landing")
    paths = [
        land(area, "humanitix", "a", f"d{n}", "relay", {"type": "x", "data": {}}) for n in range(3)
    ]
    requests, cursor = plan_batches(area, {}, now=1000.0)
    assert len(requests) == 1 and set(
        requests[0].run_config["ops"]["load_webhook_batch"]["config"]["files"]
    ) == {p.name for p in paths}
    # A sensor restart re-evaluating the same tick asks for the same run (same run key).
    again, _ = plan_batches(area, {}, now=1000.0)
    assert again[0].run_key == requests[0].run_key
    # Next tick: nothing new.
    assert plan_batches(area, cursor, now=1010.0)[0] == []
    # A new file comes: only it is requested.
    extra = land(area, "humanitix", "a", "d9", "relay", {"type": "x", "data": {}})
    newer, cursor = plan_batches(area, cursor, now=1020.0)
    assert newer[0].run_config["ops"]["load_webhook_batch"]["config"]["files"] == [extra.name]
    # Files whose run failed stay in incoming/ and are asked for again later, under a new key.
    later, cursor = plan_batches(area, cursor, now=1000.0 + RETRY_AFTER_SECONDS + 1)
    assert {
        n for r in later for n in r.run_config["ops"]["load_webhook_batch"]["config"]["files"]
    } == {p.name for p in paths}
    assert later[0].run_key != requests[0].run_key
    # Processed files are forgotten.
    area.mark_processed(paths + [extra])
    assert plan_batches(area, cursor, now=5000.0) == ([], {})


def test_eventbrite_sale_refreshes_its_event_ticket_classes_once_per_batch(
    server, tmp_path: Path, monkeypatch
) -> None:
    config = config_for(server, tmp_path, monkeypatch)
    area = LandingArea.for_data_dir(config.data_dir)
    eb, _ = accounts(server)
    base = server.eventbrite_base_url
    # Two orders of one event, the first hinted three times (Eventbrite repeats hints).
    by_event: dict[str, list[str]] = {}
    for order_id, raw in server.dataset.eb_orders.items():
        by_event.setdefault(str(parse_json_exact(raw)["event_id"]), []).append(order_id)
    event_id, order_ids = next((e, o) for e, o in by_event.items() if len(o) >= 2)
    first, second = order_ids[:2]
    paths = [
        land(
            area,
            "eventbrite",
            eb.account_id,
            delivery_id,
            "eventbrite_reference",
            {"config": {"action": "order.updated"}, "api_url": f"{base}/orders/{order_id}/"},
            f"{base}/orders/{order_id}/",
        )
        for delivery_id, order_id in [("h1", first), ("h2", first), ("h3", first), ("h4", second)]
    ]
    server.stats.reset()
    result = load_landed(config, resolve_warehouse(config), area, paths)
    assert result.failed == {} and result.retry == {}
    assert len(result.loaded) == 4

    # One fetch per distinct object: order 1 once, order 2 once, the event's classes once.
    def requests_to(route: str) -> int:
        return server.stats.count(platform="eventbrite", route=f"GET {route}")

    assert requests_to("/orders/{order_id}/") == 2
    assert requests_to("/events/{event_id}/") == 1
    assert requests_to("/events/{event_id}/ticket_classes/") == 1

    # The platform's own counters, as its API serves them now, are what reconciliation reads.
    served = httpx.get(
        f"{base}/events/{event_id}/ticket_classes/",
        headers={"Authorization": f"Bearer {eb.secret}"},
    ).json()["ticket_classes"]
    expected = {(str(tc["id"]), tc["quantity_sold"]) for tc in served}
    loaded = rows(
        resolve_warehouse(config),
        "select ticket_class_id, quantity_sold, ingested_via from raw_eventbrite.ticket_classes "
        f"where event_id = '{event_id}'",
    )
    assert {(key, sold) for key, sold, _ in loaded} == expected
    assert {via for _, _, via in loaded} == {"webhook"}
