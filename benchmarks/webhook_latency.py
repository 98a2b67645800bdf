"""Benchmark: from a sale placed on a platform to the sale in ``marts.ticket_sales``.

Starts the real local stack with ``ticketing up`` on free ports (the sandbox in live mode,
changing orders and delivering them as webhooks: Eventbrite to the webhooks registered by the
stack's setup, Humanitix as signed relay deliveries; the receiver; ``dagster dev`` with its
daemon and sensors on; the dashboard and Gigs feed idle), waits for the first load, then for
``--minutes`` follows the sandbox's change feed (``/_sandbox/changes``) and the mart:

- a new order counts from the moment the benchmark sees its change notice (polled every
  0.5 s, so up to 0.5 s late: the figures are a little optimistic) to the moment its order id
  is in ``marts.ticket_sales``;
- a refund counts until the order's ``quantity_refunded`` in the mart is above zero.

The mart is read with short read-only connections (what an analyst does); a read refused
because a writer holds the file is simply tried again at the next poll.

    python benchmarks/webhook_latency.py --minutes 6 --live-every 10

Prints p50/p95/max per kind and overall, the changes still missing at the end, and the load
average. Exits 1 if a change never reached the mart.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ticketing_pipeline.config import load_config  # noqa: E402
from ticketing_pipeline.warehouse import resolve_warehouse  # noqa: E402

MEASURED_KINDS = ("order.placed", "order.refunded")


def free_base_port(count: int = 5) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no run of 5 free ports")


@dataclass
class Pending:
    kind: str
    order_id: str
    seen_at: float


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    refused_reads: int = 0


def mart_state(path: Path, order_ids: set[str]) -> dict[str, int] | None:
    """order_id -> tickets refunded, for the orders in the mart; None if the file is held."""
    if not order_ids:
        return {}
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        rows = connection.execute(
            "select order_id, sum(quantity_refunded) from marts.ticket_sales "
            "where order_id in (select unnest(?)) group by order_id",
            [sorted(order_ids)],
        ).fetchall()
    except duckdb.CatalogException:
        return {}  # the first build has not made the mart yet
    finally:
        connection.close()
    return {order_id: int(refunded or 0) for order_id, refunded in rows}


def reached(item: Pending, state: dict[str, int]) -> bool:
    if item.order_id not in state:
        return False
    return item.kind == "order.placed" or state[item.order_id] > 0


def wait_for_marts(path: Path, deadline: float, stack: subprocess.Popen) -> None:
    while time.monotonic() < deadline:
        if stack.poll() is not None:
            raise RuntimeError(f"ticketing up ended early (exit {stack.returncode})")
        if path.exists():
            try:
                connection = duckdb.connect(str(path), read_only=True)
                try:
                    connection.execute("select 1 from marts.ticket_sales limit 1")
                    return
                finally:
                    connection.close()
            except duckdb.Error:
                pass
        time.sleep(2)
    raise TimeoutError("the first load did not build marts.ticket_sales in time")


def measure(args: argparse.Namespace, stack_dir: Path) -> Results:
    base = free_base_port()
    log = open(args.stack_log, "w")  # noqa: SIM115 - closed in finally
    command = [
        sys.executable,
        "-m",
        "ticketing_pipeline.cli",
        "up",
        "--stack-dir",
        str(stack_dir),
        "--base-port",
        str(base),
        "--orders",
        str(args.orders),
        "--live-every",
        str(args.live_every),
    ]
    stack = subprocess.Popen(
        command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    results = Results()
    try:
        deadline = time.monotonic() + args.start_timeout
        while not (stack_dir / "ticketing.toml").exists():
            if time.monotonic() > deadline or stack.poll() is not None:
                raise RuntimeError("ticketing up did not write its config")
            time.sleep(0.5)
        os.environ.update(_stack_env(stack_dir))
        warehouse = resolve_warehouse(load_config(stack_dir / "ticketing.toml"))
        assert warehouse.duckdb_path is not None
        wait_for_marts(warehouse.duckdb_path, deadline, stack)
        changes_url = f"http://127.0.0.1:{base}/_sandbox/changes"
        with httpx.Client(timeout=10) as client:
            seq = max((n["seq"] for n in client.get(changes_url).json()), default=0)
            print(f"stack up; measuring for {args.minutes} min from change #{seq}", flush=True)
            stop_placing = time.monotonic() + args.minutes * 60
            give_up = stop_placing + args.drain_seconds
            while time.monotonic() < give_up:
                if time.monotonic() < stop_placing:
                    now = time.monotonic()
                    for notice in client.get(changes_url, params={"after": seq}).json():
                        seq = max(seq, notice["seq"])
                        if notice["kind"] in MEASURED_KINDS:
                            results.pending.append(
                                Pending(notice["kind"], notice["object_id"], now)
                            )
                elif not results.pending:
                    break
                state = mart_state(warehouse.duckdb_path, {p.order_id for p in results.pending})
                if state is None:
                    results.refused_reads += 1
                else:
                    now = time.monotonic()
                    still = []
                    for item in results.pending:
                        if reached(item, state):
                            results.latencies.setdefault(item.kind, []).append(now - item.seen_at)
                        else:
                            still.append(item)
                    results.pending = still
                time.sleep(0.5)
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
        log.close()
    return results


def _stack_env(stack_dir: Path) -> dict[str, str]:
    """The stack's .env (account credentials by variable name), for loading its config."""
    values = {}
    for line in (stack_dir / ".env").read_text().splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep and name.strip():
            values[name.strip()] = value.strip().strip("'\"")
    return values


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--live-every", type=float, default=10.0)
    parser.add_argument("--start-timeout", type=float, default=600.0)
    parser.add_argument("--drain-seconds", type=float, default=300.0)
    parser.add_argument(
        "--stack-log",
        type=Path,
        default=Path(tempfile.gettempdir()) / "webhook-latency-stack.log",
        help="Where the stack's output goes (kept after the run)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="webhook-latency-") as tmp:
        results = measure(args, Path(tmp) / "stack")
    every = [v for values in results.latencies.values() for v in values]
    for kind, values in sorted(results.latencies.items()) + [("all", every)]:
        if values:
            print(
                f"{kind:15} n={len(values):4}  p50 {statistics.median(values):6.1f} s  "
                f"p95 {percentile(values, 0.95):6.1f} s  max {max(values):6.1f} s"
            )
    print(f"never reached the mart: {len(results.pending)}; reads refused: {results.refused_reads}")
    print(f"load average: {os.getloadavg()}")
    return 1 if results.pending or not every else 0


if __name__ == "__main__":
    raise SystemExit(main())
