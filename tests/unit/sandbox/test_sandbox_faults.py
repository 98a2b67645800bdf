"""Fault injection, rate limiting and request statistics."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from sandbox_helpers import account, eb_get, hx_get

from ticketing_pipeline.sandbox import FaultInjector, FaultRule, SandboxServer


def test_429_with_retry_after_then_success(
    fresh_server: SandboxServer, client: httpx.Client
) -> None:
    org = account(fresh_server, "eventbrite")
    path = f"/organizations/{org.account_id}/orders/"
    fresh_server.faults.add(status=429, retry_after=1, count=2, platform="eventbrite", path=path)
    for _ in range(2):
        response = eb_get(client, fresh_server, path, org.secret)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"] == "HIT_RATE_LIMIT"
    assert eb_get(client, fresh_server, path, org.secret).status_code == 200
    # Humanitix was never affected by an Eventbrite rule.
    key = account(fresh_server, "humanitix").secret
    assert hx_get(client, fresh_server, "/events", key, page=1).status_code == 200


def test_server_errors_use_each_platforms_error_body(
    fresh_server: SandboxServer, client: httpx.Client
) -> None:
    key = account(fresh_server, "humanitix").secret
    fresh_server.faults.add(status=500, platform="humanitix", path="/events")
    response = hx_get(client, fresh_server, "/events", key, page=1)
    assert response.status_code == 500
    assert response.json() == {
        "statusCode": 500,
        "error": "Internal Server Error",
        "message": "Injected fault.",
    }
    org = account(fresh_server, "eventbrite")
    fresh_server.faults.add(status=503, retry_after=2, platform="eventbrite", path="/users/me/*")
    response = eb_get(client, fresh_server, "/users/me/organizations/", org.secret)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json()["status_code"] == 503
    # Both rules are spent.
    assert hx_get(client, fresh_server, "/events", key, page=1).status_code == 200
    assert eb_get(client, fresh_server, "/users/me/organizations/", org.secret).status_code == 200


def test_malformed_body_is_truncated_json(
    fresh_server: SandboxServer, client: httpx.Client
) -> None:
    key = account(fresh_server, "humanitix").secret
    good = hx_get(client, fresh_server, "/events", key, page=1)
    fresh_server.faults.add(kind="malformed", platform="humanitix", path="/events")
    bad = hx_get(client, fresh_server, "/events", key, page=1)
    assert bad.status_code == 200
    assert bad.headers["content-type"].startswith("application/json")
    assert good.content.startswith(bad.content) and len(bad.content) < len(good.content)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(bad.content)


def test_slow_response_can_time_a_client_out(fresh_server: SandboxServer) -> None:
    key = account(fresh_server, "humanitix").secret
    fresh_server.faults.add(kind="slow", delay=0.6, platform="humanitix", path="/tags")
    started = time.monotonic()
    with httpx.Client(timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        hx_get(impatient, fresh_server, "/tags", key)
    fresh_server.faults.add(kind="slow", delay=0.3, platform="humanitix", path="/tags")
    with httpx.Client(timeout=5) as patient:
        started = time.monotonic()
        response = hx_get(patient, fresh_server, "/tags", key)
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.3


def test_per_token_rate_limit(fresh_server: SandboxServer, client: httpx.Client) -> None:
    first, third = account(fresh_server, "eventbrite", 0), account(fresh_server, "eventbrite", 2)
    fresh_server.faults.set_rate_limit(3, window_seconds=60, platform="eventbrite")
    statuses = [
        eb_get(client, fresh_server, "/users/me/organizations/", first.secret).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = eb_get(client, fresh_server, "/users/me/organizations/", first.secret)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Another token has its own budget.
    assert eb_get(client, fresh_server, "/users/me/", third.secret).status_code == 200
    fresh_server.faults.clear()
    assert eb_get(client, fresh_server, "/users/me/", first.secret).status_code == 200


def test_rate_limit_window_resets() -> None:
    injector = FaultInjector()
    injector.set_rate_limit(2, window_seconds=10)
    assert injector.check_rate("eventbrite", "t", now=100.0) is None
    assert injector.check_rate("eventbrite", "t", now=101.0) is None
    assert injector.check_rate("eventbrite", "t", now=102.0) == 8
    assert injector.check_rate("eventbrite", "t", now=110.5) is None


def test_faults_over_http(fresh_server: SandboxServer, client: httpx.Client) -> None:
    key = account(fresh_server, "humanitix").secret
    control = fresh_server.url + "/_sandbox/faults"
    response = client.post(
        control,
        json={"rules": [{"status": 502, "platform": "humanitix", "path": "/tags", "count": None}]},
    )
    assert response.status_code == 200 and response.json()["added"][0]["status"] == 502
    for _ in range(3):
        assert hx_get(client, fresh_server, "/tags", key).status_code == 502
    assert len(client.get(control).json()["rules"]) == 1
    assert client.delete(control).json()["rules"] == []
    assert hx_get(client, fresh_server, "/tags", key).status_code == 200
    assert client.post(control, json={"kind": "explode"}).status_code == 400
    assert client.post(control, json={"bogus": 1}).status_code == 400


def test_rule_validation() -> None:
    with pytest.raises(ValueError):
        FaultRule(kind="explode")
    with pytest.raises(ValueError):
        FaultRule(count=0)
    rule = FaultRule(platform="eventbrite", path="/events/*/attendees/")
    assert rule.matches("eventbrite", "GET", "/events/1/attendees/")
    assert not rule.matches("humanitix", "GET", "/events/1/attendees/")
    assert not rule.matches("eventbrite", "GET", "/events/1/orders/")


def test_stats_count_requests_by_route_template(
    fresh_server: SandboxServer, client: httpx.Client
) -> None:
    stats_url = fresh_server.url + "/_sandbox/stats"
    client.post(stats_url + "/reset")
    key = account(fresh_server, "humanitix").secret
    org = account(fresh_server, "eventbrite")
    events = hx_get(client, fresh_server, "/events", key, page=1).json()["events"]
    for event in events[:3]:
        hx_get(client, fresh_server, f"/events/{event['_id']}/orders", key, page=1)
    hx_get(client, fresh_server, "/events", "bad-key", page=1)
    eb_get(client, fresh_server, f"/organizations/{org.account_id}/orders", org.secret)
    eb_get(client, fresh_server, f"/organizations/{org.account_id}/orders/", org.secret)
    body = client.get(stats_url).json()
    humanitix = body["platforms"]["humanitix"]
    assert humanitix["routes"] == {"GET /events": 2, "GET /events/{eventId}/orders": 3}
    assert humanitix["statuses"] == {"200": 4, "401": 1}
    # With or without the trailing slash, one Eventbrite route.
    assert body["platforms"]["eventbrite"]["routes"] == {"GET /organizations/{org_id}/orders/": 2}
    assert body["total"] == 7
    assert fresh_server.stats.count("humanitix", "GET /events/{eventId}/orders") == 3
    client.post(stats_url + "/reset")
    assert client.get(stats_url).json()["total"] == 0


def test_health_accounts_and_unknown_paths(
    fresh_server: SandboxServer, client: httpx.Client
) -> None:
    health = client.get(fresh_server.url + "/_sandbox/health").json()
    assert health["status"] == "ok" and health["orders"] == fresh_server.dataset.order_count
    accounts = client.get(fresh_server.url + "/_sandbox/accounts").json()
    assert [(a["platform"], a["account_id"]) for a in accounts] == [
        (a.platform, a.account_id) for a in fresh_server.dataset.accounts
    ]
    org = account(fresh_server, "eventbrite")
    missing = eb_get(client, fresh_server, "/nothing/here/", org.secret)
    assert missing.status_code == 404 and missing.json()["error"] == "NOT_FOUND"
