"""Ingest benchmark: full backfill vs a bare-HTTP + DuckDB read_json floor, then incremental.

For each size it prints: the full backfill's wall time, orders/s and tickets/s into DuckDB; in the
same run, the floor (the same pages fetched by a bare HTTP client and loaded with DuckDB's
read_json); and after 1% of orders change, the incremental sync's wall time and API calls
against the full sync's.

    .venv/bin/python benchmarks/ingest.py               # 10k and 100k orders
    .venv/bin/python benchmarks/ingest.py --sizes 1000000
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import requests

from ticketing_pipeline.demo import sandbox_accounts, sandbox_project_config
from ticketing_pipeline.ingest import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec, generate
from ticketing_pipeline.sandbox.server import SandboxServer


class RemoteSandbox:
    """The sandbox in its own process, as a real API is: its CPU is not this process's GIL."""

    def __init__(self, spec: SandboxSpec, dataset) -> None:
        import multiprocessing
        import socket

        from ticketing_pipeline.sandbox.server import serve

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.humanitix_base_url = f"{self.url}/humanitix/v1"
        self.eventbrite_base_url = f"{self.url}/eventbrite/v3"
        self.dataset = dataset  # the same deterministic data, generated here for its truth
        self.process = multiprocessing.get_context("spawn").Process(
            target=serve, args=(spec,), kwargs={"host": "127.0.0.1", "port": port}, daemon=True
        )

    def __enter__(self) -> RemoteSandbox:
        self.process.start()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/_sandbox/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.5)
        raise RuntimeError("the sandbox process did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(timeout=10)

    def reset_stats(self) -> None:
        requests.post(f"{self.url}/_sandbox/stats/reset", timeout=10).raise_for_status()

    def calls(self) -> int:
        return requests.get(f"{self.url}/_sandbox/stats", timeout=10).json()["total"]

    def mutate(self, fraction: float) -> None:
        response = requests.post(
            f"{self.url}/_sandbox/mutate", json={"fraction": fraction, "seed": 1}, timeout=600
        )
        response.raise_for_status()


class LocalSandbox(SandboxServer):
    """The sandbox in a thread of this process (the default: simplest, shares the GIL)."""

    def reset_stats(self) -> None:
        self.stats.reset()

    def calls(self) -> int:
        return self.stats.count()

    def mutate(self, fraction: float) -> None:
        self.dataset.mutate(fraction=fraction, seed=1)


def fetch_floor(server: SandboxServer, out: Path) -> int:
    """Fetch the same pages as the sources with a bare client; write bodies; return calls."""
    session = requests.Session()
    calls = 0

    def get(url: str, headers: dict, params: dict) -> dict:
        nonlocal calls
        calls += 1
        response = session.get(url, headers=headers, params=params, timeout=60)
        response.raise_for_status()
        return response

    for n, account in enumerate(server.dataset.accounts):
        if account.platform == "humanitix":
            base, headers = server.humanitix_base_url, {"x-api-key": account.secret}

            def pages(path: str, key: str, _base=base, _headers=headers):
                page = 1
                while True:
                    response = get(f"{_base}{path}", _headers, {"page": page, "pageSize": 100})
                    body = response.json()
                    yield key, response.content
                    if page * body["pageSize"] >= body["total"] or not body[key]:
                        return
                    page += 1

            event_bodies = list(pages("/events", "events"))
            for _, content in event_bodies:
                (out / f"hx_{n}_events_{calls}.json").write_bytes(content)
            events = [e for _, c in event_bodies for e in __import__("orjson").loads(c)["events"]]
            for event in events:
                for entity in ("orders", "tickets"):
                    for key, content in pages(f"/events/{event['_id']}/{entity}", entity):
                        (out / f"hx_{n}_{key}_{calls}.json").write_bytes(content)
        else:
            base = server.eventbrite_base_url
            headers = {"Authorization": f"Bearer {account.secret}"}

            def cont(path: str, key: str, params: dict, _base=base, _headers=headers):
                params = dict(params)
                while True:
                    response = get(f"{_base}{path}", _headers, params)
                    body = response.json()
                    yield response.content, body
                    if not body["pagination"].get("has_more_items"):
                        return
                    params["continuation"] = body["pagination"]["continuation"]

            org = account.account_id
            events = []
            for content, body in cont(f"/organizations/{org}/events/", "events", {"status": "all"}):
                (out / f"eb_{n}_events_{calls}.json").write_bytes(content)
                events += body["events"]
            params = {"status": "all_not_deleted", "expand": "attendees"}
            for content, _ in cont(f"/organizations/{org}/orders/", "orders", params):
                (out / f"eb_{n}_orders_{calls}.json").write_bytes(content)
            for event in events:
                for content, _ in cont(f"/events/{event['id']}/ticket_classes/", "tc", {}):
                    (out / f"eb_{n}_classes_{calls}.json").write_bytes(content)
    return calls


def load_floor(folder: Path) -> None:
    connection = duckdb.connect(str(folder / "floor.duckdb"))
    for name, pattern, path in [
        ("hx_orders", "hx_*_orders_*.json", "orders"),
        ("hx_tickets", "hx_*_tickets_*.json", "tickets"),
        ("eb_orders", "eb_*_orders_*.json", "orders"),
    ]:
        files = str(folder / pattern)
        connection.execute(
            f"create table {name} as select unnest({path}, max_depth := 2) "
            f"from read_json('{files}', maximum_object_size=200000000)"
        )
    connection.close()


def run(size: int, keep: bool, sandbox_process: bool) -> None:
    started = time.perf_counter()
    spec = SandboxSpec(seed=7, orders=size)
    dataset = generate(spec)
    generated = time.perf_counter() - started
    truth = dataset.truth().values()
    orders = sum(t.orders for t in truth)
    tickets = sum(t.tickets for t in truth)
    work = Path(tempfile.mkdtemp(prefix=f"bench_ingest_{size}_"))
    sandbox = RemoteSandbox(spec, dataset) if sandbox_process else LocalSandbox(dataset)
    with sandbox as server:
        accounts, environment = sandbox_accounts(
            dataset.accounts, server.humanitix_base_url, server.eventbrite_base_url
        )
        os.environ.update(environment)
        config = sandbox_project_config(accounts, work / "data")

        server.reset_stats()
        started = time.perf_counter()
        results = sync_accounts(config)
        full = time.perf_counter() - started
        full_calls = server.calls()
        assert all(r.ok for r in results), [r.error for r in results]

        floor_dir = work / "floor"
        floor_dir.mkdir()
        server.reset_stats()
        started = time.perf_counter()
        floor_calls = fetch_floor(server, floor_dir)
        fetched = time.perf_counter() - started
        load_floor(floor_dir)
        floor = time.perf_counter() - started

        server.mutate(0.01)
        server.reset_stats()
        started = time.perf_counter()
        results = sync_accounts(config)
        incremental = time.perf_counter() - started
        incremental_calls = server.calls()
        assert all(r.ok for r in results), [r.error for r in results]

    where = "its own process" if sandbox_process else "a thread of this process"
    print(
        f"\n== {size:,} sandbox orders ({orders:,} orders, {tickets:,} tickets/attendees), "
        f"sandbox in {where} =="
    )
    print(f"sandbox generation              {generated:8.1f} s")
    print(
        f"full backfill (dlt -> DuckDB)   {full:8.1f} s  {orders / full:9,.0f} orders/s "
        f"{tickets / full:9,.0f} tickets/s  {full_calls:,} API calls"
    )
    print(
        f"floor (bare HTTP + read_json)   {floor:8.1f} s  {orders / floor:9,.0f} orders/s "
        f"{tickets / floor:9,.0f} tickets/s  {floor_calls:,} API calls "
        f"(fetch {fetched:.1f} s)"
    )
    print(f"backfill throughput / floor     {floor / full:8.2f}x   (target >= 0.5x)")
    print(
        f"incremental after 1% changed    {incremental:8.1f} s  {incremental / full:8.1%} of full "
        f"time (target <= 5%)  {incremental_calls:,} API calls "
        f"({incremental_calls / full_calls:.1%} of full)"
    )
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument(
        "--sandbox-process",
        action="store_true",
        help="run the sandbox in its own process, as a remote API is (default: a thread)",
    )
    args = parser.parse_args()
    for size in args.sizes:
        run(size, args.keep, args.sandbox_process)


if __name__ == "__main__":
    main()
