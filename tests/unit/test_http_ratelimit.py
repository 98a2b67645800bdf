"""Eventbrite's per-token call budget: shared by the accounts of a token, spaced, thread-safe.

Budgets here are scaled to seconds (tens of calls per second) so each test takes a second or
two; the arithmetic is the same as for 2,000 calls per hour. The API is a real local server that
enforces the same budget per token the way Eventbrite does (429 + Retry-After beyond it) and
records when each call arrived, with which token.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.integration.asgi_thread import serve_in_thread
from ticketing_pipeline.config import AccountConfig, SyncConfig
from ticketing_pipeline.sources.common import AccountSecretAuth
from ticketing_pipeline.sources.http import PlatformClient
from ticketing_pipeline.sources.ratelimit import (
    CallBudget,
    shared_limiter,
    token_fingerprint,
)

SHARED_TOKEN = "shared-token-of-two-orgs-0f3a"
OTHER_TOKEN = "token-of-a-third-org-77c1"


@dataclass
class BudgetedApi:
    """At most ``limit`` calls per ``window`` seconds per token (sliding), else 429."""

    limit: int
    window: float
    url: str = ""
    arrivals: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            token = request.headers.get("authorization", "")
            now = time.monotonic()
            with self.lock:
                recent = [t for t in self.arrivals[token] if t > now - self.window]
                if len(recent) >= self.limit:
                    self.refused += 1
                    return JSONResponse(
                        {"error": "HIT_RATE_LIMIT"}, status_code=429, headers={"Retry-After": "1"}
                    )
                self.arrivals[token].append(now)
            return JSONResponse({"id": request.path_params["id"]})

        return Starlette(routes=[Route("/v3/orders/{id}/", endpoint)])


@pytest.fixture
def api() -> Iterator[BudgetedApi]:
    # 10 calls per 0.5 s per token: 72,000 per hour, i.e. 2,000 per hour sped up 36 times.
    server = BudgetedApi(limit=10, window=0.5)
    with serve_in_thread(server.app()) as url:
        server.url = url
        yield server


def org(account_id: str, secret_env: str, base_url: str) -> AccountConfig:
    return AccountConfig(
        platform="eventbrite",
        account_id=account_id,
        display_name=f"Org {account_id}",
        secret_env=secret_env,
        base_url=f"{base_url}/v3",
    )


def client_for(account: AccountConfig, sync: SyncConfig) -> PlatformClient:
    return PlatformClient(account, AccountSecretAuth(account, "Authorization", "Bearer"), sync)


def hammer(clients: list[PlatformClient], calls_each: int, threads_each: int) -> None:
    """Every client makes ``calls_each`` calls from ``threads_each`` threads at once."""
    errors: list[BaseException] = []

    def work(client: PlatformClient, n: int) -> None:
        try:
            for i in range(n):
                client.get_json(f"/orders/{i}/")
        except BaseException as error:  # noqa: BLE001 - re-raised in the test thread
            errors.append(error)

    workers = [
        threading.Thread(target=work, args=(client, calls_each // threads_each))
        for client in clients
        for _ in range(threads_each)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors


def max_in_window(arrivals: list[float], window: float) -> int:
    arrivals = sorted(arrivals)
    return max(
        sum(1 for t in arrivals[i:] if t < start + window) for i, start in enumerate(arrivals)
    )


def test_orgs_sharing_a_token_share_one_budget_and_never_hit_429(
    api: BudgetedApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_RL_TOKEN_A", SHARED_TOKEN)
    monkeypatch.setenv("TEST_RL_TOKEN_B", SHARED_TOKEN)  # a second org behind the same token
    monkeypatch.setenv("TEST_RL_TOKEN_C", OTHER_TOKEN)
    # The API's own budget, 72,000/h, with calls at most 5 at once.
    sync = SyncConfig(eventbrite_calls_per_hour=72_000, eventbrite_burst=5)
    clients = [
        client_for(org(account_id, env, api.url), sync)
        for account_id, env in [("1", "TEST_RL_TOKEN_A"), ("2", "TEST_RL_TOKEN_B")]
    ]
    third = client_for(org("3", "TEST_RL_TOKEN_C", api.url), sync)

    started = time.monotonic()
    hammer([*clients, third], calls_each=20, threads_each=4)
    elapsed = time.monotonic() - started

    assert api.refused == 0  # no 429 at all
    shared = api.arrivals[f"Bearer {SHARED_TOKEN}"]
    assert len(shared) == 40
    assert max_in_window(shared, api.window) <= api.limit
    # 40 calls at 10 per 0.5 s take at least 1.5 s: the budget spaced them.
    assert elapsed >= 1.4
    assert clients[0].limiter is clients[1].limiter  # one limiter for the token...
    assert third.limiter is not clients[0].limiter  # ...another for another token
    assert clients[0].limiter is not None and clients[0].limiter.calls >= 40


def test_without_a_shared_budget_the_same_load_is_refused(
    api: BudgetedApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the server above does refuse a token that goes over its budget."""
    monkeypatch.setenv("TEST_RL_TOKEN_A", SHARED_TOKEN + "-control")
    monkeypatch.setenv("TEST_RL_TOKEN_B", SHARED_TOKEN + "-control")
    # A client budget twice the API's: the same load now runs into 429s.
    sync = SyncConfig(
        eventbrite_calls_per_hour=144_000,
        eventbrite_burst=20,
        request_max_attempts=8,
        request_max_retry_delay_seconds=1.0,
    )
    clients = [
        client_for(org(account_id, env, api.url), sync)
        for account_id, env in [("1", "TEST_RL_TOKEN_A"), ("2", "TEST_RL_TOKEN_B")]
    ]
    hammer(clients, calls_each=20, threads_each=4)
    assert api.refused > 0


def test_a_429_with_retry_after_is_still_honoured_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process using the token can still cause a 429: dlt's retry waits Retry-After;
    the retried call takes a permit from the budget too."""
    answers: list[float] = []

    async def endpoint(request: Request) -> Response:
        answers.append(time.monotonic())
        if len(answers) == 1:
            return JSONResponse({}, status_code=429, headers={"Retry-After": "1"})
        return JSONResponse({"ok": True})

    monkeypatch.setenv("TEST_RL_TOKEN_429", "token-429-" + str(time.monotonic()))
    sync = SyncConfig(eventbrite_calls_per_hour=72_000, eventbrite_burst=5)
    with serve_in_thread(Starlette(routes=[Route("/v3/x/", endpoint)])) as url:
        client = client_for(org("9", "TEST_RL_TOKEN_429", url), sync)
        assert client.get_json("/x/") == {"ok": True}
    assert len(answers) == 2
    assert answers[1] - answers[0] >= 0.95
    assert client.limiter is not None and client.limiter.calls == 2


def test_budget_spaces_calls_from_many_threads() -> None:
    budget = CallBudget(calls_per_hour=3600 * 20, burst=4)  # 4 per 0.2 s
    limiter = shared_limiter("spacing-test-token", budget)
    stamps: list[float] = []
    lock = threading.Lock()

    def take(n: int) -> None:
        for _ in range(n):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=take, args=(6,)) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(stamps) == 24
    # 24 permits, 4 per 0.2 s: the last ones are granted after at least 5 windows.
    assert stamps[-1] - started >= 0.95
    # Never more than the burst inside a window (a little shorter, for thread wake-up jitter).
    assert max_in_window(stamps, 0.15) <= 4
    assert limiter.calls == 24


def test_limiters_are_keyed_by_a_hash_of_the_token_never_the_token() -> None:
    budget = CallBudget(calls_per_hour=2000, burst=20)
    token = "the-real-token-value-123"
    limiter = shared_limiter(token, budget)
    assert shared_limiter(token, budget) is limiter
    assert shared_limiter(token + "x", budget) is not limiter
    assert limiter.fingerprint == token_fingerprint(token)
    assert token not in repr(limiter) and token not in limiter.fingerprint
    assert "2000/h" in repr(limiter)


@pytest.mark.parametrize(("per_hour", "burst"), [(0, 1), (10, 0), (10, 11), (2000, 81)])
def test_invalid_budgets_are_refused(per_hour: int, burst: int) -> None:
    with pytest.raises(ValueError):
        CallBudget(calls_per_hour=per_hour, burst=burst)


def test_the_hourly_budget_is_a_ceiling_over_any_hour() -> None:
    rates = CallBudget(calls_per_hour=2000, burst=20).rates()
    # 20 calls per 36 s plus 5% for jitter: any hour holds at most 96 such windows, i.e.
    # 1,920 calls (plus, at worst, one burst more where a window straddles its end).
    assert [(r.limit, r.interval) for r in rates] == [(20, 37_800)]
    window_s = rates[0].interval / 1000
    assert 20 * (3600 // window_s + 1) <= 2000


def test_humanitix_has_no_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    account = AccountConfig(
        platform="humanitix", account_id="hx", display_name="HX", secret_env="TEST_RL_HX"
    )
    client = PlatformClient(account, AccountSecretAuth(account, "x-api-key"), SyncConfig())
    assert client.budget is None and client.limiter is None
