"""A DuckDB reader (the dashboard, an analyst) holding the file delays a load; it never loses it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.integration.ingest_helpers import assert_staging_equals_truth, config_for
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.warehouse import LOCK_WAIT_ENV, resolve_warehouse

HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""


def test_load_waits_for_a_reader_to_release_the_file(tmp_path: Path, monkeypatch) -> None:
    spec = SandboxSpec(
        seed=2, orders=300, humanitix_accounts=1, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as server:
        config = config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None)
        assert all(r.ok for r in sync_accounts(config))  # creates the file
        server.dataset.mutate(fraction=0.2, seed=3)
        path = resolve_warehouse(config).duckdb_path
        reader = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path), "4"], stdout=subprocess.PIPE, text=True
        )
        try:
            assert reader.stdout.readline().strip() == "holding"
            started = time.monotonic()
            results = sync_accounts(config)
            waited = time.monotonic() - started
        finally:
            reader.wait(timeout=30)
        assert all(r.ok for r in results), [r.error for r in results]
        assert waited > 1  # it really met the lock, and waited for it
        assert_staging_equals_truth(config, server)


def test_sync_held_past_the_bound_fails_naming_the_file_and_holder(
    tmp_path: Path, monkeypatch
) -> None:
    spec = SandboxSpec(
        seed=2, orders=100, humanitix_accounts=1, eventbrite_orgs=1, eventbrite_second_token_orgs=0
    )
    with SandboxServer(spec) as server:
        config = config_for(server, tmp_path, monkeypatch, skip_events_ended_days=None)
        assert all(r.ok for r in sync_accounts(config))  # creates the file
        monkeypatch.setenv(LOCK_WAIT_ENV, "1.5")
        path = resolve_warehouse(config).duckdb_path
        reader = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path), "1800"], stdout=subprocess.PIPE, text=True
        )
        try:
            assert reader.stdout.readline().strip() == "holding"
            started = time.monotonic()
            results = sync_accounts(config)
            waited = time.monotonic() - started
        finally:
            reader.terminate()
            reader.wait(timeout=30)
    # Every account reports it, none waits much past the bound, and the message says why.
    assert [r.ok for r in results] == [False, False]
    assert waited < 2 * (1.5 + 5)
    for result in results:
        assert result.error.startswith("WarehouseLockedError: ")
        assert str(path) in result.error and f"PID {reader.pid}" in result.error
