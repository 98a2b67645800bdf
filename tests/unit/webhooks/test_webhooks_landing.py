"""The landing area API the sensor/loader uses, on real files."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from ticketing_pipeline.webhooks.landing import (
    INCOMING,
    LandingArea,
    PendingFile,
    StoreOutcome,
    delivery_file_name,
    encode_delivery,
)


def pending(area_folder: str, delivery_id: str, received_ns: int | None = None) -> PendingFile:
    received_ns = received_ns or time.time_ns()
    data = encode_delivery(
        delivery_id=delivery_id,
        platform="humanitix",
        account_id="acct",
        kind="relay",
        action="order.updated",
        received_ns=received_ns,
        headers={"webhook-id": delivery_id},
        body=b'{"type": "order.updated", "data": {"_id": "1"}}',
    )
    name = delivery_file_name("humanitix", "acct", delivery_id)
    return PendingFile(area_folder, name, data, received_ns)


@pytest.fixture
def area(tmp_path: Path) -> LandingArea:
    landing = LandingArea(tmp_path / "landing")
    landing.ensure()
    return landing


def test_names_come_only_from_a_hash() -> None:
    name = delivery_file_name("eventbrite", "1", "../../etc/passwd")
    assert len(name) == 69 and name.endswith(".json")
    assert "/" not in name and ".." not in name
    assert name != delivery_file_name("eventbrite", "2", "../../etc/passwd")


def test_list_sorted_by_receipt_and_read(area: LandingArea) -> None:
    base = time.time_ns()
    for index, offset in enumerate([3, 1, 2]):
        area.store(pending(INCOMING, f"id-{index}", base + offset * 1_000_000))
    files = area.list_incoming()
    assert [area.read(f).delivery_id for f in files] == ["id-1", "id-2", "id-0"]
    landed = area.read(files[0].path)
    assert landed.kind == "relay" and landed.action == "order.updated"
    assert landed.payload()["data"]["_id"] == "1"
    assert abs(files[0].received_at.timestamp() - landed.received_at.timestamp()) < 1e-5


def test_same_delivery_stored_once(area: LandingArea) -> None:
    assert area.store(pending(INCOMING, "x")) is StoreOutcome.STORED
    assert area.store(pending(INCOMING, "x")) is StoreOutcome.DUPLICATE
    assert area.counts()[INCOMING] == 1


def test_processed_and_failed_deliveries_are_not_landed_again(area: LandingArea) -> None:
    area.store(pending(INCOMING, "a"))
    area.store(pending(INCOMING, "b"))
    [first, second] = sorted(area.list_incoming(), key=lambda f: area.read(f).delivery_id)
    moved = area.mark_processed([first])
    assert moved == [area.processed / first.name]
    assert area.mark_processed([first]) == []  # idempotent
    failed = area.mark_failed(second, "api_url answered 404")
    assert area.failure_reason(failed) == "api_url answered 404"
    assert area.counts() == {"incoming": 0, "processed": 1, "failed": 1, "dead-letter": 0}

    assert area.store(pending(INCOMING, "a")) is StoreOutcome.DUPLICATE
    assert area.store(pending(INCOMING, "b")) is StoreOutcome.DUPLICATE
    assert area.counts()[INCOMING] == 0
    assert area.find("humanitix", "acct", "b") == failed

    requeued = area.requeue_failed(failed)
    assert requeued.parent == area.incoming
    assert area.failure_reason(requeued) is None
    assert area.counts() == {"incoming": 1, "processed": 1, "failed": 0, "dead-letter": 0}


def test_read_refuses_other_files(area: LandingArea, tmp_path: Path) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("{}")
    with pytest.raises(ValueError):
        area.read(stray)
    (area.incoming / "partial.tmp").write_text("x")
    assert area.list_incoming() == []


def test_stale_tmp_files_are_removed(area: LandingArea) -> None:
    import os

    stale = area.root / ".tmp" / "123-dead-0.tmp"
    fresh = area.root / ".tmp" / "456-live-0.tmp"
    stale.write_text("x")
    fresh.write_text("y")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    area.ensure()
    assert not stale.exists()
    assert fresh.exists()


def _store_many(root: str, ids: list[str]) -> list[str]:
    area = LandingArea(root)
    return [area.store(pending(INCOMING, i)).value for i in ids]


def test_several_processes_store_each_delivery_once(area: LandingArea) -> None:
    ids = [f"shared-{i}" for i in range(60)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        results = pool.starmap(_store_many, [(str(area.root), ids)] * 3)
    outcomes = [outcome for result in results for outcome in result]
    assert outcomes.count("stored") == len(ids)
    assert outcomes.count("duplicate") == 2 * len(ids)
    assert area.counts()[INCOMING] == len(ids)
    assert sorted(area.read(f).delivery_id for f in area.list_incoming()) == sorted(ids)
    assert list((area.root / ".tmp").iterdir()) == []


@pytest.mark.parametrize("tmpfile", [True, False], ids=["O_TMPFILE", "named-temp"])
def test_both_write_paths_store_once_and_leave_no_temp(
    area: LandingArea, monkeypatch: pytest.MonkeyPatch, tmpfile: bool
) -> None:
    from ticketing_pipeline.webhooks import landing as landing_module

    if tmpfile and not landing_module._tmpfile_supported:
        pytest.skip("O_TMPFILE is not available here")
    monkeypatch.setattr(landing_module, "_tmpfile_supported", tmpfile)
    outcomes = area.store_batch([pending(INCOMING, "p"), pending(INCOMING, "p")])
    assert sorted(o.value for o in outcomes) == ["duplicate", "stored"]
    assert [area.read(f).delivery_id for f in area.list_incoming()] == ["p"]
    assert list((area.root / ".tmp").iterdir()) == []
    assert [p.name for p in area.incoming.iterdir()] == [
        delivery_file_name("humanitix", "acct", "p")
    ]


def test_prune_processed_keeps_recent_files(area: LandingArea) -> None:
    now = time.time_ns()
    old = pending(INCOMING, "old", now - 40 * 86400 * 10**9)
    recent = pending(INCOMING, "recent", now - 3600 * 10**9)
    area.store_batch([old, recent])
    area.mark_processed(area.list_incoming())
    assert area.prune_processed(older_than_seconds=30 * 86400) == 1
    assert [area.read(f).delivery_id for f in area.list_folder("processed")] == ["recent"]
    # After pruning, a redelivery of the old one is landed again (and merged idempotently).
    assert area.store(pending(INCOMING, "old")) is StoreOutcome.STORED
    assert area.store(pending(INCOMING, "recent")) is StoreOutcome.DUPLICATE
