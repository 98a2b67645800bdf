"""Ingest benchmark: full backfill vs a bare-HTTP + DuckDB read_json floor, then incremental.

For each size it prints: the full backfill's wall time, orders/s and tickets/s into DuckDB; in the
same run, the floor (the same pages fetched by a bare HTTP client and loaded with DuckDB's
read_json); and after 1% of orders change, the incremental sync's wall time and API calls
against the full sync's.

    .venv/bin/python benchmarks/ingest.py               # 10k and 100k orders
    .venv/bin/python benchmarks/ingest.py --sizes 1000000

With ``--latency-ms`` it measures the network-bound side instead: the sandbox (in its own
process) answers every API call after that latency (its ``latency_ms``), and the run reports the
Humanitix backfill at bounded concurrency vs one request at a time, and the Eventbrite
backfill's calls per token against the call budget, time-compressed by
``--eventbrite-speedup`` so it ends in minutes, with the sandbox enforcing the same budget
(``eventbrite_calls_per_hour``, 429 beyond it).

    .venv/bin/python benchmarks/ingest.py --latency-ms 150 --sizes 20000
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import requests

from ticketing_pipeline.config import AccountConfig, Platform, SyncConfig
from ticketing_pipeline.ingest.sync import sync_accounts
from ticketing_pipeline.sandbox.generator import SandboxSpec, generate
from ticketing_pipeline.sandbox.server import SandboxServer
from ticketing_pipeline.sandbox_harness.config import sandbox_base_urls, sandbox_config
from ticketing_pipeline.sources.common import AccountSecretAuth
from ticketing_pipeline.sources.http import PlatformClient
from ticketing_pipeline.sources.humanitix.source import PAGE_SIZE, HumanitixPaginator, map_in_order
from ticketing_pipeline.sources.ratelimit import CallBudget, token_fingerprint


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
        self.humanitix_base_url, self.eventbrite_base_url = sandbox_base_urls(self.url)
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
        config, secrets = sandbox_config(server, work / "data")
        os.environ.update(secrets)

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


class _Wire:
    """ASGI wrapper in the sandbox process: each call's arrival time per token (by its
    fingerprint), read back with ``GET /_bench/arrivals`` (with the number of 429 answers)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.too_many = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        if path == "/_bench/arrivals":
            await self._report(send)
            return
        headers = dict(scope["headers"])
        secret = headers.get(b"x-api-key") or headers.get(b"authorization", b"")[7:]
        with self.lock:
            self.arrivals[token_fingerprint(secret.decode())].append(time.monotonic())

        async def counted(message: dict) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                with self.lock:
                    self.too_many += 1
            await send(message)

        await self.app(scope, receive, counted)

    async def _report(self, send: Any) -> None:
        import orjson

        with self.lock:
            body = orjson.dumps({"arrivals": self.arrivals, "429": self.too_many})
            self.arrivals, self.too_many = defaultdict(list), 0
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def serve_with_latency(spec: SandboxSpec, port: int, settings: dict[str, Any]) -> None:
    """The sandbox process of the latency mode (a module-level function: spawn pickles it)."""
    import uvicorn

    from ticketing_pipeline.sandbox.server import PlatformSettings, build_app

    app = _Wire(build_app(generate(spec), settings=PlatformSettings.of(**settings)))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class LatencySandbox(RemoteSandbox):
    def __init__(self, spec: SandboxSpec, dataset, settings: dict[str, Any]) -> None:
        super().__init__(spec, dataset)
        import multiprocessing

        port = int(self.url.rsplit(":", 1)[1])
        self.process = multiprocessing.get_context("spawn").Process(
            target=serve_with_latency, args=(spec, port, settings), daemon=True
        )

    def arrivals(self) -> dict[str, list[float]]:
        report = requests.get(f"{self.url}/_bench/arrivals", timeout=30).json()
        self.too_many = report["429"]
        return report["arrivals"]


def _peak(arrivals: list[float], window: float) -> int:
    """The most calls inside any sliding window of ``window`` seconds."""
    arrivals = sorted(arrivals)
    most, start = 0, 0
    for end, stamp in enumerate(arrivals):
        while stamp - arrivals[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def _loaded(data_dir: Path, table: str) -> int:
    connection = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return connection.execute(f"select count(*) from raw_humanitix.{table}").fetchone()[0]
    finally:
        connection.close()


def fetch_humanitix(accounts: list[AccountConfig], workers: int) -> tuple[float, int]:
    """The backfill's Humanitix calls alone: the same client, paginator and bounded
    concurrency as the source, pages parsed, nothing shaped or loaded. Returns (s, records)."""
    started, records = time.perf_counter(), 0
    for account in accounts:
        client = PlatformClient(account, AccountSecretAuth(account, "x-api-key"), SyncConfig())

        def pages(path: str, key: str, _client: PlatformClient = client) -> list[list]:
            params = {"pageSize": PAGE_SIZE}
            return [
                list(page)
                for page in _client.paginate(
                    path, params=params, paginator=HumanitixPaginator(), data_selector=key
                )
            ]

        events = [event for page in pages("/events", "events") for event in page]
        for entity in ("orders", "tickets"):
            for fetched in map_in_order(
                lambda event, entity=entity: pages(f"/events/{event['_id']}/{entity}", entity),
                events,
                workers,
            ):
                records += sum(len(page) for page in fetched)
    return time.perf_counter() - started, records


def run_latency(
    size: int,
    latency_ms: float,
    concurrency: int,
    events_per_account: int,
    calls_per_hour: int,
    burst: int,
    speedup: float,
    keep: bool,
) -> None:
    spec = SandboxSpec(seed=7, orders=size, events_per_account=events_per_account)
    dataset = generate(spec)
    truth = dataset.truth()
    hx_orders = sum(t.orders for (p, _), t in truth.items() if p == "humanitix")
    hx_tickets = sum(t.tickets for (p, _), t in truth.items() if p == "humanitix")
    work = Path(tempfile.mkdtemp(prefix=f"bench_latency_{size}_"))
    # The budget time-compressed: the same calls per burst window, `speedup` times faster.
    budget = CallBudget(int(calls_per_hour * speedup), burst)
    burst_window = 3600 * burst / budget.calls_per_hour
    print(
        f"\n== {size:,} sandbox orders, {events_per_account} events per account, "
        f"{latency_ms:g} ms per API call, sandbox in its own process, "
        f"load average {os.getloadavg()[0]:.1f} =="
    )
    # The sandbox enforces the (compressed) budget too, over a tenth of the compressed hour:
    # a client that went over it would collect 429s.
    settings = {
        "latency_ms": latency_ms,
        "eventbrite_calls_per_hour": budget.calls_per_hour,
        "eventbrite_rate_window_seconds": 360 / speedup,
    }
    with LatencySandbox(spec, dataset, settings) as server:
        config, secrets = sandbox_config(server, work)
        os.environ.update(secrets)

        humanitix = config.enabled_accounts(Platform.HUMANITIX)
        timings = {}
        for workers in (1, concurrency):
            data_dir = work / f"humanitix_{workers}"
            config, _ = sandbox_config(server, data_dir, humanitix_concurrency=workers)
            server.arrivals()
            started = time.perf_counter()
            results = sync_accounts(config, humanitix)
            seconds = time.perf_counter() - started
            assert all(r.ok for r in results), [r.error for r in results]
            calls = sum(len(v) for v in server.arrivals().values())
            loaded = (_loaded(data_dir, "orders"), _loaded(data_dir, "tickets"))
            assert loaded == (hx_orders, hx_tickets), (loaded, hx_orders, hx_tickets)
            timings[workers] = seconds
            print(
                f"humanitix backfill, {workers} at a time  {seconds:7.1f} s  {calls:,} API calls  "
                f"{hx_orders:,} orders  {hx_tickets:,} tickets (all loaded)"
            )
        print(
            f"humanitix speed-up at {concurrency} at a time  "
            f"{timings[1] / timings[concurrency]:6.2f}x  (target >= 3x)"
        )
        fetched = {}
        for workers in (1, concurrency):
            server.arrivals()
            cpu = time.process_time()
            seconds, records = fetch_humanitix(humanitix, workers)
            cpu = time.process_time() - cpu
            calls = sum(len(v) for v in server.arrivals().values())
            assert records == hx_orders + hx_tickets, (records, hx_orders, hx_tickets)
            fetched[workers] = seconds
            print(
                f"humanitix calls only, {workers} at a time {seconds:7.1f} s  {calls:,} API calls  "
                f"{records:,} records (no shaping, no load), client CPU {cpu:.1f} s"
            )
        print(
            f"calls-only speed-up at {concurrency} at a time "
            f"{fetched[1] / fetched[concurrency]:6.2f}x"
        )

        config, _ = sandbox_config(
            server,
            work / "eventbrite",
            eventbrite_calls_per_hour=budget.calls_per_hour,
            eventbrite_burst=burst,
        )
        eventbrite = config.enabled_accounts(Platform.EVENTBRITE)
        server.arrivals()
        started = time.perf_counter()
        results = sync_accounts(config, eventbrite)
        seconds = time.perf_counter() - started
        assert all(r.ok for r in results), [r.error for r in results]
        arrivals = server.arrivals()
        print(
            f"eventbrite backfill                {seconds:7.1f} s  budget {calls_per_hour:,} "
            f"calls/h per token, burst {burst}, time compressed {speedup:g}x "
            f"(burst window {burst_window:.1f} s here, {burst_window * speedup:.0f} s real)"
        )
        orgs_per_token: dict[str, int] = defaultdict(int)
        for account in dataset.accounts:
            if account.platform == "eventbrite":
                orgs_per_token[token_fingerprint(account.secret)] += 1
        tenth = 360 / speedup  # a tenth of an hour, compressed
        for fingerprint, stamps in sorted(arrivals.items()):
            if fingerprint not in orgs_per_token:
                continue
            span = max(stamps) - min(stamps)
            average = len(stamps) / span * 3600 / speedup if span else float("nan")
            print(
                f"  token {fingerprint} ({orgs_per_token[fingerprint]} orgs)  "
                f"{len(stamps):,} calls in {span:.1f} s: {average:,.0f} calls/h on average; "
                f"most in any {burst_window * speedup:.0f} s (real): "
                f"{_peak(stamps, burst_window)} (burst {burst}); most in any 6 min (real): "
                f"{_peak(stamps, tenth)} = {_peak(stamps, tenth) * 10:,} calls/h "
                f"(budget {calls_per_hour:,})"
            )
        print(f"  429 answers from the sandbox's budget: {server.too_many}")
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
    latency = parser.add_argument_group("latency mode")
    latency.add_argument(
        "--latency-ms", type=float, help="add this latency per API call; run the latency mode"
    )
    latency.add_argument("--concurrency", type=int, default=6, help="humanitix_concurrency")
    latency.add_argument("--events-per-account", type=int, default=40)
    latency.add_argument("--eventbrite-calls-per-hour", type=int, default=2000)
    latency.add_argument("--eventbrite-burst", type=int, default=20)
    latency.add_argument(
        "--eventbrite-speedup",
        type=float,
        default=10.0,
        help="run the Eventbrite budget this many times faster than real time",
    )
    args = parser.parse_args()
    for size in args.sizes:
        if args.latency_ms is not None:
            run_latency(
                size,
                args.latency_ms,
                args.concurrency,
                args.events_per_account,
                args.eventbrite_calls_per_hour,
                args.eventbrite_burst,
                args.eventbrite_speedup,
                args.keep,
            )
        else:
            run(size, args.keep, args.sandbox_process)


if __name__ == "__main__":
    main()
