"""Realism knobs for client benchmarks: a fixed latency per platform call that does not block the
server, and Eventbrite's rate budget per token (429 + Retry-After beyond it)."""

from __future__ import annotations

import asyncio
import time

import httpx
from sandbox_helpers import account

from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec

SPEC = SandboxSpec(orders=300, seed=2)


def test_latency_is_added_per_call_and_concurrent_calls_overlap() -> None:
    with SandboxServer(SPEC, latency_ms=300) as server:
        hx = account(server, "humanitix")
        url = server.humanitix_base_url + "/events?page=1"

        async def one(client: httpx.AsyncClient) -> float:
            started = time.perf_counter()
            response = await client.get(url, headers={"x-api-key": hx.secret})
            assert response.status_code == 200
            return time.perf_counter() - started

        async def many(n: int) -> tuple[float, list[float]]:
            async with httpx.AsyncClient(timeout=30) as client:
                started = time.perf_counter()
                each = await asyncio.gather(*(one(client) for _ in range(n)))
                return time.perf_counter() - started, each

        wall, each = asyncio.run(many(8))
        assert min(each) >= 0.3, "every call waits the latency"
        # Eight calls in parallel take about one latency, not eight: the wait never blocks.
        assert wall < 8 * 0.3 / 2, wall
        # The latency can be changed while serving; control endpoints are never delayed.
        server.settings.latency_ms = 3000
        started = time.perf_counter()
        assert httpx.get(server.url + "/_sandbox/health").status_code == 200
        assert time.perf_counter() - started < 2
        server.settings.latency_ms = 0
        started = time.perf_counter()
        assert httpx.get(url, headers={"x-api-key": hx.secret}).status_code == 200
        assert time.perf_counter() - started < 2


def test_eventbrite_budget_per_token_answers_429_with_retry_after() -> None:
    # 36,000 per hour over a 1 s sliding window: 10 calls in any second.
    with (
        SandboxServer(
            SPEC, eventbrite_calls_per_hour=36_000, eventbrite_rate_window_seconds=1.0
        ) as server,
        httpx.Client(timeout=10) as client,
    ):
        first, _, other = (account(server, "eventbrite", i) for i in range(3))
        path = server.eventbrite_base_url + "/users/me/organizations/"

        def call(token: str, via_query: bool = False) -> httpx.Response:
            if via_query:
                return client.get(path, params={"token": token})
            return client.get(path, headers={"Authorization": f"Bearer {token}"})

        answers = [call(first.secret, via_query=i % 2 == 1) for i in range(13)]
        assert [r.status_code for r in answers[:10]] == [200] * 10
        refused = answers[10:]
        assert {r.status_code for r in refused} == {429}
        for response in refused:
            assert response.headers["Retry-After"] == "1"
            assert response.json()["error"] == "HIT_RATE_LIMIT"
        # Another token has its own budget; Humanitix has none.
        assert call(other.secret).status_code == 200
        hx = account(server, "humanitix")
        for _ in range(15):
            response = client.get(
                server.humanitix_base_url + "/tags", headers={"x-api-key": hx.secret}
            )
            assert response.status_code == 200
        # Counted in the request stats, per token hash (never the token).
        assert server.stats.rate_limited("eventbrite") == 3
        assert server.stats.rate_limited("humanitix") == 0
        by_token = server.stats.calls_by_token("eventbrite")
        assert sorted(by_token.values()) == [1, 13]
        assert first.secret not in str(server.stats.snapshot())
        snapshot = client.get(server.url + "/_sandbox/stats").json()
        assert snapshot["platforms"]["eventbrite"]["rate_limited"] == 3
        assert snapshot["platforms"]["eventbrite"]["statuses"]["429"] == 3
        # The window slides: a second later the budget is back.
        time.sleep(1.05)
        assert call(first.secret).status_code == 200
