"""Webhook changes reach ``marts.ticket_sales`` with no manual step, while an analyst reads.

The sandbox changes orders on both platforms (new orders, refunds, edits), its webhook sender
delivers them to the receiver, and Dagster's own sensor (evaluated by Dagster's test helper, as
the daemon would) launches the webhook job, which loads the batch AND rebuilds what it feeds:
no dbt run is started by the test after the baseline. Meanwhile a separate process keeps opening
short read-only DuckDB connections on the warehouse, as an analyst or the dashboard does: no load
or build may fail because of it (the warehouse's writer policy waits for the reader).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from tests.integration.asgi_thread import serve_in_thread
from tests.integration.dbt.dbt_helpers import expected_from_sandbox, marts_by_account, run_dbt
from tests.integration.ingest_helpers import config_for
from tests.integration.test_webhooks_end_to_end import with_webhook_secrets
from ticketing_pipeline.definitions import build_definitions
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox import SandboxServer, SandboxSpec, WebhookSender
from ticketing_pipeline.transform.dbt import PRODUCTION_BUILD
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import LandingArea
from ticketing_pipeline.webhooks.receiver.app import create_app

# From the webhook's delivery to the change in ticket_sales, on a shared CI machine.
DELIVERY_TO_MART_BOUND_SECONDS = 180.0

# An analyst: short read-only connections in a loop, counting what it could and could not read.
READER = """
import json, sys, time
import duckdb
path, stop_file, report = sys.argv[1], sys.argv[2], sys.argv[3]
reads = refused = 0
import os
while not os.path.exists(stop_file):
    try:
        connection = duckdb.connect(path, read_only=True)
        try:
            connection.execute("select count(*) from marts.ticket_sales").fetchone()
            reads += 1
            time.sleep(0.05)  # holds the file a little longer than its query, as a tool does
        finally:
            connection.close()
    except duckdb.Error:
        refused += 1  # a writer held the file at that instant: the reader's loss, not the load's
    time.sleep(0.25)
open(report, "w").write(json.dumps({"reads": reads, "refused": refused}))
"""


def _order_lines(warehouse, order_ids: set[str]) -> set[str]:
    with warehouse.connect(read_only=True) as connection:
        rows = connection.execute(sa.text("select distinct order_id from marts.ticket_sales")).all()
    return {row.order_id for row in rows} & order_ids


def test_webhook_changes_reach_ticket_sales_while_an_analyst_reads(
    tmp_path: Path, monkeypatch
) -> None:
    spec = SandboxSpec(seed=31, orders=150, eventbrite_orgs=1, eventbrite_second_token_orgs=0)
    with SandboxServer(spec) as sandbox:
        config = config_for(sandbox, tmp_path, monkeypatch, skip_events_ended_days=None)
        config, tokens, secrets = with_webhook_secrets(config, monkeypatch)
        warehouse = resolve_warehouse(config)
        # The baseline: an API sync and a full build, as `ticketing setup` leaves it.
        assert all(r.ok for r in sync_accounts(config))
        baseline = run_dbt(config, PRODUCTION_BUILD, tmp_path / "dbt_target")
        assert baseline.ok, baseline.output[-3000:]

        defs = build_definitions(config)
        sensor = defs.get_sensor_def("landed_webhooks_sensor")
        job = defs.resolve_job_def("webhook_load_job")
        landing = LandingArea.for_data_dir(config.data_dir)
        stop_file, report = tmp_path / "reader.stop", tmp_path / "reader.json"
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(warehouse.duckdb_path), str(stop_file), str(report)]
        )
        latencies: list[float] = []
        try:
            with (
                dg.instance_for_test() as instance,
                serve_in_thread(create_app(config, landing)) as receiver_url,
            ):
                cursor = None
                for round_number in range(2):
                    summary = sandbox.dataset.mutate(fraction=0.05, seed=40 + round_number)
                    # New orders on both platforms, and refunds or edits: they must all show.
                    assert summary.order_ids("humanitix") and summary.order_ids("eventbrite")
                    assert set(summary.counts) - {"new"}, summary.counts
                    with WebhookSender(
                        sandbox.dataset,
                        receiver_url,
                        tokens,
                        secrets,
                        eventbrite_api_base=sandbox.eventbrite_base_url,
                        seed=round_number,
                    ) as sender:
                        assert sender.send_pending().failed == []
                    delivered = time.monotonic()
                    new_orders = {
                        order_id
                        for accounts in summary.touched.values()
                        for kinds in accounts.values()
                        for order_id in kinds.get("new", [])
                    }
                    while _order_lines(warehouse, new_orders) != new_orders:
                        assert time.monotonic() - delivered < DELIVERY_TO_MART_BOUND_SECONDS, (
                            "webhook changes did not reach ticket_sales in time"
                        )
                        context = dg.build_sensor_context(
                            instance=instance, cursor=cursor, definitions=defs
                        )
                        result = sensor.evaluate_tick(context)
                        cursor = context.cursor
                        for request in result.run_requests:
                            outcome = job.execute_in_process(
                                run_config=request.run_config, instance=instance
                            )
                            # A reader holding the file never fails the load or the build.
                            assert outcome.success
                        if not result.run_requests:
                            time.sleep(1)
                    latencies.append(time.monotonic() - delivered)

                # The mart checks ran inside the webhook run, on the marts it rebuilt.
                check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                    [
                        dg.AssetCheckKey(
                            dg.AssetKey(["marts", "ticket_sales"]), "no_duplicate_sale_ids"
                        )
                    ]
                )
                assert check, "the mart checks did not run in the webhook job"
                assert landing.counts()["incoming"] == 0 and landing.counts()["failed"] == 0
        finally:
            stop_file.touch()
            reader.wait(timeout=30)

        read = json.loads(report.read_text())
        assert read["reads"] > 5, read  # the analyst really read while the changes flowed

        # Every account's money in the mart equals the sandbox's own records, refunds included.
        expected = expected_from_sandbox(sandbox.dataset)
        marts = marts_by_account(warehouse)
        for key, want in expected.items():
            [money] = marts[key]["money"].values()
            assert (money["gross"], money["refunded"], money["tickets"]) == (
                want.gross,
                want.refunded,
                want.tickets,
            ), key
            assert marts[key]["statuses"] == +want.orders_by_status, key
        print(f"delivery -> ticket_sales: {[round(s, 1) for s in latencies]} s; reader {read}")
