"""Benchmark: sustained durable webhook deliveries per second, latency, and zero loss.

Starts the receiver (uvicorn, in a subprocess, on 127.0.0.1) with a fresh landing area, drives it
from a load generator in another process (raw HTTP/1.1 keep-alive connections, so the generator
costs little CPU next to the server), then checks that every delivery answered 2xx is on disk.

    python benchmarks/webhooks.py                       # 20,000 deliveries or 30 s, 64 connections
    python benchmarks/webhooks.py --workers 1 --deliveries 5000 --concurrency 16

Prints deliveries/s (2xx responses, each fsync'd before its answer), p50/p90/p99/max latency as
seen by the client, the status counts, and the loss check. Exits 1 if anything acknowledged is
missing or any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import itertools
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

EB_ACCOUNT = "bench-org"
HX_ACCOUNT = "bench-humanitix"
EB_TOKEN = "bench-token-" + "q7Xk2Lr9ZpT4wV8mN3sB"
HX_SECRET = "whsec_" + base64.b64encode(b"benchmark-relay-secret-32-bytes!").decode()
EB_BASE = "https://www.eventbriteapi.com/v3"

CONFIG = f"""
data_dir = "{{data_dir}}"

[[accounts]]
platform = "eventbrite"
account_id = "{EB_ACCOUNT}"
display_name = "Benchmark Eventbrite"
secret_env = "BENCH_EB_TOKEN"
webhook_secret_env = "BENCH_EB_WEBHOOK_SECRET"

[[accounts]]
platform = "humanitix"
account_id = "{HX_ACCOUNT}"
display_name = "Benchmark Humanitix"
secret_env = "BENCH_HX_KEY"
webhook_secret_env = "BENCH_HX_WEBHOOK_SECRET"
"""


# -- requests -----------------------------------------------------------------------------------


def _eventbrite(number: int, host: str) -> tuple[tuple[str, str], bytes]:
    # As Eventbrite does: X-Eventbrite-Delivery is the webhook's id, the same on every delivery.
    delivery = "5551234"
    api_url = f"{EB_BASE}/orders/{1034600000 + number}/"
    body = orjson.dumps(
        {
            "config": {
                "action": "order.placed",
                "user_id": "1000001",
                "endpoint_url": f"https://hooks.example/webhooks/eventbrite/{EB_ACCOUNT}/***",
                "webhook_id": "5551234",
            },
            "api_url": api_url,
        }
    )
    head = (
        f"POST /webhooks/eventbrite/{EB_ACCOUNT}/{EB_TOKEN} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Eventbrite-Event: order.placed\r\nX-Eventbrite-Delivery: {delivery}\r\n\r\n"
    )
    # The receiver names Eventbrite deliveries itself: know them by the order they reference.
    return ("eventbrite", api_url), head.encode() + body


def _humanitix_order(number: int) -> dict:
    """A Humanitix Order in its API shape (about 1.3 KB of JSON)."""
    totals = {
        "subtotal": 50.0,
        "clientDonation": 0,
        "netClientDonation": 0,
        "donation": 0,
        "feesIncluded": False,
        "bookingTaxes": 0,
        "taxes": 4.55,
        "totalTaxes": 4.55,
        "discounts": 0,
        "refunds": 0,
        "netSales": 50.0,
        "grossSales": 53.98,
        "total": 53.98,
        "humanitixFee": 3.98,
        "bookingFee": 3.98,
    }
    return {
        "_id": f"{number:024x}",
        "eventId": "65f1c0ffee0000000000ef01",
        "eventDateId": "65f1c0ffee0000000000da01",
        "userId": "65f1c0ffee0000000000aa01",
        "currency": "AUD",
        "status": "complete",
        "financialStatus": "paid",
        "manualOrder": False,
        "salesChannel": "online",
        "firstName": "Alex",
        "lastName": f"Buyer{number}",
        "email": f"buyer{number}@example.com",
        "mobile": "+61400000000",
        "paymentType": "stripe",
        "paymentGateway": "stripe",
        "discounts": {"autoDiscount": None, "discountCode": None},
        "completedAt": "2025-03-01T10:00:00.000Z",
        "createdAt": "2025-03-01T09:59:00.000Z",
        "updatedAt": "2025-03-01T10:00:00.000Z",
        "location": "AU",
        "totals": totals,
        "purchaseTotals": totals,
    }


def _relay(number: int, host: str, now: int) -> tuple[tuple[str, str], bytes]:
    delivery = f"msg_{number}"
    body = orjson.dumps({"type": "order.updated", "data": _humanitix_order(number)})
    key = base64.b64decode(HX_SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{delivery}.{now}.".encode() + body, hashlib.sha256).digest()
    head = (
        f"POST /webhooks/relay/humanitix/{HX_ACCOUNT} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"webhook-id: {delivery}\r\nwebhook-timestamp: {now}\r\n"
        f"webhook-signature: v1,{base64.b64encode(digest).decode()}\r\n\r\n"
    )
    return ("humanitix", delivery), head.encode() + body


def build_requests(
    count: int, relay_share: float, host: str
) -> list[tuple[tuple[str, str], bytes]]:
    now = int(time.time())
    every = round(1 / relay_share) if relay_share > 0 else 0
    return [
        _relay(n, host, now) if every and n % every == 0 else _eventbrite(n, host)
        for n in range(count)
    ]


# -- load generator (its own process) -----------------------------------------------------------


async def _connection(host, port, requests, counter, deadline, results) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            index = next(counter)
            if index >= len(requests):
                break
            key, raw = requests[index]
            started = time.perf_counter()
            writer.write(raw)
            status_line = await reader.readline()
            if not status_line:
                results["errors"] += 1
                break
            status = int(status_line.split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            results["latencies"].append(time.perf_counter() - started)
            results["statuses"][status] += 1
            if 200 <= status < 300:
                results["acknowledged"].append(key)
    except (ConnectionError, asyncio.IncompleteReadError):
        results["errors"] += 1
    finally:
        writer.close()


def generate_load(host, port, count, relay_share, concurrency, seconds, conn) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    requests = build_requests(count, relay_share, f"{host}:{port}")
    results = {"latencies": [], "statuses": Counter(), "acknowledged": [], "errors": 0}

    async def run() -> float:
        counter = itertools.count()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(
                _connection(host, port, requests, counter, deadline, results)
                for _ in range(concurrency)
            )
        )
        return time.perf_counter() - started

    results["elapsed"] = asyncio.run(run())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results["cpu"] = usage.ru_utime + usage.ru_stime
    conn.send(results)
    conn.close()


# -- driver -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the receiver exited during startup")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the receiver did not come up")


def landed_keys(landing: Path) -> set[tuple[str, str]]:
    keys = set()
    for path in (landing / "incoming").glob("*.json"):
        record = orjson.loads(path.read_bytes())
        key = record["api_url"] if record["platform"] == "eventbrite" else record["delivery_id"]
        keys.add((record["platform"], key))
    return keys


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--relay-share", type=float, default=0.5, help="fraction sent via relay")
    parser.add_argument("--data-dir", help="landing area parent (default: a temp dir, removed)")
    args = parser.parse_args()

    temp = None if args.data_dir else tempfile.TemporaryDirectory(prefix="webhook-bench-")
    base = Path(args.data_dir or temp.name)
    base.mkdir(parents=True, exist_ok=True)
    data_dir = base / "data"
    config = base / "ticketing.toml"
    config.write_text(CONFIG.format(data_dir=data_dir))
    env = os.environ | {"BENCH_EB_WEBHOOK_SECRET": EB_TOKEN, "BENCH_HX_WEBHOOK_SECRET": HX_SECRET}
    port = free_port()
    command = [sys.executable, "-m", "ticketing_pipeline.webhooks", "--config", str(config)]
    command += ["--port", str(port), "--workers", str(args.workers), "--log-level", "warning"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    receiver = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        wait_until_up(port, receiver)
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=False)
        generator = context.Process(
            target=generate_load,
            args=(
                "127.0.0.1",
                port,
                args.deliveries,
                args.relay_share,
                args.concurrency,
                args.seconds,
                child,
            ),
        )
        generator.start()
        results = parent.recv()
        generator.join()
    finally:
        os.killpg(receiver.pid, signal.SIGTERM)
        try:
            receiver.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(receiver.pid, signal.SIGKILL)
            receiver.wait()

    # CPU time of everything started here (receiver and its workers, generator), minus the
    # generator's own: a figure that, unlike the rate, hardly depends on what else runs.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    children_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    receiver_cpu = children_cpu - results["cpu"]
    latencies = sorted(results["latencies"])
    acknowledged = results["acknowledged"]
    on_disk = landed_keys(data_dir / "landing")
    missing = [key for key in acknowledged if key not in on_disk]
    rate = len(acknowledged) / results["elapsed"]
    print(f"receiver: {args.workers} uvicorn worker(s); CPUs: {os.cpu_count()}")
    print(
        f"load: {len(latencies)} requests over {args.concurrency} keep-alive connections "
        f"in {results['elapsed']:.2f} s ({args.relay_share:.0%} relay, rest Eventbrite)"
    )
    print(f"statuses: {dict(results['statuses'])}; connection errors: {results['errors']}")
    print(f"durable deliveries/s: {rate:,.0f}")
    print(
        f"CPU per delivery: receiver {receiver_cpu / max(1, len(latencies)) * 1e6:.0f} us, "
        f"load generator {results['cpu'] / max(1, len(latencies)) * 1e6:.0f} us "
        f"(startup included)"
    )
    print(
        "latency ms: "
        + ", ".join(
            f"{name} {percentile(latencies, q) * 1000:.1f}"
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        )
    )
    print(
        f"loss check: {len(acknowledged)} acknowledged, {len(on_disk)} landed, "
        f"{len(missing)} missing"
    )
    if temp:
        temp.cleanup()
    failed = missing or results["errors"] or len(acknowledged) != len(latencies)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
