"""Silent-loss checks on sandbox data: orders that stop, webhooks that stop covering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.integration.asgi_thread import serve_in_thread
from tests.integration.ingest_helpers import config_for
from tests.integration.operator_helpers import operator_config, relay_secret, with_public_url
from ticketing_pipeline.config import Platform, ProjectConfig
from ticketing_pipeline.definitions import build_definitions
from ticketing_pipeline.defs.loss_checks import (
    DEFAULT_THRESHOLD,
    LOSS_CHECKS_JOB,
    STAGING,
    build_loss_defs,
    coverage_verdicts,
    silence_verdicts,
)
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.operations.accounts_check import Status, check_accounts
from ticketing_pipeline.operations.build import build_marts
from ticketing_pipeline.operations.platform_calls import (
    delete_webhook,
    list_webhooks,
    platform_client,
)
from ticketing_pipeline.operations.webhook_registration import register_all
from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec, WebhookSender
from ticketing_pipeline.sandbox.eventbrite_webhooks import WebhookRegistry, install_registry
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.receiver.app import create_app

SPEC = SandboxSpec(seed=34, orders=1500, eventbrite_orgs=1, eventbrite_second_token_orgs=0)


def sandbox_now(sandbox: SandboxServer) -> datetime:
    return datetime.fromtimestamp(sandbox.dataset.now_ms / 1000, tz=UTC)


def staging_views(config: ProjectConfig) -> None:
    result = build_marts(config, ["run", "--select", "staging"])
    assert result.ok, (result.errors, [n.message for n in result.failed_nodes])


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("warehouse_kind", ["duckdb", "postgres"])
def test_orders_that_stop_fail_the_check_and_selling_accounts_pass(
    tmp_path: Path, monkeypatch, request, warehouse_kind: str
) -> None:
    url = request.getfixturevalue("postgres_url") if warehouse_kind == "postgres" else None
    with SandboxServer(SPEC) as sandbox:
        config = config_for(sandbox, tmp_path, monkeypatch, url, skip_events_ended_days=None)
        assert all(r.ok for r in sync_accounts(config))
        # Both Humanitix accounts keep selling: new orders now, synced.
        sandbox.dataset.mutate(fraction=0.02, seed=1)
        assert all(r.ok for r in sync_accounts(config))
        now = sandbox_now(sandbox) + timedelta(minutes=30)
        # The sync log of this warehouse (DuckDB or PostgreSQL) feeds `accounts check`.
        health = check_accounts(config)
        assert all(h.step("last_sync").status is Status.OK for h in health)
        assert all(h.step("api").status is Status.OK for h in health)
    staging_views(config)
    warehouse = resolve_warehouse(config)
    accounts = config.enabled_accounts()
    before = {v.account_key: v for v in silence_verdicts(warehouse, accounts, now)}
    assert not any(v.failed for v in before.values()), before
    stopped, selling = config.enabled_accounts(Platform.HUMANITIX)
    assert before[stopped.key].on_sale_now  # it has events on sale: silence would matter

    # The stopped account's orders of the last four days never arrived (e.g. a revoked key
    # that made its syncs load nothing): remove them from the warehouse.
    cutoff = now - timedelta(days=4)
    with warehouse.begin() as connection:
        removed = connection.execute(
            sa.text(
                "delete from raw_humanitix.orders where account_id = :account "
                "and coalesce(completed_at, created_at) >= :cutoff"
            ),
            {"account": stopped.account_id, "cutoff": cutoff},
        ).rowcount
    assert removed > 0

    after = {v.account_key: v for v in silence_verdicts(warehouse, accounts, now)}
    verdict = after[stopped.key]
    assert verdict.failed and verdict.probability < DEFAULT_THRESHOLD
    assert verdict.last_order_at < cutoff
    assert verdict.rate_per_hour > 0 and verdict.silent_on_sale_hours >= 24 * 4 - 1
    assert not after[selling.key].failed and after[selling.key].probability > 0.01

    # The same decision through Dagster: the loss-check job runs the checks on the staging
    # orders; the Humanitix one fails, naming the account and the events on sale.
    staging_orders = [
        dg.AssetSpec([STAGING, f"stg_{platform.value}__orders"]) for platform in Platform
    ]
    defs = dg.Definitions.merge(
        build_loss_defs(config, warehouse, clock=lambda: now),
        dg.Definitions(assets=staging_orders),
    )
    with dg.instance_for_test() as instance:
        run = defs.resolve_job_def(LOSS_CHECKS_JOB).execute_in_process(
            instance=instance, raise_on_error=False
        )
    evaluations = {e.check_name: e for e in run.get_asset_check_evaluations()}
    assert evaluations["orders_keep_arriving_eventbrite"].passed
    evaluation = evaluations["orders_keep_arriving_humanitix"]
    assert not evaluation.passed
    assert stopped.key in evaluation.description
    assert selling.key not in evaluation.description
    assert verdict.on_sale_now[0].event_id in evaluation.description


def test_definitions_register_the_loss_checks(tmp_path: Path, monkeypatch) -> None:
    with SandboxServer(SandboxSpec(seed=35, orders=200)) as sandbox:
        config = operator_config(sandbox, tmp_path, monkeypatch)
    repository = build_definitions(config).get_repository_def()
    keys = {key.name for key in repository.asset_graph.asset_check_keys}
    assert {"orders_keep_arriving_humanitix", "orders_keep_arriving_eventbrite"} <= keys
    assert {"webhook_coverage_humanitix", "webhook_coverage_eventbrite"} <= keys
    # They run on their own schedule: silence is when nothing new gets materialized.
    assert repository.get_job(LOSS_CHECKS_JOB) is not None
    assert repository.get_schedule_def("silent_loss_checks_schedule").job_name == LOSS_CHECKS_JOB


@pytest.fixture
def webhook_world(tmp_path: Path, monkeypatch):
    with SandboxServer(SPEC) as sandbox:
        registry = install_registry(
            sandbox.app,
            WebhookRegistry(
                sandbox.dataset,
                auto_deliver_interval=None,
                eventbrite_api_base=sandbox.eventbrite_base_url,
            ),
        )
        config = operator_config(sandbox, tmp_path, monkeypatch)
        synced = sync_accounts(config)
        assert all(r.ok for r in synced), [r.error for r in synced]
        staging_views(config)
        yield sandbox, registry, config
        registry.close()


def test_webhook_coverage_drops_with_the_likely_cause(webhook_world, monkeypatch) -> None:
    sandbox, registry, config = webhook_world
    [eb] = config.enabled_accounts(Platform.EVENTBRITE)
    hx = config.enabled_accounts(Platform.HUMANITIX)
    landing = LandingArea.for_data_dir(config.data_dir)
    warehouse = resolve_warehouse(config)
    relay_secrets = {("humanitix", a.account_id): relay_secret(a.account_id) for a in hx}

    def step(deliver_eventbrite: bool = True, receiver: bool = True):
        """One round: a sandbox change, deliveries, an API sync; the verdicts of that round."""
        received_since = datetime.now(UTC) - timedelta(seconds=1)
        change = sandbox.dataset.mutate(fraction=0.05)
        if receiver:
            if deliver_eventbrite:
                registry.deliver_pending()
            relays.send_pending()
        else:  # the receiver is down: every delivery fails
            assert all(r.outcome == "failed" for r in registry.deliver_pending())
        assert all(r.ok for r in sync_accounts(config))
        verdicts = coverage_verdicts(
            config,
            warehouse,
            config.enabled_accounts(),
            since=parse(change.first_change_at),
            until=parse(change.last_change_at) + timedelta(seconds=1),
            received_since=received_since,
        )
        return {v.account_key: v for v in verdicts}

    with serve_in_thread(create_app(config, landing)) as receiver_url:
        config = with_public_url(config, receiver_url)
        assert all(o.error is None for o in register_all(config))
        relays = WebhookSender(
            sandbox.dataset,
            receiver_url,
            {},
            relay_secrets,
            eventbrite_api_base=sandbox.eventbrite_base_url,
            after=len(sandbox.dataset.changes),
        )

        # Everything works: (nearly) every changed order was announced by webhook or relay.
        healthy = step()
        assert not any(v.failed for v in healthy.values()), healthy
        assert all(v.changed >= 5 and v.coverage >= 0.9 for v in healthy.values()), healthy

        # The Eventbrite webhook is deleted on Eventbrite's side.
        client = platform_client(eb, config.sync)
        for webhook in list_webhooks(client, eb.account_id):
            delete_webhook(client, webhook.id)
        deleted = step()
        assert deleted[eb.key].failed and deleted[eb.key].covered == 0
        assert "not registered right" in deleted[eb.key].diagnosis
        assert not any(deleted[a.key].failed for a in hx)  # the relays still deliver

        # Re-registered, but the relay stops (Humanitix is only covered by the relay).
        assert all(o.error is None for o in register_all(config))
        relays.cursor = len(sandbox.dataset.changes) + 10**6  # it sends nothing any more
        quiet_relay = step()
        assert not quiet_relay[eb.key].failed
        for account in hx:
            assert quiet_relay[account.key].failed
            assert "sender (webhook or relay) stopped" in quiet_relay[account.key].diagnosis
        relays.cursor = len(sandbox.dataset.changes)

    # The receiver is down: nothing lands from anyone.
    down = step(receiver=False)
    assert down[eb.key].failed
    assert "receiver is down" in down[eb.key].diagnosis

    # The webhook secret is missing: that is named first.
    monkeypatch.delenv(eb.webhook_secret_env)
    missing = step(receiver=False)
    assert "webhook secret is not set" in missing[eb.key].diagnosis
