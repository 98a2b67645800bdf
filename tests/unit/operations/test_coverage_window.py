"""Webhook coverage over a real DuckDB file and a real landing area: changes made before an
account's first delivery (before its webhook existed) are not counted as missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ticketing_pipeline.config import AccountConfig, ProjectConfig, WarehouseConfig
from ticketing_pipeline.defs.loss_checks import coverage_verdicts
from ticketing_pipeline.operations.landing_scan import scan_landing
from ticketing_pipeline.warehouse import resolve_warehouse
from ticketing_pipeline.webhooks.landing import (
    INCOMING,
    PROCESSED,
    LandingArea,
    PendingFile,
    delivery_file_name,
    encode_delivery,
)

ORG = "555000111"


def land(area: LandingArea, folder: str, order_id: str, received: datetime) -> None:
    delivery_id = f"delivery-{order_id}"
    received_ns = int(received.timestamp() * 1e9)
    data = encode_delivery(
        delivery_id=delivery_id,
        platform="eventbrite",
        account_id=ORG,
        kind="eventbrite_reference",
        action="order.updated",
        received_ns=received_ns,
        headers={},
        body=b"{}",
        api_url=f"https://www.eventbriteapi.com/v3/orders/{order_id}/",
    )
    name = delivery_file_name("eventbrite", ORG, delivery_id)
    area.store(PendingFile(folder, name, data, received_ns))


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> ProjectConfig:
    monkeypatch.setenv("COVERAGE_TEST_TOKEN", "not-used-0123456789")
    monkeypatch.setenv("COVERAGE_TEST_WEBHOOK", "url-token-0123456789abcdef")
    account = AccountConfig(
        platform="eventbrite",
        account_id=ORG,
        display_name="Org",
        secret_env="COVERAGE_TEST_TOKEN",
        webhook_secret_env="COVERAGE_TEST_WEBHOOK",
    )
    return ProjectConfig(
        accounts=[account],
        data_dir=tmp_path,
        warehouse=WarehouseConfig(url="duckdb:///warehouse.duckdb"),
    )


def test_changes_before_the_first_delivery_are_not_counted_as_missed(config) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first_delivery = now - timedelta(hours=3)
    # Six orders changed before the webhook existed, four after it (each announced).
    before = {f"{100 + i}": now - timedelta(hours=10 - i) for i in range(6)}
    after = {f"{200 + i}": first_delivery + timedelta(minutes=10 + i) for i in range(4)}
    path = resolve_warehouse(config).duckdb_path
    connection = duckdb.connect(str(path))
    connection.execute("create schema staging")
    connection.execute(
        "create table staging.stg_eventbrite__orders "
        "(account_id varchar, order_id varchar, updated_at timestamptz)"
    )
    for order_id, at in {**before, **after}.items():
        connection.execute(
            "insert into staging.stg_eventbrite__orders values (?, ?, ?)", [ORG, order_id, at]
        )
    connection.close()
    area = LandingArea.for_data_dir(config.data_dir)
    area.ensure()
    for n, (order_id, at) in enumerate(after.items()):
        # The first one was loaded already, the rest wait in incoming/.
        land(area, PROCESSED if n == 0 else INCOMING, order_id, at + timedelta(seconds=5))
    land(area, PROCESSED, "999", first_delivery)  # the webhook's first delivery

    def verdict(from_first_delivery: bool):
        [result] = coverage_verdicts(
            config,
            resolve_warehouse(config),
            config.accounts,
            since=now - timedelta(hours=24),
            until=now,
            from_first_delivery=from_first_delivery,
            list_webhooks=False,
            min_changes=3,
        )
        return result

    whole_window = verdict(False)
    assert (whole_window.changed, whole_window.covered) == (10, 4)
    assert whole_window.failed
    since_first = verdict(True)
    assert (since_first.changed, since_first.covered) == (4, 4)
    assert not since_first.failed
    # Reading can stop at a receipt time without opening older files.
    recent = scan_landing(area, received_after=first_delivery + timedelta(minutes=1))
    assert recent.files_read == 4 and recent.truncated
    assert set(recent.for_account(f"eventbrite-{ORG}").order_ids) == set(after)
