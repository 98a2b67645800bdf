"""`ticketing webhooks register` against the sandbox's webhook API, then real deliveries.

Register (dry run first), re-run (nothing changes), move the public URL (the webhook is
replaced, not duplicated), then a sandbox change is delivered by the sandbox to the registered
URL, lands in the receiver's landing area, and the loader's sensor loads it.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import httpx
import pytest

from tests.integration.asgi_thread import serve_in_thread
from tests.integration.operator_helpers import eventbrite_token, operator_config, with_public_url
from ticketing_pipeline.config import Platform
from ticketing_pipeline.definitions import build_definitions
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.operations.build import build_marts
from ticketing_pipeline.operations.platform_calls import list_webhooks, platform_client
from ticketing_pipeline.operations.webhook_registration import (
    REQUIRED_ACTIONS,
    Change,
    register_all,
)
from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec
from ticketing_pipeline.sandbox.eventbrite_webhooks import WebhookRegistry, install_registry
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.receiver.app import create_app

SPEC = SandboxSpec(seed=31, orders=400, eventbrite_orgs=1, eventbrite_second_token_orgs=0)


@pytest.fixture
def sandbox():
    with SandboxServer(SPEC) as server:
        registry = WebhookRegistry(
            server.dataset,
            auto_deliver_interval=None,  # the test decides when deliveries go out
            eventbrite_api_base=server.eventbrite_base_url,
        )
        install_registry(server.app, registry)
        yield server
        registry.close()


def test_sandbox_webhook_api_is_per_organization_and_token_checked(sandbox) -> None:
    [org] = [a for a in sandbox.dataset.accounts if a.platform == "eventbrite"]
    base = sandbox.eventbrite_base_url
    url = f"{base}/organizations/{org.account_id}/webhooks/"
    body = {"endpoint_url": "https://hooks.example.com/x", "actions": "order.placed"}
    assert httpx.get(url).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": f"Bearer {org.secret}"}
    bad = httpx.post(url, json={**body, "actions": "order.exploded"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"] == "ARGUMENTS_ERROR"
    created = httpx.post(url, json=body, headers=auth).json()
    assert created["endpoint_url"] == body["endpoint_url"]
    assert created["actions"] == "order.placed"
    listed = httpx.get(url, headers=auth).json()["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]]
    # Another organization's id is a 404 for the org, the webhook is the token's own.
    assert httpx.get(f"{base}/organizations/1/webhooks/", headers=auth).status_code == 404
    assert httpx.delete(f"{base}/webhooks/{created['id']}/", headers=auth).json()["success"]
    assert httpx.get(url, headers=auth).json()["webhooks"] == []
    assert httpx.delete(f"{base}/webhooks/{created['id']}/", headers=auth).status_code == 404


def test_register_is_idempotent_follows_the_url_and_the_sandbox_delivers(
    sandbox, tmp_path: Path, monkeypatch, capsys
) -> None:
    config = operator_config(sandbox, tmp_path, monkeypatch)
    [account] = config.enabled_accounts(Platform.EVENTBRITE)
    client = platform_client(account, config.sync)
    token = eventbrite_token(account.account_id)
    assert all(r.ok for r in sync_accounts(config))
    # A deployed warehouse has its models built (the webhook load job refreshes them after).
    assert build_marts(config, ["run", "--select", "staging"]).ok
    landing = LandingArea.for_data_dir(config.data_dir)

    with serve_in_thread(create_app(config, landing)) as receiver_url:
        config = with_public_url(config, receiver_url)
        wanted = f"{receiver_url}/webhooks/eventbrite/{account.account_id}/{token}"

        [dry] = register_all(config, dry_run=True)
        assert dry.error is None and dry.plan.change is Change.CREATED
        assert list_webhooks(client, account.account_id) == []  # a dry run changes nothing
        assert token not in dry.plan.describe(dry_run=True)  # the URL token is masked

        [first] = register_all(config)
        assert first.error is None and first.plan.change is Change.CREATED
        [webhook] = list_webhooks(client, account.account_id)
        assert webhook.endpoint_url == wanted
        assert webhook.actions == frozenset(REQUIRED_ACTIONS)

        [again] = register_all(config)
        assert again.plan.change is Change.UNCHANGED
        assert list_webhooks(client, account.account_id) == [webhook]

        # The receiver moves (same server, another name): the webhook follows, still only one.
        moved_url = receiver_url.replace("127.0.0.1", "localhost")
        config = with_public_url(config, moved_url)
        [moved] = register_all(config)
        assert moved.plan.change is Change.UPDATED
        assert [w.id for w in moved.plan.delete] == [webhook.id]
        [replacement] = list_webhooks(client, account.account_id)
        assert replacement.id != webhook.id
        assert replacement.endpoint_url == wanted.replace(receiver_url, moved_url)

        # Data changes in the sandbox; the sandbox posts them to the registered URL.
        sandbox.dataset.mutate(fraction=0.1, seed=5)
        notices = [
            n
            for n in sandbox.dataset.changes_after(0)
            if n.platform == "eventbrite" and n.kind in REQUIRED_ACTIONS
        ]
        assert notices
        registry = sandbox.app.state.eventbrite_webhooks
        results = registry.deliver_pending()
        assert [r.outcome for r in results] == ["stored"] * len(notices)
        assert registry.deliver_pending() == []  # each change is delivered once

    landed = [landing.read(f) for f in landing.list_incoming()]
    assert len(landed) == len(notices)
    assert {d.account_id for d in landed} == {account.account_id}
    assert {d.action for d in landed} == {n.kind for n in notices}
    # As Eventbrite does: the delivery header carries the webhook's id.
    assert {d.headers.get("x-eventbrite-delivery") for d in landed} == {replacement.id}

    # The loader takes the landed deliveries into the raw tables.
    defs = build_definitions(config)
    with dg.instance_for_test() as instance:
        sensor = defs.get_sensor_def("landed_webhooks_sensor")
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
        assert tick.run_requests
        job = defs.resolve_job_def("webhook_load_job")
        for request in tick.run_requests:
            assert job.execute_in_process(run_config=request.run_config, instance=instance).success
    counts = landing.counts()
    assert counts["incoming"] == 0 and counts["failed"] == 0
    assert counts["processed"] == len(notices)


def test_register_names_what_is_missing(sandbox, tmp_path: Path, monkeypatch) -> None:
    config = operator_config(sandbox, tmp_path, monkeypatch)  # no public_url
    [outcome] = register_all(config)
    assert outcome.plan is None and "public_url" in outcome.error
    config = with_public_url(config, "https://hooks.example.com")
    [account] = config.enabled_accounts(Platform.EVENTBRITE)
    monkeypatch.delenv(account.webhook_secret_env)
    [outcome] = register_all(config)
    assert outcome.plan is None and account.webhook_secret_env in outcome.error


def test_a_served_sandbox_delivers_by_itself_and_stops_with_the_server() -> None:
    """Without a test-installed registry (as `ticketing sandbox serve` runs), a registered
    webhook receives the sandbox's changes from a background thread, which the server stops."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    received: list[tuple[dict, dict]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append((dict(request.headers), await request.json()))
        return JSONResponse({"status": "stored"})

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve_in_thread(app) as url, SandboxServer(SPEC) as server:
        [org] = [a for a in server.dataset.accounts if a.platform == "eventbrite"]
        created = httpx.post(
            f"{server.eventbrite_base_url}/organizations/{org.account_id}/webhooks/",
            json={"endpoint_url": f"{url}/hook", "actions": "order.placed,order.refunded"},
            headers={"Authorization": f"Bearer {org.secret}"},
        ).json()
        server.dataset.mutate(fraction=0.05, seed=9)
        wanted = [
            n
            for n in server.dataset.changes_after(0)
            if n.account_id == org.account_id and n.kind in ("order.placed", "order.refunded")
        ]
        assert wanted
        deadline = time.monotonic() + 15
        while len(received) < len(wanted) and time.monotonic() < deadline:
            time.sleep(0.1)
        registry = server.app.state.eventbrite_webhooks
    assert len(received) == len(wanted)
    assert {body["config"]["action"] for _, body in received} == {n.kind for n in wanted}
    assert {h["x-eventbrite-delivery"] for h, _ in received} == {created["id"]}
    assert all(body["api_url"].startswith(server.eventbrite_base_url) for _, body in received)
    assert registry._thread is None  # stopped with the server
