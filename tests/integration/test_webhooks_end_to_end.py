"""Sandbox changes -> webhooks -> receiver -> landing -> sensor -> load -> staging, exactly once."""

from __future__ import annotations

import base64
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.integration.asgi_thread import serve_in_thread
from tests.integration.dbt.dbt_helpers import expected_from_sandbox, marts_by_account, run_dbt
from tests.integration.ingest_helpers import config_for, expected_facts, staging_facts
from ticketing_pipeline.definitions import build_definitions
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec, WebhookSender
from ticketing_pipeline.transform.dbt import PRODUCTION_BUILD
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.receiver.app import create_app

# Webhooks announce orders and their tickets/attendees; ticket-class counters come from the API.
COMPARED = ("orders", "tickets", "orders_by_status", "tickets_by_status")
MONEY_FROM_ORDERS = {
    "totals.grossSales",
    "totals.netSales",
    "totals.refunds",
    "totals.total",
    "ticket.price",
    "ticket.total",
    "order.costs.gross.value",
    "attendee.costs.gross.value",
}


def with_webhook_secrets(config, monkeypatch):
    accounts, tokens, secrets = [], {}, {}
    for n, account in enumerate(config.accounts):
        variable = f"E2E_WEBHOOK_SECRET_{n}"
        if account.platform.value == "eventbrite":
            secret = f"eb-url-token-{account.account_id}-0123456789abcdef"
            tokens[account.account_id] = secret
        else:
            raw = f"relay-secret-{account.account_id}".ljust(32, "!").encode()
            secret = "whsec_" + base64.b64encode(raw).decode()
            secrets[(account.platform.value, account.account_id)] = secret
        monkeypatch.setenv(variable, secret)
        accounts.append(account.model_copy(update={"webhook_secret_env": variable}))
    return config.model_copy(update={"accounts": accounts}), tokens, secrets


def facts(observed: dict) -> dict:
    return {
        key: {
            **{k: value.get(k, Counter() if k.endswith("status") else 0) for k in COMPARED},
            "money": {
                currency: {k: v for k, v in sums.items() if k in MONEY_FROM_ORDERS}
                for currency, sums in value["money"].items()
            },
        }
        for key, value in observed.items()
    }


def run_sensor_and_loads(defs: dg.Definitions, instance: dg.DagsterInstance) -> int:
    sensor = defs.get_sensor_def("landed_webhooks_sensor")
    context = dg.build_sensor_context(instance=instance, definitions=defs)
    result = sensor.evaluate_tick(context)
    job = defs.resolve_job_def("webhook_load_job")
    for request in result.run_requests:
        outcome = job.execute_in_process(run_config=request.run_config, instance=instance)
        assert outcome.success
    return len(result.run_requests)


@pytest.mark.parametrize("duplicate_rate", [0.0, 0.5], ids=["clean", "duplicated-shuffled"])
def test_changes_reach_staging_through_webhooks_exactly_once(
    tmp_path: Path, monkeypatch, duplicate_rate: float
) -> None:
    spec = SandboxSpec(seed=21, orders=500, eventbrite_orgs=1, eventbrite_second_token_orgs=0)
    with SandboxServer(spec) as sandbox:
        config = config_for(sandbox, tmp_path, monkeypatch, skip_events_ended_days=None)
        config, tokens, secrets = with_webhook_secrets(config, monkeypatch)
        assert all(r.ok for r in sync_accounts(config))  # the baseline from the API
        landing = LandingArea.for_data_dir(config.data_dir)
        defs = build_definitions(config)

        sandbox.dataset.mutate(fraction=0.1, seed=4)
        with serve_in_thread(create_app(config, landing)) as receiver_url:
            sender = WebhookSender(
                sandbox.dataset,
                receiver_url,
                tokens,
                secrets,
                eventbrite_api_base=sandbox.eventbrite_base_url,
                seed=1,
                duplicate_rate=duplicate_rate,
                shuffle=duplicate_rate > 0,
            )
            with sender:
                report = sender.send_pending()
        assert report.failed == [] and report.stored > 0
        assert landing.counts()["incoming"] == report.stored

        with dg.instance_for_test() as instance:
            assert run_sensor_and_loads(defs, instance) >= 1
            # Every delivery was loaded once and moved; none failed.
            assert landing.counts()["incoming"] == 0
            assert landing.counts()["failed"] == 0
            assert landing.counts()["processed"] == report.stored
            # The run reported the raw tables it wrote, per account partition.
            materialized = instance.get_latest_materialization_event(
                dg.AssetKey(["raw_humanitix", "orders"])
            )
            assert materialized is not None
            # A second tick finds nothing to do.
            assert run_sensor_and_loads(defs, instance) == 0

        # Without any API sync since the changes, staging equals the sandbox's truth.
        assert facts(staging_facts(config)) == facts(expected_facts(sandbox))


def test_webhook_changes_reach_ticket_sales_once_with_correct_amounts(
    tmp_path: Path, monkeypatch
) -> None:
    spec = SandboxSpec(seed=22, orders=400, eventbrite_orgs=1, eventbrite_second_token_orgs=0)
    with SandboxServer(spec) as sandbox:
        config = config_for(sandbox, tmp_path, monkeypatch, skip_events_ended_days=None)
        config, tokens, secrets = with_webhook_secrets(config, monkeypatch)
        assert all(r.ok for r in sync_accounts(config))
        defs = build_definitions(config)
        # New orders, updates and refunds: placed, updated and refunded in the sandbox.
        summary = sandbox.dataset.mutate(fraction=0.2, seed=8)
        assert summary.counts.get("new") and summary.counts.get("refund")
        landing = LandingArea.for_data_dir(config.data_dir)
        with (
            serve_in_thread(create_app(config, landing)) as url,
            WebhookSender(
                sandbox.dataset,
                url,
                tokens,
                secrets,
                eventbrite_api_base=sandbox.eventbrite_base_url,
                seed=2,
                duplicate_rate=0.5,
                shuffle=True,
            ) as sender,
        ):
            assert sender.send_pending().failed == []
        with dg.instance_for_test() as instance:
            assert run_sensor_and_loads(defs, instance) >= 1
        build = run_dbt(
            config,
            PRODUCTION_BUILD,
            tmp_path / "dbt_target",
        )
        assert build.ok, build.output[-3000:]

        expected = expected_from_sandbox(sandbox.dataset)
        marts = marts_by_account(resolve_warehouse(config))
        for key, want in expected.items():
            [money] = marts[key]["money"].values()
            assert money["currency"] == want.currency
            assert (money["gross"], money["refunded"], money["tickets"]) == (
                want.gross,
                want.refunded,
                want.tickets,
            ), key
            assert marts[key]["statuses"] == +want.orders_by_status, key
        with resolve_warehouse(config).connect() as connection:
            total, distinct, via_webhook = connection.execute(
                sa.text(
                    "select count(*), count(distinct sale_id), "
                    "sum(case when ingested_via = 'webhook' then 1 else 0 end) "
                    "from marts.ticket_sales"
                )
            ).one()
        assert total == distinct  # exactly once: no sale counted twice
        assert via_webhook > 0
